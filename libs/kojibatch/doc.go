// Package kojibatch is the narrow set of Koji hub operations the batch
// engine (batcher, koji-worker, repo-watcher) performs, as one Go interface,
// Hub, with the multicall batching done underneath. New adapts a libs/koji
// client to it; the services depend only on Hub, which keeps them readable
// and keeps Koji's wire details in libs/koji.
package kojibatch
