package status_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/store/storetest"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/status/status/statustest"
)

// chromiumPath finds Debian's chromium (EBS_CHROMIUM overrides). A missing
// browser fails the test: it is part of CI (.ci/run installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("EBS_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run `apt-get install -y chromium` (or set EBS_CHROMIUM to a Chrome binary)")
	return ""
}

// artifactDir is $EBS_ARTIFACTS, else .artifacts/ at the repository root.
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("EBS_ARTIFACTS")
	if dir == "" {
		wd, _ := os.Getwd()
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.work")); err == nil {
				dir = filepath.Join(d, ".artifacts")
				break
			}
			if filepath.Dir(d) == d {
				dir = filepath.Join(wd, ".artifacts")
				break
			}
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestStatusPageInBrowser loads /status.html in headless chromium against a
// database seeded with a batch in progress, checks what a release engineer
// sees, uses the package search, and saves screenshots as artifacts.
func TestStatusPageInBrowser(t *testing.T) {
	env := statustest.Start(t, statustest.Options{Seed: true})
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer acancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	// The first action starts the browser on ctx (no timeout there, or the
	// timeout would end the browser); later steps get their own deadline.
	// ?poll=600000 stretches the fallback poll beyond the test, so the page
	// can only update through the event stream.
	if err := chromedp.Do(ctx, chromedp.Navigate(env.HTTPURL()+"/status.html?poll=600000")); err != nil {
		t.Fatalf("chromium: %v (%s)", err, env)
	}
	tctx, tcancel := context.WithTimeout(ctx, 60*time.Second)
	defer tcancel()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tctx, steps...); err != nil {
			t.Fatalf("%s: %v (%s)", what, err, env)
		}
	}
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(tctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		path := filepath.Join(artifactDir(t), name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}

	do("wait for the running batch and the denylist",
		chromedp.WaitVisible(chromedp.ID("running-batch-id")), chromedp.WaitVisible(chromedp.CSS("#denylist-body table")))
	// One snapshot of the page, read in a single evaluation: the page
	// re-renders (on load, and again when its event stream connects), and
	// separate reads could straddle a render and see a replaced node.
	page, err := chromedp.Run(tctx, chromedp.Evaluate[map[string]string](`(() => {
		const text = s => { const e = document.querySelector(s); return e ? e.innerText : ""; };
		const a = document.querySelector('#running-body a[href*="taskID=7003"]');
		return {
			batchID: text("#running-batch-id"), phase: text("#running-phase"),
			packages: text("#running-body table.packages"), pending: text("#pending-body"), warning: text("#auth-warning"),
			slices: text("#running-body .slices"), currentSlice: text("#running-body .slice.current"),
			failures: text("#failures-body"), denylist: text("#denylist-body"),
			href: a ? a.getAttribute("href") : "",
		};
	})()`))
	if err != nil {
		t.Fatalf("page snapshot: %v", err)
	}
	batchID, phase := page["batchID"], page["phase"]
	packages, pending, warning := page["packages"], page["pending"], page["warning"]
	sliceText, currentSlice := page["slices"], page["currentSlice"]
	failures, denylist := page["failures"], page["denylist"]
	if page["href"] == "" {
		t.Fatal("no link to Koji task 7003 on the running batch")
	}
	// rows returns the first two cells of each body row of a table.
	rows := func(sel string) []string {
		t.Helper()
		v, err := chromedp.Run(tctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll(`+strconv.Quote(sel+" tbody tr")+`)]`+
			`.map(r => r.cells[0].textContent + " " + r.cells[1].textContent)`))
		if err != nil {
			t.Fatalf("rows of %s: %v", sel, err)
		}
		return v
	}
	pendingRows, batchRows := rows("#pending-body"), rows("#batches-body")
	// The screenshot shows the batch in progress (taken before the pause and
	// phase change below).
	shot("status-page-batch-in-progress.png")
	if batchID != storetest.RunningBatch || phase != "building" {
		t.Errorf("running batch %q phase %q", batchID, phase)
	}
	for _, want := range []string{"llvm", "clang", "gcc", "python3.14", "rust-serde", "ipa", "in-progress", "failed", "built", "mock exited with status 1"} {
		if !strings.Contains(packages, want) {
			t.Errorf("package table lacks %q:\n%s", want, packages)
		}
	}
	for _, want := range []string{"slice 0 · ordering 0 finished", "llvm", "slice 1 · ordering 1 finished", "clang", "slice 2 · ordering 1000 running"} {
		if !strings.Contains(sliceText, want) {
			t.Errorf("slices lack %q:\n%s", want, sliceText)
		}
	}
	if !strings.Contains(currentSlice, "slice 2") || !strings.Contains(currentSlice, "gcc, python3.14, rust-serde") {
		t.Errorf("current slice = %q, want slice 2 with gcc, python3.14, rust-serde", currentSlice)
	}
	// Pending requests in queue order, each with its position.
	if want := []string{"1 kernel", "2 bash"}; !slices.Equal(pendingRows, want) {
		t.Errorf("pending rows %q, want %q (whole table %q)", pendingRows, want, pending)
	}
	if want := []string{storetest.RunningBatch + " running", storetest.FinishedBatch + " PARTIAL"}; !slices.Equal(batchRows, want) {
		t.Errorf("recent batches %q, want %q", batchRows, want)
	}
	for _, want := range []string{"python-broken", storetest.FailingSCM, "5002 5003", "BuildError: error building package (arch x86_64)", "denylisted"} {
		if !strings.Contains(failures, want) {
			t.Errorf("failures lack %q:\n%s", want, failures)
		}
	}
	for _, want := range []string{storetest.FailingSCM, "python-broken", storetest.FinishedBatch, "BuildError"} {
		if !strings.Contains(denylist, want) {
			t.Errorf("denylist lacks %q:\n%s", want, denylist)
		}
	}
	if !strings.Contains(warning, "Authentication is disabled") {
		t.Errorf("auth warning = %q", warning)
	}
	if !strings.HasSuffix(page["href"], "/taskinfo?taskID=7003") {
		t.Errorf("task link %q", page["href"])
	}

	// "What happened to python-broken?": the package search.
	do("package search",
		chromedp.SetValue(chromedp.ID("search-input"), "python-broken"),
		chromedp.Click(chromedp.CSS("#search-form button")),
		chromedp.WaitVisible(chromedp.ID("history-title")),
		chromedp.ScrollIntoView(chromedp.ID("search")))
	history := text("#history")
	shot("status-page-package-history.png")
	for _, want := range []string{"History of python-broken", "requested", "task-submitted", "task-finished", "failed", "denylisted", storetest.FinishedBatch} {
		if !strings.Contains(history, want) {
			t.Errorf("history lacks %q:\n%s", want, history)
		}
	}

	// A finished batch opens from the recent list with its Bodhi update.
	const update = "FEDORA-2026-abc123"
	do("open the finished batch",
		chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll("#batches-body .clickable")].find(e => e.textContent === `+
			strconv.Quote(storetest.FinishedBatch)+`).click()`),
		chromedp.WaitVisible(chromedp.CSS(`#batch-detail a[href*="`+update+`"]`)))
	bodhi, err := chromedp.Run(tctx, chromedp.AttributeValue(chromedp.CSS(`#batch-detail a[href*="`+update+`"]`), "href"))
	if err != nil || bodhi.Value != "https://bodhi.fedoraproject.org/updates/"+update {
		t.Errorf("Bodhi update link %q (%v)", bodhi.Value, err)
	}

	// Live update: a pause over gRPC and a phase change reach the open page
	// through the event stream, without a reload (the marker would be lost):
	// the phase event makes the page refresh its status, which shows both.
	// "live" means the server has subscribed the stream, so the event
	// published after it cannot be missed; polling is off (?poll above).
	do("wait for the live indicator and mark the page",
		chromedp.Poll[chromedp.Void](`document.getElementById("live").dataset.state === "live"`, chromedp.WithPollingInterval(50*time.Millisecond)),
		chromedp.Evaluate[chromedp.Void](`window.ebsNoReload = true`))
	if _, err := dial(t, env.Server.GRPCAddr).Pause(tctx, &ebsv1.PauseRequest{Reason: "browser test"}); err != nil {
		t.Fatal(err)
	}
	env.Publish(t, storetest.Msg{Subject: natsx.SubjectBatchPhase, ID: storetest.RunningBatch + "-phase-collecting",
		Msg: &ebsv1.BatchPhaseChanged{BatchId: storetest.RunningBatch, Phase: ebsv1.BatchPhase_BATCH_PHASE_COLLECTING, At: timestamppb.Now()}})
	do("wait for the pause banner and the new phase", chromedp.Poll[chromedp.Void](`!document.getElementById("pause-banner").hidden && `+
		`document.getElementById("running-phase").textContent === "collecting"`, chromedp.WithPollingInterval(100*time.Millisecond)))
	kept, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`window.ebsNoReload === true`))
	if err != nil || !kept {
		t.Errorf("the page was reloaded (marker %v, %v)", kept, err)
	}
	if banner := text("#pause-banner"); !strings.Contains(banner, "PAUSED") || !strings.Contains(banner, "browser test") {
		t.Errorf("pause banner = %q", banner)
	}
	if live := text("#live"); live != "live" {
		t.Errorf("live indicator = %q, want live", live)
	}
	shot("status-page-paused.png")
}
