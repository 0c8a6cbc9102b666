// Package batcher is the batcher service: it keeps the pending set and runs
// serial batches as checkpointed sagas.
//
// # Intake
//
// RebuildRequests from ebs.rebuild.requested (durable natsx.ConsumerBatcher)
// go into KV ebs_pending, one key per ELN component (natsx.EscapeKey), value
// ebsv1.PendingRequest. The newest build wins (build creation time, then
// build id); the loser is published as ebs.rebuild.superseded. A request is
// acked only after the KV write.
//
// # Scheduling
//
// A batch starts when the pending set is not empty, no request was put for
// Config.Lull (every replica watches ebs_pending, so the countdown restarts
// whichever replica took the request in), and neither config control.pause
// nor KV ebs_control "pause" holds. The batch runs under the KV lease lock
// (ebs_lock "batch", natsx.Acquire) from moving the pending set into it
// until after ebs.batch.completed, under the lease's context, so two
// replicas never run two batches. A replica that finds an unfinished batch
// (ebs_batches "current") takes the lock and resumes it from its checkpoint.
//
// # The saga (BatchCheckpoint.step)
//
//	move      members are in the checkpoint; delete each pending key only if
//	          its revision is unchanged (a newer request stays pending)
//	resolve   getBuild source (SCM URL), denylist (KV ebs_failed, exact URL),
//	          skip_tag, slices by ordering; ebs.batch.started
//	seed      build side tag: create -> tag seeds (<= 500 per command) ->
//	          wait tagged; on timeout cancel tagging tasks, remove the tag,
//	          start again, at most MaxSideTagAttempts, then the batch fails
//	build     slices in ascending ordering; per attempt: submit (<= 500 per
//	          command, one multicall each) -> wait for every task record in
//	          KV ebs_tasks; resubmit failures while their count strictly
//	          decreases; timeouts are final
//	collect   denylist persistent failures; NVRs of successes
//	promote   drafts only (Config.Draft)
//	publish   per Bodhi chunk: update side tag (create -> tag -> wait) ->
//	          bodhi create-update
//	stable    wait for the builds in the stable tag (timeout logged, ignored);
//	          builds of chunks bodhi-publisher handled in dry-run mode
//	          (UpdateCreated.dry_run) are not waited for, their outcomes
//	          say "dry run: no Bodhi update filed"
//	cleanup   remove the build side tag (and update side tags Bodhi never
//	          took: the batch failed first, or the chunk was a dry run)
//	complete  ebs.batch.completed with every package's outcome
//	done      detail keys purged, "current" cleared, lock released
//
// Scratch batches go from collect to cleanup. A batch failure (a command
// failed for good, Bodhi refused, seeding gave up) jumps to cleanup with
// BATCH_RESULT_FAILED; every request is still closed by the completed
// event (unbuilt packages are ABORTED). Any other error (NATS, lost lease)
// interrupts the saga, which resumes from the last checkpoint.
//
// # Checkpoint layout (KV ebs_batches)
//
//	<batch id>                   ebsv1.BatchCheckpoint (small header, each step)
//	<batch id>.members.<page>    ebsv1.BatchMembersPage (500 members per page)
//	<batch id>.attempt.<s>.<a>   ebsv1.AttemptCheckpoint (one rebuild attempt)
//	current                      ebsv1.CurrentBatch
//
// Every write is revision-checked: a batcher that lost the lock cannot
// overwrite its successor's checkpoint.
//
// # Command ids
//
// Deterministic, used as Nats-Msg-Id and as the key in KV ebs_results, so a
// re-issued command after a restart is the same command (batch ids are
// "b-<UTC yyyymmddThhmmssZ>-<4 hex>", sortable and unique):
//
//	<b>.seed.<n>.create|tag.<k>|wait|cancel|remove   build side tag, attempt n
//	<b>.build.<s>.<a>                                attempt id (task records
//	                                                 are <attempt id>.<task id>)
//	<b>.build.<s>.<a>.<k>                            SubmitBuilds chunk k
//	<b>.promote.<k>                                  PromoteBuilds chunk k
//	<b>.update.<c>.<n>.create|tag.<k>|wait|...       update side tag of chunk c
//	<b>.bodhi.<c>                                    Bodhi CreateUpdate of chunk c
//	<b>.stable                                       WaitTagged on the stable tag
//	<b>.cleanup.build, <b>.cleanup.update.<c>        RemoveSideTag
//
// Batch events carry deterministic ids too: <b>.started, <b>.phase.<n>,
// <b>.slice.<s>.started|finished, <attempt id>.started|finished,
// <b>.completed.
//
// # Running it in-process
//
// Serve(ctx, Config, Deps{JS, Hub, Settings}, log) runs a replica on an
// already provisioned JetStream; Deps.Hub is a kojibatch.Hub (reads only),
// Deps.Settings returns the current *config.Config. Run builds those from
// flags (see Config.Flags). Tests may set Config.Hook, called at every saga
// step's entry and after every command is published, to stop a service at
// a chosen point (enginetest's crash test kills services there).
package batcher
