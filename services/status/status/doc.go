// Package status is the status service, the query and control side of ebs.
//
// It projects every event of the EBS stream into PostgreSQL (libs/store),
// serves the StatusService over gRPC (with health and reflection) and, through
// grpc-gateway, as HTTP/JSON under /v1; it serves the ELNBuildSync-compatible
// endpoints (/alive, /startup, /status.html, /status.json, /trigger,
// /control/pause|unpause, /login, /oidc/callback, /logout), writes the
// runtime pause into KV ebs_control, publishes manual rebuilds, exposes
// /metrics, and mails persistent build failures on ebs.batch.completed.
//
// Start it in a test with Start (it returns the bound addresses), or run it
// until the context ends with Run.
package status
