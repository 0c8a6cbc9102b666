package kojiworker_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fedora-eln/ebs/libs/commands"
	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/kojibatch"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/koji-worker/kojiworker"
)

const bot = "eln-buildsync"

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
	tasks   *natsx.ProtoKV[*ebsv1.TaskRecord]
	cfg     kojiworker.Config
	// kopts are koji-worker's Koji client options.
	kopts koji.Options
	stop  func()
}

func setup(t *testing.T, o kojihub.Options, poll time.Duration) *env {
	t.Helper()
	return setupClient(t, o, poll, koji.Options{})
}

// setupClient is setup with koji-worker's Koji client options.
func setupClient(t *testing.T, o kojihub.Options, poll time.Duration, kopts koji.Options) *env {
	t.Helper()
	srv := natstest.Start(t)
	conn := srv.Provisioned(t)
	o.Sink, o.Logger = jsSink{js: conn.JS}, slog.New(slog.DiscardHandler)
	hub := kojihub.Start(t, o)
	ctx := context.Background()
	res, err := commands.OpenResults(ctx, conn.JS)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := conn.JS.KeyValue(ctx, natsx.BucketTasks)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, srv: srv, conn: conn, hub: hub, results: res,
		tasks: natsx.NewProtoKV(kv, func() *ebsv1.TaskRecord { return new(ebsv1.TaskRecord) }),
		cfg:   kojiworker.Config{PollInterval: poll, DeadlineCheck: 50 * time.Millisecond}, kopts: kopts}
	e.start()
	t.Cleanup(func() { e.stop() })
	return e
}

func (e *env) start() {
	ctx, cancel := context.WithCancel(context.Background())
	conn := e.srv.Connect(e.t)
	c, err := e.hub.Client(bot, e.kopts)
	if err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- kojiworker.Serve(ctx, e.cfg, kojiworker.Deps{JS: conn.JS, Hub: kojibatch.New(c)}, slog.New(slog.DiscardHandler))
	}()
	e.stop = func() {
		cancel()
		time.Sleep(50 * time.Millisecond)
		conn.NC.Close()
		if err := <-done; err != nil {
			e.t.Errorf("koji-worker: %v", err)
		}
	}
}

// send publishes cmd with msgID (a re-issue uses a new one, as after the
// stream's de-duplication window).
func (e *env) send(cmd *ebsv1.KojiCommand, msgID string) {
	e.t.Helper()
	subj, err := natsx.VerbSubject(natsx.SubjectKojiCmdPrefix, cmd)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := natsx.Publish(context.Background(), e.conn.JS, subj, msgID, cmd); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) await(id string) *ebsv1.KojiEvent {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := e.results.Await(ctx, id)
	if err != nil {
		e.t.Fatalf("result of %s: %v", id, err)
	}
	return res.GetKoji()
}

func (e *env) rawhide(nvr string) {
	e.t.Helper()
	if _, err := e.hub.NewRawhideBuild(nvr, "packager"); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) sideTag(id string) string {
	e.t.Helper()
	e.send(&ebsv1.KojiCommand{CommandId: id, Verb: &ebsv1.KojiCommand_CreateSideTag{CreateSideTag: &ebsv1.CreateSideTag{BaseTag: "eln-build"}}}, id)
	return e.await(id).GetSideTagCreated().GetTag()
}

// Every command, delivered twice, takes effect once and reports the same
// result.
func TestCommandsAreIdempotent(t *testing.T) {
	t.Parallel()
	e := setup(t, kojihub.Options{}, time.Hour)
	e.rawhide("bash-5.3-1.fc45")
	tag := e.sideTag("c.create")
	e.send(&ebsv1.KojiCommand{CommandId: "c.create", Verb: &ebsv1.KojiCommand_CreateSideTag{CreateSideTag: &ebsv1.CreateSideTag{BaseTag: "eln-build"}}}, "c.create-again")
	tagBuilds := &ebsv1.KojiCommand{CommandId: "c.tag", Verb: &ebsv1.KojiCommand_TagBuilds{TagBuilds: &ebsv1.TagBuilds{Tag: tag,
		Builds: []*ebsv1.BuildRef{{Nvr: "bash-5.3-1.fc45"}}}}}
	e.send(tagBuilds, "c.tag")
	e.send(tagBuilds, "c.tag-again")
	if tasks := e.await("c.tag").GetBuildsTagged().GetTasks(); len(tasks) != 1 {
		t.Fatalf("tagging tasks %v", tasks)
	}
	b, ok := e.hub.Build("bash-5.3-1.fc45")
	if !ok {
		t.Fatal("no rawhide build")
	}
	submit := &ebsv1.KojiCommand{CommandId: "c.build.0.1.0", BatchId: "c", Verb: &ebsv1.KojiCommand_SubmitBuilds{SubmitBuilds: &ebsv1.SubmitBuilds{
		AttemptId: "c.build.0.1", Target: tag, Priority: 5, TaskTimeout: durationpb.New(time.Minute),
		Options: &ebsv1.BuildOptions{FailFast: true, WaitRepo: true},
		Builds:  []*ebsv1.BuildSpec{{Component: "bash", ScmUrl: b.SCMURL()}}}}}
	e.send(submit, "c.submit")
	e.send(submit, "c.submit-again")
	sub := e.await("c.build.0.1.0").GetBuildsSubmitted()
	if len(sub.GetTasks()) != 1 {
		t.Fatalf("submitted %v", sub)
	}
	// Wait until the task is finished, then look at the hub's call log.
	waitFinished(t, e, "c.build.0.1", 1)
	time.Sleep(300 * time.Millisecond) // let the second deliveries run
	for method, want := range map[string]int{"createSideTag": 1, "tagBuild": 1, "build": 1} {
		if n := len(e.hub.CallsTo(method)); n != want {
			t.Errorf("%s called %d times, want %d", method, n, want)
		}
	}
	e.send(&ebsv1.KojiCommand{CommandId: "c.remove", Verb: &ebsv1.KojiCommand_RemoveSideTag{RemoveSideTag: &ebsv1.RemoveSideTag{Tag: tag}}}, "c.remove")
	if e.await("c.remove").GetSideTagRemoved() == nil {
		t.Fatal("side tag not removed")
	}
	// Removing it again (a new command) finds it gone.
	e.send(&ebsv1.KojiCommand{CommandId: "c.remove2", Verb: &ebsv1.KojiCommand_RemoveSideTag{RemoveSideTag: &ebsv1.RemoveSideTag{Tag: tag}}}, "c.remove2")
	if r := e.await("c.remove2").GetSideTagRemoved(); r == nil || !r.GetAlreadyGone() {
		t.Fatalf("second removal %v", r)
	}
}

func waitFinished(t *testing.T, e *env, attempt string, n int) []*ebsv1.TaskFinished {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		entries, err := e.tasks.List(context.Background(), attempt+".*")
		if err != nil {
			t.Fatal(err)
		}
		var out []*ebsv1.TaskFinished
		for _, en := range entries {
			if f := en.Value.GetFinished(); f != nil {
				out = append(out, f)
			}
		}
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d tasks of %s finished", len(out), n, attempt)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Task outcomes, however they are observed.
func TestTaskTracking(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		outcome  kojihub.Outcome
		lossy    float64
		timeout  time.Duration
		want     ebsv1.TaskOutcome
		observed ebsv1.Observation
		reason   string
	}{
		{"success by message", kojihub.Outcome{Result: kojihub.ResultSucceed}, 0, time.Minute,
			ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED, ebsv1.Observation_OBSERVATION_MESSAGE, ""},
		{"success by polling", kojihub.Outcome{Result: kojihub.ResultSucceed}, 1, time.Minute,
			ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED, ebsv1.Observation_OBSERVATION_POLL, ""},
		{"failure with the task's fault", kojihub.Outcome{Result: kojihub.ResultFail}, 1, time.Minute,
			ebsv1.TaskOutcome_TASK_OUTCOME_FAILED, ebsv1.Observation_OBSERVATION_POLL, "BuildError"},
		{"SRPM failure (no build, no message)", kojihub.Outcome{Result: kojihub.ResultSRPMFail}, 0, time.Minute,
			ebsv1.TaskOutcome_TASK_OUTCOME_FAILED, ebsv1.Observation_OBSERVATION_POLL, ""},
		{"timeout cancels the task", kojihub.Outcome{Result: kojihub.ResultHang}, 0, 500 * time.Millisecond,
			ebsv1.TaskOutcome_TASK_OUTCOME_TIMED_OUT, ebsv1.Observation_OBSERVATION_TIMEOUT, "cancelled"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, kojihub.Options{Lossy: tc.lossy, Scenario: &kojihub.Scenario{Default: tc.outcome}}, 200*time.Millisecond)
			e.rawhide("zsh-5.9-1.fc45")
			b, _ := e.hub.Build("zsh-5.9-1.fc45")
			tag := e.sideTag("t.create")
			e.send(&ebsv1.KojiCommand{CommandId: "t.build.0.1.0", BatchId: "t", Verb: &ebsv1.KojiCommand_SubmitBuilds{SubmitBuilds: &ebsv1.SubmitBuilds{
				AttemptId: "t.build.0.1", Target: tag, Priority: 5, TaskTimeout: durationpb.New(tc.timeout),
				Builds: []*ebsv1.BuildSpec{{Component: "zsh", ScmUrl: b.SCMURL()}}}}}, "t.submit")
			id := e.await("t.build.0.1.0").GetBuildsSubmitted().GetTasks()[0].GetTaskId()
			f := waitFinished(t, e, "t.build.0.1", 1)[0]
			if f.GetOutcome() != tc.want || f.GetObservedBy() != tc.observed || !strings.Contains(f.GetReason(), tc.reason) {
				t.Fatalf("finished %v: want %s observed by %s, reason with %q", f, tc.want, tc.observed, tc.reason)
			}
			if tc.want == ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED && f.GetNvr() != "zsh-5.9-1.eln150" {
				t.Fatalf("NVR %q", f.GetNvr())
			}
			if tc.want == ebsv1.TaskOutcome_TASK_OUTCOME_TIMED_OUT {
				cancelled := false
				for _, r := range e.hub.CallsTo("cancelTask") {
					cancelled = cancelled || fmt.Sprint(r.Params[0]) == fmt.Sprint(id)
				}
				if !cancelled {
					t.Fatal("timed-out task not cancelled")
				}
			}
			// Exactly one task-finished event for the task (published just
			// after the record is claimed).
			ctx := context.Background()
			st, _ := e.conn.JS.Stream(ctx, natsx.StreamEBS)
			count := func() uint64 {
				info, _ := st.Info(ctx, jetstream.WithSubjectFilter(natsx.SubjectKojiEvtPrefix+"task-finished"))
				return info.State.Subjects[natsx.SubjectKojiEvtPrefix+"task-finished"]
			}
			for deadline := time.Now().Add(10 * time.Second); count() == 0 && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond)
			if n := count(); n != 1 {
				t.Fatalf("%d task-finished events", n)
			}
		})
	}
}

// Builds that end before their task records are written (their messages
// are consumed while koji-worker still records the submission) finish by
// those messages, not by the next poll: here polls are an hour apart.
func TestFinishedBeforeTracked(t *testing.T) {
	t.Parallel()
	instant := kojihub.Duration(time.Nanosecond)
	e := setup(t, kojihub.Options{Scenario: &kojihub.Scenario{Default: kojihub.Outcome{Result: kojihub.ResultSucceed, Duration: instant},
		TagDelay: instant, RepoDelay: instant}}, time.Hour)
	tag := e.sideTag("e.create")
	var specs []*ebsv1.BuildSpec
	for i := range 300 {
		nvr := fmt.Sprintf("pkg%03d-1.0-1.fc45", i)
		e.rawhide(nvr)
		b, _ := e.hub.Build(nvr)
		specs = append(specs, &ebsv1.BuildSpec{Component: fmt.Sprintf("pkg%03d", i), ScmUrl: b.SCMURL()})
	}
	e.send(&ebsv1.KojiCommand{CommandId: "e.build.0.1.0", BatchId: "e", Verb: &ebsv1.KojiCommand_SubmitBuilds{SubmitBuilds: &ebsv1.SubmitBuilds{
		AttemptId: "e.build.0.1", Target: tag, Builds: specs}}}, "e.submit")
	if n := len(e.await("e.build.0.1.0").GetBuildsSubmitted().GetTasks()); n != len(specs) {
		t.Fatalf("%d tasks submitted", n)
	}
	for _, f := range waitFinished(t, e, "e.build.0.1", len(specs)) {
		if f.GetOutcome() != ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED || f.GetObservedBy() != ebsv1.Observation_OBSERVATION_MESSAGE ||
			!strings.HasSuffix(f.GetNvr(), ".eln150") {
			t.Fatalf("finished %v: want a success seen in its message, with its NVR", f)
		}
	}
	if n := len(e.hub.CallsTo("getTaskInfo")); n > 1 {
		t.Fatalf("%d getTaskInfo calls: the tasks were polled", n)
	}
}

// Open tasks survive a restart: the start-up poll finishes what ended while
// koji-worker was down.
func TestRestartPollsOpenTasks(t *testing.T) {
	t.Parallel()
	e := setup(t, kojihub.Options{Lossy: 1, Scenario: &kojihub.Scenario{Default: kojihub.Outcome{Result: kojihub.ResultSucceed,
		Duration: kojihub.Duration(300 * time.Millisecond)}}}, time.Hour)
	e.rawhide("vim-9.1-1.fc45")
	b, _ := e.hub.Build("vim-9.1-1.fc45")
	tag := e.sideTag("r.create")
	e.send(&ebsv1.KojiCommand{CommandId: "r.build.0.1.0", Verb: &ebsv1.KojiCommand_SubmitBuilds{SubmitBuilds: &ebsv1.SubmitBuilds{
		AttemptId: "r.build.0.1", Target: tag, Builds: []*ebsv1.BuildSpec{{Component: "vim", ScmUrl: b.SCMURL()}}}}}, "r.submit")
	e.await("r.build.0.1.0")
	e.stop()
	time.Sleep(600 * time.Millisecond) // the build finishes while koji-worker is down
	e.start()
	f := waitFinished(t, e, "r.build.0.1", 1)[0]
	if f.GetOutcome() != ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED || f.GetObservedBy() != ebsv1.Observation_OBSERVATION_POLL {
		t.Fatalf("finished %v", f)
	}
}

// A Koji failure that outlives the client's retries is recorded as
// CommandFailed with the fault, not dropped.
func TestKojiFailureRecorded(t *testing.T) {
	t.Parallel()
	e := setup(t, kojihub.Options{}, time.Hour)
	e.send(&ebsv1.KojiCommand{CommandId: "f.create", Verb: &ebsv1.KojiCommand_CreateSideTag{CreateSideTag: &ebsv1.CreateSideTag{BaseTag: "no-such-tag"}}}, "f.create")
	cf := e.await("f.create").GetCommandFailed()
	if cf == nil || cf.GetFaultCode() == 0 || cf.GetVerb() != "create-side-tag" {
		t.Fatalf("result %v: want CommandFailed with the Koji fault", cf)
	}
	// The event goes out too (just after the result is recorded).
	ctx := context.Background()
	st, _ := e.conn.JS.Stream(ctx, natsx.StreamEBS)
	var msg *jetstream.RawStreamMsg
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var err error
		if msg, err = st.GetLastMsgForSubject(ctx, natsx.SubjectKojiEvtPrefix+"command-failed"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
	}
	var ev ebsv1.KojiEvent
	if err := proto.Unmarshal(msg.Data, &ev); err != nil || ev.GetCommandId() != "f.create" {
		t.Fatalf("event %v (%v)", &ev, err)
	}
}

// An invalid command is answered with CommandFailed (its issuer waits on
// the result); one without a command id is dead-lettered.
func TestInvalidCommands(t *testing.T) {
	t.Parallel()
	e := setup(t, kojihub.Options{}, time.Hour)
	e.send(&ebsv1.KojiCommand{CommandId: "bad", Verb: &ebsv1.KojiCommand_SubmitBuilds{SubmitBuilds: &ebsv1.SubmitBuilds{AttemptId: "a b"}}}, "bad")
	if cf := e.await("bad").GetCommandFailed(); cf == nil || cf.GetTransient() || !strings.Contains(cf.GetError(), "invalid command") {
		t.Fatalf("result %v: want a permanent CommandFailed", cf)
	}
	e.send(&ebsv1.KojiCommand{Verb: &ebsv1.KojiCommand_RemoveSideTag{RemoveSideTag: &ebsv1.RemoveSideTag{Tag: "x"}}}, "no-id")
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, _ := e.conn.JS.Stream(ctx, natsx.StreamEBS)
		if _, err := st.GetLastMsgForSubject(ctx, natsx.SubjectDeadLetter); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no dead letter for a command without id")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
