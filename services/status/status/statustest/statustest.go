// Package statustest starts a real status service for tests: an embedded
// NATS server (natstest), a fresh PostgreSQL database (pgtest; the calling
// package's TestMain must run pgtest.Main), ports picked by the kernel, and
// optionally the realistic event history of libs/store/storetest projected
// into it, the pending set and denylist the batcher would hold.
package statustest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	"github.com/fedora-eln/ebs/libs/store/pgtest"
	"github.com/fedora-eln/ebs/libs/store/storetest"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/status/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Env is a running status service with its NATS server.
type Env struct {
	NATS   *natstest.Server
	Conn   *natsx.Conn
	Server *status.Server
	// Base is the time the seeded history is relative to.
	Base time.Time
	// Events is how many events were seeded.
	Events int
}

// Options adjust Start.
type Options struct {
	// Config is the service configuration; NATS, database and addresses are
	// filled in when empty.
	Config status.Config
	// Seed publishes storetest.FinishedBatchWithFailure and BatchInProgress,
	// fills ebs_pending and ebs_failed, and waits until they are projected.
	Seed bool
}

// Start starts the service for t and stops it at cleanup.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	e := &Env{NATS: natstest.Start(t), Base: time.Now().UTC().Add(-4 * time.Hour).Truncate(time.Second)}
	e.Conn = e.NATS.Provisioned(t)
	cfg := o.Config
	if cfg.NATSURL == "" {
		cfg.NATSURL = e.NATS.URL()
	}
	if cfg.AdminAddr == "" {
		cfg.AdminAddr = "off"
	}
	if cfg.DatabaseURL == "" {
		cfg.DatabaseURL = pgtest.NewDatabase(t)
	}
	if cfg.HTTPAddr == "" {
		cfg.HTTPAddr = "127.0.0.1:0"
	}
	if cfg.GRPCAddr == "" {
		cfg.GRPCAddr = "127.0.0.1:0"
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := status.Start(ctx, cfg, lifecycle.Discard())
	if err != nil {
		cancel()
		t.Fatalf("statustest: start: %v", err)
	}
	e.Server = srv
	t.Cleanup(func() {
		cancel()
		if err := srv.Wait(); err != nil {
			t.Errorf("statustest: stop: %v", err)
		}
	})
	if o.Seed {
		e.Seed(t)
	}
	return e
}

// HTTPURL is the base URL of the HTTP server.
func (e *Env) HTTPURL() string { return "http://" + e.Server.HTTPAddr }

// Seed publishes the storetest history and the KV state and waits until
// the projection has applied every event.
func (e *Env) Seed(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msgs := append(storetest.FinishedBatchWithFailure(e.Base.Add(-20*time.Hour)), storetest.BatchInProgress(e.Base)...)
	if _, err := storetest.Publish(ctx, e.Conn.JS, msgs); err != nil {
		t.Fatalf("statustest: publish: %v", err)
	}
	e.Events += len(msgs)
	pkv, err := e.Conn.KV(ctx, natsx.BucketPending)
	if err != nil {
		t.Fatal(err)
	}
	pending := natsx.NewProtoKV(pkv, func() *ebsv1.PendingRequest { return new(ebsv1.PendingRequest) })
	for _, p := range storetest.Pending(e.Base) {
		if _, err := pending.Put(ctx, natsx.EscapeKey(p.GetRequest().GetComponent()), p); err != nil {
			t.Fatal(err)
		}
	}
	fkv, err := e.Conn.KV(ctx, natsx.BucketFailed)
	if err != nil {
		t.Fatal(err)
	}
	failed := natsx.NewProtoKV(fkv, func() *ebsv1.DenylistEntry { return new(ebsv1.DenylistEntry) })
	if _, err := failed.Put(ctx, natsx.EscapeKey(storetest.FailingSCM), &ebsv1.DenylistEntry{ScmUrl: storetest.FailingSCM,
		Component: "python-broken", BatchId: storetest.FinishedBatch, Reason: "BuildError: error building package (arch x86_64)",
		At: timestamppb.New(e.Base.Add(-19 * time.Hour))}); err != nil {
		t.Fatal(err)
	}
	e.WaitProjected(t, e.Events)
}

// WaitProjected waits until the projection ledger holds n events.
func (e *Env) WaitProjected(t testing.TB, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got int
		if err := e.Server.Store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM projected_events`).Scan(&got); err != nil {
			t.Fatalf("statustest: count events: %v", err)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("statustest: projection reached %d events, want %d", got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Publish publishes more messages (as the services would).
func (e *Env) Publish(t testing.TB, msgs ...storetest.Msg) {
	t.Helper()
	if _, err := storetest.Publish(context.Background(), e.Conn.JS, msgs); err != nil {
		t.Fatalf("statustest: publish: %v", err)
	}
	e.Events += len(msgs)
}

// String describes the environment (for failure messages).
func (e *Env) String() string {
	return fmt.Sprintf("status http=%s grpc=%s nats=%s", e.Server.HTTPAddr, e.Server.GRPCAddr, e.NATS.URL())
}
