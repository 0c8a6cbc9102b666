package config_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/config"
)

func TestParseSource(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		err      string
	}{
		{"/etc/ebs/distrobaker.yaml", "/etc/ebs/distrobaker.yaml", ""},
		{"file:///etc/ebs/x.yaml", "/etc/ebs/x.yaml", ""},
		{"https://example.org/cfg.yaml", "https://example.org/cfg.yaml", ""},
		{"http://127.0.0.1:8080/cfg.yaml", "http://127.0.0.1:8080/cfg.yaml", ""},
		{"http://example.org/cfg.yaml", "", "only allowed to a loopback"},
		{"ftp://example.org/cfg.yaml", "", "want a file path"},
		{"git+https://pagure.io/eln/elnbuildsync-config.git", "git+https://pagure.io/eln/elnbuildsync-config.git#main:distrobaker.yaml", ""},
		{"git+https://host/cfg.git#prod:conf/dyn.yaml", "git+https://host/cfg.git#prod:conf/dyn.yaml", ""},
		{"git+/srv/cfg#v2", "git+/srv/cfg#v2:distrobaker.yaml", ""},
		{"git+#main:x", "", "no repository"},
		{"git+https://host/cfg.git#main:../etc/passwd", "", "inside the repository"},
		{"git+https://host/cfg.git#--upload-pack=x:y", "", "must not start with '-'"},
		{"/etc/static.yaml,git+https://host/cfg.git#main:dyn.yaml", "/etc/static.yaml,git+https://host/cfg.git#main:dyn.yaml", ""},
		{"", "", "set --config or EBS_CONFIG"},
	}
	for _, tt := range tests {
		src, err := config.ParseSource(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: got %v, want error %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.in, err)
			continue
		}
		if src.String() != tt.want {
			t.Errorf("%q: String() = %q, want %q", tt.in, src, tt.want)
		}
	}
}

func TestLoadFromFileAndLayers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c, err := config.Load(ctx, "testdata/distrobaker.yaml")
	if err != nil || c.Control.TriggerTag != "f45" {
		t.Fatalf("%v %v", c, err)
	}
	c, err = config.Load(ctx, "testdata/split/static.yaml,testdata/split/dynamic.yaml")
	if err != nil || c.Control.TriggerTag != "rawhide" || c.OIDC == nil {
		t.Fatalf("layers: %v", err)
	}
	if _, err := config.Load(ctx, "testdata/nope.yaml"); err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestHTTPSource(t *testing.T) {
	t.Parallel()
	prod, err := os.ReadFile("testdata/distrobaker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch r.URL.Path {
		case "/flaky.yaml":
			if n == 1 {
				http.Error(w, "try later", http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write(prod)
		case "/gone.yaml":
			http.NotFound(w, r)
		default:
			_, _ = w.Write(prod)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	src := &config.HTTPSource{URL: srv.URL + "/flaky.yaml", Client: srv.Client(), Backoff: time.Millisecond}
	c, err := config.LoadSource(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if c.Control.TriggerTag != "f45" || c.Source != srv.URL+"/flaky.yaml" || calls.Load() != 2 {
		t.Fatalf("trigger %s source %s calls %d", c.Control.TriggerTag, c.Source, calls.Load())
	}
	calls.Store(0)
	_, err = config.LoadSource(ctx, &config.HTTPSource{URL: srv.URL + "/gone.yaml", Client: srv.Client(), Backoff: time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "404") || calls.Load() != 1 {
		t.Fatalf("404 must fail at once: %v (calls %d)", err, calls.Load())
	}
}

// gitRepo makes a repository with the production file on branch main and a
// broken one on branch broken.
func gitRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatalf("git is needed for git sources (apt-get install git): %v", err)
	}
	dir := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=ebs", "-c", "user.email=ebs@example", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q", "-b", "main")
	prod, err := os.ReadFile("testdata/distrobaker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "distrobaker.yaml"), prod, 0o644); err != nil {
		t.Fatal(err)
	}
	git("add", "distrobaker.yaml")
	git("commit", "-q", "-m", "production config")
	git("checkout", "-q", "-b", "broken")
	if err := os.WriteFile(filepath.Join(dir, "distrobaker.yaml"), []byte("configuration: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("commit", "-q", "-am", "break it")
	git("checkout", "-q", "main")
	return dir
}

func TestGitSource(t *testing.T) {
	t.Parallel()
	repo := gitRepo(t)
	ctx := context.Background()
	for _, s := range []string{"git+" + repo, "git+file://" + repo + "#main:distrobaker.yaml"} {
		c, err := config.Load(ctx, s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if c.Control.TriggerTag != "f45" || len(c.Revision) != 40 || !strings.Contains(c.Source, repo) {
			t.Fatalf("%s: trigger %s revision %q source %s", s, c.Control.TriggerTag, c.Revision, c.Source)
		}
	}
	// The broken branch fetches fine and fails validation, naming the commit.
	_, err := config.Load(ctx, "git+"+repo+"#broken:distrobaker.yaml")
	if err == nil || !strings.Contains(err.Error(), "not valid YAML") || !strings.Contains(err.Error(), "distrobaker.yaml") {
		t.Fatalf("broken branch: %v", err)
	}
	// A missing path and an unknown ref fail after the retries.
	src, _ := config.ParseGitSource("git+" + repo + "#main:nope.yaml")
	src.Backoff = time.Millisecond
	if _, err := src.Fetch(ctx); err == nil || !strings.Contains(err.Error(), "nope.yaml not found") || !strings.Contains(err.Error(), "3 attempts") {
		t.Fatalf("missing path: %v", err)
	}
	src, _ = config.ParseGitSource("git+" + repo + "#no-such-branch")
	src.Backoff, src.Attempts = time.Millisecond, 2
	if _, err := src.Fetch(ctx); err == nil || !strings.Contains(err.Error(), "2 attempts") {
		t.Fatalf("unknown ref: %v", err)
	}
	// Each fetch is a fresh clone, removed afterwards.
	tmp := t.TempDir()
	src, _ = config.ParseGitSource("git+" + repo)
	src.TempDir = tmp
	for range 2 {
		if _, err := src.Fetch(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Fatalf("clones left behind: %v", left)
	}
}
