// Package repowatcher is the repo-watcher service: it waits for builds to appear in tags and for repos to regenerate.
//
// Not built yet: until its issue lands, Run only connects to NATS, provisions
// the streams, buckets and consumers, serves /alive, /startup and /metrics,
// and waits for shutdown. It produces no results.
package repowatcher
