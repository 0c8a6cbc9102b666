// Package filter is the filter service: it turns trigger-tag messages, manual rebuilds and reconciler findings into RebuildRequests.
//
// Not built yet: until its issue lands, Run only connects to NATS, provisions
// the streams, buckets and consumers, serves /alive, /startup and /metrics,
// and waits for shutdown. It produces no results.
package filter
