// Package bodhi is a client for Bodhi 8's REST API, the parts ebs uses:
// pending releases (resolving "rawhide" to its stable tag), creating an update
// from a side tag, reading and listing updates.
//
// Writes follow Bodhi's browser-era dance: an OIDC access token (client
// credentials, a token file, or a static token) is exchanged once at
// /oidc/login-token for the auth_tkt and session cookies kept in a cookie
// jar; every write carries a CSRF token from /csrf bound to that session.
// Every request sends Accept: application/json.
//
// The client hides what a caller should never see: a 403 signs in again, a
// CSRF mismatch fetches a new token, 5xx answers, timeouts and Koji hiccups
// behind Bodhi back off exponentially within a bounded budget (15 minutes by
// default, like ELNBuildSync), and "Update already exists using this side
// tag" looks the earlier update up and returns it (CreateUpdate is
// idempotent per side tag). Anything else comes back as an *Error carrying
// Bodhi's error list.
//
// With Options.Metrics (NewMetrics(reg), one per registry) the client counts
// ebs_bodhi_client_requests_total{op,code} (every HTTP exchange, retries
// included; code "error" when no answer came) and
// ebs_bodhi_client_errors_total{op} (calls that failed for the caller).
package bodhi
