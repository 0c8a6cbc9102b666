// Package store owns ebs's PostgreSQL: the schema (embedded goose migrations
// applied at start-up), the projection of every ebs.> event into history
// tables (idempotent by event id, so a replay of the stream rebuilds the same
// tables), the queries the status service answers from, OIDC sessions and
// login states, and the record of failure mails sent.
//
// Sub-packages: pgtest gives each test a fresh database of its own, pglocal
// finds or starts a PostgreSQL for local runs (the demo, end-to-end tests),
// and storetest holds realistic event sequences and publishes them on the
// EBS stream for projection and status tests.
package store
