// Package fedmsg owns the Fedora Messaging side of ebs: the bodies of the Koji
// hub's buildsys.* messages as Go types (parsed leniently: unknown keys are
// ignored, fields whose type drifted over time are accepted in both forms),
// the AMQP envelope (topic, message id, the fedora_messaging_* headers,
// sent-at, severity, priority) and its conversion to and from the
// FedoraMessage protobuf stored on the FEDMSG stream, and publishing to an
// AMQP exchange the way Fedora's publishers do (used by the simulators and by
// the bridge's outbound completions).
package fedmsg
