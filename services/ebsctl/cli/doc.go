// Package cli implements ebsctl, the operator command line: configuration
// checks now; status, queue, batches, package history, trigger, pause and
// resume over the StatusService gRPC API once the status issue lands.
package cli
