package batcher_test

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
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
	deadline := time.Now().Add(20 * time.Second)
	var pending jetstream.KeyValue
	for {
		var err error
		if pending, err = conn.JS.KeyValue(ctx, natsx.BucketPending); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("batcher did not provision the buckets")
		}
		time.Sleep(50 * time.Millisecond)
	}
	id, err := hub.NewRawhideBuild("bash-5.3-1.fc45", "packager")
	if err != nil {
		t.Fatal(err)
	}
	r := &ebsv1.RebuildRequest{RequestId: "trigger-1", Component: "bash", FedoraName: "bash", BuildId: id,
		Nvr: "bash-5.3-1.fc45", Ordering: 1000, BuildCreatedAt: timestamppb.Now()}
	if _, err := natsx.Publish(ctx, conn.JS, natsx.SubjectRebuildRequested, r.GetRequestId(), r); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := pending.Get(ctx, "bash"); err == nil {
			break
		} else if !errors.Is(err, jetstream.ErrKeyNotFound) || time.Now().After(deadline) {
			t.Fatalf("request not pending: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	st, err := conn.JS.Stream(ctx, natsx.StreamEBS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.GetLastMsgForSubject(ctx, natsx.SubjectBatchStarted); err == nil {
		t.Fatal("a batch started although the configuration pauses")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
}
