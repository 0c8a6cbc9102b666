// Package allinone wires the seven ebs services into one process: Configs
// holds one configuration per service, FromEnv fills them from the EBS_*
// environment variables each service's own binary reads, and Run runs the
// chosen ones until the context ends or one fails. `ebs run SERVICE...`
// uses it against external NATS and PostgreSQL; `ebs demo` with every
// service on embedded defaults.
package allinone
