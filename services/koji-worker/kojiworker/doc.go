// Package kojiworker is the koji-worker service, the only writer to Koji.
//
// It executes KojiCommands (ebs.koji.cmd.*: create-side-tag, tag-builds,
// remove-side-tag, cancel-tasks, submit-builds, promote-builds) from the
// durable consumer natsx.ConsumerKojiWorkerCmd, idempotently: the outcome of
// each command is recorded in KV ebs_results under the command id before the
// event (ebs.koji.evt.*) is published and the command acked, and before it
// changes Koji it writes an intent record so that a redelivered command can
// look up what an earlier delivery already did (listSideTags diffed against
// the intent, listTasks matched on custom_user_metadata.ebs_attempt,
// listTagged) instead of making a second side tag or a second build. A
// write whose answer may be lost after the hub ran it (a transport error or
// HTTP 5xx that outlived the client's retries, RetryError, ServerOffline) is
// looked up the same way before it counts as failed: tag-builds reports the
// builds tagged or being tagged (tagBuild tasks match by tag and build id)
// and sends only the rest again, remove-side-tag reports a tag that is gone
// as removed, cancel-tasks and promote-builds send again (cancelling is
// idempotent; a draft promoted already is found by the build id in its NVR).
//
// It tracks every submitted build task in KV ebs_tasks
// ("<attempt id>.<task id>", ebsv1.TaskRecord): finished by
// buildsys.build.state.change / task.state.change messages (durable
// natsx.ConsumerKojiWorkerFed) or by a getTaskInfo multicall poll (at
// start-up and every PollInterval), whichever claims the record first
// (revision-checked update from open to final). A final message that
// arrives before its task's record exists (a build that ends while its
// submission is still being recorded) is remembered for ten minutes and
// finishes the task as soon as it is tracked, by any replica, instead of
// waiting for the next poll. A task past its deadline is
// cancelled (recurse) and reported TIMED_OUT. Each finish is published as
// ebs.koji.evt.task-finished. Several replicas may run side by side.
//
// Flags: --poll-interval (5m), --task-timeout (24h, when the command gives
// none), --deadline-check (30s), --workers (2), and the Koji client flags
// (--koji-url, --koji-cert/--koji-key/--koji-ca or --koji-keytab/
// --koji-principal). In-process: Serve(ctx, Config, Deps{JS, Hub}, log) with
// a logged-in kojibatch.Hub.
package kojiworker
