// Package batcher is the batcher service: it keeps the pending set and runs serial batches as checkpointed sagas.
//
// Not built yet: until its issue lands, Run only connects to NATS, provisions
// the streams, buckets and consumers, serves /alive, /startup and /metrics,
// and waits for shutdown. It produces no results.
package batcher
