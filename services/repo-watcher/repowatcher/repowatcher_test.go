package repowatcher_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fedora-eln/ebs/libs/commands"
	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/kojibatch"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/repo-watcher/repowatcher"
)

type jsSink struct{ js jetstream.JetStream }

func (s jsSink) Publish(ctx context.Context, m fedmsg.Message) error {
	_, err := natsx.Publish(ctx, s.js, natsx.FedmsgSubject(m.Topic, fedmsg.PrefixProd), m.ID, m.ToProto(time.Now()))
	return err
}

type env struct {
	t       *testing.T
	srv     *natstest.Server
	conn    *natsx.Conn
	hub     *kojihub.Hub
	results *commands.Results
	cfg     repowatcher.Config
	stop    func()
	reg     atomic.Pointer[prometheus.Registry] // the running replica's metrics
}

func setup(t *testing.T, lossy float64, poll time.Duration) *env {
	t.Helper()
	srv := natstest.Start(t)
	conn := srv.Provisioned(t)
	hub := kojihub.Start(t, kojihub.Options{Sink: jsSink{js: conn.JS}, Lossy: lossy, Logger: slog.New(slog.DiscardHandler)})
	res, err := commands.OpenResults(context.Background(), conn.JS)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, conn: conn, hub: hub, results: res,
		cfg: repowatcher.Config{PollInterval: poll, DeadlineCheck: 50 * time.Millisecond}}
	e.start()
	t.Cleanup(func() { e.stop() })
	return e
}

// start runs a repo-watcher with its own connection and Koji client.
func (e *env) start() {
	ctx, cancel := context.WithCancel(context.Background())
	conn := e.srv.Connect(e.t)
	c, err := e.hub.Client("", koji.Options{})
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	reg := prometheus.NewRegistry()
	e.reg.Store(reg)
	go func() {
		done <- repowatcher.Serve(ctx, e.cfg, repowatcher.Deps{JS: conn.JS, Hub: kojibatch.New(c), Registerer: reg}, slog.New(slog.DiscardHandler))
	}()
	e.stop = func() {
		cancel()
		conn.NC.Close()
		if err := <-done; err != nil {
			e.t.Errorf("repo-watcher: %v", err)
		}
	}
}

// fedmsgRead is how many Fedora messages the running replica has read.
func (e *env) fedmsgRead() float64 {
	mfs, err := e.reg.Load().Gather()
	if err != nil {
		e.t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "ebs_repo_watcher_fedmsg_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}

func (e *env) send(cmd *ebsv1.WatchCommand) {
	e.t.Helper()
	subj, err := natsx.VerbSubject(natsx.SubjectWatchCmdPrefix, cmd)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := natsx.Publish(context.Background(), e.conn.JS, subj, cmd.GetCommandId(), cmd); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) await(id string) *ebsv1.WatchEvent {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := e.results.Await(ctx, id)
	if err != nil {
		e.t.Fatalf("result of %s: %v", id, err)
	}
	return res.GetWatch()
}

func waitTagged(id, tag string, timeout time.Duration, nvrs ...string) *ebsv1.WatchCommand {
	return &ebsv1.WatchCommand{CommandId: id, BatchId: "b-test", Verb: &ebsv1.WatchCommand_WaitTagged{
		WaitTagged: &ebsv1.WaitTagged{Tag: tag, Nvrs: nvrs, Timeout: durationpb.New(timeout)}}}
}

func (e *env) build(nvr string) {
	e.t.Helper()
	if _, err := e.hub.AddBuild(kojihub.BuildSpec{NVR: nvr, State: koji.BuildComplete}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) waitsLeft() int {
	kv, err := e.conn.JS.KeyValue(context.Background(), natsx.BucketWaits)
	if err != nil {
		e.t.Fatal(err)
	}
	keys, _ := kv.Keys(context.Background())
	return len(keys)
}

func TestWaitTagged(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		lossy    float64
		poll     time.Duration
		before   bool // tagged before the wait is stored
		observed ebsv1.Observation
	}{
		{"by message", 0, time.Hour, false, ebsv1.Observation_OBSERVATION_MESSAGE},
		{"by polling when every message is lost", 1, 200 * time.Millisecond, false, ebsv1.Observation_OBSERVATION_POLL},
		// The first check or the tag messages still in FEDMSG, whichever first.
		{"already tagged", 0, time.Hour, true, ebsv1.Observation_OBSERVATION_UNSPECIFIED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, tc.lossy, tc.poll)
			e.build("a-1-1.eln150")
			e.build("b-1-1.eln150")
			if tc.before {
				for _, n := range []string{"a-1-1.eln150", "b-1-1.eln150"} {
					if err := e.hub.Tag("eln", n, "bodhi"); err != nil {
						t.Fatal(err)
					}
				}
			}
			e.send(waitTagged("w.1", "eln", time.Minute, "a-1-1.eln150", "b-1-1.eln150"))
			if !tc.before {
				time.Sleep(100 * time.Millisecond)
				for _, n := range []string{"a-1-1.eln150", "b-1-1.eln150"} {
					if err := e.hub.Tag("eln", n, "bodhi"); err != nil {
						t.Fatal(err)
					}
				}
			}
			ev := e.await("w.1")
			sat := ev.GetWaitSatisfied()
			if sat == nil || (tc.observed != 0 && sat.GetObservedBy() != tc.observed) || len(sat.GetNvrs()) != 2 {
				t.Fatalf("event %v: want satisfied, observed by %s", ev, tc.observed)
			}
			for deadline := time.Now().Add(5 * time.Second); e.waitsLeft() > 0; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the wait record was not removed")
				}
			}
		})
	}
}

// A wait stored after its builds' tag messages were consumed (the batcher
// waits once its tagging commands returned) starts with them seen: it is
// satisfied by those messages, without asking Koji.
func TestWaitAfterItsMessages(t *testing.T) {
	t.Parallel()
	e := setup(t, 0, time.Hour)
	nvrs := []string{"a-1-1.eln150", "b-1-1.eln150", "c-1-1.eln150"}
	for _, n := range nvrs {
		e.build(n)
		if err := e.hub.Tag("eln", n, "bodhi"); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	if err := e.hub.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); e.fedmsgRead() < 3; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the tag messages were not read: %v", e.fedmsgRead())
		}
	}
	e.send(waitTagged("w.after", "eln", time.Minute, nvrs...))
	sat := e.await("w.after").GetWaitSatisfied()
	if sat == nil || sat.GetObservedBy() != ebsv1.Observation_OBSERVATION_MESSAGE || len(sat.GetNvrs()) != 3 {
		t.Fatalf("event %v: want satisfied by the messages", sat)
	}
	for _, m := range []string{"listTags", "listTagged", "multiCall"} {
		if n := len(e.hub.CallsTo(m)); n > 0 {
			t.Fatalf("%d %s calls: Koji was asked", n, m)
		}
	}
}

func TestWaitTimesOut(t *testing.T) {
	t.Parallel()
	e := setup(t, 0, 200*time.Millisecond)
	e.build("here-1-1.eln150")
	if err := e.hub.Tag("eln", "here-1-1.eln150", "bodhi"); err != nil {
		t.Fatal(err)
	}
	e.send(waitTagged("w.to", "eln", 500*time.Millisecond, "here-1-1.eln150", "never-1-1.eln150"))
	to := e.await("w.to").GetWaitTimedOut()
	if to == nil || fmt.Sprint(to.GetPresent()) != "[here-1-1.eln150]" || fmt.Sprint(to.GetMissing()) != "[never-1-1.eln150]" {
		t.Fatalf("timeout event %v", to)
	}
}

func TestCancelWait(t *testing.T) {
	t.Parallel()
	e := setup(t, 0, time.Hour)
	e.send(waitTagged("w.c", "eln", time.Hour, "nope-1-1.eln150"))
	for deadline := time.Now().Add(5 * time.Second); e.waitsLeft() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("wait not stored")
		}
	}
	e.send(&ebsv1.WatchCommand{CommandId: "w.c.cancel", Verb: &ebsv1.WatchCommand_CancelWait{CancelWait: &ebsv1.CancelWait{WaitCommandId: "w.c"}}})
	if e.await("w.c").GetWaitCancelled() == nil || e.await("w.c.cancel").GetWaitCancelled() == nil {
		t.Fatal("wait not cancelled")
	}
	if e.waitsLeft() != 0 {
		t.Fatal("cancelled wait still stored")
	}
}

// A wait survives a restart of repo-watcher: the tagging that happened
// while it was down is found (message redelivered, or start-up poll).
func TestRestartLosesNoWait(t *testing.T) {
	t.Parallel()
	for _, lossy := range []float64{0, 1} {
		t.Run(fmt.Sprint("lossy=", lossy), func(t *testing.T) {
			t.Parallel()
			e := setup(t, lossy, time.Hour) // only the start-up poll
			e.build("r-1-1.eln150")
			e.send(waitTagged("w.r", "eln", time.Minute, "r-1-1.eln150"))
			for deadline := time.Now().Add(5 * time.Second); e.waitsLeft() == 0; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("wait not stored")
				}
			}
			e.stop()
			if err := e.hub.Tag("eln", "r-1-1.eln150", "bodhi"); err != nil {
				t.Fatal(err)
			}
			e.start()
			if e.await("w.r").GetWaitSatisfied() == nil {
				t.Fatal("wait not satisfied after the restart")
			}
		})
	}
}

func TestWaitRepo(t *testing.T) {
	t.Parallel()
	e := setup(t, 0, 200*time.Millisecond)
	e.send(&ebsv1.WatchCommand{CommandId: "w.repo", Verb: &ebsv1.WatchCommand_WaitRepo{
		WaitRepo: &ebsv1.WaitRepo{Tag: "eln-build", AfterEvent: 0, Timeout: durationpb.New(time.Minute)}}})
	sat := e.await("w.repo").GetWaitSatisfied()
	if sat == nil || sat.GetRepoId() == 0 {
		t.Fatalf("repo wait %v", sat)
	}
}

// A command repo-watcher cannot carry out is dead-lettered and recorded as
// failed, so the batcher awaiting it goes on instead of waiting forever.
func TestInvalidCommandIsRecordedAsFailed(t *testing.T) {
	t.Parallel()
	e := setup(t, 0, time.Hour)
	e.send(waitTagged("w.bad", "", time.Minute, "x-1-1.eln150"))
	ev := e.await("w.bad")
	f := ev.GetCommandFailed()
	if f == nil || f.GetVerb() != "wait-tagged" || !strings.Contains(f.GetError(), "without tag") {
		t.Fatalf("result %v", ev)
	}
	dls := natstest.Decode[ebsv1.DeadLetter](t, natstest.WaitStored(t, e.conn.JS, natsx.StreamEBS, natsx.SubjectDeadLetter, 1, 20*time.Second))
	if len(dls) != 1 || dls[0].GetService() != repowatcher.Name {
		t.Fatalf("dead letters %v", dls)
	}
}

// With two replicas, each reads every tag message (not half of them), so a
// wait on several builds resolves by the messages, not the next poll (an hour
// away here).
func TestTwoReplicasResolveByMessages(t *testing.T) {
	t.Parallel()
	e := setup(t, 0, time.Hour)
	stopFirst := e.stop
	e.start() // the second replica
	t.Cleanup(stopFirst)
	nvrs := []string{"r1-1-1.eln150", "r2-1-1.eln150", "r3-1-1.eln150", "r4-1-1.eln150", "r5-1-1.eln150", "r6-1-1.eln150"}
	for _, n := range nvrs {
		e.build(n)
	}
	e.send(waitTagged("w.two", "eln", 10*time.Minute, nvrs...))
	for deadline := time.Now().Add(10 * time.Second); e.waitsLeft() == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("wait not stored")
		}
	}
	for _, n := range nvrs {
		if err := e.hub.Tag("eln", n, "bodhi"); err != nil {
			t.Fatal(err)
		}
	}
	sat := e.await("w.two").GetWaitSatisfied()
	if sat == nil || sat.GetObservedBy() != ebsv1.Observation_OBSERVATION_MESSAGE || len(sat.GetNvrs()) != len(nvrs) {
		t.Fatalf("event %v: want satisfied by the messages", sat)
	}
}
