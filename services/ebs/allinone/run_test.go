package allinone_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	"github.com/fedora-eln/ebs/services/ebs/allinone"
)

func TestRunServicesProvisionsAndStopsCleanly(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- allinone.RunServices(ctx, []string{"all"}, lifecycle.Common{NATSURL: srv.URL(), Replicas: 1}, lifecycle.Discard())
	}()
	c := srv.Connect(t)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.JS.Consumer(ctx, natsx.StreamEBS, natsx.ConsumerStatus)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("services did not provision: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("RunServices: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("services did not stop after cancel")
	}
}

func TestRunServicesRejectsUnknown(t *testing.T) {
	t.Parallel()
	err := allinone.RunServices(context.Background(), []string{"nope"}, lifecycle.Common{}, lifecycle.Discard())
	if err == nil || !strings.Contains(err.Error(), "unknown service") {
		t.Fatalf("got %v", err)
	}
}

// Each service binary exits 0 on SIGTERM.
func TestServiceBinariesExitCleanlyOnSIGTERM(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	bin := t.TempDir()
	services := []string{"bridge", "filter", "batcher", "koji-worker", "repo-watcher", "bodhi-publisher", "status"}
	args := []string{"build", "-o", bin + "/"}
	for _, s := range services {
		args = append(args, "github.com/fedora-eln/ebs/services/"+s)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, s := range services {
		t.Run(s, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(bin, s), "-admin-addr", "127.0.0.1:0")
			cmd.Env = append(os.Environ(), "EBS_NATS_URL="+srv.URL())
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for !strings.Contains(out.String(), "connected") && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			_ = cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s exited with %v after SIGTERM:\n%s", s, err, out.String())
				}
			case <-time.After(30 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("%s did not exit after SIGTERM:\n%s", s, out.String())
			}
		})
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
