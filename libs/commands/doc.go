// Package commands owns the command/result protocol between the batcher and
// the workers (koji-worker, repo-watcher, bodhi-publisher).
//
// A command has a deterministic id ("<batch_id>.<step>[.<slice>.<attempt>[.<chunk>]]")
// used as its Nats-Msg-Id and as its key in KV ebs_results. A worker records
// the command's outcome (an ebsv1.CommandResult holding the worker's event)
// under that key before it publishes the event and acks the command; the
// issuer waits for the key (get, then watch). Re-issuing a command after a
// restart is therefore harmless: the stream de-duplicates the publish, the
// worker finds the recorded result, and the issuer reads it.
//
// The package also keeps koji-worker's intent records ("intent.<command id>"
// in the same bucket) and makes batch ids.
package commands
