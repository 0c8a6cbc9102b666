// Package batcher is the batcher service: it keeps the pending set and runs
// serial batches as checkpointed sagas.
//
// Intake: RebuildRequests from ebs.rebuild.requested (durable
// natsx.ConsumerBatcher) go into KV ebs_pending, one key per ELN component
// (natsx.EscapeKey), newest build winning (the loser is published as
// ebs.rebuild.superseded); the request is acked only after the KV write.
//
// Scheduling: a batch starts when the pending set is not empty, no request
// was accepted for Lull, and neither config control.pause nor KV
// ebs_control "pause" holds. The batch runs under the KV lease lock
// (ebs_lock "batch") from moving the pending set into it until after
// ebs.batch.completed, so two replicas never run two batches; a replica that
// finds an unfinished batch (KV ebs_batches "current") resumes it.
//
// The saga (saga.go) runs one step at a time and checkpoints after each in
// KV ebs_batches (layout in proto/ebs/v1/checkpoint.proto). Every Koji
// change goes through koji-worker, every wait through repo-watcher, every
// Bodhi update through bodhi-publisher, as commands with deterministic ids
// (see CommandID) whose results the saga reads from KV ebs_results.
package batcher
