// Package cli implements ebsctl, the operator command line. Besides
// `ebsctl config check` it talks to the status service's StatusService over
// gRPC:
//
//	ebsctl status                 running batch, queue size, pause, last batch
//	ebsctl queue                  the pending queue with positions
//	ebsctl batches [--limit N]    recent batches, newest first
//	ebsctl batch ID               one batch: slices, packages, tasks, updates
//	ebsctl package NAME           what happened to an ELN component, and why
//	ebsctl trigger NAME...        request rebuilds (admin)
//	ebsctl pause [REASON...]      stop starting batches (admin, persisted)
//	ebsctl resume                 clear the runtime pause (admin)
//	ebsctl denylist               SCM URLs that are not built again
//	ebsctl watch [--since SEQ]    follow batch events
//
// Every command takes --server (env EBS_SERVER, default 127.0.0.1:9090),
// --token-file (else env EBS_TOKEN: a session id from /trigger?show_token=1
// or an OIDC token), --tls, --timeout and --json (protojson for scripts;
// human tables otherwise). Flags may come before or after arguments.
//
// Exit codes: 0 ok; 1 failure (the command ran and failed, e.g. an API or
// connection error); 2 usage; 3 not found (unknown batch or package); 4 not
// allowed (no valid token, or not in an admin group); 5 server unavailable.
package cli
