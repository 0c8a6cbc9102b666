package koji_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

const (
	scmRequests = "git+https://src.fedoraproject.org/rpms/python-requests.git#5f1b0c3d2e4a6b8c9d0e1f2a3b4c5d6e7f8a9b0c"
	nvrRequests = "python-requests-2.32.4-2.fc45"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startHub starts a hub with python-requests and grep in Rawhide.
func startHub(t *testing.T, opts kojihub.Options) *kojihub.Hub {
	t.Helper()
	h := kojihub.Start(t, opts)
	for _, s := range []kojihub.BuildSpec{
		{NVR: nvrRequests, Owner: "churchyard", Source: scmRequests, State: koji.BuildComplete, Tags: []string{"f45"}, WithTask: true},
		{NVR: "grep-3.11-10.fc45", Owner: "jridky", State: koji.BuildComplete, Tags: []string{"f45"}, WithTask: true},
		{NVR: "grep-3.11-9.fc45", Owner: "jridky", State: koji.BuildFailed},
	} {
		if _, err := h.AddBuild(s); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// waitTask polls getTaskInfo until the task is finished.
func waitTask(t *testing.T, c *koji.Client, id int64) *koji.Task {
	t.Helper()
	ctx := ctxT(t)
	for {
		ti, err := c.GetTaskInfo(ctx, id, true)
		if err != nil {
			t.Fatalf("getTaskInfo %d: %v", id, err)
		}
		if ti != nil && ti.State.Finished() {
			return ti
		}
		select {
		case <-ctx.Done():
			t.Fatalf("task %d did not finish (state %v)", id, ti.State)
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func TestReadMethodsAnonymous(t *testing.T) {
	t.Parallel()
	h := startHub(t, kojihub.Options{})
	c := h.NewClient(t, "")
	ctx := ctxT(t)

	if v, err := c.GetAPIVersion(ctx); err != nil || v != 1 {
		t.Fatalf("getAPIVersion = %d, %v", v, err)
	}
	if u, err := c.GetLoggedInUser(ctx); err != nil || u != nil {
		t.Fatalf("anonymous getLoggedInUser = %+v, %v", u, err)
	}
	ev, err := c.GetLastEvent(ctx)
	if err != nil || ev.ID < 140000000 || ev.Time().IsZero() {
		t.Fatalf("getLastEvent = %+v, %v", ev, err)
	}
	tg, err := c.GetBuildTarget(ctx, "eln")
	if err != nil || tg.BuildTagName != "eln-build" || tg.DestTagName != "eln" {
		t.Fatalf("getBuildTarget(eln) = %+v, %v", tg, err)
	}
	if tg, err := c.GetBuildTarget(ctx, "nope"); err != nil || tg != nil {
		t.Fatalf("missing target = %+v, %v", tg, err)
	}
	tag, err := c.GetTag(ctx, "eln-build", true)
	if err != nil || tag.Name != "eln-build" || tag.Arches == "" || tag.IsSideTag() {
		t.Fatalf("getTag = %+v, %v", tag, err)
	}
	_, err = c.GetTag(ctx, "nope", true)
	if !errors.Is(err, koji.ErrGenericError) || koji.FaultCode(err) != koji.CodeGenericError {
		t.Fatalf("strict getTag of a missing tag: %v", err)
	}
	b, err := c.GetBuild(ctx, nvrRequests, true)
	if err != nil || b.SCMURL() != scmRequests || b.State != koji.BuildComplete || b.OwnerName != "churchyard" || b.TaskID == nil {
		t.Fatalf("getBuild = %+v, %v", b, err)
	}
	if b2, err := c.GetBuild(ctx, b.ID, false); err != nil || b2.NVR != nvrRequests {
		t.Fatalf("getBuild by id = %+v, %v", b2, err)
	}
	_, err = c.GetBuild(ctx, "nope-1-1", true)
	var f *koji.Fault
	if !errors.As(err, &f) || f.Code != koji.CodeGenericError || f.Message != "No such build: nope-1-1" {
		t.Fatalf("strict getBuild of a missing build: %v", err)
	}
	tagged, err := c.ListTagged(ctx, "f45", koji.ListTaggedOpts{Latest: true, Inherit: true, Package: "python-requests"})
	if err != nil || len(tagged) != 1 || tagged[0].NVR != nvrRequests || tagged[0].TagName != "f45" {
		t.Fatalf("listTagged = %+v, %v", tagged, err)
	}
	// The failed grep build is never listed.
	tagged, err = c.ListTagged(ctx, "f45-build", koji.ListTaggedOpts{Inherit: true})
	if err != nil || len(tagged) != 2 {
		t.Fatalf("listTagged inherit = %d builds, %v", len(tagged), err)
	}
	tags, err := c.ListTags(ctx, nvrRequests)
	if err != nil || len(tags) != 1 || tags[0].Name != "f45" {
		t.Fatalf("listTags = %+v, %v", tags, err)
	}
	repo, err := c.GetRepo(ctx, "eln-build")
	if err != nil || repo == nil || repo.State != koji.RepoReady {
		t.Fatalf("getRepo = %+v, %v", repo, err)
	}
	if r2, err := c.RepoInfo(ctx, repo.ID); err != nil || r2.TagName != "eln-build" {
		t.Fatalf("repoInfo = %+v, %v", r2, err)
	}
	// Writes need a login.
	_, err = c.CreateSideTag(ctx, "eln-build")
	if !errors.Is(err, koji.ErrActionNotAllowed) {
		t.Fatalf("anonymous createSideTag: %v", err)
	}
	// Unknown methods and bad arguments fault like the hub.
	if err := c.Call(ctx, nil, "noSuchMethod"); koji.FaultCode(err) != koji.CodeGenericError {
		t.Fatalf("unknown method: %v", err)
	}
	if err := c.Call(ctx, nil, "getBuild", 1, 2, 3); !errors.Is(err, koji.ErrParameterError) {
		t.Fatalf("too many args: %v", err)
	}
	if err := c.Call(ctx, nil, "getBuild", 1, koji.KW("bogus", true)); !errors.Is(err, koji.ErrParameterError) {
		t.Fatalf("unknown kwarg: %v", err)
	}
	st := c.Stats()
	if st.Calls["getBuild"] < 3 || st.HTTPRequests < 10 || st.Faults[koji.CodeGenericError] < 2 {
		t.Fatalf("stats: %+v", st)
	}
}

// The whole ELN rebuild flow through the client: side tag, tagging,
// builds (scratch, draft), tracking, promotion, cleanup.
func TestBuildFlow(t *testing.T) {
	t.Parallel()
	sink := kojihub.NewChanSink(1000)
	h := startHub(t, kojihub.Options{Sink: sink, Scenario: &kojihub.Scenario{
		Packages: map[string]kojihub.Outcome{"grep": {Result: kojihub.ResultFail, Times: 1}},
	}})
	c := h.NewClient(t, "eln-buildsync")
	ctx := ctxT(t)

	u, err := c.GetLoggedInUser(ctx)
	if err != nil || u == nil || u.Name != "eln-buildsync" {
		t.Fatalf("getLoggedInUser = %+v, %v", u, err)
	}
	st, err := c.CreateSideTag(ctx, "eln-build")
	if err != nil || st.Name != fmt.Sprintf("eln-build-side-%d", st.ID) {
		t.Fatalf("createSideTag = %+v, %v", st, err)
	}
	tag, err := c.GetTag(ctx, st.Name, true)
	if err != nil || !tag.IsSideTag() || tag.SideTagUser() != "eln-buildsync" {
		t.Fatalf("side tag = %+v, %v", tag, err)
	}
	if tg, err := c.GetBuildTarget(ctx, st.Name); err != nil || tg.BuildTagName != st.Name || tg.DestTagName != st.Name {
		t.Fatalf("side tag target = %+v, %v", tg, err)
	}
	sts, err := c.ListSideTags(ctx, "eln-build", "eln-buildsync")
	if err != nil || len(sts) != 1 || sts[0].Name != st.Name || sts[0].UserName != "eln-buildsync" {
		t.Fatalf("listSideTags = %+v, %v", sts, err)
	}

	// Seed the side tag with the Rawhide builds (tagBuild is a task).
	res, err := c.TagBuilds(ctx, st.Name, []string{nvrRequests, "grep-3.11-10.fc45"})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("tagBuild %d: %v", i, r.Err)
		}
		if ti := waitTask(t, c, r.Value); ti.State != koji.TaskClosed || ti.Method != "tagBuild" {
			t.Fatalf("tag task %+v", ti)
		}
	}
	tagged, err := c.ListTagged(ctx, st.Name, koji.ListTaggedOpts{})
	if err != nil || len(tagged) != 2 {
		t.Fatalf("listTagged side tag = %+v, %v", tagged, err)
	}

	// Build both: grep fails once, python-requests succeeds as a draft.
	prio := 5
	opts := koji.BuildOpts{FailFast: true, WaitRepo: true, Draft: true, CustomUserMetadata: map[string]any{"ebs_batch": "b1"}}
	subs, err := c.SubmitBuilds(ctx, []koji.BuildRequest{
		{Source: scmRequests, Target: st.Name, Opts: opts, Priority: &prio},
		{Source: "git+https://src.fedoraproject.org/rpms/grep.git#abc", Target: st.Name, Opts: opts, Priority: &prio},
	})
	if err != nil || subs[0].Err != nil || subs[1].Err != nil {
		t.Fatalf("submit: %v %+v", err, subs)
	}
	okTask, failTask := waitTask(t, c, subs[0].Value), waitTask(t, c, subs[1].Value)
	if okTask.State != koji.TaskClosed || okTask.Priority != 25 || okTask.SCMURL() != scmRequests || okTask.Target() != st.Name ||
		okTask.CustomUserMetadata()["ebs_batch"] != "b1" {
		t.Fatalf("build task %+v", okTask)
	}
	if failTask.State != koji.TaskFailed {
		t.Fatalf("grep task %+v", failTask)
	}
	_, err = c.GetTaskResult(ctx, failTask.ID)
	if !errors.Is(err, koji.ErrBuildError) {
		t.Fatalf("getTaskResult(failed) = %v", err)
	}
	children, err := c.GetTaskChildren(ctx, okTask.ID, false)
	if err != nil || len(children) < 3 || children[0].Method != "buildSRPMFromSCM" || children[0].Label != "srpm" {
		t.Fatalf("children = %+v, %v", children, err)
	}
	// listTasks finds the build by its request (what koji-worker does after a crash).
	top := true
	tasks, err := c.ListTasks(ctx, koji.TaskFilter{Method: "build", TopLevel: top, Owner: u.ID}, nil)
	if err != nil || len(tasks) != 2 || tasks[0].SCMURL() != scmRequests || tasks[0].CustomUserMetadata()["ebs_batch"] != "b1" || tasks[0].OwnerName != "eln-buildsync" {
		t.Fatalf("listTasks = %+v, %v", tasks, err)
	}

	// Retry grep: the scenario makes the second attempt succeed.
	id, err := c.Build(ctx, koji.BuildRequest{Source: "git+https://src.fedoraproject.org/rpms/grep.git#abc", Target: st.Name, Opts: opts})
	if err != nil {
		t.Fatal(err)
	}
	if ti := waitTask(t, c, id); ti.State != koji.TaskClosed {
		t.Fatalf("grep retry %+v", ti)
	}

	// NVRs of the successes, then promote the drafts.
	byTask, err := c.ListBuildsByTask(ctx, []int64{okTask.ID, id})
	if err != nil {
		t.Fatal(err)
	}
	var nvrs []string
	for _, r := range byTask {
		if r.Err != nil || len(r.Value) != 1 || !r.Value[0].Draft || r.Value[0].State != koji.BuildComplete {
			t.Fatalf("listBuilds(taskID) = %+v", r)
		}
		nvrs = append(nvrs, r.Value[0].NVR)
	}
	if nvrs[0] == "python-requests-2.32.4-2.eln150" || nvrs[0][:len("python-requests-2.32.4-2.eln150,draft_")] != "python-requests-2.32.4-2.eln150,draft_" {
		t.Fatalf("draft NVR %q", nvrs[0])
	}
	promoted, err := c.PromoteBuilds(ctx, append(nvrs, nvrRequests))
	if err != nil {
		t.Fatal(err)
	}
	if promoted[0].Err != nil || promoted[0].Value.NVR != "python-requests-2.32.4-2.eln150" || promoted[0].Value.Draft {
		t.Fatalf("promote = %+v", promoted[0])
	}
	if promoted[2].Err == nil || koji.FaultCode(promoted[2].Err) != koji.CodeGenericError {
		t.Fatalf("promoting a non-draft: %+v", promoted[2])
	}
	// The builds landed in the side tag (the target's destination).
	tagged, _ = c.ListTagged(ctx, st.Name, koji.ListTaggedOpts{Latest: true})
	found := map[string]bool{}
	for _, b := range tagged {
		found[b.NVR] = true
	}
	if !found["python-requests-2.32.4-2.eln150"] || !found["grep-3.11-10.eln150"] {
		t.Fatalf("side tag content %v", found)
	}

	// Untag, remove the side tag.
	if err := c.UntagBuild(ctx, st.Name, nvrRequests, true); err != nil {
		t.Fatal(err)
	}
	if err := c.UntagBuild(ctx, st.Name, nvrRequests, true); !errors.Is(err, koji.ErrTagError) {
		t.Fatalf("second untag: %v", err)
	}
	if err := c.RemoveSideTag(ctx, st.Name); err != nil {
		t.Fatal(err)
	}
	if h.TagExists(st.Name) || len(h.SideTags()) != 0 {
		t.Fatal("side tag still there")
	}
	// Messages: tag, build.state.change, repo.init/done; no task.state.change
	// for these non-scratch builds.
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	topics := h.PublishedTopics()
	if topics["buildsys.tag"] < 4 || topics["buildsys.untag"] != 1 || topics["buildsys.build.state.change"] < 5 ||
		topics["buildsys.repo.init"] == 0 || topics["buildsys.repo.done"] == 0 || topics["buildsys.task.state.change"] != 0 {
		t.Fatalf("topics %v", topics)
	}
	if len(sink.C) != len(h.Messages()) {
		t.Fatalf("sink got %d of %d messages", len(sink.C), len(h.Messages()))
	}
}

func TestHangAndCancel(t *testing.T) {
	t.Parallel()
	h := startHub(t, kojihub.Options{Scenario: &kojihub.Scenario{
		Packages: map[string]kojihub.Outcome{"python-requests": {Result: kojihub.ResultHang}},
	}})
	c := h.NewClient(t, "eln-buildsync")
	ctx := ctxT(t)
	id, err := c.Build(ctx, koji.BuildRequest{Source: scmRequests, Target: "eln", Opts: koji.BuildOpts{Scratch: true}})
	if err != nil {
		t.Fatal(err)
	}
	// Wait for the arches to start, then check the task is still open.
	deadline := time.Now().Add(10 * time.Second)
	for len(h.TaskChildren(id)) < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	ti, err := c.GetTaskInfo(ctx, id, false)
	if err != nil || ti.State != koji.TaskOpen {
		t.Fatalf("hung task %+v %v", ti, err)
	}
	if _, err := c.GetTaskResult(ctx, id); err == nil {
		t.Fatal("result of an open task")
	}
	other := h.NewClient(t, "someone")
	if err := other.CancelTask(ctx, id); !errors.Is(err, koji.ErrActionNotAllowed) {
		t.Fatalf("cancel by a stranger: %v", err)
	}
	if err := c.CancelTask(ctx, id); err != nil {
		t.Fatal(err)
	}
	if ti := waitTask(t, c, id); ti.State != koji.TaskCanceled {
		t.Fatalf("after cancel %+v", ti)
	}
	_, err = c.GetTaskResult(ctx, id)
	if f := (*koji.Fault)(nil); !errors.As(err, &f) || f.Message != fmt.Sprintf("Task %d is canceled", id) {
		t.Fatalf("result of canceled task: %v", err)
	}
	kids, _ := c.GetTaskChildren(ctx, id, false)
	for _, k := range kids {
		if k.State != koji.TaskCanceled && k.State != koji.TaskClosed {
			t.Fatalf("child %d %v", k.ID, k.State)
		}
	}
	// A scratch build announces its top-level task state changes.
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if h.PublishedTopics()["buildsys.task.state.change"] < 2 {
		t.Fatalf("topics %v", h.PublishedTopics())
	}
}

// One call's fault inside a multicall does not lose the others.
func TestMulticallMidBatchFault(t *testing.T) {
	t.Parallel()
	h := startHub(t, kojihub.Options{})
	c := h.NewClient(t, "eln-buildsync")
	ctx := ctxT(t)
	st, err := c.CreateSideTag(ctx, "eln-build")
	if err != nil {
		t.Fatal(err)
	}
	builds := []string{nvrRequests, "grep-3.11-9.fc45", "grep-3.11-10.fc45", "missing-1-1.fc45"}
	res, err := c.TagBuilds(ctx, st.Name, builds)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Err != nil || res[2].Err != nil || res[0].Value == 0 || res[2].Value == 0 {
		t.Fatalf("good items: %+v", res)
	}
	var f *koji.Fault
	if !errors.As(res[1].Err, &f) || f.Code != koji.CodeTagError || f.Message != "build grep-3.11-9.fc45 not complete: state FAILED" || f.Method != "tagBuild" {
		t.Fatalf("item 1: %v", res[1].Err)
	}
	if !errors.Is(res[3].Err, koji.ErrGenericError) {
		t.Fatalf("item 3: %v", res[3].Err)
	}
	// Chunking: 4 calls in chunks of 3 are two HTTP requests.
	before := c.Stats().Calls["multiCall"]
	calls := make([]koji.Call, 4)
	for i := range calls {
		calls[i] = koji.NewCall("getBuild", builds[i])
	}
	out, err := c.Multicall(ctx, calls, 3)
	if err != nil || len(out) != 4 || out[3].Value != nil || out[0].Value == nil {
		t.Fatalf("multicall %+v %v", out, err)
	}
	var b koji.Build
	if err := out[0].Decode(&b); err != nil || b.NVR != nvrRequests {
		t.Fatalf("decode %+v %v", b, err)
	}
	if got := c.Stats().Calls["multiCall"] - before; got != 2 {
		t.Fatalf("%d multiCall requests, want 2", got)
	}
}

// Typed batches are sent and converted chunk by chunk: results keep the
// calls' order and each call's own fault across chunk boundaries.
func TestBatchAcrossChunks(t *testing.T) {
	t.Parallel()
	h := startHub(t, kojihub.Options{})
	c, err := h.Client("", koji.Options{ChunkSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	refs := []any{nvrRequests, "missing-1-1.fc45", "grep-3.11-10.fc45", nvrRequests, "missing-2-1.fc45"}
	before := c.Stats().Calls["multiCall"]
	res, err := c.GetBuilds(ctxT(t), refs, true)
	if err != nil || len(res) != len(refs) {
		t.Fatalf("%d results, %v", len(res), err)
	}
	for i, r := range res {
		missing := strings.HasPrefix(refs[i].(string), "missing")
		switch {
		case missing && !errors.Is(r.Err, koji.ErrGenericError):
			t.Fatalf("result %d: %v, want its own fault", i, r.Err)
		case !missing && (r.Err != nil || r.Value == nil || r.Value.NVR != refs[i]):
			t.Fatalf("result %d: %+v %v, want %s", i, r.Value, r.Err, refs[i])
		}
	}
	if got := c.Stats().Calls["multiCall"] - before; got != 3 {
		t.Fatalf("%d multiCall requests, want 3", got)
	}
}

func TestSessionExpiryRelogin(t *testing.T) {
	t.Parallel()
	h := startHub(t, kojihub.Options{})
	c := h.NewClient(t, "eln-buildsync")
	ctx := ctxT(t)
	if err := c.Login(ctx); err != nil {
		t.Fatal(err)
	}
	s1 := c.Session()
	if n := h.ExpireSessions("eln-buildsync"); n != 1 {
		t.Fatalf("expired %d sessions", n)
	}
	u, err := c.GetLoggedInUser(ctx)
	if err != nil || u == nil || u.Name != "eln-buildsync" {
		t.Fatalf("after expiry: %+v %v", u, err)
	}
	s2 := c.Session()
	if s2.ID != s1.ID || s2.Key == s1.Key {
		t.Fatalf("renewal should keep the session id and change the key: %+v -> %+v", s1, s2)
	}
	if c.Stats().Relogins != 1 || c.Stats().Faults[koji.CodeAuthExpired] != 1 {
		t.Fatalf("stats %+v", c.Stats())
	}
	// Injected expiry on a write: transparently renewed too.
	h.InjectFault(kojihub.FaultRule{Method: "createSideTag", ExpireSession: true, Count: 1})
	if _, err := c.CreateSideTag(ctx, "eln-build"); err != nil {
		t.Fatal(err)
	}
	if c.Stats().Relogins != 2 {
		t.Fatalf("stats %+v", c.Stats())
	}
	// The callnum sequence stays valid through all of it.
	if err := c.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if c.LoggedIn() {
		t.Fatal("still logged in")
	}
}

func TestRetries(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rule    kojihub.FaultRule
		budget  time.Duration
		wantErr func(error) bool
		retries int64
	}{
		{"503 then ok", kojihub.FaultRule{Method: "getBuild", HTTPStatus: 503, Count: 3}, 0, nil, 3},
		{"502 then ok", kojihub.FaultRule{Method: "getBuild", HTTPStatus: 502, Count: 1}, 0, nil, 1},
		{"429 then ok", kojihub.FaultRule{Method: "getBuild", HTTPStatus: 429, Count: 2}, 0, nil, 2},
		{"408 then ok", kojihub.FaultRule{Method: "getBuild", HTTPStatus: 408, Count: 2}, 0, nil, 2},
		{"ServerOffline then ok", kojihub.FaultRule{Method: "getBuild", Fault: koji.CodeServerOffline, Count: 2}, 0, nil, 2},
		{"404 is final", kojihub.FaultRule{Method: "getBuild", HTTPStatus: 404, Count: 1}, 0, func(err error) bool {
			var h *koji.HTTPError
			return errors.As(err, &h) && h.StatusCode == 404
		}, 0},
		{"GenericError is final", kojihub.FaultRule{Method: "getBuild", Fault: koji.CodeGenericError, Count: 1}, 0, func(err error) bool {
			return errors.Is(err, koji.ErrGenericError)
		}, 0},
		{"budget exhausted", kojihub.FaultRule{Method: "getBuild", HTTPStatus: 503}, 150 * time.Millisecond, func(err error) bool {
			return errors.Is(err, koji.ErrRetryBudget)
		}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := startHub(t, kojihub.Options{})
			h.InjectFault(tt.rule)
			c, err := h.Client("", koji.Options{RetryBudget: tt.budget})
			if err != nil {
				t.Fatal(err)
			}
			b, err := c.GetBuild(ctxT(t), nvrRequests, true)
			if tt.wantErr == nil {
				if err != nil || b.NVR != nvrRequests {
					t.Fatalf("getBuild = %+v, %v", b, err)
				}
			} else if !tt.wantErr(err) {
				t.Fatalf("unexpected error %v", err)
			}
			if tt.retries >= 0 && c.Stats().Retries != tt.retries {
				t.Fatalf("%d retries, want %d", c.Stats().Retries, tt.retries)
			}
		})
	}
}

// A write whose answer was lost is not repeated behind the caller's back:
// the hub's RetryError comes through; a lost read is simply asked again.
func TestRetryErrorAfterLostAnswer(t *testing.T) {
	t.Parallel()
	h := startHub(t, kojihub.Options{})
	c := h.NewClient(t, "eln-buildsync")
	ctx := ctxT(t)
	if err := c.Login(ctx); err != nil {
		t.Fatal(err)
	}
	h.InjectFault(kojihub.FaultRule{Method: "createSideTag", HTTPStatus: 502, AfterCall: true, Count: 1})
	_, err := c.CreateSideTag(ctx, "eln-build")
	if !errors.Is(err, koji.ErrRetryError) {
		t.Fatalf("lost write answer: %v", err)
	}
	if n := len(h.SideTags()); n != 1 {
		t.Fatalf("%d side tags, want exactly 1 (created once)", n)
	}
	h.InjectFault(kojihub.FaultRule{Method: "getBuild", HTTPStatus: 502, AfterCall: true, Count: 1})
	if b, err := c.GetBuild(ctx, nvrRequests, true); err != nil || b.NVR != nvrRequests {
		t.Fatalf("lost read answer: %+v %v", b, err)
	}
	// The session is still in sequence afterwards.
	if _, err := c.CreateSideTag(ctx, "eln-build"); err != nil {
		t.Fatal(err)
	}
}

func TestContextCancellation(t *testing.T) {
	t.Parallel()
	h := startHub(t, kojihub.Options{})
	c := h.NewClient(t, "")
	h.InjectFault(kojihub.FaultRule{Method: "getBuild", Latency: kojihub.Duration(10 * time.Second)})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.GetBuild(ctx, nvrRequests, true)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	// During backoff too.
	h.ClearFaults()
	h.InjectFault(kojihub.FaultRule{Method: "getBuild", HTTPStatus: 503})
	slow, err := h.Client("", koji.Options{RetryBase: 5 * time.Second, RetryMax: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	if _, err := slow.GetBuild(ctx2, nvrRequests, true); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	// A multicall reports the cancellation on every item.
	ctx3, cancel3 := context.WithCancel(context.Background())
	cancel3()
	res, err := c.GetBuilds(ctx3, []any{nvrRequests, "grep-3.11-10.fc45"}, true)
	if !errors.Is(err, context.Canceled) || len(res) != 2 || !errors.Is(res[1].Err, context.Canceled) {
		t.Fatalf("multicall after cancel: %+v %v", res, err)
	}
}

func TestSSLLoginWithClientCertificate(t *testing.T) {
	t.Parallel()
	h := startHub(t, kojihub.Options{TLS: true})
	ctx := ctxT(t)
	c := h.NewClient(t, "eln-buildsync")
	u, err := c.GetLoggedInUser(ctx)
	if err != nil || u == nil || u.Name != "eln-buildsync" || u.AuthType != koji.AuthTypeSSL {
		t.Fatalf("getLoggedInUser = %+v, %v", u, err)
	}
	// Certificates from files, as production configures them.
	dir := t.TempDir()
	certFile, caFile, err := h.Options().PKI.WriteClientFiles(dir, "bodhi")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := koji.TLSConfig(certFile, "", caFile)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := koji.New(koji.Options{URL: h.URL(), HTTPClient: koji.HTTPClientFor(cfg), Auth: koji.SSLAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := bc.GetLoggedInUser(ctx); err != nil || u.Name != "bodhi" {
		t.Fatalf("bodhi = %+v, %v", u, err)
	}
	// Without a certificate, login fails with AuthError; anonymous reads work.
	caOnly, _ := koji.TLSConfig("", "", caFile)
	anon, _ := koji.New(koji.Options{URL: h.URL(), HTTPClient: koji.HTTPClientFor(caOnly), Auth: koji.SSLAuth{}})
	if err := anon.Login(ctx); !errors.Is(err, koji.ErrAuthError) {
		t.Fatalf("login without certificate: %v", err)
	}
	anon2, _ := koji.New(koji.Options{URL: h.URL(), HTTPClient: koji.HTTPClientFor(caOnly)})
	if v, err := anon2.GetAPIVersion(ctx); err != nil || v != 1 {
		t.Fatalf("anonymous over TLS: %v %v", v, err)
	}
}
