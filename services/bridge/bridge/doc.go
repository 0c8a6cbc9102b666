// Package bridge is the bridge service: Fedora Messaging (AMQP 0-9-1) in,
// the FEDMSG stream out, and batch completions back to the bus.
//
// Inbound, each AMQP delivery becomes a FedoraMessage envelope (message id,
// topic, headers, sent-at, body byte for byte) published on
// fedmsg.<topic without its environment prefix> with Nats-Msg-Id = the
// message id, so redeliveries and duplicates are stored once. The AMQP ack
// happens only after JetStream's PubAck; when JetStream is unavailable the
// delivery is nacked with requeue and the consumer backs off, so nothing is
// dropped. Input that can never be stored (no message id, a body that is not
// a JSON object or is over 1 MiB, a topic that is no subject) becomes a
// DeadLetter record on ebs.deadletter (id "amqp-<message id>", or
// "amqp-<hash of topic and body>" without one), is acked and counted. A lost
// broker connection is re-dialed with backoff, the queue and bindings are
// re-declared and consumption resumes. TLS client certificates use SASL
// EXTERNAL like Fedora's public broker.
//
// Outbound (off unless --outbound-topic is set), every ebs.batch.completed
// is published to the bus as a Fedora message whose body is the
// BatchCompleted event in JSON, with a message id derived from the batch id.
//
// --replay FILE imports recorded messages (JSON lines in the datagrepper or
// fedora-messaging shape) into FEDMSG and exits.
package bridge
