// Package fedmsgsim (directory libs/sim/fedmsg) simulates the Fedora
// Messaging side of Koji for tests and the demo. A Simulator publishes
// buildsys.* messages — generated from typed bodies with the headers
// koji-fedoramessaging sets, the reference samples (Samples), recorded ones
// (ReadRecorded: datagrepper JSON lines) or deliberately malformed ones
// (Malformed) — into a Sink: AMQPSink publishes to a real RabbitMQ exchange
// (amq.topic, routing key = topic, publisher confirms) the way Fedora's
// broker receives them, JetStreamSink stores them straight into the FEDMSG
// stream when no broker is used. WriteRecorded writes the same JSON-lines
// format, and the bridge's --replay reads it.
package fedmsgsim
