// Package repowatcher is the repo-watcher service: it waits, on the batcher's
// command, until Koji has done something that Koji itself does
// asynchronously.
//
// WatchCommands (ebs.watch.cmd.*, durable natsx.ConsumerRepoWatcherCmd):
// WaitTagged ("these NVRs are in tag T"), WaitRepo ("tag T has a ready repo
// newer than event E") and CancelWait. Each open wait is a record in KV
// ebs_waits (ebsv1.WaitRecord, key = command id), so a restart loses none.
// A wait is resolved by Fedora messages (buildsys.tag, buildsys.repo.done,
// read by every replica with an ordered consumer of its own that starts at
// the oldest open wait, so replicas never split the messages a wait needs)
// or by polling (listTagged of the
// awaited packages not seen yet, in multicalls, so that a wait in a large
// stable tag never reads the whole tag; getRepo), at start-up, when the
// wait is stored and every PollInterval, whichever comes first, and times out
// at its deadline (after a last poll) as WaitTimedOut. The outcome is
// recorded in KV ebs_results under the command id before the event
// (ebs.watch.evt.*) is published; the first replica to record it wins.
//
// Flags: --poll-interval (5m), --wait-timeout (1h, when the command gives
// none), --deadline-check (30s) and the Koji client flags. In-process:
// Serve(ctx, Config, Deps{JS, Hub}, log); the hub is only read.
package repowatcher
