// Package kojiworker is the koji-worker service: the only writer to Koji; it executes Koji commands idempotently and tracks build tasks.
//
// Not built yet: until its issue lands, Run only connects to NATS, provisions
// the streams, buckets and consumers, serves /alive, /startup and /metrics,
// and waits for shutdown. It produces no results.
package kojiworker
