package kojiworker_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// lostAnswer injects a fault whose answer is lost after the hub ran the
// call (502 after the call, once) and returns the time it was added.
func lostAnswer(e *env, method string) time.Time {
	at := time.Now()
	e.hub.InjectFault(kojihub.FaultRule{Method: method, HTTPStatus: 502, AfterCall: true, Count: 1})
	return at
}

// multicallsSince returns the multiCall records logged since at, each with
// the calls it carried.
type loggedMulticall struct {
	rec   kojihub.CallRecord
	calls []kojihub.CallRecord
}

func multicallsSince(h *kojihub.Hub, at time.Time) []loggedMulticall {
	var out []loggedMulticall
	for _, r := range h.CallLog() {
		switch {
		case r.Time.Before(at):
		case !r.InMulticall && r.Method == "multiCall":
			out = append(out, loggedMulticall{rec: r})
		case r.InMulticall && len(out) > 0:
			out[len(out)-1].calls = append(out[len(out)-1].calls, r)
		}
	}
	return out
}

// firstMulticallCarries fails the test unless the injected rule hit once
// and the first multicall after it carried method: that multicall is the
// one whose answer was lost (the rule hits the first multiCall it sees).
func firstMulticallCarries(t *testing.T, e *env, at time.Time, method string) []loggedMulticall {
	t.Helper()
	if hits := e.hub.FaultHits(); len(hits) != 1 || hits[0] != 1 {
		t.Fatalf("fault hits %v: want the answer lost once", hits)
	}
	mcs := multicallsSince(e.hub, at)
	if len(mcs) == 0 || len(mcs[0].calls) == 0 || mcs[0].calls[0].Method != method || mcs[0].rec.FaultCode != 0 {
		t.Fatalf("first multicall after the fault rule %+v: want the %s multicall, run by the hub", mcs, method)
	}
	return mcs
}

// tagBuildTasks counts the hub's tagBuild tasks into tag by NVR.
func tagBuildTasks(t *testing.T, e *env, tag string, nvrs []string) map[string]int {
	t.Helper()
	c := e.hub.NewClient(t, "")
	ti, err := c.GetTag(context.Background(), tag, true)
	if err != nil || ti == nil {
		t.Fatalf("getTag(%s): %v %v", tag, ti, err)
	}
	tasks, err := c.ListTasks(context.Background(), koji.TaskFilter{Method: "tagBuild", DecodeRequests: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]string{}
	for _, n := range nvrs {
		if b, ok := e.hub.Build(n); ok {
			byID[fmt.Sprint(b.ID)] = n
		}
	}
	out := map[string]int{}
	for _, tk := range tasks {
		if len(tk.Request) > 1 && fmt.Sprint(tk.Request[0]) == fmt.Sprint(ti.ID) {
			if n, ok := byID[fmt.Sprint(tk.Request[1])]; ok {
				out[n]++
			}
		}
	}
	return out
}

// A tagging multicall whose answer is lost after the hub made the tasks is
// looked up, not failed: the builds tagged or being tagged are reported,
// only the rest is sent again, and no build gets a second tagBuild task.
func TestTaggingAnswerLost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		kopts    koji.Options
		tagDelay time.Duration
		// retryRefused: the client's retry got RetryError.
		retryRefused bool
		// running: the tagging tasks are still running when looked up.
		running bool
	}{
		{"client retry refused, tasks running", koji.Options{}, time.Hour, true, true},
		{"HTTP 502 without client retries", koji.Options{RetryBudget: -1}, time.Nanosecond, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setupClient(t, kojihub.Options{Scenario: &kojihub.Scenario{TagDelay: kojihub.Duration(tc.tagDelay)}}, time.Hour, tc.kopts)
			good := []string{"bash-5.3-1.fc45", "zsh-5.9-1.fc45", "vim-9.1-1.fc45"}
			const ghost = "ghost-1.0-1.fc45" // unknown to Koji: faults, makes no task
			var refs []*ebsv1.BuildRef
			for i, n := range good {
				e.rawhide(n)
				ref := &ebsv1.BuildRef{Nvr: n}
				if i == 0 { // one with its build id, as seeds come
					b, _ := e.hub.Build(n)
					ref.BuildId = b.ID
				}
				refs = append(refs, ref)
			}
			refs = append(refs, &ebsv1.BuildRef{Nvr: ghost})
			tag := e.sideTag("l.create")
			at := lostAnswer(e, "multiCall")
			e.send(&ebsv1.KojiCommand{CommandId: "l.tag", Verb: &ebsv1.KojiCommand_TagBuilds{TagBuilds: &ebsv1.TagBuilds{Tag: tag, Builds: refs}}}, "l.tag")
			res := e.await("l.tag")
			bt := res.GetBuildsTagged()
			if bt == nil {
				t.Fatalf("result %v: want BuildsTagged", res)
			}

			mcs := firstMulticallCarries(t, e, at, "tagBuild")
			refused := slices.ContainsFunc(mcs, func(m loggedMulticall) bool {
				return m.rec.FaultCode == koji.CodeRetryError && len(m.calls) > 0 && m.calls[0].Method == "tagBuild"
			})
			if refused != tc.retryRefused {
				t.Fatalf("client retry refused with RetryError: %v, want %v", refused, tc.retryRefused)
			}
			// Sent and run by the hub: each good build once, the ghost
			// twice (the lost multicall, then alone).
			sent := map[string]int{}
			for _, m := range mcs {
				if m.rec.FaultCode != 0 {
					continue
				}
				for _, c := range m.calls {
					if c.Method == "tagBuild" && len(c.Params) > 1 {
						sent[fmt.Sprint(c.Params[1])]++
					}
				}
			}
			want := map[string]int{ghost: 2}
			for _, n := range good {
				want[n] = 1
			}
			if fmt.Sprint(sent) != fmt.Sprint(want) {
				t.Fatalf("tagBuild calls run %v, want %v", sent, want)
			}

			tasks := tagBuildTasks(t, e, tag, append(slices.Clone(good), ghost))
			for _, n := range good {
				if tasks[n] != 1 {
					t.Fatalf("%s has %d tagBuild tasks, want 1 (%v)", n, tasks[n], tasks)
				}
				_, running := bt.GetTasks()[n]
				done := slices.Contains(bt.GetAlreadyTagged(), n)
				if running == done || (tc.running && !running) {
					t.Fatalf("%s: task %v, already tagged %v (result %v)", n, running, done, bt)
				}
			}
			if len(bt.GetFailures()) != 1 || bt.GetFailures()[0].GetNvr() != ghost || bt.GetFailures()[0].GetFaultCode() == 0 {
				t.Fatalf("failures %v: want the ghost's fault only", bt.GetFailures())
			}
		})
	}
}

// A side tag removal whose answer is lost is reported removed when the tag
// is gone, and removed again when the hub never ran it.
func TestRemovalAnswerLost(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		kopts     koji.Options
		afterCall bool
		wantRuns  int // removeSideTag calls the hub ran
	}{
		{"client retry refused", koji.Options{}, true, 1},
		{"HTTP 502 without client retries", koji.Options{RetryBudget: -1}, true, 1},
		{"HTTP 502 before the hub ran it", koji.Options{RetryBudget: -1}, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setupClient(t, kojihub.Options{}, time.Hour, tc.kopts)
			tag := e.sideTag("r.create")
			e.hub.InjectFault(kojihub.FaultRule{Method: "removeSideTag", HTTPStatus: 502, AfterCall: tc.afterCall, Count: 1})
			e.send(&ebsv1.KojiCommand{CommandId: "r.remove", Verb: &ebsv1.KojiCommand_RemoveSideTag{RemoveSideTag: &ebsv1.RemoveSideTag{Tag: tag}}}, "r.remove")
			res := e.await("r.remove")
			if r := res.GetSideTagRemoved(); r == nil || r.GetTag() != tag || r.GetAlreadyGone() {
				t.Fatalf("result %v: want the side tag removed", res)
			}
			if e.hub.TagExists(tag) {
				t.Fatal("side tag still exists")
			}
			if hits := e.hub.FaultHits(); hits[0] != 1 {
				t.Fatalf("fault hits %v", hits)
			}
			runs := 0
			for _, r := range e.hub.CallsTo("removeSideTag") {
				if r.FaultCode == 0 && !r.Injected {
					runs++
				}
			}
			if runs != tc.wantRuns {
				t.Fatalf("removeSideTag run %d times, want %d", runs, tc.wantRuns)
			}
		})
	}
}

// Cancelling tasks whose answer is lost cancels again (a no-op for the
// cancelled ones) instead of failing.
func TestCancelAnswerLost(t *testing.T) {
	t.Parallel()
	e := setup(t, kojihub.Options{Scenario: &kojihub.Scenario{TagDelay: kojihub.Duration(time.Hour)}}, time.Hour)
	e.rawhide("bash-5.3-1.fc45")
	e.rawhide("zsh-5.9-1.fc45")
	tag := e.sideTag("c.create")
	e.send(&ebsv1.KojiCommand{CommandId: "c.tag", Verb: &ebsv1.KojiCommand_TagBuilds{TagBuilds: &ebsv1.TagBuilds{Tag: tag,
		Builds: []*ebsv1.BuildRef{{Nvr: "bash-5.3-1.fc45"}, {Nvr: "zsh-5.9-1.fc45"}}}}}, "c.tag")
	var ids []int64
	for _, id := range e.await("c.tag").GetBuildsTagged().GetTasks() {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	if len(ids) != 2 {
		t.Fatalf("tagging tasks %v", ids)
	}
	at := lostAnswer(e, "multiCall")
	e.send(&ebsv1.KojiCommand{CommandId: "c.cancel", Verb: &ebsv1.KojiCommand_CancelTasks{CancelTasks: &ebsv1.CancelTasks{TaskIds: ids}}}, "c.cancel")
	res := e.await("c.cancel")
	if got := res.GetTasksCancelled().GetTaskIds(); !slices.Equal(got, ids) {
		t.Fatalf("result %v: want tasks %v cancelled", res, ids)
	}
	firstMulticallCarries(t, e, at, "cancelTask")
	for _, id := range ids {
		if ti, ok := e.hub.TaskInfo(id); !ok || ti.State != koji.TaskCanceled {
			t.Fatalf("task %d: %+v", id, ti)
		}
	}
}

// Promoting draft builds whose answer is lost reports them promoted (found
// by build id), and so does promoting them again later.
func TestPromotionAnswerLost(t *testing.T) {
	t.Parallel()
	instant := kojihub.Duration(time.Nanosecond)
	e := setup(t, kojihub.Options{Scenario: &kojihub.Scenario{Default: kojihub.Outcome{Result: kojihub.ResultSucceed, Duration: instant},
		TagDelay: instant, RepoDelay: instant}}, time.Hour)
	tag := e.sideTag("p.create")
	var specs []*ebsv1.BuildSpec
	for _, n := range []string{"bash-5.3-1.fc45", "zsh-5.9-1.fc45"} {
		e.rawhide(n)
		b, _ := e.hub.Build(n)
		specs = append(specs, &ebsv1.BuildSpec{Component: b.Name, ScmUrl: b.SCMURL()})
	}
	e.send(&ebsv1.KojiCommand{CommandId: "p.build.0.1.0", BatchId: "p", Verb: &ebsv1.KojiCommand_SubmitBuilds{SubmitBuilds: &ebsv1.SubmitBuilds{
		AttemptId: "p.build.0.1", Target: tag, TaskTimeout: durationpb.New(time.Minute), Options: &ebsv1.BuildOptions{Draft: true}, Builds: specs}}}, "p.submit")
	e.await("p.build.0.1.0")
	var drafts []string
	for _, f := range waitFinished(t, e, "p.build.0.1", len(specs)) {
		if f.GetOutcome() != ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED {
			t.Fatalf("build %v", f)
		}
		drafts = append(drafts, f.GetNvr())
	}
	at := lostAnswer(e, "multiCall")
	for _, id := range []string{"p.promote", "p.promote-again"} {
		e.send(&ebsv1.KojiCommand{CommandId: id, Verb: &ebsv1.KojiCommand_PromoteBuilds{PromoteBuilds: &ebsv1.PromoteBuilds{Nvrs: drafts}}}, id)
		res := e.await(id)
		bp := res.GetBuildsPromoted()
		if bp == nil || len(bp.GetFailures()) != 0 || len(bp.GetPromoted()) != len(drafts) {
			t.Fatalf("%s: result %v: want every draft promoted", id, res)
		}
		for _, d := range drafts {
			p := bp.GetPromoted()[d]
			if b, ok := e.hub.Build(p); p == "" || p == d || !ok || b.Draft {
				t.Fatalf("%s: %s promoted as %q (%+v)", id, d, p, b)
			}
		}
	}
	firstMulticallCarries(t, e, at, "promoteBuild")
}

// A delivery that finds an intent (an earlier delivery got as far as
// tagging) reports the tagging tasks still running instead of making
// second ones: Koji names the tag and build by id in a tagBuild request.
func TestRedeliveryFindsRunningTagging(t *testing.T) {
	t.Parallel()
	e := setup(t, kojihub.Options{Scenario: &kojihub.Scenario{TagDelay: kojihub.Duration(time.Hour)}}, time.Hour)
	nvrs := []string{"bash-5.3-1.fc45", "zsh-5.9-1.fc45"}
	var refs []*ebsv1.BuildRef
	for _, n := range nvrs {
		e.rawhide(n)
		refs = append(refs, &ebsv1.BuildRef{Nvr: n})
	}
	tag := e.sideTag("d.create")
	// The earlier delivery: its intent, then its tagging tasks (made here
	// by another command, as if its result had been lost with it).
	if err := e.results.PutIntent(context.Background(), &ebsv1.CommandIntent{CommandId: "d.tag", At: timestamppb.Now(), Delivery: 1}); err != nil {
		t.Fatal(err)
	}
	e.send(&ebsv1.KojiCommand{CommandId: "d.first", Verb: &ebsv1.KojiCommand_TagBuilds{TagBuilds: &ebsv1.TagBuilds{Tag: tag, Builds: refs}}}, "d.first")
	first := e.await("d.first").GetBuildsTagged().GetTasks()
	e.send(&ebsv1.KojiCommand{CommandId: "d.tag", Verb: &ebsv1.KojiCommand_TagBuilds{TagBuilds: &ebsv1.TagBuilds{Tag: tag, Builds: refs}}}, "d.tag")
	again := e.await("d.tag").GetBuildsTagged()
	if len(first) != len(nvrs) || fmt.Sprint(again.GetTasks()) != fmt.Sprint(first) || len(again.GetFailures()) != 0 {
		t.Fatalf("redelivery reported %v, want the running tasks %v", again, first)
	}
	for n, c := range tagBuildTasks(t, e, tag, nvrs) {
		if c != 1 {
			t.Fatalf("%s has %d tagBuild tasks", n, c)
		}
	}
}
