package batcher

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// intake runs only the batcher's request intake and watchers (no
// scheduler), on a real JetStream.
func intake(t *testing.T, settings *config.Config) (*Batcher, *natsx.Conn) {
	t.Helper()
	srv := natstest.Start(t)
	conn := srv.Provisioned(t)
	ctx, cancel := context.WithCancel(context.Background())
	cfg := Config{Lull: time.Second}.withDefaults()
	b, err := newBatcher(ctx, cfg, Deps{JS: conn.JS, Settings: func() *config.Config { return settings }}, lifecycle.Discard())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() { _ = b.watchPending(ctx) })
	wg.Go(func() { _ = b.watchControl(ctx) })
	wg.Go(func() {
		_ = natsx.Consume(ctx, conn.JS, natsx.StreamEBS, natsx.ConsumerBatcher,
			func() *ebsv1.RebuildRequest { return new(ebsv1.RebuildRequest) }, b.handleRequest,
			natsx.ConsumeOptions{Service: Name, Logger: lifecycle.Discard()})
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return b, conn
}

func req(id, comp string, buildID int64, created time.Time) *ebsv1.RebuildRequest {
	return &ebsv1.RebuildRequest{RequestId: id, Component: comp, FedoraName: comp, BuildId: buildID,
		Nvr: fmt.Sprintf("%s-1-%d.fc45", comp, buildID), BuildCreatedAt: timestamppb.New(created), Ordering: 1000}
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPendingNewestBuildWins(t *testing.T) {
	t.Parallel()
	b, conn := intake(t, &config.Config{})
	ctx := context.Background()
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	reqs := []*ebsv1.RebuildRequest{
		req("r1", "glibc", 10, t0),
		req("r2", "glibc", 12, t0.Add(2*time.Hour)), // newer: replaces r1
		req("r3", "glibc", 11, t0.Add(time.Hour)),   // older than r2: superseded
		req("r2", "glibc", 12, t0.Add(2*time.Hour)), // duplicate delivery
		req("r4", "python3.14", 20, t0),
	}
	for i, r := range reqs {
		// Distinct msg ids so the duplicate reaches the handler.
		if _, err := natsx.Publish(ctx, conn.JS, natsx.SubjectRebuildRequested, fmt.Sprintf("%s-%d", r.GetRequestId(), i), r); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both components pending", func() bool {
		e, _, err := b.pending.Get(ctx, natsx.EscapeKey("python3.14"))
		return err == nil && e.GetRequest().GetRequestId() == "r4"
	})
	waitFor(t, "r3 handled", func() bool { return countSubject(t, conn.JS, natsx.SubjectRebuildSuperseded) == 2 })
	p, _, err := b.pending.Get(ctx, natsx.EscapeKey("glibc"))
	if err != nil {
		t.Fatal(err)
	}
	if p.GetRequest().GetRequestId() != "r2" || len(p.GetSuperseded()) != 1 || p.GetSuperseded()[0] != "r1" {
		t.Fatalf("pending glibc = %v; want r2 having superseded r1", p)
	}
	sups := superseded(t, conn.JS)
	want := map[string]string{"r1": "r2", "r3": "r2"}
	for _, s := range sups {
		if want[s.GetSupersededRequestId()] != s.GetByRequestId() {
			t.Fatalf("unexpected superseded event %v", s)
		}
		delete(want, s.GetSupersededRequestId())
	}
	if len(want) != 0 {
		t.Fatalf("missing superseded events for %v", want)
	}
}

func TestPendingRejectsInvalid(t *testing.T) {
	t.Parallel()
	_, conn := intake(t, &config.Config{})
	ctx := context.Background()
	if _, err := natsx.Publish(ctx, conn.JS, natsx.SubjectRebuildRequested, "bad", &ebsv1.RebuildRequest{RequestId: "bad"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "dead letter", func() bool { return countSubject(t, conn.JS, natsx.SubjectDeadLetter) == 1 })
}

func TestReadyForBatchLullAndPause(t *testing.T) {
	t.Parallel()
	settings := &config.Config{}
	b, conn := intake(t, settings)
	ctx := context.Background()
	if ok, _ := b.readyForBatch(); ok {
		t.Fatal("ready with an empty pending set")
	}
	if _, err := natsx.Publish(ctx, conn.JS, natsx.SubjectRebuildRequested, "r1", req("r1", "bash", 1, time.Now())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "pending", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.pendingKeys) == 1 })
	if ok, _ := b.readyForBatch(); ok {
		t.Fatal("ready before the lull passed")
	}
	waitFor(t, "lull", func() bool { ok, _ := b.readyForBatch(); return ok })

	// A new request restarts the countdown.
	if _, err := natsx.Publish(ctx, conn.JS, natsx.SubjectRebuildRequested, "r2", req("r2", "zsh", 2, time.Now())); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "second pending", func() bool { b.mu.Lock(); defer b.mu.Unlock(); return len(b.pendingKeys) == 2 })
	if ok, _ := b.readyForBatch(); ok {
		t.Fatal("ready right after a new request")
	}
	waitFor(t, "lull again", func() bool { ok, _ := b.readyForBatch(); return ok })

	// Runtime pause (KV ebs_control) holds batches back; requests stay.
	data, _ := proto.Marshal(&ebsv1.ControlState{Paused: true, Reason: "branching"})
	if _, err := b.control.KV.Put(ctx, natsx.KeyPause, data); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "runtime pause", func() bool { ok, why := b.readyForBatch(); return !ok && why == "runtime" })
	if err := b.control.KV.Delete(ctx, natsx.KeyPause); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "unpaused", func() bool { ok, _ := b.readyForBatch(); return ok })

	// Config pause too.
	settings.Control.Pause = true
	if ok, why := b.readyForBatch(); ok || why != "config" {
		t.Fatalf("config pause: ready=%v why=%q", ok, why)
	}
}

func TestChunkNVRs(t *testing.T) {
	t.Parallel()
	nvrs := func(n int) []string {
		var out []string
		for i := range n {
			out = append(out, fmt.Sprintf("p%d-1-1.eln150", i))
		}
		return out
	}
	for _, tc := range []struct {
		name                string
		n, batch, maxSingle int
		want                []int
	}{
		{"never split", 5, 0, 0, []int{5}},
		{"K: batch 2, max single 10, 5 builds", 5, 2, 10, []int{5}},
		{"K2: batch 2, max single 2, 5 builds", 5, 2, 2, []int{2, 2, 1}},
		{"K3: batch 2 (max single defaults to it)", 4, 2, 0, []int{2, 2}},
		{"exactly max single", 10, 2, 10, []int{10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := chunkNVRs(nvrs(tc.n), tc.batch, tc.maxSingle)
			var sizes []int
			for _, c := range got {
				sizes = append(sizes, len(c))
			}
			if fmt.Sprint(sizes) != fmt.Sprint(tc.want) {
				t.Fatalf("chunk sizes %v, want %v", sizes, tc.want)
			}
		})
	}
}

func countSubject(t *testing.T, js jetstream.JetStream, subject string) int {
	t.Helper()
	st, err := js.Stream(context.Background(), natsx.StreamEBS)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	return int(info.State.Subjects[subject])
}

func superseded(t *testing.T, js jetstream.JetStream) []*ebsv1.RequestSuperseded {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := js.OrderedConsumer(ctx, natsx.StreamEBS, jetstream.OrderedConsumerConfig{FilterSubjects: []string{natsx.SubjectRebuildSuperseded}})
	if err != nil {
		t.Fatal(err)
	}
	var out []*ebsv1.RequestSuperseded
	for {
		m, err := c.Next(jetstream.FetchMaxWait(500 * time.Millisecond))
		if err != nil {
			if errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded) || len(out) > 0 {
				return out
			}
			return out
		}
		var s ebsv1.RequestSuperseded
		if err := proto.Unmarshal(m.Data(), &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, &s)
	}
}
