// Package allinone wires several ebs services into one process: `ebs run
// SERVICE...` against external NATS (and PostgreSQL for status), and — once
// the demo issue lands — `ebs demo` on embedded defaults.
package allinone
