package batcher_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/batcher/batcher"
	et "github.com/fedora-eln/ebs/services/batcher/enginetest"
	"github.com/fedora-eln/ebs/services/koji-worker/kojiworker"
)

// Scenarios A and C: seeds tagged into the build side tag and awaited;
// first-try success reaches the stable tag through Bodhi.
func TestFirstTrySuccessReachesStable(t *testing.T) {
	t.Parallel()
	e := et.New(t, et.Options{})
	e.Requests("bash", "zsh")
	c := e.WaitCompleted(1, et.BatchWait)[0]
	if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED {
		t.Fatalf("result %s (%s)", c.GetResult(), c.GetError())
	}
	for _, comp := range []string{"bash", "zsh"} {
		o := et.WantState(t, c, comp, ebsv1.PackageState_PACKAGE_STATE_BUILT)
		if !strings.HasSuffix(o.GetNvr(), ".eln150") || o.GetAttempts() != 1 || o.GetTaskId() == 0 {
			t.Errorf("%s outcome %v", comp, o)
		}
		if !o.GetReachedStable() || o.GetBodhiUpdateAlias() == "" {
			t.Errorf("%s did not reach stable through an update: %v", comp, o)
		}
	}
	et.WantSubmissions(t, e, map[string]int{"bash": 1, "zsh": 1})
	// The Rawhide builds were tagged into the build side tag.
	seeded := map[string]bool{}
	for _, r := range e.Hub.CallsTo("tagBuild") {
		if len(r.Params) >= 2 && r.Params[0] == c.GetBuildSideTag() {
			seeded[fmt.Sprint(r.Params[1])] = true
		}
	}
	if !seeded["bash-1.0-1.fc45"] || !seeded["zsh-1.0-1.fc45"] {
		t.Errorf("seeds tagged into %s: %v", c.GetBuildSideTag(), seeded)
	}
	for _, b := range e.BuildCalls() {
		if b.Target != c.GetBuildSideTag() || b.Opts["fail_fast"] != true || b.Opts["wait_repo"] != true {
			t.Errorf("build call %+v: want target %s with fail_fast and wait_repo", b, c.GetBuildSideTag())
		}
	}
	if c.GetSideTagsCreated() != 2 || len(c.GetUpdates()) != 1 || len(c.GetUpdateSideTags()) != 1 {
		t.Errorf("side tags created %d, updates %v: want one build and one update side tag", c.GetSideTagsCreated(), c.GetUpdates())
	}
	tagged := map[string]bool{}
	for _, n := range e.Hub.Tagged("eln") {
		tagged[n] = true
	}
	if !tagged["bash-1.0-1.eln150"] || !tagged["zsh-1.0-1.eln150"] {
		t.Errorf("stable tag eln lacks the builds: %v", e.Hub.Tagged("eln"))
	}
	e.WaitNoSideTags()
	et.WantClosed(t, e, c, "bash", "zsh")
	e.WaitCheckpointDone(c)
	if n := len(et.Events(e, natsx.SubjectBatchStarted, func() *ebsv1.BatchStarted { return new(ebsv1.BatchStarted) })); n != 1 {
		t.Errorf("%d batch.started events", n)
	}
	fin := et.Events(e, natsx.SubjectSliceFinished, func() *ebsv1.SliceFinished { return new(ebsv1.SliceFinished) })
	if len(fin) != 1 || len(fin[0].GetSucceeded()) != 2 {
		t.Errorf("slice.finished events %v", fin)
	}
}

// Scenario B: a component matching skip_tag is built but not seeded.
func TestSkipTagNotSeeded(t *testing.T) {
	t.Parallel()
	e := et.New(t, et.Options{Settings: func(c *config.Config) {
		c.Control.SkipTag = []config.Pattern{et.MustPattern(t, "^gcc$")}
	}})
	e.Requests("gcc", "bash")
	c := e.WaitCompleted(1, et.BatchWait)[0]
	et.WantState(t, c, "gcc", ebsv1.PackageState_PACKAGE_STATE_BUILT)
	et.WantState(t, c, "bash", ebsv1.PackageState_PACKAGE_STATE_BUILT)
	for _, r := range e.Hub.CallsTo("tagBuild") {
		if len(r.Params) >= 2 && r.Params[0] == c.GetBuildSideTag() && strings.HasPrefix(fmt.Sprint(r.Params[1]), "gcc-") {
			t.Fatalf("gcc (skip_tag) was tagged into the build side tag: %v", r.Params)
		}
	}
	seeded := false
	for _, r := range e.Hub.CallsTo("tagBuild") {
		if len(r.Params) >= 2 && r.Params[0] == c.GetBuildSideTag() && fmt.Sprint(r.Params[1]) == "bash-1.0-1.fc45" {
			seeded = true
		}
	}
	if !seeded {
		t.Fatal("bash was not seeded")
	}
}

// Scenarios E and H: only failures are resubmitted, while the number of
// failures strictly decreases (2, 3 and 4 Submissions).
func TestRetryRule(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		outcomes map[string]kojihub.Outcome
		want     map[string]int
		states   map[string]ebsv1.PackageState
	}{
		{"mixed results: only the failure is resubmitted",
			map[string]kojihub.Outcome{"grep": {Result: kojihub.ResultFail, Times: 1}},
			map[string]int{"grep": 2, "sed": 1},
			map[string]ebsv1.PackageState{"grep": ebsv1.PackageState_PACKAGE_STATE_BUILT, "sed": ebsv1.PackageState_PACKAGE_STATE_BUILT}},
		{"multi-round retries with decreasing failures",
			map[string]kojihub.Outcome{"a1": {Result: kojihub.ResultFail, Times: 1}, "b2": {Result: kojihub.ResultFail, Times: 2},
				"c3": {Result: kojihub.ResultFail, Times: 3}},
			map[string]int{"a1": 2, "b2": 3, "c3": 4},
			map[string]ebsv1.PackageState{"a1": ebsv1.PackageState_PACKAGE_STATE_BUILT, "b2": ebsv1.PackageState_PACKAGE_STATE_BUILT, "c3": ebsv1.PackageState_PACKAGE_STATE_BUILT}},
		{"failures not decreasing stop the retries",
			map[string]kojihub.Outcome{"x": {Result: kojihub.ResultFail}, "y": {Result: kojihub.ResultFail}},
			map[string]int{"x": 2, "y": 2},
			map[string]ebsv1.PackageState{"x": ebsv1.PackageState_PACKAGE_STATE_FAILED, "y": ebsv1.PackageState_PACKAGE_STATE_FAILED}},
		{"SRPM failure (no build made) is retried like any failure",
			map[string]kojihub.Outcome{"srpm": {Result: kojihub.ResultSRPMFail}},
			map[string]int{"srpm": 2, "fine": 1},
			map[string]ebsv1.PackageState{"srpm": ebsv1.PackageState_PACKAGE_STATE_FAILED, "fine": ebsv1.PackageState_PACKAGE_STATE_BUILT}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := et.New(t, et.Options{Scenario: &kojihub.Scenario{Packages: tc.outcomes}})
			var comps []string
			for c := range tc.states {
				comps = append(comps, c)
			}
			e.Requests(comps...)
			c := e.WaitCompleted(1, et.BatchWait)[0]
			for comp, st := range tc.states {
				o := et.WantState(t, c, comp, st)
				if int(o.GetAttempts()) != tc.want[comp] || len(o.GetTaskIds()) != tc.want[comp] {
					t.Errorf("%s: %d attempts, tasks %v; want %d", comp, o.GetAttempts(), o.GetTaskIds(), tc.want[comp])
				}
			}
			et.WantSubmissions(t, e, tc.want)
			wantAttemptEvents(t, e, c, tc.want, tc.states)
			et.WantClosed(t, e, c, comps...)
			e.WaitNoSideTags()
		})
	}
}

// wantAttemptEvents checks ebs.batch.attempt.started and .finished of a
// one-slice batch: attempt k submits the components built at least k times
// and reports each as succeeded (its last attempt, built) or failed.
func wantAttemptEvents(t *testing.T, e *et.Engine, c *ebsv1.BatchCompleted, submissions map[string]int, states map[string]ebsv1.PackageState) {
	t.Helper()
	started := et.Events(e, natsx.SubjectAttemptStarted, func() *ebsv1.AttemptStarted { return new(ebsv1.AttemptStarted) })
	finished := et.Events(e, natsx.SubjectAttemptFinished, func() *ebsv1.AttemptFinished { return new(ebsv1.AttemptFinished) })
	attempts := 0
	for _, n := range submissions {
		attempts = max(attempts, n)
	}
	if len(started) != attempts || len(finished) != attempts {
		t.Fatalf("%d attempt.started and %d attempt.finished events: want %d each", len(started), len(finished), attempts)
	}
	sorted := func(xs []string) []string { xs = slices.Clone(xs); slices.Sort(xs); return xs }
	for k := 1; k <= attempts; k++ {
		var comps, ok, failed []string
		for comp, n := range submissions {
			if n < k {
				continue
			}
			comps = append(comps, comp)
			if n == k && states[comp] == ebsv1.PackageState_PACKAGE_STATE_BUILT {
				ok = append(ok, comp)
			} else {
				failed = append(failed, comp)
			}
		}
		id := fmt.Sprintf("%s.build.0.%d", c.GetBatchId(), k)
		st, fin := started[k-1], finished[k-1]
		if st.GetBatchId() != c.GetBatchId() || st.GetSlice() != 0 || int(st.GetAttempt()) != k || st.GetAttemptId() != id ||
			!slices.Equal(sorted(st.GetComponents()), sorted(comps)) {
			t.Errorf("attempt.started %v: want attempt %d (%s) of %v", st, k, id, sorted(comps))
		}
		if fin.GetBatchId() != c.GetBatchId() || fin.GetSlice() != 0 || int(fin.GetAttempt()) != k || fin.GetAttemptId() != id ||
			!slices.Equal(sorted(fin.GetSucceeded()), sorted(ok)) || !slices.Equal(sorted(fin.GetFailed()), sorted(failed)) ||
			len(fin.GetTimedOut()) != 0 {
			t.Errorf("attempt.finished %v: want attempt %d (%s) succeeded %v, failed %v", fin, k, id, sorted(ok), sorted(failed))
		}
	}
}

// Scenario D: a package failing twice is denylisted, no Bodhi update is
// made, a single side tag is used and removed; the same SCM URL is not
// built by the next batch.
func TestPersistentFailureDenylisted(t *testing.T) {
	t.Parallel()
	e := et.New(t, et.Options{Scenario: &kojihub.Scenario{Packages: map[string]kojihub.Outcome{"broken": {Result: kojihub.ResultFail}}}})
	r := e.Request("broken", "2.0")
	c := e.WaitCompleted(1, et.BatchWait)[0]
	o := et.WantState(t, c, "broken", ebsv1.PackageState_PACKAGE_STATE_FAILED)
	if !o.GetDenylisted() || o.GetAttempts() != 2 || o.GetReason() == "" {
		t.Fatalf("outcome %v: want denylisted after 2 attempts with a reason", o)
	}
	if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_PARTIAL || c.GetSideTagsCreated() != 1 || len(c.GetUpdates()) != 0 {
		t.Fatalf("result %s, side tags %d, updates %v", c.GetResult(), c.GetSideTagsCreated(), c.GetUpdates())
	}
	e.WaitNoSideTags()
	kv, _ := e.Conn.JS.KeyValue(context.Background(), natsx.BucketFailed)
	entry, err := kv.Get(context.Background(), natsx.EscapeKey(o.GetScmUrl()))
	if err != nil {
		t.Fatalf("denylist entry for %s: %v", o.GetScmUrl(), err)
	}
	var d ebsv1.DenylistEntry
	_ = proto.Unmarshal(entry.Value(), &d)
	if d.GetBatchId() != c.GetBatchId() || d.GetComponent() != "broken" {
		t.Fatalf("denylist entry %v", &d)
	}

	// The same build requested again: skipped, not built.
	r2 := proto.Clone(r).(*ebsv1.RebuildRequest)
	r2.RequestId = "manual-again"
	r2.Reason = ebsv1.RequestReason_REQUEST_REASON_MANUAL
	if _, err := natsx.Publish(context.Background(), e.Conn.JS, natsx.SubjectRebuildRequested, r2.GetRequestId(), r2); err != nil {
		t.Fatal(err)
	}
	c2 := e.WaitCompleted(2, et.BatchWait)[1]
	et.WantState(t, c2, "broken", ebsv1.PackageState_PACKAGE_STATE_SKIPPED_DENYLISTED)
	if c2.GetResult() != ebsv1.BatchResult_BATCH_RESULT_EMPTY || c2.GetSideTagsCreated() != 0 {
		t.Fatalf("second batch %s with %d side tags", c2.GetResult(), c2.GetSideTagsCreated())
	}
	et.WantSubmissions(t, e, map[string]int{"broken": 2})
}

// Scenario F: fail_fast goes into build()'s opts as configured.
func TestFailFastPassedThrough(t *testing.T) {
	t.Parallel()
	for _, ff := range []bool{true, false} {
		t.Run(fmt.Sprint("fail_fast=", ff), func(t *testing.T) {
			t.Parallel()
			e := et.New(t, et.Options{Settings: func(c *config.Config) { c.Koji.FailFast = ff }})
			e.Requests("curl")
			c := e.WaitCompleted(1, et.BatchWait)[0]
			if !c.GetOptions().GetFailFast() == ff {
				t.Errorf("batch options fail_fast=%v", c.GetOptions().GetFailFast())
			}
			calls := e.BuildCalls()
			if len(calls) != 1 || calls[0].Opts["fail_fast"] != ff {
				t.Fatalf("build calls %+v: want fail_fast=%v", calls, ff)
			}
		})
	}
}

// Scenario G: scratch builds: no promotion, no Bodhi, no update side tag,
// no stable wait, even with draft builds configured (scratch wins).
func TestScratchMode(t *testing.T) {
	t.Parallel()
	e := et.New(t, et.Options{Settings: func(c *config.Config) { c.Koji.ScratchBuild = true },
		Batcher: func(c *batcher.Config) { c.Draft = true }})
	e.Requests("tar", "gzip")
	c := e.WaitCompleted(1, et.BatchWait)[0]
	if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED {
		t.Fatalf("result %s (%s)", c.GetResult(), c.GetError())
	}
	if !c.GetOptions().GetScratch() || c.GetOptions().GetDraft() {
		t.Errorf("batch options %v: want scratch without draft", c.GetOptions())
	}
	for _, comp := range []string{"tar", "gzip"} {
		if o := et.WantState(t, c, comp, ebsv1.PackageState_PACKAGE_STATE_BUILT); o.GetBodhiUpdateAlias() != "" || o.GetReachedStable() {
			t.Errorf("%s went to Bodhi in scratch mode: %v", comp, o)
		}
	}
	calls := e.BuildCalls()
	if len(calls) != 2 {
		t.Fatalf("build calls %+v: want one per package", calls)
	}
	for _, b := range calls {
		if b.Opts["scratch"] != true || b.Opts["draft"] == true {
			t.Errorf("build call %+v: want scratch, not draft", b)
		}
	}
	if n := len(e.Hub.CallsTo("promoteBuild")); n != 0 {
		t.Errorf("%d promoteBuild calls in scratch mode", n)
	}
	if n := et.CountOnStream(e, natsx.SubjectKojiCmdPrefix+"promote-builds"); n != 0 {
		t.Errorf("%d promote commands in scratch mode", n)
	}
	if c.GetSideTagsCreated() != 1 || len(e.Hub.CallsTo("createSideTag")) != 1 || len(c.GetUpdates()) != 0 || len(c.GetUpdateSideTags()) != 0 {
		t.Errorf("scratch batch made %d side tags (createSideTag %d), update side tags %v, updates %v: want the build side tag only",
			c.GetSideTagsCreated(), len(e.Hub.CallsTo("createSideTag")), c.GetUpdateSideTags(), c.GetUpdates())
	}
	if n := et.CountOnStream(e, natsx.SubjectBodhiCmdPrefix+">"); n != 0 || e.Bodhi.Created() != 0 {
		t.Errorf("%d Bodhi commands, %d updates in scratch mode", n, e.Bodhi.Created())
	}
	// The only wait is the seeds' in the build side tag.
	if n := et.CountOnStream(e, natsx.SubjectWatchCmdPrefix+">"); n != 1 {
		t.Errorf("%d wait commands: want the seed wait only", n)
	}
	if _, ok, err := e.Results.Get(context.Background(), c.GetBatchId()+".stable"); err != nil || ok {
		t.Errorf("a stable wait result exists in scratch mode (%v)", err)
	}
	e.WaitNoSideTags()
}

// Scenario M: a task still running at its deadline is cancelled, reported
// TIMED_OUT, not retried, not denylisted, and does not block its sibling.
func TestTaskTimeout(t *testing.T) {
	t.Parallel()
	e := et.New(t, et.Options{
		Scenario: &kojihub.Scenario{Packages: map[string]kojihub.Outcome{"stuck": {Result: kojihub.ResultHang}}},
		Batcher:  func(c *batcher.Config) { c.TaskTimeout = 2 * time.Second },
	})
	e.Requests("stuck", "quick")
	c := e.WaitCompleted(1, et.BatchWait)[0]
	o := et.WantState(t, c, "stuck", ebsv1.PackageState_PACKAGE_STATE_TIMED_OUT)
	if o.GetDenylisted() || o.GetAttempts() != 1 || o.GetLastTaskOutcome() != ebsv1.TaskOutcome_TASK_OUTCOME_TIMED_OUT {
		t.Fatalf("timed-out outcome %v", o)
	}
	et.WantState(t, c, "quick", ebsv1.PackageState_PACKAGE_STATE_BUILT)
	et.WantSubmissions(t, e, map[string]int{"stuck": 1, "quick": 1})
	cancelled := false
	for _, r := range e.Hub.CallsTo("cancelTask") {
		if len(r.Params) > 0 && fmt.Sprint(r.Params[0]) == fmt.Sprint(o.GetTaskId()) {
			cancelled = true
		}
	}
	if !cancelled {
		t.Fatalf("task %d was not cancelled", o.GetTaskId())
	}
	if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_PARTIAL {
		t.Fatalf("result %s", c.GetResult())
	}
}

// Scenario N: with every Koji message lost, failures found by polling are
// still retried, and waits end by polling.
func TestFailureSeenOnlyByPolling(t *testing.T) {
	t.Parallel()
	e := et.New(t, et.Options{Lossy: 1,
		Scenario: &kojihub.Scenario{Packages: map[string]kojihub.Outcome{"flaky": {Result: kojihub.ResultFail, Times: 1}}}})
	e.Requests("flaky")
	c := e.WaitCompleted(1, et.BatchWait)[0]
	et.WantState(t, c, "flaky", ebsv1.PackageState_PACKAGE_STATE_BUILT)
	et.WantSubmissions(t, e, map[string]int{"flaky": 2})
	for _, ev := range et.Events(e, natsx.SubjectKojiEvtPrefix+"task-finished", func() *ebsv1.KojiEvent { return new(ebsv1.KojiEvent) }) {
		if ob := ev.GetTaskFinished().GetObservedBy(); ob != ebsv1.Observation_OBSERVATION_POLL {
			t.Errorf("task %d observed by %s with every message lost", ev.GetTaskFinished().GetTaskId(), ob)
		}
	}
}

// Scenario O1: HTTP 500 on the build() submission is retried by the client;
// each package is built once. O2: when the retries run out, the batch
// fails, every request is closed and nothing is denylisted. The fault rule
// names build(), which ebs only sends inside a multicall: the simulator
// answers the whole multicall 500 when an element matches. The call log
// shows the 500s answered the build multicalls and nothing else.
func TestBuildSubmissionHTTP500(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		count int
	}{{"retried", 2}, {"retries exhausted", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := et.New(t, et.Options{RetryBudget: 2 * time.Second, Scenario: &kojihub.Scenario{TagDelay: kojihub.Duration(500 * time.Millisecond)}})
			e.Requests("httpd", "nginx")
			remove := e.FaultOnSubmission(kojihub.FaultRule{Method: "build", HTTPStatus: 500, Count: tc.count})
			if tc.count == 0 {
				defer remove()
			}
			c := e.WaitCompleted(1, et.BatchWait)[0]
			if hits := e.Hub.FaultHits(); len(hits) != 1 || hits[0] == 0 || (tc.count > 0 && hits[0] != tc.count) {
				t.Fatalf("fault hits %v: the build submission was not hit as planned", hits)
			}
			// How the build multicalls were answered, in order.
			var answers []int
			for _, m := range e.Multicalls() {
				if m.Has("build") {
					answers = append(answers, m.HTTPStatus)
				} else if m.HTTPStatus == 500 {
					t.Errorf("a multicall without build() was answered 500: %v", m.Methods)
				}
			}
			if tc.count > 0 {
				remove()
				want := append(slices.Repeat([]int{500}, tc.count), 200)
				if !slices.Equal(answers, want) {
					t.Fatalf("build multicall answered %v: want %v (%d times 500, then success)", answers, want, tc.count)
				}
				for _, comp := range []string{"httpd", "nginx"} {
					if o := et.WantState(t, c, comp, ebsv1.PackageState_PACKAGE_STATE_BUILT); o.GetAttempts() != 1 {
						t.Errorf("%s: %d attempts", comp, o.GetAttempts())
					}
				}
				et.WantSubmissions(t, e, map[string]int{"httpd": 1, "nginx": 1})
				return
			}
			if len(answers) == 0 || slices.ContainsFunc(answers, func(s int) bool { return s != 500 }) {
				t.Fatalf("build multicall answered %v: want 500 every time", answers)
			}
			if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_FAILED || !strings.Contains(c.GetError(), "submission") {
				t.Fatalf("result %s error %q: want FAILED on submission", c.GetResult(), c.GetError())
			}
			for _, comp := range []string{"httpd", "nginx"} {
				o := et.WantState(t, c, comp, ebsv1.PackageState_PACKAGE_STATE_ABORTED)
				if o.GetDenylisted() {
					t.Errorf("%s denylisted after a submission failure", comp)
				}
			}
			et.WantSubmissions(t, e, map[string]int{"httpd": 0, "nginx": 0})
			et.WantClosed(t, e, c, "httpd", "nginx")
			e.WaitNoSideTags()
		})
	}
}

// Scenario J: seeds not tagged in time: the tagging tasks are cancelled,
// the side tag removed and a new one made; after max_side_tag_attempts the
// batch fails clearly and closes its requests.
func TestSeedingTimeout(t *testing.T) {
	t.Parallel()
	t.Run("a new side tag", func(t *testing.T) {
		t.Parallel()
		e := et.New(t, et.Options{
			Scenario: &kojihub.Scenario{TagDelay: kojihub.Duration(time.Hour)},
			Batcher:  func(c *batcher.Config) { c.TagTimeout = 700 * time.Millisecond },
		})
		e.Requests("vim", "emacs")
		// Tagging works again once the first side tag is being waited for.
		e.WaitHeader("first side tag awaited", func(h *ebsv1.BatchCheckpoint) bool {
			return h.GetBuildSideTag().GetAttempt() == 1 && h.GetBuildSideTag().GetStep() == "wait"
		})
		e.Hub.SetScenario(kojihub.Scenario{TagDelay: kojihub.Duration(5 * time.Millisecond)})
		c := e.WaitCompleted(1, et.BatchWait)[0]
		if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED {
			t.Fatalf("result %s (%s)", c.GetResult(), c.GetError())
		}
		// 3 created (2 build side tags, 1 update side tag), 2 removed by ebs
		// (the abandoned one and the build side tag); Bodhi removes the
		// update side tag.
		if c.GetSideTagsCreated() != 3 || len(e.Hub.CallsTo("createSideTag")) != 3 || len(e.Hub.CallsTo("removeSideTag")) != 2 {
			t.Fatalf("side tags created %d (createSideTag %d, removeSideTag %d): want 3 made and 2 removed",
				c.GetSideTagsCreated(), len(e.Hub.CallsTo("createSideTag")), len(e.Hub.CallsTo("removeSideTag")))
		}
		if len(e.Hub.CallsTo("cancelTask")) == 0 {
			t.Fatal("tagging tasks of the abandoned side tag were not cancelled")
		}
		et.WantState(t, c, "vim", ebsv1.PackageState_PACKAGE_STATE_BUILT)
		et.WantSubmissions(t, e, map[string]int{"vim": 1, "emacs": 1})
		e.WaitNoSideTags()
	})
	t.Run("gives up after max_side_tag_attempts", func(t *testing.T) {
		t.Parallel()
		e := et.New(t, et.Options{
			Scenario: &kojihub.Scenario{TagDelay: kojihub.Duration(time.Hour)},
			Batcher:  func(c *batcher.Config) { c.TagTimeout = 700 * time.Millisecond; c.MaxSideTagAttempts = 3 },
		})
		e.Requests("vim", "emacs")
		c := e.WaitCompleted(1, et.BatchWait)[0]
		if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_FAILED || !strings.Contains(c.GetError(), "3 times") {
			t.Fatalf("result %s error %q", c.GetResult(), c.GetError())
		}
		if c.GetSideTagsCreated() != 3 || len(e.Hub.CallsTo("createSideTag")) != 3 || len(e.Hub.CallsTo("removeSideTag")) != 3 {
			t.Fatalf("side tags created %d (createSideTag %d, removeSideTag %d): want 3 made and 3 removed",
				c.GetSideTagsCreated(), len(e.Hub.CallsTo("createSideTag")), len(e.Hub.CallsTo("removeSideTag")))
		}
		et.WantState(t, c, "vim", ebsv1.PackageState_PACKAGE_STATE_ABORTED)
		et.WantClosed(t, e, c, "vim", "emacs")
		et.WantSubmissions(t, e, map[string]int{"vim": 0, "emacs": 0})
		e.WaitNoSideTags()
	})
}

// Pause (config or runtime) holds batches back while requests keep
// arriving; a pause during a batch does not interrupt it.
func TestPause(t *testing.T) {
	t.Parallel()
	e := et.New(t, et.Options{Settings: func(c *config.Config) { c.Control.Pause = true }})
	e.Requests("perl", "rpm")
	time.Sleep(1500 * time.Millisecond)
	if n := et.CountOnStream(e, natsx.SubjectBatchStarted); n != 0 {
		t.Fatal("a batch started while paused")
	}
	if len(e.PendingLeft()) != 2 {
		t.Fatalf("pending while paused: %v", e.PendingLeft())
	}
	s := *e.Settings.Load()
	s.Control.Pause = false
	e.Settings.Store(&s)
	// Runtime pause set while the batch runs: it completes anyway.
	e.WaitStep("build", func() { e.SetRuntimePause(true) })
	c := e.WaitCompleted(1, et.BatchWait)[0]
	et.WantState(t, c, "perl", ebsv1.PackageState_PACKAGE_STATE_BUILT)
	e.Requests("dnf")
	time.Sleep(1500 * time.Millisecond)
	if n := et.CountOnStream(e, natsx.SubjectBatchStarted); n != 1 {
		t.Fatalf("%d batches started under the runtime pause", n)
	}
	e.SetRuntimePause(false)
	c2 := e.WaitCompleted(2, et.BatchWait)[1]
	et.WantState(t, c2, "dnf", ebsv1.PackageState_PACKAGE_STATE_BUILT)
}

// Slices run in ascending ordering, each after the previous one.
func TestSlicesInOrdering(t *testing.T) {
	t.Parallel()
	e := et.New(t, et.Options{Settings: func(c *config.Config) {
		c.Control.Ordering = []config.OrderingRule{{Pattern: et.MustPattern(t, "^llvm$"), Value: 0}, {Pattern: et.MustPattern(t, "^clang$"), Value: 1}}
	}})
	e.Requests("bash", "clang", "llvm")
	c := e.WaitCompleted(1, et.BatchWait)[0]
	started := et.Events(e, natsx.SubjectSliceStarted, func() *ebsv1.SliceStarted { return new(ebsv1.SliceStarted) })
	var order []string
	for _, s := range started {
		order = append(order, fmt.Sprintf("%d:%v", s.GetOrdering(), s.GetComponents()))
	}
	if fmt.Sprint(order) != "[0:[llvm] 1:[clang] 1000:[bash]]" {
		t.Fatalf("slices %v", order)
	}
	var pkgs []string
	for _, b := range e.BuildCalls() {
		pkgs = append(pkgs, b.Pkg)
	}
	if fmt.Sprint(pkgs) != "[llvm clang bash]" {
		t.Fatalf("builds submitted in order %v", pkgs)
	}
	et.WantState(t, c, "clang", ebsv1.PackageState_PACKAGE_STATE_BUILT)
}

var _ = kojiworker.Name

// Scenario K: Bodhi chunks of batch_size, split only above
// max_single_batch_size: one update side tag and one update per chunk.
func TestBodhiChunks(t *testing.T) {
	t.Parallel()
	e := et.New(t, et.Options{Settings: func(c *config.Config) { c.Bodhi.BatchSize, c.Bodhi.MaxSingleBatchSize = 2, 2 }})
	e.Requests("k1", "k2", "k3", "k4", "k5")
	c := e.WaitCompleted(1, et.BatchWait)[0]
	if len(c.GetUpdates()) != 3 || len(c.GetUpdateSideTags()) != 3 || c.GetSideTagsCreated() != 4 {
		t.Fatalf("updates %v, update side tags %v, side tags %d: want 3 chunks", c.GetUpdates(), c.GetUpdateSideTags(), c.GetSideTagsCreated())
	}
	var sizes []int
	for _, u := range c.GetUpdates() {
		sizes = append(sizes, len(u.GetNvrs()))
	}
	if fmt.Sprint(sizes) != "[2 2 1]" {
		t.Fatalf("chunk sizes %v", sizes)
	}
	for _, o := range c.GetOutcomes() {
		if !o.GetReachedStable() || o.GetBodhiUpdateAlias() == "" {
			t.Errorf("%s: %v", o.GetComponent(), o)
		}
	}
	e.WaitNoSideTags()
}

// bodhi-publisher in dry-run mode files nothing and says so: the batcher
// does not wait for the stable tag (nothing would bring the builds there),
// each package's outcome says it was a dry run, and the update side tags,
// which no Bodhi update took, are removed by the batcher.
func TestBodhiDryRun(t *testing.T) {
	t.Parallel()
	e := et.New(t, et.Options{BodhiDryRun: true, Settings: func(c *config.Config) { c.Bodhi.BatchSize, c.Bodhi.MaxSingleBatchSize = 2, 2 }})
	comps := []string{"dry1", "dry2", "dry3"}
	e.Requests(comps...)
	c := e.WaitCompleted(1, et.BatchWait)[0]
	if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED {
		t.Fatalf("result %s (%s)", c.GetResult(), c.GetError())
	}
	for _, comp := range comps {
		o := et.WantState(t, c, comp, ebsv1.PackageState_PACKAGE_STATE_BUILT)
		if o.GetReason() != "dry run: no Bodhi update filed" || o.GetBodhiUpdateAlias() != "" || o.GetReachedStable() {
			t.Errorf("%s: reason %q, update %q, reached stable %v: want a dry-run outcome", comp, o.GetReason(), o.GetBodhiUpdateAlias(), o.GetReachedStable())
		}
	}
	if n := e.Bodhi.Created(); n != 0 {
		t.Fatalf("%d Bodhi updates created in dry-run mode", n)
	}
	if len(c.GetUpdates()) != 0 || len(c.GetUpdateSideTags()) != 2 {
		t.Fatalf("updates %v, update side tags %v: want 2 chunks and no update", c.GetUpdates(), c.GetUpdateSideTags())
	}
	// Both chunks went to bodhi-publisher, which answered dry_run.
	for i := range 2 {
		res, ok, err := e.Results.Get(context.Background(), fmt.Sprintf("%s.bodhi.%d", c.GetBatchId(), i))
		if err != nil || !ok || !res.GetBodhi().GetUpdateCreated().GetDryRun() {
			t.Fatalf("Bodhi command %d result %v (%v): want a dry-run UpdateCreated", i, res, err)
		}
	}
	if _, ok, err := e.Results.Get(context.Background(), c.GetBatchId()+".stable"); err != nil || ok {
		t.Fatalf("the stable tag was waited for after a dry run (%v)", err)
	}
	removed := map[string]bool{}
	for _, r := range e.Hub.CallsTo("removeSideTag") {
		if len(r.Params) > 0 {
			removed[fmt.Sprint(r.Params[0])] = true
		}
	}
	for _, tag := range c.GetUpdateSideTags() {
		if !removed[tag] {
			t.Errorf("update side tag %s not removed by the batcher (removed: %v)", tag, removed)
		}
	}
	e.WaitNoSideTags()
	et.WantClosed(t, e, c, comps...)
}

// Draft builds are promoted (through koji-worker) before Bodhi; the
// promoted NVRs are what Bodhi gets and what reaches the stable tag.
func TestDraftsPromoted(t *testing.T) {
	t.Parallel()
	e := et.New(t, et.Options{Batcher: func(c *batcher.Config) { c.Draft = true }})
	e.Requests("python3", "perl")
	c := e.WaitCompleted(1, et.BatchWait)[0]
	if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED {
		t.Fatalf("result %s (%s)", c.GetResult(), c.GetError())
	}
	for _, b := range e.BuildCalls() {
		if b.Opts["draft"] != true {
			t.Errorf("build call without draft: %+v", b)
		}
	}
	if n := len(e.Hub.CallsTo("promoteBuild")); n != 2 {
		t.Fatalf("%d promoteBuild calls", n)
	}
	for _, comp := range []string{"python3", "perl"} {
		o := et.WantState(t, c, comp, ebsv1.PackageState_PACKAGE_STATE_BUILT)
		if strings.Contains(o.GetNvr(), "draft") || !o.GetReachedStable() {
			t.Errorf("%s: %v", comp, o)
		}
	}
}

// A batch larger than one multicall: members pages, tagging and submission
// commands are split in chunks of 500, and the checkpoint header stays small.
func TestLargeBatchIsChunked(t *testing.T) {
	t.Parallel()
	// Messages off (polling only) to keep the test light.
	e := et.New(t, et.Options{Lossy: 1})
	const n = 620
	var comps []string
	for i := range n {
		comps = append(comps, fmt.Sprintf("pkg%03d", i))
	}
	e.Requests(comps...)
	var maxHeader int
	kv, err := e.Conn.JS.KeyValue(context.Background(), natsx.BucketBatches)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * et.BatchWait)
	for et.CountOnStream(e, natsx.SubjectBatchCompleted) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("large batch did not complete")
		}
		if h := e.CurrentHeader(kv); h != nil {
			maxHeader = max(maxHeader, proto.Size(h))
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := e.WaitCompleted(1, et.BatchWait)[0]
	if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED || len(c.GetOutcomes()) != n {
		t.Fatalf("result %s with %d outcomes", c.GetResult(), len(c.GetOutcomes()))
	}
	ctx := context.Background()
	for _, id := range []string{".seed.1.tag.1", ".build.0.1.1"} {
		if _, ok, err := e.Results.Get(ctx, c.GetBatchId()+id); err != nil || !ok {
			t.Errorf("no second chunk command %s%s", c.GetBatchId(), id)
		}
	}
	if maxHeader > 4096 {
		t.Errorf("checkpoint header grew to %d bytes", maxHeader)
	}
	if got := e.Submissions(); len(got) != n {
		t.Fatalf("%d packages submitted", len(got))
	}
}

// A newer build of a component in the running batch waits in the pending
// set and is built by the next batch.
func TestRequestDuringBatchWaitsForNext(t *testing.T) {
	t.Parallel()
	e := et.New(t, et.Options{Scenario: &kojihub.Scenario{Default: kojihub.Outcome{Result: kojihub.ResultSucceed,
		Duration: kojihub.Duration(500 * time.Millisecond)}}})
	e.Request("sed", "4.9")
	e.WaitStep("build", func() { e.Request("sed", "4.10") })
	done := e.WaitCompleted(2, et.BatchWait)
	if o := et.WantState(t, done[0], "sed", ebsv1.PackageState_PACKAGE_STATE_BUILT); o.GetSourceNvr() != "sed-4.9-1.fc45" {
		t.Fatalf("first batch built %s", o.GetSourceNvr())
	}
	if o := et.WantState(t, done[1], "sed", ebsv1.PackageState_PACKAGE_STATE_BUILT); o.GetSourceNvr() != "sed-4.10-1.fc45" {
		t.Fatalf("second batch built %s", o.GetSourceNvr())
	}
	if done[1].GetStartedAt().AsTime().Before(done[0].GetCompletedAt().AsTime()) {
		t.Fatal("batches overlapped")
	}
}
