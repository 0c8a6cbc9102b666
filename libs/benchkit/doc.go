// Package benchkit owns ebs's benchmark measurement code, used by `make
// bench` (cmd/ebsbench): supervised service processes (Proc), their memory
// from /proc (ProcStatus: VmRSS and VmHWM, ResetPeak, a Sampler), the Koji
// cost of a batch read from the Koji simulator's call log and split by batch
// phase (Classify), the original ELNBuildSync's Koji call pattern computed
// for the same batch (OriginalModel), a Prometheus text scraper for the
// services' counters, realistic Fedora Messaging traffic for the ingest
// measurement (IngestMessages), and the report: results JSON and the
// markdown tables printed on stdout.
//
// Timings never go into pass/fail tests: this package's tests only check
// that the measurement code itself is right (the sampler reads this
// process, the classifier and the model count what they should, the report
// renders).
package benchkit
