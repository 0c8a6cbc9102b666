// Package bodhipublisher is the bodhi-publisher service: the only writer to Bodhi; it files updates from update side tags and follows them.
//
// Not built yet: until its issue lands, Run only connects to NATS, provisions
// the streams, buckets and consumers, serves /alive, /startup and /metrics,
// and waits for shutdown. It produces no results.
package bodhipublisher
