package batcher_test

import (
	"context"
	"flag"
	"log/slog"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	"github.com/fedora-eln/ebs/services/batcher/batcher"
)

// Run wires the service from its flags: NATS, the configuration file
// (testdata: production's distrobaker.yaml with pause: true) and the Koji
// hub; a request goes into the pending set and stays there (paused).
func TestRunFromFlags(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	hub := kojihub.Start(t, kojihub.Options{})
	var cfg batcher.Config
	fs := flag.NewFlagSet(batcher.Name, flag.ContinueOnError)
	cfg.Flags(fs)
	if err := fs.Parse([]string{"--nats-url", srv.URL(), "--admin-addr", "off", "--config", "testdata/distrobaker.yaml",
		"--koji-url", hub.URL(), "--lull", "100ms"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- batcher.Run(ctx, cfg, slog.New(slog.DiscardHandler)) }()
	conn := srv.Connect(t)
	e := &engine{t: t, conn: conn, hub: hub}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := conn.JS.Stream(ctx, natsx.StreamEBS); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("batcher did not provision the streams")
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.settings.Store(nil)
	r := rebuildRequest(t, e, "bash", "5.3")
	if _, err := natsx.Publish(ctx, conn.JS, natsx.SubjectRebuildRequested, r.GetRequestId(), r); err != nil {
		t.Fatal(err)
	}
	for len(e.pendingLeft()) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("request not pending")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if n := countOnStream(e, natsx.SubjectBatchStarted); n != 0 {
		t.Fatal("a batch started although the configuration pauses")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
}
