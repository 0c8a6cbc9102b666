package status_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/store/pgtest"
	ebsstatus "github.com/fedora-eln/ebs/services/status/status"
	"github.com/fedora-eln/ebs/services/status/status/statustest"
)

// seededAndStopped runs status over the seeded history on db, stops it and
// returns the environment (its NATS keeps running) and the number of
// projected events.
func seededAndStopped(t *testing.T, db string) (*statustest.Env, int) {
	t.Helper()
	env := statustest.Start(t, statustest.Options{Seed: true, Config: ebsstatus.Config{DatabaseURL: db}})
	events := countEvents(t, env)
	if err := env.Server.Stop(); err != nil {
		t.Fatal(err)
	}
	return env, events
}

func countEvents(t *testing.T, env *statustest.Env) int {
	t.Helper()
	var n int
	if err := env.Server.Store.Pool.QueryRow(context.Background(), `SELECT count(*) FROM projected_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// restart starts status again on env's NATS and db with -replay-history.
func restart(t *testing.T, env *statustest.Env, db string, force bool) (*ebsstatus.Server, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var cfg ebsstatus.Config
	cfg.NATSURL, cfg.AdminAddr, cfg.DatabaseURL, cfg.HTTPAddr, cfg.GRPCAddr = env.NATS.URL(), "off", db, "127.0.0.1:0", "127.0.0.1:0"
	cfg.ReplayHistory, cfg.ReplayHistoryForce = true, force
	srv, err := ebsstatus.Start(ctx, cfg, lifecycle.Discard())
	if err != nil {
		cancel()
		return nil, err
	}
	t.Cleanup(func() { cancel(); _ = srv.Wait() })
	env.Server = srv
	return srv, nil
}

// TestReplayHistory restarts the service with ReplayHistory on the same
// NATS and database: the history is rebuilt from the stream, unchanged.
func TestReplayHistory(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	env := statustest.Start(t, statustest.Options{Seed: true, Config: ebsstatus.Config{DatabaseURL: db}})
	before, err := env.Server.Store.PackageHistory(ctx, "python-broken", 0)
	if err != nil || len(before) == 0 {
		t.Fatalf("history before: %v %v", before, err)
	}
	events := countEvents(t, env)
	if err := env.Server.Stop(); err != nil {
		t.Fatal(err)
	}
	srv, err := restart(t, env, db, false)
	if err != nil {
		t.Fatal(err)
	}
	env.WaitProjected(t, events)
	after, err := srv.Store.PackageHistory(ctx, "python-broken", 0)
	if err != nil || len(after) != len(before) {
		t.Fatalf("history after replay: %d entries (%v), before %d", len(after), err, len(before))
	}
	for i := range before {
		if before[i].Kind != after[i].Kind || before[i].Detail != after[i].Detail || !before[i].At.AsTime().Equal(after[i].At.AsTime()) {
			t.Errorf("entry %d: %v != %v", i, before[i], after[i])
		}
	}
}

// TestReplayRefusedAfterExpiry: once the EBS stream has lost its first
// messages (MaxAge 30 days; here purged), -replay-history refuses to start
// and leaves the history alone; -replay-history-force replays what is left.
func TestReplayRefusedAfterExpiry(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	ctx := context.Background()
	env, events := seededAndStopped(t, db)
	stream, err := env.Conn.JS.Stream(ctx, natsx.StreamEBS)
	if err != nil {
		t.Fatal(err)
	}
	const dropped = 3 // messages 1-3 "expire"
	if err := stream.Purge(ctx, jetstream.WithPurgeSequence(dropped+1)); err != nil {
		t.Fatal(err)
	}

	_, err = restart(t, env, db, false)
	if !errors.Is(err, ebsstatus.ErrReplayIncomplete) || !strings.Contains(err.Error(), "starts at message 4") ||
		!strings.Contains(err.Error(), "-replay-history-force") {
		t.Fatalf("replay over an expired stream: %v, want ErrReplayIncomplete naming message 4 and the force flag", err)
	}
	// Nothing was emptied: restart without replay and count.
	srv, err := ebsstatus.Start(context.Background(), ebsstatus.Config{Common: lifecycle.Common{NATSURL: env.NATS.URL(), AdminAddr: "off"},
		DatabaseURL: db, HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0"}, lifecycle.Discard())
	if err != nil {
		t.Fatal(err)
	}
	env.Server = srv
	if n := countEvents(t, env); n != events {
		t.Fatalf("refused replay left %d projected events, want %d", n, events)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}

	if _, err := restart(t, env, db, true); err != nil {
		t.Fatalf("forced replay: %v", err)
	}
	env.WaitProjected(t, events-dropped)
	// The stream delivered everything it held; the purged messages are gone
	// from the history.
	if n := countEvents(t, env); n != events-dropped {
		t.Fatalf("forced replay projected %d events, want %d", n, events-dropped)
	}
}
