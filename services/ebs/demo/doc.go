// Package demo is `ebs demo`: the whole pipeline in one process on embedded
// defaults. It starts an embedded nats-server with JetStream, finds a
// PostgreSQL (libs/store/pglocal), starts the Koji and Bodhi simulators and
// the Content Resolver fixture on the demo world (services/ebs/world), wires
// the seven services in-process (services/ebs/allinone) with the
// production configuration and short lulls and polls, then tags the world's
// new Rawhide builds into f45 — through RabbitMQ and the bridge when a broker
// answers on 127.0.0.1:5672, else straight into FEDMSG — and shows the batch
// going through: progress as it goes, a summary and the checks of what the
// configuration demands at the end, and the status page until Ctrl-C.
//
// A throwaway PostgreSQL cluster (no server answering, no EBS_DATABASE_URL)
// is made in a temporary directory, not in DataDir. Run as root, the server
// runs as the postgres user and every directory above the cluster that other
// users cannot traverse gets o+x (e.g. /root 0700 -> 0701), each change a
// WARN record in the log (pglocal.StartThrowaway).
package demo
