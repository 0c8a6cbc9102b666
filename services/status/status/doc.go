// Package status is the status service: it projects every event into PostgreSQL and serves the StatusService, the status page and the ELNBuildSync-compatible endpoints.
//
// Not built yet: until its issue lands, Run only connects to NATS, provisions
// the streams, buckets and consumers, serves /alive, /startup and /metrics,
// and waits for shutdown. It produces no results.
package status
