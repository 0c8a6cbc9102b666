package status_test

import (
	"context"
	"testing"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/store/pgtest"
	ebsstatus "github.com/fedora-eln/ebs/services/status/status"
	"github.com/fedora-eln/ebs/services/status/status/statustest"
)

// TestReplayHistory restarts the service with ReplayHistory on the same
// NATS and database: the history is rebuilt from the stream, unchanged.
func TestReplayHistory(t *testing.T) {
	t.Parallel()
	db := pgtest.NewDatabase(t)
	env := statustest.Start(t, statustest.Options{Seed: true, Config: ebsstatus.Config{DatabaseURL: db}})
	ctx := context.Background()
	before, err := env.Server.Store.PackageHistory(ctx, "python-broken", 0)
	if err != nil || len(before) == 0 {
		t.Fatalf("history before: %v %v", before, err)
	}
	var events int
	_ = env.Server.Store.Pool.QueryRow(ctx, `SELECT count(*) FROM projected_events`).Scan(&events)
	if err := env.Server.Stop(); err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var cfg ebsstatus.Config
	cfg.NATSURL, cfg.AdminAddr, cfg.DatabaseURL, cfg.HTTPAddr, cfg.GRPCAddr = env.NATS.URL(), "off", db, "127.0.0.1:0", "127.0.0.1:0"
	cfg.ReplayHistory = true
	srv, err := ebsstatus.Start(cctx, cfg, lifecycle.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = srv.Wait() }()
	env.Server = srv
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
