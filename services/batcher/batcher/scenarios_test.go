package batcher_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/batcher/batcher"
	"github.com/fedora-eln/ebs/services/koji-worker/kojiworker"
)

const batchWait = 60 * time.Second

func mustPattern(t *testing.T, src string) config.Pattern {
	t.Helper()
	p, err := config.CompilePattern(src)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func wantState(t *testing.T, c *ebsv1.BatchCompleted, comp string, st ebsv1.PackageState) *ebsv1.PackageOutcome {
	t.Helper()
	o := outcomes(c)[comp]
	if o == nil {
		t.Fatalf("batch %s has no outcome for %s", c.GetBatchId(), comp)
	}
	if o.GetState() != st {
		t.Fatalf("%s: state %s (reason %q), want %s", comp, o.GetState(), o.GetReason(), st)
	}
	return o
}

func wantSubmissions(t *testing.T, e *engine, want map[string]int) {
	t.Helper()
	got := e.submissions()
	for p, n := range want {
		if got[p] != n {
			t.Errorf("%s submitted %d times, want %d (all: %v)", p, got[p], n, got)
		}
	}
}

// every batch closes every request: no pending key left, one outcome each.
func wantClosed(t *testing.T, e *engine, c *ebsv1.BatchCompleted, comps ...string) {
	t.Helper()
	for _, comp := range comps {
		if outcomes(c)[comp] == nil {
			t.Errorf("request for %s not closed by batch %s", comp, c.GetBatchId())
		}
	}
	if left := e.pendingLeft(); len(left) > 0 {
		t.Errorf("pending set not empty after the batch: %v", left)
	}
}

// Scenarios A and C: seeds tagged into the build side tag and awaited;
// first-try success reaches the stable tag through Bodhi.
func TestFirstTrySuccessReachesStable(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineOpts{})
	e.requests("bash", "zsh")
	c := e.waitCompleted(1, batchWait)[0]
	if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED {
		t.Fatalf("result %s (%s)", c.GetResult(), c.GetError())
	}
	for _, comp := range []string{"bash", "zsh"} {
		o := wantState(t, c, comp, ebsv1.PackageState_PACKAGE_STATE_BUILT)
		if !strings.HasSuffix(o.GetNvr(), ".eln150") || o.GetAttempts() != 1 || o.GetTaskId() == 0 {
			t.Errorf("%s outcome %v", comp, o)
		}
		if !o.GetReachedStable() || o.GetBodhiUpdateAlias() == "" {
			t.Errorf("%s did not reach stable through an update: %v", comp, o)
		}
	}
	wantSubmissions(t, e, map[string]int{"bash": 1, "zsh": 1})
	// The Rawhide builds were tagged into the build side tag.
	seeded := map[string]bool{}
	for _, r := range e.hub.CallsTo("tagBuild") {
		if len(r.Params) >= 2 && r.Params[0] == c.GetBuildSideTag() {
			seeded[fmt.Sprint(r.Params[1])] = true
		}
	}
	if !seeded["bash-1.0-1.fc45"] || !seeded["zsh-1.0-1.fc45"] {
		t.Errorf("seeds tagged into %s: %v", c.GetBuildSideTag(), seeded)
	}
	for _, b := range e.buildCalls() {
		if b.target != c.GetBuildSideTag() || b.opts["fail_fast"] != true || b.opts["wait_repo"] != true {
			t.Errorf("build call %+v: want target %s with fail_fast and wait_repo", b, c.GetBuildSideTag())
		}
	}
	if c.GetSideTagsCreated() != 2 || len(c.GetUpdates()) != 1 || len(c.GetUpdateSideTags()) != 1 {
		t.Errorf("side tags created %d, updates %v: want one build and one update side tag", c.GetSideTagsCreated(), c.GetUpdates())
	}
	tagged := map[string]bool{}
	for _, n := range e.hub.Tagged("eln") {
		tagged[n] = true
	}
	if !tagged["bash-1.0-1.eln150"] || !tagged["zsh-1.0-1.eln150"] {
		t.Errorf("stable tag eln lacks the builds: %v", e.hub.Tagged("eln"))
	}
	e.waitNoSideTags()
	wantClosed(t, e, c, "bash", "zsh")
	e.waitCheckpointDone(c)
	if n := len(events(e, natsx.SubjectBatchStarted, func() *ebsv1.BatchStarted { return new(ebsv1.BatchStarted) })); n != 1 {
		t.Errorf("%d batch.started events", n)
	}
	fin := events(e, natsx.SubjectSliceFinished, func() *ebsv1.SliceFinished { return new(ebsv1.SliceFinished) })
	if len(fin) != 1 || len(fin[0].GetSucceeded()) != 2 {
		t.Errorf("slice.finished events %v", fin)
	}
}

// Scenario B: a component matching skip_tag is built but not seeded.
func TestSkipTagNotSeeded(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineOpts{settings: func(c *config.Config) {
		c.Control.SkipTag = []config.Pattern{mustPattern(t, "^gcc$")}
	}})
	e.requests("gcc", "bash")
	c := e.waitCompleted(1, batchWait)[0]
	wantState(t, c, "gcc", ebsv1.PackageState_PACKAGE_STATE_BUILT)
	wantState(t, c, "bash", ebsv1.PackageState_PACKAGE_STATE_BUILT)
	for _, r := range e.hub.CallsTo("tagBuild") {
		if len(r.Params) >= 2 && r.Params[0] == c.GetBuildSideTag() && strings.HasPrefix(fmt.Sprint(r.Params[1]), "gcc-") {
			t.Fatalf("gcc (skip_tag) was tagged into the build side tag: %v", r.Params)
		}
	}
	seeded := false
	for _, r := range e.hub.CallsTo("tagBuild") {
		if len(r.Params) >= 2 && r.Params[0] == c.GetBuildSideTag() && fmt.Sprint(r.Params[1]) == "bash-1.0-1.fc45" {
			seeded = true
		}
	}
	if !seeded {
		t.Fatal("bash was not seeded")
	}
}

// Scenarios E and H: only failures are resubmitted, while the number of
// failures strictly decreases (2, 3 and 4 submissions).
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
			e := newEngine(t, engineOpts{scenario: &kojihub.Scenario{Packages: tc.outcomes}})
			var comps []string
			for c := range tc.states {
				comps = append(comps, c)
			}
			e.requests(comps...)
			c := e.waitCompleted(1, batchWait)[0]
			for comp, st := range tc.states {
				o := wantState(t, c, comp, st)
				if int(o.GetAttempts()) != tc.want[comp] || len(o.GetTaskIds()) != tc.want[comp] {
					t.Errorf("%s: %d attempts, tasks %v; want %d", comp, o.GetAttempts(), o.GetTaskIds(), tc.want[comp])
				}
			}
			wantSubmissions(t, e, tc.want)
			wantClosed(t, e, c, comps...)
			e.waitNoSideTags()
		})
	}
}

// Scenario D: a package failing twice is denylisted, no Bodhi update is
// made, a single side tag is used and removed; the same SCM URL is not
// built by the next batch.
func TestPersistentFailureDenylisted(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineOpts{scenario: &kojihub.Scenario{Packages: map[string]kojihub.Outcome{"broken": {Result: kojihub.ResultFail}}}})
	r := e.request("broken", "2.0")
	c := e.waitCompleted(1, batchWait)[0]
	o := wantState(t, c, "broken", ebsv1.PackageState_PACKAGE_STATE_FAILED)
	if !o.GetDenylisted() || o.GetAttempts() != 2 || o.GetReason() == "" {
		t.Fatalf("outcome %v: want denylisted after 2 attempts with a reason", o)
	}
	if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_PARTIAL || c.GetSideTagsCreated() != 1 || len(c.GetUpdates()) != 0 {
		t.Fatalf("result %s, side tags %d, updates %v", c.GetResult(), c.GetSideTagsCreated(), c.GetUpdates())
	}
	e.waitNoSideTags()
	kv, _ := e.conn.JS.KeyValue(context.Background(), natsx.BucketFailed)
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
	if _, err := natsx.Publish(context.Background(), e.conn.JS, natsx.SubjectRebuildRequested, r2.GetRequestId(), r2); err != nil {
		t.Fatal(err)
	}
	c2 := e.waitCompleted(2, batchWait)[1]
	wantState(t, c2, "broken", ebsv1.PackageState_PACKAGE_STATE_SKIPPED_DENYLISTED)
	if c2.GetResult() != ebsv1.BatchResult_BATCH_RESULT_EMPTY || c2.GetSideTagsCreated() != 0 {
		t.Fatalf("second batch %s with %d side tags", c2.GetResult(), c2.GetSideTagsCreated())
	}
	wantSubmissions(t, e, map[string]int{"broken": 2})
}

// Scenario F: fail_fast goes into build()'s opts as configured.
func TestFailFastPassedThrough(t *testing.T) {
	t.Parallel()
	for _, ff := range []bool{true, false} {
		t.Run(fmt.Sprint("fail_fast=", ff), func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineOpts{settings: func(c *config.Config) { c.Koji.FailFast = ff }})
			e.requests("curl")
			c := e.waitCompleted(1, batchWait)[0]
			if !c.GetOptions().GetFailFast() == ff {
				t.Errorf("batch options fail_fast=%v", c.GetOptions().GetFailFast())
			}
			calls := e.buildCalls()
			if len(calls) != 1 || calls[0].opts["fail_fast"] != ff {
				t.Fatalf("build calls %+v: want fail_fast=%v", calls, ff)
			}
		})
	}
}

// Scenario G: scratch builds: no promotion, no Bodhi, no update side tag.
func TestScratchMode(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineOpts{settings: func(c *config.Config) { c.Koji.ScratchBuild = true }})
	e.requests("tar", "gzip")
	c := e.waitCompleted(1, batchWait)[0]
	if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED {
		t.Fatalf("result %s (%s)", c.GetResult(), c.GetError())
	}
	wantState(t, c, "tar", ebsv1.PackageState_PACKAGE_STATE_BUILT)
	for _, b := range e.buildCalls() {
		if b.opts["scratch"] != true {
			t.Errorf("build call without scratch: %+v", b)
		}
	}
	if n := len(e.hub.CallsTo("promoteBuild")); n != 0 {
		t.Errorf("%d promoteBuild calls in scratch mode", n)
	}
	if c.GetSideTagsCreated() != 1 || len(c.GetUpdates()) != 0 || len(c.GetUpdateSideTags()) != 0 {
		t.Errorf("scratch batch made %d side tags, updates %v", c.GetSideTagsCreated(), c.GetUpdates())
	}
	if n := countOnStream(e, natsx.SubjectBodhiCmdPrefix+">"); n != 0 {
		t.Errorf("%d Bodhi commands in scratch mode", n)
	}
	e.waitNoSideTags()
}

func countOnStream(e *engine, filter string) int {
	st, err := e.conn.JS.Stream(context.Background(), natsx.StreamEBS)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(filter))
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n
}

// Scenario M: a task still running at its deadline is cancelled, reported
// TIMED_OUT, not retried, not denylisted, and does not block its sibling.
func TestTaskTimeout(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineOpts{
		scenario: &kojihub.Scenario{Packages: map[string]kojihub.Outcome{"stuck": {Result: kojihub.ResultHang}}},
		batcher:  func(c *batcher.Config) { c.TaskTimeout = 2 * time.Second },
	})
	e.requests("stuck", "quick")
	c := e.waitCompleted(1, batchWait)[0]
	o := wantState(t, c, "stuck", ebsv1.PackageState_PACKAGE_STATE_TIMED_OUT)
	if o.GetDenylisted() || o.GetAttempts() != 1 || o.GetLastTaskOutcome() != ebsv1.TaskOutcome_TASK_OUTCOME_TIMED_OUT {
		t.Fatalf("timed-out outcome %v", o)
	}
	wantState(t, c, "quick", ebsv1.PackageState_PACKAGE_STATE_BUILT)
	wantSubmissions(t, e, map[string]int{"stuck": 1, "quick": 1})
	cancelled := false
	for _, r := range e.hub.CallsTo("cancelTask") {
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
	e := newEngine(t, engineOpts{lossy: 1,
		scenario: &kojihub.Scenario{Packages: map[string]kojihub.Outcome{"flaky": {Result: kojihub.ResultFail, Times: 1}}}})
	e.requests("flaky")
	c := e.waitCompleted(1, batchWait)[0]
	wantState(t, c, "flaky", ebsv1.PackageState_PACKAGE_STATE_BUILT)
	wantSubmissions(t, e, map[string]int{"flaky": 2})
	for _, ev := range events(e, natsx.SubjectKojiEvtPrefix+"task-finished", func() *ebsv1.KojiEvent { return new(ebsv1.KojiEvent) }) {
		if ob := ev.GetTaskFinished().GetObservedBy(); ob != ebsv1.Observation_OBSERVATION_POLL {
			t.Errorf("task %d observed by %s with every message lost", ev.GetTaskFinished().GetTaskId(), ob)
		}
	}
}

// With half the messages dropped, batches still complete.
func TestLossyMessagesBatchesComplete(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineOpts{lossy: 0.5,
		scenario: &kojihub.Scenario{Packages: map[string]kojihub.Outcome{"p2": {Result: kojihub.ResultFail, Times: 1}}}})
	e.requests("p1", "p2", "p3", "p4")
	c := e.waitCompleted(1, batchWait)[0]
	for _, p := range []string{"p1", "p2", "p3", "p4"} {
		wantState(t, c, p, ebsv1.PackageState_PACKAGE_STATE_BUILT)
	}
	e.waitNoSideTags()
	if d := e.hub.Counters().Dropped; d == 0 {
		t.Fatal("the simulator dropped no message")
	}
}

// Scenario O1: HTTP 500 on the build() submission is retried by the client;
// each package is built once. O2: when the retries run out, the batch
// fails, every request is closed and nothing is denylisted.
func TestBuildSubmissionHTTP500(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		count int
	}{{"retried", 2}, {"retries exhausted", 0}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineOpts{retryBudget: 2 * time.Second, scenario: &kojihub.Scenario{TagDelay: kojihub.Duration(500 * time.Millisecond)}})
			e.requests("httpd", "nginx")
			remove := e.faultOnSubmission(kojihub.FaultRule{Method: "multiCall", HTTPStatus: 500, Count: tc.count})
			if tc.count == 0 {
				defer remove()
			}
			c := e.waitCompleted(1, batchWait)[0]
			if hits := e.hub.FaultHits(); len(hits) != 1 || hits[0] == 0 || (tc.count > 0 && hits[0] != tc.count) {
				t.Fatalf("fault hits %v: the build submission was not hit as planned", hits)
			}
			if tc.count > 0 {
				remove()
				wantState(t, c, "httpd", ebsv1.PackageState_PACKAGE_STATE_BUILT)
				wantSubmissions(t, e, map[string]int{"httpd": 1, "nginx": 1})
				return
			}
			if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_FAILED || !strings.Contains(c.GetError(), "submission") {
				t.Fatalf("result %s error %q: want FAILED on submission", c.GetResult(), c.GetError())
			}
			for _, comp := range []string{"httpd", "nginx"} {
				o := wantState(t, c, comp, ebsv1.PackageState_PACKAGE_STATE_ABORTED)
				if o.GetDenylisted() {
					t.Errorf("%s denylisted after a submission failure", comp)
				}
			}
			wantClosed(t, e, c, "httpd", "nginx")
			e.waitNoSideTags()
		})
	}
}

// waitCheckpointDone waits until the batch is no longer current, then checks
// that only its small header is left in KV ebs_batches, marked done.
func (e *engine) waitCheckpointDone(c *ebsv1.BatchCompleted) {
	e.t.Helper()
	ctx := context.Background()
	kv, err := e.conn.JS.KeyValue(ctx, natsx.BucketBatches)
	if err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := kv.Get(ctx, natsx.KeyCurrent); err != nil {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatal("the batch is still current after completing")
		}
		time.Sleep(20 * time.Millisecond)
	}
	keys, err := kv.Keys(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, k := range keys {
		if strings.HasPrefix(k, c.GetBatchId()+".") {
			e.t.Errorf("checkpoint key %s left after the batch", k)
		}
	}
	ent, err := kv.Get(ctx, c.GetBatchId())
	if err != nil {
		e.t.Fatal(err)
	}
	var h ebsv1.BatchCheckpoint
	if err := proto.Unmarshal(ent.Value(), &h); err != nil || h.GetStep() != "done" || h.GetResult() != c.GetResult() {
		e.t.Fatalf("final header %v (%v)", &h, err)
	}
}

// faultOnSubmission makes the fault hit koji-worker's build submission: it
// stops koji-worker while the seeds are awaited (its tagging multicall is
// done), injects the fault, and starts it again once the submission is
// issued.
func (e *engine) faultOnSubmission(r kojihub.FaultRule) (remove func()) {
	e.t.Helper()
	e.waitHeader("seeds awaited", func(h *ebsv1.BatchCheckpoint) bool {
		return h.GetStep() == "seed" && h.GetBuildSideTag().GetStep() == "wait"
	})
	e.stopGracefully("koji-worker")
	remove = e.hub.InjectFault(r)
	e.waitHeader("build", func(h *ebsv1.BatchCheckpoint) bool { return h.GetStep() == "build" })
	e.start("koji-worker")
	return remove
}

// waitStep waits until the running batch's checkpoint reaches step, then
// calls f (from the test goroutine).
func (e *engine) waitStep(step string, f func()) {
	e.t.Helper()
	e.waitHeader(step, func(h *ebsv1.BatchCheckpoint) bool { return h.GetStep() == step })
	f()
}

// waitHeader waits until the running batch's header satisfies ok.
func (e *engine) waitHeader(what string, ok func(*ebsv1.BatchCheckpoint) bool) {
	e.t.Helper()
	deadline := time.Now().Add(batchWait)
	kv, err := e.conn.JS.KeyValue(context.Background(), natsx.BucketBatches)
	if err != nil {
		e.t.Fatal(err)
	}
	for time.Now().Before(deadline) {
		if hdr := e.currentHeader(kv); hdr != nil && ok(hdr) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("no batch reached %s", what)
}

func (e *engine) currentHeader(kv jetstream.KeyValue) *ebsv1.BatchCheckpoint {
	ent, err := kv.Get(context.Background(), natsx.KeyCurrent)
	if err != nil {
		return nil
	}
	var cur ebsv1.CurrentBatch
	if proto.Unmarshal(ent.Value(), &cur) != nil {
		return nil
	}
	h, err := kv.Get(context.Background(), cur.GetBatchId())
	if err != nil {
		return nil
	}
	var hdr ebsv1.BatchCheckpoint
	if proto.Unmarshal(h.Value(), &hdr) != nil {
		return nil
	}
	return &hdr
}

// Scenario J: seeds not tagged in time: the tagging tasks are cancelled,
// the side tag removed and a new one made; after max_side_tag_attempts the
// batch fails clearly and closes its requests.
func TestSeedingTimeout(t *testing.T) {
	t.Parallel()
	t.Run("a new side tag", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t, engineOpts{
			scenario: &kojihub.Scenario{TagDelay: kojihub.Duration(time.Hour)},
			batcher:  func(c *batcher.Config) { c.TagTimeout = 700 * time.Millisecond },
		})
		e.requests("vim", "emacs")
		// Tagging works again once the first side tag is being waited for.
		e.waitHeader("first side tag awaited", func(h *ebsv1.BatchCheckpoint) bool {
			return h.GetBuildSideTag().GetAttempt() == 1 && h.GetBuildSideTag().GetStep() == "wait"
		})
		e.hub.SetScenario(kojihub.Scenario{TagDelay: kojihub.Duration(5 * time.Millisecond)})
		c := e.waitCompleted(1, batchWait)[0]
		if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED {
			t.Fatalf("result %s (%s)", c.GetResult(), c.GetError())
		}
		// 3 created (2 build side tags, 1 update side tag), 2 removed by ebs
		// (the abandoned one and the build side tag); Bodhi removes the
		// update side tag.
		if c.GetSideTagsCreated() != 3 || len(e.hub.CallsTo("createSideTag")) != 3 || len(e.hub.CallsTo("removeSideTag")) != 2 {
			t.Fatalf("side tags created %d (createSideTag %d, removeSideTag %d): want 3 made and 2 removed",
				c.GetSideTagsCreated(), len(e.hub.CallsTo("createSideTag")), len(e.hub.CallsTo("removeSideTag")))
		}
		if len(e.hub.CallsTo("cancelTask")) == 0 {
			t.Fatal("tagging tasks of the abandoned side tag were not cancelled")
		}
		wantState(t, c, "vim", ebsv1.PackageState_PACKAGE_STATE_BUILT)
		wantSubmissions(t, e, map[string]int{"vim": 1, "emacs": 1})
		e.waitNoSideTags()
	})
	t.Run("gives up after max_side_tag_attempts", func(t *testing.T) {
		t.Parallel()
		e := newEngine(t, engineOpts{
			scenario: &kojihub.Scenario{TagDelay: kojihub.Duration(time.Hour)},
			batcher:  func(c *batcher.Config) { c.TagTimeout = 700 * time.Millisecond; c.MaxSideTagAttempts = 3 },
		})
		e.requests("vim", "emacs")
		c := e.waitCompleted(1, batchWait)[0]
		if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_FAILED || !strings.Contains(c.GetError(), "3 times") {
			t.Fatalf("result %s error %q", c.GetResult(), c.GetError())
		}
		if c.GetSideTagsCreated() != 3 || len(e.hub.CallsTo("createSideTag")) != 3 || len(e.hub.CallsTo("removeSideTag")) != 3 {
			t.Fatalf("side tags created %d (createSideTag %d, removeSideTag %d): want 3 made and 3 removed",
				c.GetSideTagsCreated(), len(e.hub.CallsTo("createSideTag")), len(e.hub.CallsTo("removeSideTag")))
		}
		wantState(t, c, "vim", ebsv1.PackageState_PACKAGE_STATE_ABORTED)
		wantClosed(t, e, c, "vim", "emacs")
		wantSubmissions(t, e, map[string]int{"vim": 0, "emacs": 0})
		e.waitNoSideTags()
	})
}

// Pause (config or runtime) holds batches back while requests keep
// arriving; a pause during a batch does not interrupt it.
func TestPause(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineOpts{settings: func(c *config.Config) { c.Control.Pause = true }})
	e.requests("perl", "rpm")
	time.Sleep(1500 * time.Millisecond)
	if n := countOnStream(e, natsx.SubjectBatchStarted); n != 0 {
		t.Fatal("a batch started while paused")
	}
	if len(e.pendingLeft()) != 2 {
		t.Fatalf("pending while paused: %v", e.pendingLeft())
	}
	s := *e.settings.Load()
	s.Control.Pause = false
	e.settings.Store(&s)
	// Runtime pause set while the batch runs: it completes anyway.
	e.waitStep("build", func() { e.setRuntimePause(true) })
	c := e.waitCompleted(1, batchWait)[0]
	wantState(t, c, "perl", ebsv1.PackageState_PACKAGE_STATE_BUILT)
	e.requests("dnf")
	time.Sleep(1500 * time.Millisecond)
	if n := countOnStream(e, natsx.SubjectBatchStarted); n != 1 {
		t.Fatalf("%d batches started under the runtime pause", n)
	}
	e.setRuntimePause(false)
	c2 := e.waitCompleted(2, batchWait)[1]
	wantState(t, c2, "dnf", ebsv1.PackageState_PACKAGE_STATE_BUILT)
}

func (e *engine) setRuntimePause(p bool) {
	e.t.Helper()
	kv, err := e.conn.JS.KeyValue(context.Background(), natsx.BucketControl)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := proto.Marshal(&ebsv1.ControlState{Paused: p, Reason: "test"})
	if _, err := kv.Put(context.Background(), natsx.KeyPause, b); err != nil {
		e.t.Fatal(err)
	}
}

// Slices run in ascending ordering, each after the previous one.
func TestSlicesInOrdering(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineOpts{settings: func(c *config.Config) {
		c.Control.Ordering = []config.OrderingRule{{Pattern: mustPattern(t, "^llvm$"), Value: 0}, {Pattern: mustPattern(t, "^clang$"), Value: 1}}
	}})
	e.requests("bash", "clang", "llvm")
	c := e.waitCompleted(1, batchWait)[0]
	started := events(e, natsx.SubjectSliceStarted, func() *ebsv1.SliceStarted { return new(ebsv1.SliceStarted) })
	var order []string
	for _, s := range started {
		order = append(order, fmt.Sprintf("%d:%v", s.GetOrdering(), s.GetComponents()))
	}
	if fmt.Sprint(order) != "[0:[llvm] 1:[clang] 1000:[bash]]" {
		t.Fatalf("slices %v", order)
	}
	var pkgs []string
	for _, b := range e.buildCalls() {
		pkgs = append(pkgs, b.pkg)
	}
	if fmt.Sprint(pkgs) != "[llvm clang bash]" {
		t.Fatalf("builds submitted in order %v", pkgs)
	}
	wantState(t, c, "clang", ebsv1.PackageState_PACKAGE_STATE_BUILT)
}

// Two batcher replicas: exactly one runs the batch; killing it lets the
// other take over the same batch.
func TestTwoBatcherReplicas(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineOpts{
		scenario: &kojihub.Scenario{Default: kojihub.Outcome{Result: kojihub.ResultSucceed, Duration: kojihub.Duration(1500 * time.Millisecond)}}})
	e.start("batcher-2")
	e.requests("glibc", "gawk")
	var holder string
	e.waitStep("build", func() {
		kv, _ := e.conn.JS.KeyValue(context.Background(), natsx.BucketLock)
		ent, err := kv.Get(context.Background(), natsx.KeyBatchLock)
		if err != nil {
			t.Fatalf("lock not held during a batch: %v", err)
		}
		var v natsx.LockValue
		_ = json.Unmarshal(ent.Value(), &v)
		holder = v.Holder
		e.stop(holder)
	})
	c := e.waitCompleted(1, batchWait)[0]
	started := events(e, natsx.SubjectBatchStarted, func() *ebsv1.BatchStarted { return new(ebsv1.BatchStarted) })
	if len(started) != 1 || started[0].GetBatchId() != c.GetBatchId() {
		t.Fatalf("started %v, completed %s: want the same single batch", started, c.GetBatchId())
	}
	wantState(t, c, "glibc", ebsv1.PackageState_PACKAGE_STATE_BUILT)
	wantSubmissions(t, e, map[string]int{"glibc": 1, "gawk": 1})
	if holder == "" {
		t.Fatal("no holder seen")
	}
	e.waitNoSideTags()
}

// Requests fed continuously: batches run one after the other and two
// batches' side tags are never alive at once.
func TestContinuousFeedIsSerial(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineOpts{})
	stop := make(chan struct{})
	var snaps [][]string
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if s := e.sideTagsLeft(); len(s) > 0 {
				snaps = append(snaps, s)
			}
		}
	})
	for i := range 6 {
		e.request(fmt.Sprintf("feed%d", i), "1.0")
		e.request(fmt.Sprintf("feed%d", i+10), "1.0")
		time.Sleep(700 * time.Millisecond)
	}
	// Wait until every request was closed by some batch.
	var done []*ebsv1.BatchCompleted
	for deadline := time.Now().Add(2 * batchWait); ; time.Sleep(100 * time.Millisecond) {
		done = e.completedEvents()
		closed := 0
		for _, c := range done {
			closed += len(c.GetOutcomes())
		}
		if closed >= 12 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 12 requests closed", closed)
		}
	}
	close(stop)
	wg.Wait()
	if len(done) < 2 {
		t.Fatalf("only %d batches ran", len(done))
	}
	// Which batch made each side tag (from the recorded command results).
	owner := map[string]string{}
	kv, _ := e.conn.JS.KeyValue(context.Background(), natsx.BucketResults)
	keys, _ := kv.Keys(context.Background())
	for _, k := range keys {
		if !strings.HasSuffix(k, ".create") {
			continue
		}
		res, ok, _ := e.results.Get(context.Background(), k)
		if ok && res.GetKoji().GetSideTagCreated() != nil {
			owner[res.GetKoji().GetSideTagCreated().GetTag()] = k[:strings.Index(k, ".")]
		}
	}
	for _, s := range snaps {
		batches := map[string]bool{}
		for _, tag := range s {
			batches[owner[tag]] = true
		}
		if len(batches) > 1 {
			t.Fatalf("side tags of two batches alive at once: %v (%v)", s, batches)
		}
	}
	for i := 1; i < len(done); i++ {
		if done[i].GetStartedAt().AsTime().Before(done[i-1].GetCompletedAt().AsTime()) {
			t.Fatalf("batch %s started before %s completed", done[i].GetBatchId(), done[i-1].GetBatchId())
		}
	}
	seen := map[string]bool{}
	for _, c := range done {
		for comp := range outcomes(c) {
			seen[comp] = true
		}
	}
	if len(seen) != 12 {
		t.Fatalf("%d of 12 requests closed", len(seen))
	}
}

// A redelivered command never makes a second side tag or a second build:
// the hub runs createSideTag and the build multicall but the answers are
// lost; koji-worker finds what was made through its intent records.
func TestLostAnswersNoDuplicates(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineOpts{retryBudget: -1, scenario: &kojihub.Scenario{TagDelay: kojihub.Duration(500 * time.Millisecond)}})
	e.hub.InjectFault(kojihub.FaultRule{Method: "createSideTag", HTTPStatus: 502, AfterCall: true, Count: 1})
	e.requests("openssl", "expat")
	e.faultOnSubmission(kojihub.FaultRule{Method: "multiCall", HTTPStatus: 502, AfterCall: true, Count: 1})
	c := e.waitCompleted(1, batchWait)[0]
	wantState(t, c, "openssl", ebsv1.PackageState_PACKAGE_STATE_BUILT)
	wantSubmissions(t, e, map[string]int{"openssl": 1, "expat": 1})
	if hits := e.hub.FaultHits(); len(hits) != 2 || hits[0] != 1 || hits[1] != 1 {
		t.Fatalf("fault hits %v: want each lost answer once", hits)
	}
	ctx := context.Background()
	created, ok, err := e.results.Get(ctx, c.GetBatchId()+".seed.1.create")
	if err != nil || !ok || !created.GetKoji().GetSideTagCreated().GetRecovered() {
		t.Fatalf("build side tag result %v (%v): want it recovered from the intent", created, err)
	}
	submitted, ok, err := e.results.Get(ctx, c.GetBatchId()+".build.0.1.0")
	if err != nil || !ok || !submitted.GetKoji().GetBuildsSubmitted().GetRecovered() || len(submitted.GetKoji().GetBuildsSubmitted().GetTasks()) != 2 {
		t.Fatalf("submission result %v (%v): want both tasks recovered", submitted, err)
	}
	if n := len(e.hub.CallsTo("createSideTag")); n != 2 {
		t.Fatalf("createSideTag called %d times: want one build and one update side tag", n)
	}
	e.waitNoSideTags()
}

var _ = kojiworker.Name

// Scenario K: Bodhi chunks of batch_size, split only above
// max_single_batch_size: one update side tag and one update per chunk.
func TestBodhiChunks(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineOpts{settings: func(c *config.Config) { c.Bodhi.BatchSize, c.Bodhi.MaxSingleBatchSize = 2, 2 }})
	e.requests("k1", "k2", "k3", "k4", "k5")
	c := e.waitCompleted(1, batchWait)[0]
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
	e.waitNoSideTags()
}

// Draft builds are promoted (through koji-worker) before Bodhi; the
// promoted NVRs are what Bodhi gets and what reaches the stable tag.
func TestDraftsPromoted(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineOpts{batcher: func(c *batcher.Config) { c.Draft = true }})
	e.requests("python3", "perl")
	c := e.waitCompleted(1, batchWait)[0]
	if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED {
		t.Fatalf("result %s (%s)", c.GetResult(), c.GetError())
	}
	for _, b := range e.buildCalls() {
		if b.opts["draft"] != true {
			t.Errorf("build call without draft: %+v", b)
		}
	}
	if n := len(e.hub.CallsTo("promoteBuild")); n != 2 {
		t.Fatalf("%d promoteBuild calls", n)
	}
	for _, comp := range []string{"python3", "perl"} {
		o := wantState(t, c, comp, ebsv1.PackageState_PACKAGE_STATE_BUILT)
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
	e := newEngine(t, engineOpts{lossy: 1})
	const n = 620
	var comps []string
	for i := range n {
		comps = append(comps, fmt.Sprintf("pkg%03d", i))
	}
	e.requests(comps...)
	var maxHeader int
	kv, err := e.conn.JS.KeyValue(context.Background(), natsx.BucketBatches)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * batchWait)
	for countOnStream(e, natsx.SubjectBatchCompleted) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("large batch did not complete")
		}
		if h := e.currentHeader(kv); h != nil {
			maxHeader = max(maxHeader, proto.Size(h))
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := e.waitCompleted(1, batchWait)[0]
	if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED || len(c.GetOutcomes()) != n {
		t.Fatalf("result %s with %d outcomes", c.GetResult(), len(c.GetOutcomes()))
	}
	ctx := context.Background()
	for _, id := range []string{".seed.1.tag.1", ".build.0.1.1"} {
		if _, ok, err := e.results.Get(ctx, c.GetBatchId()+id); err != nil || !ok {
			t.Errorf("no second chunk command %s%s", c.GetBatchId(), id)
		}
	}
	if maxHeader > 4096 {
		t.Errorf("checkpoint header grew to %d bytes", maxHeader)
	}
	if got := e.submissions(); len(got) != n {
		t.Fatalf("%d packages submitted", len(got))
	}
}

// A newer build of a component in the running batch waits in the pending
// set and is built by the next batch.
func TestRequestDuringBatchWaitsForNext(t *testing.T) {
	t.Parallel()
	e := newEngine(t, engineOpts{scenario: &kojihub.Scenario{Default: kojihub.Outcome{Result: kojihub.ResultSucceed,
		Duration: kojihub.Duration(500 * time.Millisecond)}}})
	e.request("sed", "4.9")
	e.waitStep("build", func() { e.request("sed", "4.10") })
	done := e.waitCompleted(2, batchWait)
	if o := wantState(t, done[0], "sed", ebsv1.PackageState_PACKAGE_STATE_BUILT); o.GetSourceNvr() != "sed-4.9-1.fc45" {
		t.Fatalf("first batch built %s", o.GetSourceNvr())
	}
	if o := wantState(t, done[1], "sed", ebsv1.PackageState_PACKAGE_STATE_BUILT); o.GetSourceNvr() != "sed-4.10-1.fc45" {
		t.Fatalf("second batch built %s", o.GetSourceNvr())
	}
	if done[1].GetStartedAt().AsTime().Before(done[0].GetCompletedAt().AsTime()) {
		t.Fatal("batches overlapped")
	}
}
