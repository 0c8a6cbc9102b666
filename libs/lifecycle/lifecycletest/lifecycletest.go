// Package lifecycletest holds checks every service's tests share about how
// a service starts, built on libs/lifecycle.
package lifecycletest

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/lifecycle"
)

// ProductionConfig is the path of Fedora's production distrobaker.yaml
// (libs/config's test copy of shared/reference/config).
func ProductionConfig(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("lifecycletest: cannot locate its own source")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "config", "testdata", "distrobaker.yaml")
}

// Run starts a service with the Common settings it is given.
type Run func(ctx context.Context, c lifecycle.Common, log *slog.Logger) error

// BrokenConfigStopsStartup checks that a broken --config stops the service
// run starts: exit status 1 (through lifecycle.RunMain) and the
// configuration error, naming the file, line and key, in the log. NATS is
// unreachable on purpose: the check must come before connecting, or the
// start-up would wait for NATS and fail the checks.
func BrokenConfigStopsStartup(t *testing.T, run Run) {
	t.Helper()
	prod, err := os.ReadFile(ProductionConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(prod), "batch_size: 750", "batch_size: lots", 1)
	if text == string(prod) {
		t.Fatal("the production configuration has no batch_size: 750 to break")
	}
	path := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c := lifecycle.Common{Config: path, NATSURL: "nats://127.0.0.1:1", AdminAddr: "off"}
	// Only a guard against a hang: a start-up that got past the check would
	// wait for NATS until then and fail the checks below.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var logs LockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	code := lifecycle.RunMain(ctx, log, func(ctx context.Context, log *slog.Logger) error {
		return run(ctx, c, log)
	})
	if code != 1 {
		t.Fatalf("exit status %d, want 1; log:\n%s", code, logs.String())
	}
	for _, want := range []string{"start-up configuration check", path + ":", "configuration.bodhi.batch_size", "want an integer"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not contain %q:\n%s", want, logs.String())
		}
	}
}

// LockedBuffer is a bytes.Buffer safe for a logger and a test to share.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
