// Package status is the status service, the query and control side of ebs.
//
// It projects every event of the EBS stream into PostgreSQL (libs/store),
// serves the StatusService over gRPC (with health and reflection) and, through
// grpc-gateway, as HTTP/JSON under /v1; it serves the ELNBuildSync-compatible
// endpoints (/alive, /startup, /status.html, /status.json, /trigger,
// /control/pause|unpause, /login, /oidc/callback, /logout, all with
// Cache-Control: no-cache), writes the runtime pause into KV ebs_control,
// publishes manual rebuilds (ebs.rebuild.manual, resolved by the filter),
// exposes /metrics (also on the admin port), and mails persistent build
// failures on ebs.batch.completed (durable status-mail).
//
// Reads are public; TriggerRebuild, Pause and Resume (and POST /trigger,
// /control/*) need an admin: a bearer token (session id, OIDC ID or access
// token) of a user in open_id_connect.admin_groups. The session cookie alone
// identifies a browser for reads but never authorizes a mutation. With
// open_id_connect: false everyone is the admin "anonymous", with a warning in
// the log and on the page. Errors map to gRPC codes in one place (errors.go);
// the gateway and the compatible endpoints derive HTTP statuses from them.
//
// The running batch and its per-package state come from the projected
// events (ebs.batch.*, ebs.koji.evt.*), not from the batcher's checkpoints;
// the pending queue is read from KV ebs_pending and the denylist from
// ebs_failed. /status.json is regenerated every control.status_interval from
// Koji (libs/koji: listTagged, listBuilds, listTags) for every component of
// the Content Resolver lists and overrides.
//
// The status page (web/, embedded; plain JavaScript) renders /v1/status and
// updates live: it keeps GET /v1/events open (WatchBatchEvents through the
// gateway, newline-delimited JSON) and refreshes the status 250 ms after
// batch events, showing "live" or "reconnecting" in its header. A stream
// that ends (a restart, a proxy's idle timeout) is reopened with a growing
// delay; the page polls every 5 s while it is down and every 30 s while it is
// up (the queue, the pause and the denylist change without a batch event);
// ?poll=<ms> sets the fallback interval. WatchBatchEvents sends its headers
// once it is subscribed (the gateway flushes them at once, so "live" means
// no later event is missed) and each event only once the projection's
// durable consumer has acked it (at most 3 s later), so the refresh on an
// event reads its effect. The HTTP server has no WriteTimeout, which would
// cut these streams off; stopping the service ends them cleanly.
//
// Zero Config values are working defaults: database from EBS_DATABASE_URL,
// else postgres://postgres@127.0.0.1:5432/ebs (created when missing), HTTP
// 127.0.0.1:8080, gRPC 127.0.0.1:9090, no auth, no mail, no Koji reads.
//
// In a test, statustest.Start runs it on an embedded NATS server, a fresh
// database and kernel-chosen ports, optionally seeded with a realistic
// history:
//
//	env := statustest.Start(t, statustest.Options{Seed: true})
//	conn, _ := grpc.NewClient("passthrough:///"+env.Server.GRPCAddr, ...)
//	http.Get(env.HTTPURL() + "/status.html")
//
// or directly: srv, err := status.Start(ctx, status.Config{Common: c,
// HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0"}, log); srv.HTTPAddr,
// srv.GRPCAddr; srv.Wait() after cancelling ctx.
//
// # Configuration
//
// Flags, each with its environment variable: -database-url
// (EBS_DATABASE_URL), -http-addr (EBS_HTTP_ADDR), -grpc-addr
// (EBS_GRPC_ADDR), -koji-web-url (EBS_KOJI_WEB_URL), -koji-url
// (EBS_KOJI_URL; formerly -koji-hub-url / EBS_KOJI_HUB_URL), -oidc-issuer
// (EBS_OIDC_ISSUER), -replay-history (EBS_REPLAY_HISTORY),
// -replay-history-force (EBS_REPLAY_HISTORY_FORCE), -oidc-client-secret-file
// (EBS_OIDC_CLIENT_SECRET_FILE) and -smtp-password-file
// (EBS_SMTP_PASSWORD_FILE).
//
// -replay-history empties the history tables and replays the EBS stream
// from its first message. The stream keeps 30 days but the tables keep
// everything projected, so once the stream no longer starts at message 1
// the replay is refused (start-up fails with ErrReplayIncomplete, naming the
// first sequence): it would silently drop the older history.
// -replay-history-force replays anyway, keeping only what the stream holds.
//
// The open_id_connect section names endpoints but no issuer; ID tokens (as
// bearers, and the login's nonce check) need one. Without -oidc-issuer it
// is found by OIDC discovery at the parents of auth_url's path (Fedora:
// https://id.fedoraproject.org/openidc), trusted only when that document
// names the same authorization endpoint. When neither works start-up warns:
// session ids and access tokens still work, ID tokens are refused.
//
// Secrets come only from the environment or files, as libs/config.Secrets
// reads them: EBS_OIDC_CLIENT_SECRET[_FILE] (required when open_id_connect
// is on: status refuses to start without it), EBS_SMTP_PASSWORD[_FILE] and
// EBS_DB_PASSWORD[_FILE] (put into a -database-url that has no password).
// EBS_DATABASE_PASSWORD_FILE, the first Helm chart's name, is read as a
// deprecated fallback.
// Every service also takes the shared flags: -nats-url (EBS_NATS_URL),
// -nats-creds (EBS_NATS_CREDS), -nats-replicas (EBS_NATS_REPLICAS),
// -admin-addr (EBS_ADMIN_ADDR; /alive, /startup, /metrics), -config
// (EBS_CONFIG), -log-level (EBS_LOG_LEVEL) and -log-format (EBS_LOG_FORMAT).
package status
