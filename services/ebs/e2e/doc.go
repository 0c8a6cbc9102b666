// Package e2e holds ebs's end-to-end and chaos tests (build tag e2e; run
// them with `make e2e`). They build the real binaries — the seven services,
// kojisim, bodhisim and nats-server (from the module cache) — and run them
// as separate OS processes: one nats-server with JetStream (a config file
// setting max_payload), PostgreSQL (a fresh database from libs/store/pgtest),
// RabbitMQ on 127.0.0.1:5672 (a unique queue and topic prefix per test),
// the Koji and Bodhi simulators on the demo world (services/ebs/world), whose
// Fedora messages travel through RabbitMQ and the bridge like Fedora's.
//
// TestEndToEnd feeds the showcase wave and asserts the BatchCompleted
// event, the Bodhi updates, the Koji side tags removed, the status API's
// package history over gRPC and HTTP, and the PostgreSQL rows.
//
// TestChaos runs several waves while a seeded supervisor kill -9s a random
// service every few seconds and restarts it, and restarts nats-server once:
// every batch must complete, no request may be lost, no build may be
// submitted twice for one attempt (kojisim's call log) and no update filed
// twice (bodhisim). The seed is printed on failure; EBS_CHAOS_SEED replays one.
package e2e
