// Package bodhipublisher is the bodhi-publisher service, the only writer to
// Bodhi: it files one update per ebs.bodhi.cmd.create-update command and
// follows it until Bodhi is done with it.
//
// The batcher's saga owns chunking and the update side tags (see
// docs/ARCHITECTURE.md, "Update side tags"); each command names one side tag
// that already holds the chunk's builds. For a command the publisher:
//
//  1. replays the recorded outcome if KV ebs_results already holds one for
//     the command id (a redelivery, or a batcher re-issuing the command):
//     re-publishes the event and acks;
//  2. in dry-run mode records and reports UpdateCreated{dry_run: true} and
//     files nothing;
//  3. otherwise files the update through libs/bodhi, which retries transient
//     failures and turns "Update already exists using this side tag" into a
//     look-up of the earlier update (so a publisher killed between Bodhi's
//     answer and the ack never files a second update);
//  4. writes the update to KV ebs_updates (the follow list), then the
//     CommandResult to ebs_results, then publishes ebs.bodhi.evt.update-created,
//     then acks. A command still failing when its retry budget (RetryFor,
//     counted from when the command was published) runs out is recorded and
//     reported as CommandFailed; nothing is dropped.
//
// A follower polls every followed update (GET /updates/{alias}) and publishes
// ebs.bodhi.evt.update-status-changed on each change, until a final status
// (stable, obsolete, unpushed) or the command's follow_timeout, then removes
// it from ebs_updates. Because the list lives in KV, a restarted publisher
// resumes following. Replicas may run side by side: every event has a
// deterministic Nats-Msg-Id, so a change seen by two replicas is stored once.
//
// # Configuration
//
// Flags, each with its environment variable: -bodhi-url (EBS_BODHI_URL),
// -bodhi-user (EBS_BODHI_USER), -bodhi-client-id (EBS_BODHI_CLIENT_ID),
// -oidc-issuer (EBS_OIDC_ISSUER), -oidc-token-url (EBS_OIDC_TOKEN_URL),
// -oidc-scopes (EBS_OIDC_SCOPES), -bodhi-token-file (EBS_BODHI_TOKEN_FILE),
// -dry-run (EBS_DRY_RUN), -retry-for (EBS_BODHI_RETRY_FOR),
// -follow-interval (EBS_BODHI_FOLLOW_INTERVAL), -follow-timeout
// (EBS_BODHI_FOLLOW_TIMEOUT), -workers (EBS_BODHI_WORKERS).
//
// The client secret comes only from the environment, as libs/config.Secrets
// reads it: EBS_BODHI_CLIENT_SECRET_FILE (first line of the file) or
// EBS_BODHI_CLIENT_SECRET. The names used before, EBS_OIDC_CLIENT_ID,
// EBS_OIDC_CLIENT_SECRET[_FILE] and the flags -oidc-client-id and
// -oidc-client-secret-file, still work when no EBS_BODHI_CLIENT_* is set and
// log a deprecation warning: status reads EBS_OIDC_CLIENT_SECRET for its own
// login client.
// Every service also takes the shared flags: -nats-url (EBS_NATS_URL),
// -nats-creds (EBS_NATS_CREDS), -nats-replicas (EBS_NATS_REPLICAS),
// -admin-addr (EBS_ADMIN_ADDR; /alive, /startup, /metrics), -config
// (EBS_CONFIG; validated at start-up, a broken one stops the service),
// -log-level (EBS_LOG_LEVEL) and -log-format (EBS_LOG_FORMAT).
package bodhipublisher
