package filter

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fedora-eln/ebs/libs/contentresolver/crfixture"
	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// The reconciler's loop with two replicas started at different times: one
// replica runs each round, a round's requests share one run id, and
// nothing is published twice (the replicas' counters add up to what the
// stream holds; JetStream's de-duplication would hide a second publish of
// the same id). Components without any build are counted, not published.
func TestReconcilerRoundsSharedByReplicas(t *testing.T) {
	t.Parallel()
	hub := kojihub.Start(t, kojihub.Options{})
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	for _, b := range []kojihub.BuildSpec{
		{NVR: "grep-3.11-11.fc45", Tags: []string{"f45"}, CreationTime: t0},
		{NVR: "grep-3.11-10.eln150", Tags: []string{"eln"}, CreationTime: t0},
		// bash has a Rawhide build and none in ELN: every round requests it.
		{NVR: "bash-5.3.0-1.fc45", Tags: []string{"f45"}, CreationTime: t0},
	} {
		b.State = koji.BuildComplete
		if _, err := hub.AddBuild(b); err != nil {
			t.Fatal(err)
		}
	}
	conn := natstest.Start(t).Provisioned(t)
	reader, err := NewKojiReader(hub.URL(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cr := crfixture.NewTest(t, crfixture.Sample()...)
	cfg := productionConfig(t, "f45", cr.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A short interval: the loop's rounds are what is tested, not their period.
	const interval = 2 * time.Second
	var replicas []*Filter
	var done []chan error
	start := func() {
		f := New(Deps{JS: conn.JS, Koji: reader, Logger: lifecycle.Discard()})
		if err := f.Apply(ctx, cfg); err != nil {
			t.Fatal(err)
		}
		d := make(chan error, 1)
		go func() { d <- f.RunReconciler(ctx, interval) }()
		replicas, done = append(replicas, f), append(done, d)
	}
	// rounds maps each stored reconcile run id to the components it requested.
	rounds := func() map[string][]string {
		out := map[string][]string{}
		for id, r := range onEBS[ebsv1.RebuildRequest](t, conn.JS, natsx.SubjectRebuildRequested) {
			if r.GetReason() != ebsv1.RequestReason_REQUEST_REASON_RECONCILE {
				continue
			}
			run := strings.TrimSuffix(strings.TrimPrefix(id, "reconcile-"), "-"+r.GetComponent())
			out[run] = append(out[run], r.GetComponent())
		}
		return out
	}
	sum := func(get func(*Metrics) float64) (n float64) {
		for _, f := range replicas {
			n += get(f.Metrics())
		}
		return n
	}
	published := func() float64 {
		return sum(func(m *Metrics) float64 { return testutil.ToFloat64(m.Requests.WithLabelValues("reconcile")) })
	}

	start()
	waitUntil(t, 30*time.Second, "the first round", func() bool { return len(rounds()) >= 1 })
	start() // a second replica, started later than the first
	waitUntil(t, 30*time.Second, "three rounds", func() bool { return len(rounds()) >= 3 })
	// A round may be between its publish and its counter: wait for them to
	// agree. Any round published twice keeps the counters above the stream.
	deadline := time.Now().Add(20 * time.Second)
	for {
		stored := 0
		for _, comps := range rounds() {
			stored += len(comps)
		}
		if published() == float64(stored) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replicas published %v reconcile requests, the stream holds %d: a round ran twice", published(), stored)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	for _, d := range done {
		if err := <-d; err != nil {
			t.Fatal(err)
		}
	}
	rs := rounds()
	for run, comps := range rs {
		if strings.Join(comps, ",") != "bash" {
			t.Errorf("round %s requested %v, want only bash", run, comps)
		}
		if _, err := time.Parse("20060102T150405Z", run); err != nil {
			t.Errorf("run id %q: %v", run, err)
		}
	}
	if runs := sum(func(m *Metrics) float64 { return testutil.ToFloat64(m.ReconcileRuns) }); runs < float64(len(rs)) || runs > float64(len(rs))+1 {
		t.Errorf("%v rounds run for %d stored", runs, len(rs))
	}
	if nb := sum(func(m *Metrics) float64 { return testutil.ToFloat64(m.ReconcileNoBuild) }); nb == 0 {
		t.Error("no component without a build was counted")
	}
	if rej := natstest.Stored(t, conn.JS, natsx.StreamEBS, natsx.SubjectRebuildRejected); len(rej) != 0 {
		t.Errorf("the reconciler published %d rejections", len(rej))
	}
}

// The start-up opens a round without running it (the round key holds no
// run id): the first reconcile comes one interval after the service
// starts, as in the original.
func TestReconcilerDoesNotRunAtStartup(t *testing.T) {
	t.Parallel()
	conn := natstest.Start(t).Provisioned(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	f := New(Deps{JS: conn.JS, Logger: lifecycle.Discard()}) // no configuration: a run would fail
	done := make(chan error, 1)
	go func() { done <- f.RunReconciler(ctx, time.Hour) }()
	kv, err := conn.JS.KeyValue(ctx, natsx.BucketLock)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "the round key", func() bool {
		e, err := kv.Get(ctx, natsx.KeyReconcileRound)
		return err == nil && strings.HasPrefix(string(e.Value()), "start-up ")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
