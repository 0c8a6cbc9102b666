// Package fedmsgsim (directory libs/sim/fedmsg) simulates the Fedora
// Messaging side of Koji for tests and the demo. A Simulator publishes
// buildsys.* messages — generated from typed bodies with the headers
// koji-fedoramessaging sets (Tag, TagBuild, Untag, RepoInit, RepoDone,
// BuildStateChange, TaskStateChange), the reference samples (Samples), recorded
// ones (ReadRecorded: datagrepper JSON lines; ScanRecorded reads past
// unreadable records, reporting each with its line) or deliberately malformed ones
// (Malformed) — into a Sink:
//
//   - AMQPSink (DialAMQP) publishes to a real RabbitMQ exchange (amq.topic,
//     routing key = topic, persistent, publisher confirms) the way Fedora's
//     broker receives them; the bridge consumes them from there;
//   - JetStreamSink stores them straight into the FEDMSG stream, as the
//     bridge would (subject without the environment prefix, Nats-Msg-Id =
//     message id), when no broker is used;
//   - Recorder keeps them in memory.
//
// Every sink also satisfies the Koji simulator's Sink (libs/sim/kojihub), so
// the simulated hub's messages can go to RabbitMQ or FEDMSG the same way.
// WriteRecorded writes the JSON-lines format the bridge's --replay reads.
// BrokerProxy sits between a client and the broker and cuts connections on
// demand, to test broker loss mid-stream.
//
//	sink, _ := fedmsgsim.DialAMQP("amqp://guest:guest@127.0.0.1:5672/", "")
//	sim := fedmsgsim.New(sink, "org.fedoraproject.prod")
//	sim.PublishAll(ctx, fedmsgsim.Samples("org.fedoraproject.prod"))
//	sim.TagBuild(ctx, "f45", "bash-5.3.0-2.fc45", 2800001, "bodhi")
package fedmsgsim
