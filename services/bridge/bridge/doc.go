// Package bridge is the bridge service: Fedora Messaging (AMQP 0-9-1) in,
// the FEDMSG stream out, and batch completions back to the bus.
//
// Inbound, each AMQP delivery becomes a FedoraMessage envelope (message id,
// topic, headers, sent-at, body byte for byte) published on
// fedmsg.<topic without its environment prefix> with Nats-Msg-Id = the
// message id, so redeliveries and duplicates are stored once. The AMQP ack
// happens only after JetStream's PubAck; when JetStream is unavailable the
// delivery is nacked with requeue and the consumer backs off, so nothing is
// dropped. Input that can never be stored (no message id, a body that is not
// a JSON object or is over 1 MiB, a topic that is no subject) becomes a
// DeadLetter record on ebs.deadletter (id "amqp-<message id>", or
// "amqp-<hash of topic and body>" without one), is acked and counted. A lost
// broker connection is re-dialed with backoff, the queue and bindings are
// re-declared and consumption resumes. TLS client certificates use SASL
// EXTERNAL like Fedora's public broker.
//
// The queue is durable unless --amqp-queue-transient, and a durable queue
// has the same name at every start, so what is published during a restart
// waits in it and no orphaned queue is left bound: --amqp-queue, else the
// client certificate's user (Fedora's convention for an application's
// queue). Without either, or with Fedora's shared public certificate (user
// "fedora", where the queue must be a UUID unique to the deployment), the
// bridge refuses to start and says so. A transient queue is exclusive and
// auto-deleted (server-named without --amqp-queue): messages sent while the
// bridge is down are lost.
//
// Outbound (off unless --outbound or --outbound-topic is set), every
// ebs.batch.completed is published to the bus under --outbound-topic, by
// default <topic prefix>.eln.buildsync.batch.complete (--outbound alone
// gives org.fedoraproject.prod.eln.buildsync.batch.complete in production,
// the staging topic with the staging --topic-prefix), as a Fedora message
// (schema base.message, severity INFO, a message id derived from the batch
// id so a re-sent completion can be de-duplicated). The full BatchCompleted of a mass
// rebuild is several MiB, so the body is a bounded summary
// (CompletionSummary), well under 1 MiB whatever the batch's size:
//
//	{
//	  "batch_id": "20260610-120000-abcd",
//	  "result": "partial",                  // succeeded, partial, failed, empty
//	  "error": "...",                       // failed batches only, at most 4 KiB
//	  "started_at": "2026-06-10T12:00:00Z",
//	  "completed_at": "2026-06-11T03:30:00Z",
//	  "scratch": false,
//	  "packages": 10000,
//	  "counts": {"built": 9630, "failed": 300, "timed_out": 50, "skipped_denylisted": 20},
//	  "updates": [{"alias": "FEDORA-2026-...", "url": "https://bodhi.fedoraproject.org/updates/FEDORA-2026-..."}],
//	  "updates_truncated": false,           // more than 200 updates
//	  "failed": ["pkg-a", "pkg-b"],         // failed or timed out, the first 200
//	  "failed_truncated": true,
//	  "status_url": "https://ebs.example.org/status.html",
//	  "batch_url": "https://ebs.example.org/v1/batches/20260610-120000-abcd"
//	}
//
// status_url and batch_url (the full record: every package's outcome) are
// present when --status-url gives the status service's public URL.
//
// --replay FILE imports recorded messages (JSON lines in the datagrepper or
// fedora-messaging shape) into FEDMSG and exits. A line that cannot be read
// (not JSON, truncated, the wrong shape) becomes a dead letter (reason
// malformed_record, with its line number; id "replay-<hash of line and
// text>") and the import goes on with the next line.
//
// # Configuration
//
// Flags, each with its environment variable (Config documents the
// defaults): -amqp-url (EBS_AMQP_URL), -amqp-ca (EBS_AMQP_CA), -amqp-cert
// (EBS_AMQP_CERT), -amqp-key (EBS_AMQP_KEY), -amqp-exchange
// (EBS_AMQP_EXCHANGE), -amqp-queue (EBS_AMQP_QUEUE), -amqp-queue-transient
// (EBS_AMQP_QUEUE_TRANSIENT), -amqp-routing-keys (EBS_AMQP_ROUTING_KEYS),
// -amqp-prefetch (EBS_AMQP_PREFETCH), -topic-prefix (EBS_TOPIC_PREFIX),
// -reconnect-min (EBS_RECONNECT_MIN), -reconnect-max (EBS_RECONNECT_MAX),
// -outbound (EBS_OUTBOUND), -outbound-topic (EBS_OUTBOUND_TOPIC),
// -outbound-amqp-url (EBS_OUTBOUND_AMQP_URL), -status-url (EBS_STATUS_URL),
// -replay (EBS_REPLAY). The bridge holds no secrets: the broker
// authenticates its client certificate (files).
// Every service also takes the shared flags: -nats-url (EBS_NATS_URL),
// -nats-creds (EBS_NATS_CREDS), -nats-replicas (EBS_NATS_REPLICAS),
// -admin-addr (EBS_ADMIN_ADDR; /alive, /startup, /metrics), -config
// (EBS_CONFIG; validated at start-up, a broken one stops the service),
// -log-level (EBS_LOG_LEVEL) and -log-format (EBS_LOG_FORMAT).
package bridge
