package observe_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/ebs/observe"
	"github.com/fedora-eln/ebs/services/ebs/world"
)

func publish(t *testing.T, c *natsx.Conn, subject, id string, m proto.Message) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, err := natsx.Publish(ctx, c.JS, subject, id, m)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("publish %s: %v", subject, err)
		}
		time.Sleep(100 * time.Millisecond) // NATS restarting
	}
}

// The observer sees what was published before it started and after, in
// order, across a NATS restart, and WaitFor returns once a condition holds.
func TestObserverFollowsTheStreamAcrossARestart(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	c := srv.Provisioned(t)
	publish(t, c, natsx.SubjectRebuildRequested, "r1", &ebsv1.RebuildRequest{RequestId: "r1", Component: "bash"})

	var mu sync.Mutex
	var subjects []string
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	o, err := observe.Start(ctx, c.JS, func(e observe.Event) {
		mu.Lock()
		defer mu.Unlock()
		subjects = append(subjects, e.Subject)
	})
	if err != nil {
		t.Fatal(err)
	}
	publish(t, c, natsx.SubjectBatchStarted, "b1.started", &ebsv1.BatchStarted{BatchId: "b1",
		Packages: []*ebsv1.BatchPackage{{Component: "bash"}, {Component: "gawk"}}})
	// Not followed: a command.
	publish(t, c, natsx.SubjectKojiCmdPrefix+"create-side-tag", "b1.tag", &ebsv1.KojiCommand{CommandId: "b1.tag"})

	srv.Restart()

	publish(t, c, natsx.SubjectRebuildRequested, "r2", &ebsv1.RebuildRequest{RequestId: "r2", Component: "gawk"})
	publish(t, c, natsx.SubjectBatchCompleted, "b1.completed", &ebsv1.BatchCompleted{BatchId: "b1",
		Outcomes: []*ebsv1.PackageOutcome{{Component: "bash"}, {Component: "gawk"}}})

	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if err := o.WaitFor(wctx, func(obs world.Observation) bool { return observe.Closed(obs, []string{"bash", "gawk"}) }); err != nil {
		t.Fatalf("WaitFor: %v", err)
	}
	obs := o.Observation()
	if len(obs.Requests) != 2 || obs.Requests[0].GetRequestId() != "r1" || obs.Requests[1].GetRequestId() != "r2" ||
		len(obs.Started) != 1 || len(obs.Completed) != 1 {
		t.Fatalf("observation: %d requests, %d started, %d completed", len(obs.Requests), len(obs.Started), len(obs.Completed))
	}
	mu.Lock()
	got := append([]string(nil), subjects...)
	mu.Unlock()
	want := []string{natsx.SubjectRebuildRequested, natsx.SubjectBatchStarted, natsx.SubjectRebuildRequested, natsx.SubjectBatchCompleted}
	if len(got) != len(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("events %v, want %v", got, want)
		}
	}
	if observe.Closed(obs, []string{"bash", "zsh"}) {
		t.Fatal("zsh has no outcome but Closed says it has")
	}

	// WaitFor gives up with the context.
	short, scancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer scancel()
	if err := o.WaitFor(short, func(world.Observation) bool { return false }); err == nil {
		t.Fatal("WaitFor of a condition that never holds returned nil")
	}
}
