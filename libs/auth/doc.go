// Package auth owns who may do what in ebs's operator APIs: OpenID Connect
// login (authorization code with state, nonce and PKCE), sessions (random
// 256-bit ids kept by a SessionStore, 24 h, HttpOnly SameSite cookies),
// bearer tokens (a session id, or an OIDC ID or access token) for API and CLI
// callers, and the admin_groups rule for every mutating call, enforced the
// same way by HTTP middleware and gRPC interceptors.
//
// With auth disabled (open_id_connect: false) every caller is the admin
// "anonymous"; the service logs a warning and the status page shows one.
//
// Tests run against the shared Ipsilon-shaped provider in libs/oidctest.
package auth
