// Package observe follows ebs from the outside: it tails the EBS stream
// (requests, batch events, worker events) from its first message with an
// ordered consumer, which survives NATS restarts, decodes each message by
// its Ebs-Type header, hands it to a callback, and keeps the parts a
// world.Observation needs. The demo draws its progress from it; the
// end-to-end tests assert on it.
package observe
