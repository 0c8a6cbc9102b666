package repowatcher_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/services/repo-watcher/repowatcher"
)

// A broken --config stops the service at start-up: exit status 1 and the
// configuration error, naming the file, line and key, in the log. NATS is
// unreachable on purpose: the check comes before connecting.
func TestStartupFailsOnBrokenConfig(t *testing.T) {
	t.Parallel()
	prod, err := os.ReadFile("../../../libs/config/testdata/distrobaker.yaml")
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
	var cfg repowatcher.Config
	cfg.Config = path
	cfg.NATSURL = "nats://127.0.0.1:1"
	cfg.AdminAddr = "off"
	// Only a guard against a hang: a start-up that got past the check would
	// wait for NATS until then and fail the assertions below.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var logs lockedBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	code := lifecycle.RunMain(ctx, log, func(ctx context.Context, log *slog.Logger) error {
		return repowatcher.Run(ctx, cfg, log)
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

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
