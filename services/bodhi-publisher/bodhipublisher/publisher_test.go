package bodhipublisher_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/bodhi"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	bodhisim "github.com/fedora-eln/ebs/libs/sim/bodhi"
	"github.com/fedora-eln/ebs/libs/sim/bodhi/bodhisimtest"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/bodhi-publisher/bodhipublisher"
)

var quiet = slog.New(slog.DiscardHandler)

type env struct {
	*bodhisimtest.Env
	t       *testing.T
	conn    *natsx.Conn
	natsURL string
	sim     *bodhisim.Server
	opts    bodhipublisher.Options
	evts    *events
}

// setup starts NATS (embedded, provisioned), the OIDC provider, the Koji
// simulator and the Bodhi simulator, and prepares publisher options.
func setup(t *testing.T, simOpts bodhisim.Options, tweak func(*bodhipublisher.Options, *bodhi.Options)) *env {
	t.Helper()
	srv := natstest.Start(t)
	conn := srv.Provisioned(t)
	be := bodhisimtest.Start(t, bodhisimtest.Options{Bodhi: simOpts})
	co := bodhi.Options{BaseURL: be.Bodhi.URL(), Tokens: be.Tokens(),
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, RetryFor: 5 * time.Second,
		RequestTimeout: 5 * time.Second, Logger: quiet}
	po := bodhipublisher.Options{JS: conn.JS, FollowInterval: 50 * time.Millisecond, Logger: quiet}
	if tweak != nil {
		tweak(&po, &co)
	}
	if po.Bodhi == nil && !po.DryRun {
		c, err := bodhi.New(co)
		if err != nil {
			t.Fatal(err)
		}
		po.Bodhi = c
	}
	e := &env{Env: be, t: t, conn: conn, natsURL: srv.URL(), sim: be.Bodhi, opts: po}
	e.evts = collectEvents(t, conn.JS)
	return e
}

// start runs a publisher (one "process") until the returned stop is called.
func (e *env) start() (stop func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	o := e.opts
	o.Registerer = prometheus.NewRegistry()
	pub, err := bodhipublisher.New(ctx, o)
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := pub.Run(ctx); err != nil {
			e.t.Errorf("publisher: %v", err)
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				e.t.Error("publisher did not stop")
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

func command(batch string, chunk, chunks int, tag string, nvrs ...string) *ebsv1.BodhiCommand {
	return &ebsv1.BodhiCommand{
		CommandId: fmt.Sprintf("%s.bodhi.%d.1", batch, chunk),
		BatchId:   batch,
		IssuedAt:  timestamppb.Now(),
		Verb: &ebsv1.BodhiCommand_CreateUpdate{CreateUpdate: &ebsv1.CreateUpdate{
			FromTag: tag, Notes: "Automatic update for ELN rebuild batch", Type: "unspecified",
			Nvrs: nvrs, Chunk: int32(chunk), Chunks: int32(chunks), FollowTimeout: durationpb.New(time.Minute)}},
	}
}

// send publishes cmd the way the batcher does; msgID distinguishes a
// re-issued command (same command id, new message).
func (e *env) send(cmd *ebsv1.BodhiCommand, msgID string) {
	e.t.Helper()
	subj, err := natsx.VerbSubject(natsx.SubjectBodhiCmdPrefix, cmd)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := natsx.Publish(context.Background(), e.conn.JS, subj, msgID, cmd); err != nil {
		e.t.Fatal(err)
	}
}

// result waits for the command's outcome in KV ebs_results.
func (e *env) result(id string) *ebsv1.BodhiEvent {
	e.t.Helper()
	kv, err := e.conn.KV(context.Background(), natsx.BucketResults)
	if err != nil {
		e.t.Fatal(err)
	}
	results := natsx.NewProtoKV(kv, func() *ebsv1.CommandResult { return new(ebsv1.CommandResult) })
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, _, err := results.Get(context.Background(), id)
		if err == nil {
			return r.GetBodhi()
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			e.t.Fatal(err)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("no result for %s", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) followed() []string {
	kv, err := e.conn.KV(context.Background(), natsx.BucketUpdates)
	if err != nil {
		e.t.Fatal(err)
	}
	keys, err := kv.ListKeys(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for k := range keys.Keys() {
		out = append(out, k)
	}
	return out
}

// events collects every ebs.bodhi.evt.* message with its subject and id.
type events struct {
	mu   sync.Mutex
	list []event
}

type event struct {
	subject, msgID string
	ev             *ebsv1.BodhiEvent
}

func collectEvents(t *testing.T, js jetstream.JetStream) *events {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	cons, err := js.OrderedConsumer(ctx, natsx.StreamEBS, jetstream.OrderedConsumerConfig{FilterSubjects: []string{natsx.SubjectBodhiEvtPrefix + ">"}})
	if err != nil {
		t.Fatal(err)
	}
	ev := &events{}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		be := new(ebsv1.BodhiEvent)
		if err := proto.Unmarshal(m.Data(), be); err != nil {
			t.Errorf("undecodable event: %v", err)
			return
		}
		ev.mu.Lock()
		ev.list = append(ev.list, event{m.Subject(), m.Headers().Get(nats.MsgIdHdr), be})
		ev.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cc.Stop)
	return ev
}

func (ev *events) where(f func(event) bool) []event {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var out []event
	for _, e := range ev.list {
		if f(e) {
			out = append(out, e)
		}
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBatchOneUpdatePerChunkSurvivesKills drives a three-chunk batch the way
// the batcher does and kills the publisher between chunks and in the middle
// of filing one: every chunk gets exactly one update with the batch's notes,
// type and side tag, and each reaches stable.
func TestBatchOneUpdatePerChunkSurvivesKills(t *testing.T) {
	t.Parallel()
	e := setup(t, bodhisim.Options{TestingAfter: 150 * time.Millisecond, StableAfter: 150 * time.Millisecond}, nil)
	chunks := [][]string{
		{"bash-5.2.37-1.eln150", "zsh-5.9-12.eln150"},
		{"perl-5.40.1-1.eln150", "python3-3.14.0-1.eln150"},
		{"xz-5.8.1-1.eln150"},
	}
	var cmds []*ebsv1.BodhiCommand
	var tags []string
	for i, nvrs := range chunks {
		tag := e.SideTag(t, nvrs...) // made by koji-worker in ebs
		tags = append(tags, tag)
		cmds = append(cmds, command("b42", i, len(chunks), tag, nvrs...))
	}

	// Chunk 0, then the publisher dies.
	stop := e.start()
	e.send(cmds[0], cmds[0].CommandId)
	r0 := e.result(cmds[0].CommandId)
	stop()

	// The batcher, restarted, re-issues chunk 0 (same command id, new message)
	// and issues chunk 1; a new publisher starts.
	e.send(cmds[0], cmds[0].CommandId+"#reissued")
	e.send(cmds[1], cmds[1].CommandId)
	stop = e.start()
	r1 := e.result(cmds[1].CommandId)
	waitFor(t, "the re-issued chunk 0 to be replayed", func() bool {
		return len(e.evts.where(func(ev event) bool { return ev.ev.GetCommandId() == cmds[0].CommandId })) >= 1
	})

	// Chunk 2: the publisher is killed right after Bodhi filed the update,
	// before it could record anything.
	killed := make(chan struct{})
	var once sync.Once
	e.sim.OnCreate(func(u bodhi.Update) {
		if u.FromTag == tags[2] {
			once.Do(func() { stop(); close(killed) })
		}
	})
	e.send(cmds[2], cmds[2].CommandId)
	select {
	case <-killed:
	case <-time.After(30 * time.Second):
		t.Fatal("chunk 2 was never filed")
	}
	e.start()
	r2 := e.result(cmds[2].CommandId)

	if got := e.sim.Created(); got != 3 {
		t.Fatalf("Bodhi holds %d updates for 3 chunks", got)
	}
	for i, r := range []*ebsv1.BodhiEvent{r0, r1, r2} {
		uc := r.GetUpdateCreated()
		if uc == nil || uc.Alias == "" || uc.Chunk != int32(i) || uc.DryRun || r.BatchId != "b42" {
			t.Fatalf("chunk %d result %v", i, r)
		}
		u, ok := e.sim.Update(uc.Alias)
		if !ok || u.Notes != "Automatic update for ELN rebuild batch" || u.Type != "unspecified" ||
			u.FromTag != tags[i] || !slices.Equal(sorted(u.NVRs()), sorted(chunks[i])) {
			t.Fatalf("chunk %d update %+v", i, u)
		}
	}
	if !r2.GetUpdateCreated().Existing || r0.GetUpdateCreated().Existing || r1.GetUpdateCreated().Existing {
		t.Fatalf("existing flags: %v %v %v", r0.GetUpdateCreated().Existing, r1.GetUpdateCreated().Existing, r2.GetUpdateCreated().Existing)
	}

	// Every update is followed to stable: the builds are in the ELN stable
	// tag, the side tags are gone and nothing is followed any more.
	aliases := []string{r0.GetUpdateCreated().Alias, r1.GetUpdateCreated().Alias, r2.GetUpdateCreated().Alias}
	waitFor(t, "stable events for every update", func() bool {
		stable := e.evts.where(func(ev event) bool {
			sc := ev.ev.GetUpdateStatusChanged()
			return sc != nil && sc.NewStatus == bodhi.StatusStable && sc.Final && slices.Contains(aliases, sc.Alias)
		})
		return len(stable) == 3 && len(e.followed()) == 0
	})
	e.WaitTagged(t, "eln", slices.Concat(chunks...)...)
	for _, tag := range tags {
		if e.Koji.TagExists(tag) {
			t.Fatalf("side tag %s not removed", tag)
		}
	}
	// One update-created event per command (the replay carries the same
	// Nats-Msg-Id and was de-duplicated by the stream).
	created := e.evts.where(func(ev event) bool { return ev.subject == natsx.SubjectBodhiEvtPrefix+"update-created" })
	if len(created) != 3 {
		t.Fatalf("%d update-created events, want 3", len(created))
	}
	// The status changes were published in order for each update (a change
	// that happened while no publisher ran is seen as one step).
	for _, a := range aliases {
		var seq []string
		for _, ev := range e.evts.where(func(ev event) bool { return ev.ev.GetUpdateStatusChanged().GetAlias() == a }) {
			seq = append(seq, ev.ev.GetUpdateStatusChanged().NewStatus)
		}
		if !slices.Equal(seq, []string{"testing", "stable"}) && !slices.Equal(seq, []string{"stable"}) {
			t.Fatalf("%s status changes %v", a, seq)
		}
	}
}

func TestDryRunFilesNothing(t *testing.T) {
	t.Parallel()
	e := setup(t, bodhisim.Options{}, func(o *bodhipublisher.Options, _ *bodhi.Options) { o.DryRun = true })
	tag := e.SideTag(t, "a-1-1.eln150")
	e.start()
	cmd := command("dry", 0, 1, tag, "a-1-1.eln150")
	e.send(cmd, cmd.CommandId)
	r := e.result(cmd.CommandId)
	uc := r.GetUpdateCreated()
	if uc == nil || !uc.DryRun || uc.Alias != "" || uc.FromTag != tag || !slices.Equal(uc.Nvrs, []string{"a-1-1.eln150"}) {
		t.Fatalf("dry-run result %v", r)
	}
	waitFor(t, "the dry-run event", func() bool { return len(e.evts.where(func(event) bool { return true })) == 1 })
	if e.sim.Created() != 0 || e.sim.Count("create") != 0 || e.sim.Count("login") != 0 || len(e.followed()) != 0 {
		t.Fatalf("dry run touched Bodhi: created %d, create requests %d", e.sim.Created(), e.sim.Count("create"))
	}
}

func TestFailuresAreRecordedNotDropped(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		prepare   func(e *env) *ebsv1.BodhiCommand
		transient bool
		status    int32
		contains  string
	}{
		{"rejected by Bodhi", func(e *env) *ebsv1.BodhiCommand {
			e.Tag(t, "not-a-side-tag", "a-1-1.eln150")
			return command("f1", 0, 1, "not-a-side-tag", "a-1-1.eln150")
		}, false, 400, "The supplied tag is not a side tag."},
		{"Bodhi down past the retry budget", func(e *env) *ebsv1.BodhiCommand {
			tag := e.SideTag(t, "a-1-1.eln150")
			e.sim.InjectFault(bodhisim.Fault{Method: "POST", Path: "/updates/", Status: 503, Times: -1})
			return command("f2", 0, 1, tag, "a-1-1.eln150")
		}, true, 503, "HTTP 503"},
		{"command without side tag", func(e *env) *ebsv1.BodhiCommand {
			return command("f3", 0, 1, "")
		}, false, 0, "without from_tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, bodhisim.Options{Held: true}, func(o *bodhipublisher.Options, c *bodhi.Options) {
				// Long enough for sign-in, CSRF and one POST even on a loaded machine.
				o.RetryFor, o.MinAttempt, c.RetryFor = 2*time.Second, 2*time.Second, 2*time.Second
			})
			cmd := tt.prepare(e)
			e.start()
			e.send(cmd, cmd.CommandId)
			r := e.result(cmd.CommandId)
			cf := r.GetCommandFailed()
			if cf == nil || cf.Transient != tt.transient || cf.FaultCode != tt.status || cf.Verb != "create-update" || !strings.Contains(cf.Error, tt.contains) {
				t.Fatalf("result %v", r)
			}
			waitFor(t, "the command-failed event", func() bool {
				return len(e.evts.where(func(ev event) bool { return ev.subject == natsx.SubjectBodhiEvtPrefix+"command-failed" })) == 1
			})
			if e.sim.Created() != 0 {
				t.Fatal("an update was filed")
			}
		})
	}
}

func TestFollowTimesOutAndRestartResumesFollowing(t *testing.T) {
	t.Parallel()
	e := setup(t, bodhisim.Options{Held: true}, nil)
	tag1 := e.SideTag(t, "a-1-1.eln150")
	tag2 := e.SideTag(t, "b-1-1.eln150")
	stop := e.start()
	short := command("fo", 0, 2, tag1, "a-1-1.eln150")
	short.GetCreateUpdate().FollowTimeout = durationpb.New(300 * time.Millisecond)
	long := command("fo", 1, 2, tag2, "b-1-1.eln150")
	e.send(short, short.CommandId)
	e.send(long, long.CommandId)
	rs, rl := e.result(short.CommandId), e.result(long.CommandId)

	waitFor(t, "the timed-out event", func() bool {
		return len(e.evts.where(func(ev event) bool {
			sc := ev.ev.GetUpdateStatusChanged()
			return sc != nil && sc.TimedOut && sc.Final && sc.Alias == rs.GetUpdateCreated().Alias && sc.NewStatus == "pending"
		})) == 1
	})
	// The publisher dies while following the other update; Bodhi moves it on
	// meanwhile; a new publisher picks the follow up from KV.
	stop()
	if got := e.followed(); !slices.Equal(got, []string{long.CommandId}) {
		t.Fatalf("followed after stop: %v", got)
	}
	ctx := context.Background()
	if err := e.sim.Advance(ctx, rl.GetUpdateCreated().Alias); err != nil {
		t.Fatal(err)
	}
	if err := e.sim.Advance(ctx, rl.GetUpdateCreated().Alias); err != nil {
		t.Fatal(err)
	}
	e.start()
	waitFor(t, "stable after restart", func() bool {
		return len(e.evts.where(func(ev event) bool {
			sc := ev.ev.GetUpdateStatusChanged()
			return sc != nil && sc.Alias == rl.GetUpdateCreated().Alias && sc.NewStatus == "stable" && sc.OldStatus == "pending" && sc.Final
		})) == 1 && len(e.followed()) == 0
	})
}

func TestObsoleteIsFinal(t *testing.T) {
	t.Parallel()
	e := setup(t, bodhisim.Options{Held: true}, nil)
	tag := e.SideTag(t, "a-1-1.eln150")
	e.start()
	cmd := command("ob", 0, 1, tag, "a-1-1.eln150")
	e.send(cmd, cmd.CommandId)
	alias := e.result(cmd.CommandId).GetUpdateCreated().Alias
	if err := e.sim.SetStatus(context.Background(), alias, bodhi.StatusObsolete); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the obsolete event", func() bool {
		return len(e.evts.where(func(ev event) bool {
			sc := ev.ev.GetUpdateStatusChanged()
			return sc != nil && sc.NewStatus == "obsolete" && sc.Final && !sc.TimedOut
		})) == 1 && len(e.followed()) == 0
	})
}

func TestInvalidCommandsAreDeadLettered(t *testing.T) {
	t.Parallel()
	e := setup(t, bodhisim.Options{Held: true}, nil)
	e.start()
	cmd := command("x", 0, 1, "t")
	cmd.CommandId = ""
	e.send(cmd, "no-id")
	msgs := natstest.WaitStored(t, e.conn.JS, natsx.StreamEBS, natsx.SubjectDeadLetter, 1, 20*time.Second)
	dl := natstest.Decode[ebsv1.DeadLetter](t, msgs)[0]
	if dl.Service != bodhipublisher.Name || !strings.Contains(dl.Reason, "command_id") {
		t.Fatalf("dead letter %v", dl)
	}
}
