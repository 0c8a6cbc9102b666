package status_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/fedora-eln/ebs/libs/store/storetest"
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
	if err := chromedp.Do(ctx, chromedp.Navigate(env.HTTPURL()+"/status.html")); err != nil {
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

	do("wait for the running batch", chromedp.WaitVisible(chromedp.ID("running-batch-id")))
	batchID, phase := text("#running-batch-id"), text("#running-phase")
	packages, pending, warning := text("#running-body table.packages"), text("#pending-body"), text("#auth-warning")
	href, err := chromedp.Run(tctx, chromedp.AttributeValue(chromedp.CSS(`#running-body a[href*="taskID=7003"]`), "href"))
	if err != nil {
		t.Fatalf("task link: %v", err)
	}
	shot("status-page-batch-in-progress.png")
	if batchID != storetest.RunningBatch || phase != "building" {
		t.Errorf("running batch %q phase %q", batchID, phase)
	}
	for _, want := range []string{"llvm", "clang", "gcc", "python3.14", "rust-serde", "ipa", "in-progress", "failed", "built", "mock exited with status 1"} {
		if !strings.Contains(packages, want) {
			t.Errorf("package table lacks %q:\n%s", want, packages)
		}
	}
	if !strings.Contains(pending, "kernel") || !strings.Contains(pending, "bash") {
		t.Errorf("pending queue = %q", pending)
	}
	if !strings.Contains(warning, "Authentication is disabled") {
		t.Errorf("auth warning = %q", warning)
	}
	if !strings.HasSuffix(href.Value, "/taskinfo?taskID=7003") {
		t.Errorf("task link %q", href.Value)
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
}
