package lifecycle_test

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/lifecycle"
)

func TestRunMainExitCodes(t *testing.T) {
	t.Parallel()
	log := lifecycle.Discard()
	tests := []struct {
		name string
		run  func(ctx context.Context) error
		want int
	}{
		{"clean", func(context.Context) error { return nil }, 0},
		{"canceled", func(context.Context) error { return context.Canceled }, 0},
		{"error", func(context.Context) error { return errors.New("boom") }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := lifecycle.RunMain(context.Background(), log, func(ctx context.Context, _ *slog.Logger) error { return tt.run(ctx) })
			if got != tt.want {
				t.Fatalf("exit code %d, want %d", got, tt.want)
			}
		})
	}
}

func TestRunMainStopsOnParentCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	go func() { <-started; cancel() }()
	code := lifecycle.RunMain(ctx, lifecycle.Discard(), func(ctx context.Context, _ *slog.Logger) error {
		close(started)
		<-ctx.Done()
		return ctx.Err()
	})
	if code != 0 {
		t.Fatalf("graceful stop exit code %d", code)
	}
}

func TestFlagsFallBackToEnv(t *testing.T) {
	t.Setenv("EBS_TEST_STR", "from-env")
	t.Setenv("EBS_TEST_DUR", "90s")
	t.Setenv("EBS_TEST_INT", "7")
	t.Setenv("EBS_TEST_BOOL", "true")
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	var s string
	var d time.Duration
	var n int
	var b bool
	lifecycle.StringVar(fs, &s, "s", "EBS_TEST_STR", "def", "")
	lifecycle.DurationVar(fs, &d, "d", "EBS_TEST_DUR", time.Second, "")
	lifecycle.IntVar(fs, &n, "n", "EBS_TEST_INT", 1, "")
	lifecycle.BoolVar(fs, &b, "b", "EBS_TEST_BOOL", false, "")
	if err := fs.Parse([]string{"-n", "9"}); err != nil {
		t.Fatal(err)
	}
	if s != "from-env" || d != 90*time.Second || n != 9 || !b {
		t.Fatalf("got s=%q d=%v n=%d b=%v", s, d, n, b)
	}
	if !strings.Contains(fs.Lookup("s").Usage, "EBS_TEST_STR") {
		t.Fatal("usage does not name the env variable")
	}
}

func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	a := lifecycle.NewAdmin()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bound := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- a.Serve(ctx, "127.0.0.1:0", lifecycle.Discard(), bound) }()
	addr := <-bound
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/alive"); code != 200 || body != "alive" {
		t.Fatalf("/alive = %d %q", code, body)
	}
	if code, _ := get("/startup"); code != http.StatusServiceUnavailable {
		t.Fatalf("/startup before Ready = %d", code)
	}
	a.Ready()
	if code, body := get("/startup"); code != 200 || body != "started" {
		t.Fatalf("/startup = %d %q", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("/metrics = %d", code)
	}
	a.SetAlive(false)
	if code, _ := get("/alive"); code != 500 {
		t.Fatalf("/alive after SetAlive(false) = %d", code)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestHealthcheck(t *testing.T) {
	t.Parallel()
	a := lifecycle.NewAdmin()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	bound := make(chan string, 1)
	go func() { _ = a.Serve(ctx, "127.0.0.1:0", lifecycle.Discard(), bound) }()
	addr := <-bound
	if code := lifecycle.Healthcheck(addr); code != 1 {
		t.Fatalf("healthcheck before Ready = %d, want 1", code)
	}
	a.Ready()
	if code := lifecycle.Healthcheck(addr); code != 0 {
		t.Fatalf("healthcheck after Ready = %d, want 0", code)
	}
	if code := lifecycle.Healthcheck("127.0.0.1:1"); code != 1 {
		t.Fatalf("healthcheck of a closed port = %d, want 1", code)
	}
}

// Services get the default soft memory limit unless GOMEMLIMIT is set.
func TestApplyMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	if limit, set := lifecycle.ApplyMemoryLimit(getenv); !set || limit != lifecycle.DefaultMemoryLimit || debug.SetMemoryLimit(-1) != lifecycle.DefaultMemoryLimit {
		t.Fatalf("without GOMEMLIMIT: limit %d, set %v, in force %d", limit, set, debug.SetMemoryLimit(-1))
	}
	lifecycle.MemoryLimit = 0 // several services in one process
	if _, set := lifecycle.ApplyMemoryLimit(getenv); set {
		t.Fatal("a limit was set with MemoryLimit 0")
	}
	lifecycle.MemoryLimit = lifecycle.DefaultMemoryLimit
	debug.SetMemoryLimit(1 << 30) // what the runtime read from GOMEMLIMIT=1GiB
	env["GOMEMLIMIT"] = "1GiB"
	if limit, set := lifecycle.ApplyMemoryLimit(getenv); set || limit != 1<<30 || debug.SetMemoryLimit(-1) != 1<<30 {
		t.Fatalf("with GOMEMLIMIT: limit %d, set %v, in force %d", limit, set, debug.SetMemoryLimit(-1))
	}
}

// A service's start-up configuration check: nothing without --config, the
// configuration when it is valid, and an error naming the file, line and key
// when it is not.
func TestCheckConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	valid, err := os.ReadFile("../config/testdata/distrobaker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	good := write("good.yaml", string(valid))
	broken := write("broken.yaml", strings.Replace(string(valid), "batch_size: 750", "batch_size: lots", 1))
	if string(valid) == strings.Replace(string(valid), "batch_size: 750", "batch_size: lots", 1) {
		t.Fatal("the production configuration has no batch_size: 750 to break")
	}
	tests := []struct {
		name   string
		source string
		want   bool     // a configuration is returned
		errHas []string // substrings of the error; nil: no error
	}{
		{"none", "", false, nil},
		{"valid", good, true, nil},
		{"broken", broken, false, []string{"koji-worker: start-up configuration check", broken + ":", "configuration.bodhi.batch_size", "want an integer"}},
		{"missing file", filepath.Join(dir, "absent.yaml"), false, []string{"absent.yaml"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := lifecycle.Common{Config: tt.source}
			got, err := c.CheckConfig(context.Background(), "koji-worker", lifecycle.Discard())
			if (got != nil) != tt.want {
				t.Fatalf("configuration returned: %v, want %v", got != nil, tt.want)
			}
			if tt.errHas == nil {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, s := range tt.errHas {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not contain %q", err, s)
				}
			}
		})
	}
}
