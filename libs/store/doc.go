// Package store owns ebs's PostgreSQL: the schema (embedded goose migrations
// applied at start-up), the projection of every ebs.> event into history
// tables (idempotent by event id, so a replay of the stream rebuilds the same
// tables), the queries the status service answers from, OIDC sessions and
// login states, and the record of failure mails sent.
//
// The pgtest sub-package gives tests a fresh database of their own.
package store
