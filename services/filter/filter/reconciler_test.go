package filter

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
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
	// bash has a Rawhide build and none in ELN: every round requests it.
	conn, newFilter := reconcilerFixture(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// A short interval: the loop's rounds are what is tested, not their period.
	const interval = 2 * time.Second
	var replicas []*Filter
	var done []chan error
	start := func() {
		f := newFilter(nil)
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

// A replica's start-up decides from the round key and the record of the
// last round: a fresh deployment opens a round without reconciling (the
// first reconcile comes one interval after it starts, as in the original);
// a restart while a round is open changes nothing (no repeat); a restart
// after the round expired runs the due round at once (no delay). The filter
// is configured against a Koji where bash is missing from ELN, so every
// reconcile publishes a request: "no run" is seen in the stream and the
// counter, not assumed from a reconcile that could not have worked.
func TestReconcilerStartup(t *testing.T) {
	t.Parallel()
	conn, newFilter := reconcilerFixture(t)
	ctx := context.Background()
	kv, err := conn.JS.KeyValue(ctx, natsx.BucketLock)
	if err != nil {
		t.Fatal(err)
	}
	value := func(key string) (string, bool) {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return "", false
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(e.Value()), true
	}
	reconcileRequests := func() int {
		n := 0
		for _, r := range onEBS[ebsv1.RebuildRequest](t, conn.JS, natsx.SubjectRebuildRequested) {
			if r.GetReason() == ebsv1.RequestReason_REQUEST_REASON_RECONCILE {
				n++
			}
		}
		return n
	}
	const interval = time.Hour
	const earlier = "20261001T000000Z" // a round run before the restart
	t0 := time.Date(2026, 10, 2, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		roundOpen  bool // the round key exists, holding earlier
		lastRound  bool // KeyReconcileLast exists, holding earlier
		wantRun    bool // reconciled at start-up
		wantRound  string
		wantLast   string // "": absent
		startupKey bool   // the round key is a start-up round ("start-up <holder>")
	}{
		{name: "fresh deployment opens a round without running it", startupKey: true},
		{name: "restart while a round is open", roundOpen: true, lastRound: true, wantRound: earlier, wantLast: earlier},
		{name: "restart after the round expired runs it at once", lastRound: true, wantRun: true},
		{name: "round opened before the last round was recorded", roundOpen: true, wantRound: earlier},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range []string{natsx.KeyReconcileRound, natsx.KeyReconcileLast} {
				if err := kv.Purge(ctx, k); err != nil {
					t.Fatal(err)
				}
			}
			if tt.roundOpen {
				if _, err := natsx.ClaimRound(ctx, kv, natsx.KeyReconcileRound, earlier, interval); err != nil {
					t.Fatal(err)
				}
			}
			if tt.lastRound {
				if _, err := kv.Put(ctx, natsx.KeyReconcileLast, []byte(earlier)); err != nil {
					t.Fatal(err)
				}
			}
			now := t0.Add(time.Duration(i) * time.Hour)
			run := now.Format("20060102T150405Z")
			f := newFilter(func() time.Time { return now })
			round, err := natsx.NewRound(ctx, conn.JS, natsx.KeyReconcileRound, "replica-"+tt.name, lifecycle.Discard())
			if err != nil {
				t.Fatal(err)
			}
			before := reconcileRequests()
			f.reconcileStartup(ctx, round, interval-reconcileCheck(interval)/2)

			runs, published := testutil.ToFloat64(f.Metrics().ReconcileRuns), reconcileRequests()-before
			_, bash := onEBS[ebsv1.RebuildRequest](t, conn.JS, natsx.SubjectRebuildRequested)["reconcile-"+run+"-bash"]
			if tt.wantRun != (runs == 1) || tt.wantRun != (published == 1) || tt.wantRun != bash || runs > 1 {
				t.Fatalf("reconciled at start-up: %v runs, %d requests published (reconcile-%s-bash: %v), want a run: %v",
					runs, published, run, bash, tt.wantRun)
			}
			wantRound, wantLast := tt.wantRound, tt.wantLast
			switch {
			case tt.wantRun:
				wantRound, wantLast = run, run
			case tt.startupKey:
				wantRound, wantLast = "start-up "+round.Holder, "start-up "+round.Holder
			}
			if got, ok := value(natsx.KeyReconcileRound); !ok || got != wantRound {
				t.Errorf("round key %q (present %v), want %q", got, ok, wantRound)
			}
			if got, ok := value(natsx.KeyReconcileLast); got != wantLast || ok != (wantLast != "") {
				t.Errorf("last round %q (present %v), want %q", got, ok, wantLast)
			}
		})
	}
}

// RunReconciler makes its start-up decision before its first check: a
// replica started when the round is due reconciles at once, not a check
// (here 5 minutes) or an interval later.
func TestReconcilerRunsDueRoundAtStartup(t *testing.T) {
	t.Parallel()
	conn, newFilter := reconcilerFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	kv, err := conn.JS.KeyValue(ctx, natsx.BucketLock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx, natsx.KeyReconcileLast, []byte("20261001T000000Z")); err != nil {
		t.Fatal(err)
	}
	f := newFilter(nil)
	done := make(chan error, 1)
	go func() { done <- f.RunReconciler(ctx, 12*time.Hour) }()
	waitUntil(t, 20*time.Second, "the due reconcile", func() bool { return testutil.ToFloat64(f.Metrics().ReconcileRuns) == 1 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// reconcilerFixture is NATS and a Koji where bash has a Rawhide build and
// none in ELN, and makes configured filters on them (now nil: the clock).
func reconcilerFixture(t *testing.T) (*natsx.Conn, func(now func() time.Time) *Filter) {
	t.Helper()
	hub := kojihub.Start(t, kojihub.Options{})
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	for _, b := range []kojihub.BuildSpec{
		{NVR: "grep-3.11-11.fc45", Tags: []string{"f45"}, CreationTime: t0},
		{NVR: "grep-3.11-10.eln150", Tags: []string{"eln"}, CreationTime: t0},
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
	cfg := productionConfig(t, "f45", crfixture.NewTest(t, crfixture.Sample()...).URL)
	return conn, func(now func() time.Time) *Filter {
		f := New(Deps{JS: conn.JS, Koji: reader, Logger: lifecycle.Discard(), Now: now})
		if err := f.Apply(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		return f
	}
}
