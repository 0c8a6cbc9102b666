// Package natsx owns ebs's use of NATS JetStream: the names of every stream,
// subject, durable consumer and KV bucket (names.go, the one place they are
// spelled), the table of their definitions and the idempotent provisioning of
// that table, connecting with sane options, typed publishing of protobuf
// messages with Nats-Msg-Id de-duplication, typed durable pull consumption
// with explicit ack / nak-with-delay / term-to-dead-letter, protobuf values in
// KV buckets, and the KV lease lock that keeps batches from overlapping.
//
// The natstest sub-package starts a real embedded nats-server for tests.
package natsx
