// Package bridge is the bridge service: it consumes Fedora Messaging over AMQP and stores each message on the FEDMSG stream.
//
// Not built yet: until its issue lands, Run only connects to NATS, provisions
// the streams, buckets and consumers, serves /alive, /startup and /metrics,
// and waits for shutdown. It produces no results.
package bridge
