package kojihub_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/koji/wire"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

func waitFinished(t *testing.T, h *kojihub.Hub, id int64) koji.Task {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ti, ok := h.TaskInfo(id)
		if ok && ti.State.Finished() {
			return ti
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %d not finished: %+v", id, ti)
		}
		time.Sleep(3 * time.Millisecond)
	}
}

func scmOf(t *testing.T, h *kojihub.Hub, pkg string) string {
	t.Helper()
	bs := h.BuildsOfPackage(pkg)
	if len(bs) == 0 {
		t.Fatalf("no builds of %s", pkg)
	}
	return bs[0].Source
}

func TestScenarioFileOutcomes(t *testing.T) {
	t.Parallel()
	f, err := kojihub.LoadScenarioFile("testdata/scenario.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if f.Seed != 7 || f.World.Packages != 300 || f.Scenario.Packages["gcc"].Times != 2 || len(f.Faults) != 3 || f.Lossy != 0.1 {
		t.Fatalf("parsed %+v", f)
	}
	for _, bad := range []string{"scenario: {defualt: {}}", "scenario: {packages: {x: {outcome: explode}}}", "scenario: {fail_rate: 2}"} {
		if _, err := kojihub.ParseScenarioFile([]byte(bad)); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	opts := f.Options()
	opts.Lossy = 0 // faults and loss are exercised elsewhere
	h := kojihub.Start(t, opts)
	if n := len(h.Packages()); n != 300 {
		t.Fatalf("%d packages", n)
	}
	c := h.NewClient(t, "eln-buildsync")
	ctx := ctxT(t)
	st, err := c.CreateSideTag(ctx, "eln-build")
	if err != nil {
		t.Fatal(err)
	}
	submit := func(pkg string) int64 {
		id, err := c.Build(ctx, koji.BuildRequest{Source: scmOf(t, h, pkg), Target: st.Name, Opts: koji.BuildOpts{FailFast: true}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	// gcc: fails twice, then succeeds.
	for i, want := range []koji.TaskState{koji.TaskFailed, koji.TaskFailed, koji.TaskClosed} {
		if got := waitFinished(t, h, submit("gcc")).State; got != want {
			t.Fatalf("gcc attempt %d: %v, want %v", i+1, got, want)
		}
	}
	if h.Attempts("gcc") != 3 {
		t.Fatalf("attempts %d", h.Attempts("gcc"))
	}
	// rust: the SRPM task fails and no build entry exists.
	rust := submit("rust")
	if waitFinished(t, h, rust).State != koji.TaskFailed {
		t.Fatal("rust did not fail")
	}
	kids := h.TaskChildren(rust)
	if len(kids) != 1 {
		t.Fatalf("rust children %v", kids)
	}
	if srpm, _ := h.TaskInfo(kids[0]); srpm.Method != "buildSRPMFromSCM" || srpm.State != koji.TaskFailed {
		t.Fatalf("srpm %+v", srpm)
	}
	if bs, _ := c.ListBuilds(ctx, koji.ListBuildsOpts{TaskID: rust}); len(bs) != 0 {
		t.Fatalf("rust builds %+v", bs)
	}
	// bash: "Build already exists".
	bash := submit("bash")
	waitFinished(t, h, bash)
	if _, err := c.GetTaskResult(ctx, bash); !errors.Is(err, koji.ErrGenericError) || !strings.Contains(err.Error(), "Build already exists") {
		t.Fatalf("bash result: %v", err)
	}
	// glibc hangs until canceled; its build is then CANCELED.
	glibc := submit("glibc")
	deadline := time.Now().Add(10 * time.Second)
	var bs []koji.Build
	for len(bs) == 0 && time.Now().Before(deadline) {
		bs, _ = c.ListBuilds(ctx, koji.ListBuildsOpts{TaskID: glibc})
		time.Sleep(5 * time.Millisecond)
	}
	if len(bs) != 1 || bs[0].State != koji.BuildBuilding {
		t.Fatalf("glibc builds %+v", bs)
	}
	time.Sleep(50 * time.Millisecond)
	if ti, _ := h.TaskInfo(glibc); ti.State != koji.TaskOpen {
		t.Fatalf("glibc %v", ti.State)
	}
	if err := c.CancelTask(ctx, glibc); err != nil {
		t.Fatal(err)
	}
	if b, _ := h.Build(bs[0].NVR); b.State != koji.BuildCanceled {
		t.Fatalf("glibc build %v", b.State)
	}
}

func TestLossyDropsAFraction(t *testing.T) {
	t.Parallel()
	sink := kojihub.NewChanSink(10000)
	h := kojihub.Start(t, kojihub.Options{Seed: 3, Sink: sink, Lossy: 0.5})
	for i := 0; i < 200; i++ {
		if _, err := h.NewRawhideBuild(fmt.Sprintf("pkg%d-1.0-1.fc45", i), "releng"); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.Flush(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	c := h.Counters()
	if c.Dropped < 50 || c.Messages < 50 || int(c.Messages) != len(sink.C) {
		t.Fatalf("sent %d dropped %d, sink has %d", c.Messages, c.Dropped, len(sink.C))
	}
	h.SetLossy(0)
	before := c.Messages
	if _, err := h.NewRawhideBuild("last-1.0-1.fc45", "releng"); err != nil {
		t.Fatal(err)
	}
	_ = h.Flush(ctxT(t))
	if got := h.Counters(); got.Dropped != c.Dropped || got.Messages <= before {
		t.Fatalf("lossy off: %+v", got)
	}
}

func TestFaultRateAndCallLog(t *testing.T) {
	t.Parallel()
	h := kojihub.Start(t, kojihub.Options{Seed: 9})
	remove := h.InjectFault(kojihub.FaultRule{Method: "getAPIVersion", Rate: 0.5, HTTPStatus: 503})
	c, err := h.Client("", koji.Options{RetryBudget: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	failed := 0
	for i := 0; i < 200; i++ {
		if _, err := c.GetAPIVersion(ctx); err != nil {
			var he *koji.HTTPError
			if !errors.As(err, &he) || he.StatusCode != 503 {
				t.Fatalf("unexpected %v", err)
			}
			failed++
		}
	}
	if failed < 60 || failed > 140 {
		t.Fatalf("%d of 200 failed at rate 0.5", failed)
	}
	if hits := h.FaultHits(); len(hits) != 1 || hits[0] != failed {
		t.Fatalf("hits %v, failed %d", hits, failed)
	}
	remove()
	if _, err := c.GetAPIVersion(ctx); err != nil {
		t.Fatal(err)
	}
	log := h.CallsTo("getAPIVersion")
	injected := 0
	for _, r := range log {
		if r.Injected {
			injected++
			if r.HTTPStatus != 503 {
				t.Fatalf("record %+v", r)
			}
		}
	}
	if len(log) != 201 || injected != failed || h.Counters().Calls["getAPIVersion"] != 201 {
		t.Fatalf("log %d injected %d counters %v", len(log), injected, h.Counters().Calls)
	}
	// Multicall elements are logged after their multiCall.
	h.ResetCounters()
	if _, err := c.GetBuilds(ctx, []any{"a-1-1", "b-1-1"}, false); err != nil {
		t.Fatal(err)
	}
	all := h.CallLog()
	if len(all) != 3 || all[0].Method != "multiCall" || !all[1].InMulticall || all[2].Params[0] != "b-1-1" {
		t.Fatalf("log %+v", all)
	}
}

func TestRepoRegeneration(t *testing.T) {
	t.Parallel()
	sink := kojihub.NewChanSink(1000)
	h := kojihub.Start(t, kojihub.Options{Sink: sink, Scenario: &kojihub.Scenario{RepoDelay: kojihub.Duration(100 * time.Millisecond)}})
	c := h.NewClient(t, "eln-buildsync")
	ctx := ctxT(t)
	st, err := c.CreateSideTag(ctx, "eln-build")
	if err != nil {
		t.Fatal(err)
	}
	// The new side tag gets a repo: INIT first, READY after the delay.
	if s, ok := h.RepoState(st.Name); !ok || s != koji.RepoInit {
		t.Fatalf("side tag repo %v %v", s, ok)
	}
	if r, err := c.GetRepo(ctx, st.Name); err != nil || r != nil {
		t.Fatalf("READY repo before regeneration finished: %+v %v", r, err)
	}
	if r, err := c.GetRepoState(ctx, st.Name, koji.RepoInit); err != nil || r == nil || r.State != koji.RepoInit {
		t.Fatalf("INIT repo %+v %v", r, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s, _ := h.RepoState(st.Name); s != koji.RepoReady; s, _ = h.RepoState(st.Name) {
		if time.Now().After(deadline) {
			t.Fatal("repo never READY")
		}
		time.Sleep(5 * time.Millisecond)
	}
	first, _ := c.GetRepo(ctx, st.Name)
	// Tagging into eln regenerates eln-build and the side tag below it.
	if _, err := h.NewRawhideBuild("bash-5.3-1.fc45", "kdudka"); err != nil {
		t.Fatal(err)
	}
	if err := h.Tag("eln", "bash-5.3-1.fc45", "bodhi"); err != nil {
		t.Fatal(err)
	}
	// A wait_repo build waits for the new repo before it starts.
	id, err := c.Build(ctx, koji.BuildRequest{Source: scmOf(t, h, "bash"), Target: st.Name, Opts: koji.BuildOpts{WaitRepo: true}})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(30 * time.Millisecond)
	if kids := h.TaskChildren(id); len(kids) != 0 {
		t.Fatalf("build started before the repo was regenerated: %v", kids)
	}
	if waitFinished(t, h, id).State != koji.TaskClosed {
		t.Fatal("build failed")
	}
	second, _ := c.GetRepo(ctx, st.Name)
	if second.ID == first.ID || second.CreateEvent <= first.CreateEvent {
		t.Fatalf("repo not regenerated: %+v -> %+v", first, second)
	}
	if old, _ := c.RepoInfo(ctx, first.ID); old.State != koji.RepoExpired {
		t.Fatalf("old repo %v", old.State)
	}
	_ = h.Flush(ctx)
	inits, dones := map[string]int{}, map[string]int{}
	for _, m := range h.Messages() {
		var body struct{ Tag string }
		_ = jsonUnmarshal(m.Body, &body)
		switch {
		case strings.HasSuffix(m.Topic, "repo.init"):
			inits[body.Tag]++
		case strings.HasSuffix(m.Topic, "repo.done"):
			dones[body.Tag]++
		}
	}
	if inits[st.Name] < 2 || dones[st.Name] < 2 || dones["eln-build"] < 1 || inits["f45-build"] < 1 {
		t.Fatalf("repo messages init %v done %v", inits, dones)
	}
}

func TestSideTagPolicyAndBodhi(t *testing.T) {
	t.Parallel()
	h := kojihub.Start(t, kojihub.Options{SideTagLimit: 2})
	if _, err := h.NewRawhideBuild("bash-5.3-1.fc45", "kdudka"); err != nil {
		t.Fatal(err)
	}
	bot := h.NewClient(t, "eln-buildsync")
	other := h.NewClient(t, "packager")
	bodhi := h.NewClient(t, "bodhi")
	ctx := ctxT(t)
	a, err := bot.CreateSideTag(ctx, "eln-build")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bot.CreateSideTag(ctx, "eln-build"); err != nil {
		t.Fatal(err)
	}
	if _, err := bot.CreateSideTag(ctx, "eln-build"); !errors.Is(err, koji.ErrActionNotAllowed) || !strings.Contains(err.Error(), "policy violation (sidetag)") {
		t.Fatalf("quota: %v", err)
	}
	if err := other.RemoveSideTag(ctx, a.Name); !errors.Is(err, koji.ErrActionNotAllowed) || !strings.Contains(err.Error(), "This is not your sidetag") {
		t.Fatalf("stranger remove: %v", err)
	}
	if err := bot.RemoveSideTag(ctx, "eln"); !errors.Is(err, koji.ErrGenericError) || !strings.Contains(err.Error(), "Not a sidetag: eln") {
		t.Fatalf("remove eln: %v", err)
	}
	if _, err := other.TagBuild(ctx, a.Name, "bash-5.3-1.fc45"); !errors.Is(err, koji.ErrActionNotAllowed) {
		t.Fatalf("stranger tags into side tag: %v", err)
	}
	if _, err := bot.TagBuild(ctx, "eln", "bash-5.3-1.fc45"); !errors.Is(err, koji.ErrActionNotAllowed) {
		t.Fatalf("bot tags into eln: %v", err)
	}
	// Bodhi moves a build to the stable tag and deletes an update side tag.
	id, err := bodhi.TagBuild(ctx, "eln", "bash-5.3-1.fc45")
	if err != nil {
		t.Fatal(err)
	}
	waitFinished(t, h, id)
	if tagged := h.Tagged("eln"); len(tagged) != 1 || tagged[0] != "bash-5.3-1.fc45" {
		t.Fatalf("eln %v", tagged)
	}
	if tag, err := bodhi.GetTag(ctx, a.Name, true); err != nil || !tag.IsSideTag() || tag.SideTagUser() != "eln-buildsync" {
		t.Fatalf("bodhi getTag %+v %v", tag, err)
	}
	if err := bodhi.DeleteTag(ctx, a.Name); err != nil {
		t.Fatal(err)
	}
	if err := bot.DeleteTag(ctx, "eln-build"); !errors.Is(err, koji.ErrActionNotAllowed) {
		t.Fatalf("bot deleteTag: %v", err)
	}
	sts, err := bot.ListSideTags(ctx, "", "eln-buildsync")
	if err != nil || len(sts) != 1 || sts[0].UserName != "eln-buildsync" || sts[0].UserID == 0 {
		t.Fatalf("listSideTags %+v %v", sts, err)
	}
	// The quota frees up after the deletion.
	if _, err := bot.CreateSideTag(ctx, "eln-build"); err != nil {
		t.Fatal(err)
	}
	// Admin may remove anybody's side tag.
	if err := bodhi.RemoveSideTag(ctx, sts[0].Name); err != nil {
		t.Fatal(err)
	}
}

// Raw session checks as kojihub.auth does them.
func TestSessionChecks(t *testing.T) {
	t.Parallel()
	h := kojihub.Start(t, kojihub.Options{})
	post := func(path, method string, headers map[string]string, params ...any) (any, error) {
		body, _ := wire.EncodeCall(method, params...)
		r, _ := http.NewRequest("POST", h.URL()+path, strings.NewReader(string(body)))
		for k, v := range headers {
			r.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return wire.DecodeResponse(b)
	}
	v, err := post("/ssllogin", "sslLogin", map[string]string{kojihub.RemoteUserHeader: "eln-buildsync"}, wire.KW("proxyuser", nil))
	if err != nil {
		t.Fatal(err)
	}
	var s koji.Session
	if err := wire.Into(v, &s); err != nil || s.Key == "" || !s.HeaderAuth || !strings.HasPrefix(s.Key, "") {
		t.Fatalf("sinfo %+v %v", s, err)
	}
	hdr := func(n int) map[string]string {
		return map[string]string{"Koji-Session-Id": fmt.Sprint(s.ID), "Koji-Session-Key": s.Key, "Koji-Session-Callnum": fmt.Sprint(n)}
	}
	code := func(err error) int {
		var f *wire.Fault
		if errors.As(err, &f) {
			return f.Code
		}
		return 0
	}
	if _, err := post("", "createSideTag", hdr(0), "eln-build"); err != nil {
		t.Fatal(err)
	}
	// Replaying the committed call: RetryError. Going back: SequenceError.
	if _, err := post("", "createSideTag", hdr(0), "eln-build"); code(err) != koji.CodeRetryError {
		t.Fatalf("replay: %v", err)
	}
	if _, err := post("", "createSideTag", hdr(5), "eln-build"); err != nil {
		t.Fatal(err)
	}
	if _, err := post("", "getLoggedInUser", hdr(3)); code(err) != koji.CodeSequenceError {
		t.Fatalf("backwards: %v", err)
	}
	// Reads do not store the callnum, so a read may be asked again.
	if _, err := post("", "getLoggedInUser", hdr(6)); err != nil {
		t.Fatal(err)
	}
	if _, err := post("", "getLoggedInUser", hdr(6)); err != nil {
		t.Fatalf("replayed read: %v", err)
	}
	bad := hdr(7)
	bad["Koji-Session-Key"] = "nope"
	if _, err := post("", "getLoggedInUser", bad); code(err) != koji.CodeAuthError {
		t.Fatalf("bad key: %v", err)
	}
	h.ExpireSessions("")
	if _, err := post("", "getLoggedInUser", hdr(8)); code(err) != koji.CodeAuthExpired {
		t.Fatalf("expired: %v", err)
	}
	// Renewal keeps the id.
	ren := hdr(9)
	ren[kojihub.RemoteUserHeader] = "eln-buildsync"
	v, err = post("/ssllogin", "sslLogin", ren, wire.KW("proxyuser", nil, "renew", true, "exclusive", nil))
	var s2 koji.Session
	if err != nil || wire.Into(v, &s2) != nil || s2.ID != s.ID || s2.Key == s.Key {
		t.Fatalf("renew %+v %v", s2, err)
	}
	// sslLogin on the plain endpoint cannot see a client identity.
	if _, err := post("", "sslLogin", nil); code(err) != koji.CodeAuthError {
		t.Fatalf("sslLogin on /kojihub: %v", err)
	}
}

// A SequenceError makes the client open a fresh session and retry once.
func TestClientRecoversFromSequenceError(t *testing.T) {
	t.Parallel()
	h := kojihub.Start(t, kojihub.Options{})
	c := h.NewClient(t, "eln-buildsync")
	ctx := ctxT(t)
	if err := c.Login(ctx); err != nil {
		t.Fatal(err)
	}
	first := c.Session().ID
	h.InjectFault(kojihub.FaultRule{Method: "getLoggedInUser", Fault: koji.CodeSequenceError, Count: 1})
	u, err := c.GetLoggedInUser(ctx)
	if err != nil || u.Name != "eln-buildsync" {
		t.Fatalf("%+v %v", u, err)
	}
	if c.Session().ID == first || c.Stats().Relogins != 1 {
		t.Fatalf("no fresh session: %d -> %d, %+v", first, c.Session().ID, c.Stats())
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
