// Package bodhisim is a Bodhi 8 simulator: a real HTTP server with the routes
// ebs uses, for tests, the demo and `bodhisim` (cmd/bodhisim) on its own.
//
// What it does like Bodhi 8.1:
//   - GET /oidc/login-token with a Bearer token: introspects the token at the
//     provider's "<token_endpoint>Info" with the simulator's own client
//     credentials (as Bodhi's FedoraApp does), requires Bodhi's scopes, reads
//     nickname, email and groups from userinfo, answers 202 with an auth_tkt
//     cookie. A bad token is 401.
//   - GET /csrf: a token bound to the "session" cookie. A write with another
//     token is 400 "CSRF tokens do not match" on body.csrf_token.
//   - POST /updates/ (JSON or form): 403 without a valid auth_tkt or outside
//     the packager groups; Bodhi's validators for side-tag updates (the tag
//     exists in Koji, has extra.sidetag, holds builds per listTagged(latest),
//     is not used by another update, is owned by the submitter unless an
//     admin group; each NVR in one live update; the release found from the
//     NVR's dist tag). Answers the update object with caveats.
//   - GET /updates/{alias}, GET /updates/ (builds, user, status, releases,
//     alias, from_side_tag, page, rows_per_page), GET /releases/ (state, name).
//   - Errors in Bodhi's shape {"status":"error","errors":[{location,name,
//     description}]} with its status codes; as an HTML page when the client
//     does not ask for JSON.
//   - The rawhide/ELN side-tag lifecycle (composed_by_bodhi false): pending,
//     then testing after Options.TestingAfter (builds signed), then stable
//     after Options.StableAfter: every build is tagged into the release's
//     stable tag in Koji (so Koji emits buildsys.tag) and the side tag is
//     removed.
//
// Test hooks: Fault injection (5xx, HTML proxy pages, slow answers, rejected
// updates), ExpireSessions (forces a new sign-in), RotateCSRF (forces a new
// CSRF token), Hold/Advance/SetStatus (drive the lifecycle), OnCreate and
// counters. Koji is reached through the KojiHub interface; KojiXMLRPC
// implements it over libs/koji against the Koji simulator or a real hub.
// Package bodhisimtest starts the OIDC provider, the Koji simulator and this
// simulator together for a test.
//
// Not simulated: update edits, comments and karma, the request endpoint,
// and the <sidetag>-signing-pending / -testing-pending child tags Bodhi
// creates on the way to testing (the side tag goes straight to stable).
package bodhisim
