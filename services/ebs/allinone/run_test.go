package allinone_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/contentresolver/crfixture"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/lifecycle/lifecycletest"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	"github.com/fedora-eln/ebs/libs/store/pgtest"
	"github.com/fedora-eln/ebs/services/ebs/allinone"
	"github.com/fedora-eln/ebs/services/ebs/world"
)

// env is what every service needs to start: NATS, a configuration whose
// Content Resolver lists answer, a Koji hub and a database.
type env struct {
	nats   *natstest.Server
	config string
	koji   string
	db     string
}

func newEnv(t *testing.T) env {
	t.Helper()
	w, err := world.New(world.Options{Packages: 120})
	if err != nil {
		t.Fatal(err)
	}
	cr := crfixture.NewTest(t, w.Lists...)
	cfg := filepath.Join(t.TempDir(), "ebs.yaml")
	if err := os.WriteFile(cfg, []byte(world.ConfigYAML(cr.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	hub := kojihub.Start(t, kojihub.Options{})
	return env{nats: natstest.Start(t), config: cfg, koji: hub.URL(), db: pgtest.NewDatabase(t)}
}

func TestRunServicesProvisionsAndStopsCleanly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := allinone.FromEnv(lifecycle.Common{NATSURL: e.nats.URL(), Replicas: 1, Config: e.config})
	c.Filter.KojiURL = e.koji
	c.Batcher.Koji.URL, c.KojiWorker.Koji.URL, c.RepoWatcher.Koji.URL = e.koji, e.koji, e.koji
	c.Status.DatabaseURL, c.Status.HTTPAddr, c.Status.GRPCAddr = e.db, "127.0.0.1:0", "127.0.0.1:0"
	readyc := make(chan struct{})
	c.Ready = func() { close(readyc) } // a second call would panic
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- allinone.Run(ctx, c, []string{"all"}, lifecycle.Discard()) }()
	select {
	case <-readyc:
	case err := <-errc:
		t.Fatalf("Run ended before every service started: %v", err)
	case <-time.After(60 * time.Second):
		cancel()
		t.Fatal("the services never all reported ready")
	}
	// Ready means connected and provisioned: the streams and consumers are
	// there already, without waiting.
	conn := e.nats.Connect(t)
	if _, err := conn.JS.Consumer(ctx, natsx.StreamEBS, natsx.ConsumerStatus); err != nil {
		t.Errorf("ready, but consumer %s is not provisioned: %v", natsx.ConsumerStatus, err)
	}
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("services did not stop after cancel")
	}
}

func TestRunServicesRejectsUnknown(t *testing.T) {
	t.Parallel()
	for _, names := range [][]string{{"nope"}, {"filter", "nope"}, nil, {"filter", "filter"}} {
		err := allinone.RunServices(context.Background(), names, lifecycle.Common{}, lifecycle.Discard())
		if err == nil || !(strings.Contains(err.Error(), "unknown service") || strings.Contains(err.Error(), "name at least one") ||
			strings.Contains(err.Error(), "named twice")) {
			t.Errorf("%v: got %v", names, err)
		}
	}
}

// The process is ready only once every chosen service has started, not
// before the slowest; services Run did not start do not count. Overrides
// stand in for the services so that each one's start is in the test's hands.
func TestRunReadyWaitsForEveryService(t *testing.T) {
	t.Parallel()
	var c allinone.Configs
	release := map[string]chan struct{}{}
	started := map[string]chan struct{}{}
	c.Override = map[string]allinone.Service{}
	for _, n := range []string{"bridge", "filter", "status"} {
		release[n], started[n] = make(chan struct{}), make(chan struct{})
		c.Override[n] = func(ctx context.Context, _ *slog.Logger) error {
			select {
			case <-release[n]:
			case <-ctx.Done():
				return nil
			}
			allinone.MarkReady(ctx)
			allinone.MarkReady(ctx) // a second report changes nothing
			close(started[n])
			<-ctx.Done()
			return nil
		}
	}
	var readies atomic.Int32
	readyc := make(chan struct{})
	c.Ready = func() {
		if readies.Add(1) == 1 {
			close(readyc)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	// status is overridden but not chosen: Run must not wait for it.
	go func() { errc <- allinone.Run(ctx, c, []string{"bridge", "filter"}, lifecycle.Discard()) }()
	close(release["bridge"])
	<-started["bridge"]
	// MarkReady reports synchronously: had bridge alone made the process
	// ready, Ready would have run by now.
	if n := readies.Load(); n != 0 {
		t.Fatalf("ready with filter still starting (Ready called %d times)", n)
	}
	close(release["filter"])
	<-started["filter"]
	select {
	case <-readyc:
	case <-time.After(30 * time.Second):
		t.Fatal("every chosen service started but Ready was not called")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if n := readies.Load(); n != 1 {
		t.Fatalf("Ready called %d times, want once", n)
	}
}

// FromEnv reads each service's own EBS_* variables, as its binary does.
func TestFromEnvReadsEachServicesVariables(t *testing.T) {
	t.Setenv("EBS_RECONCILE_INTERVAL", "7s")
	t.Setenv("EBS_AMQP_QUEUE", "q-from-env")
	t.Setenv("EBS_HTTP_ADDR", "127.0.0.1:18080")
	c := allinone.FromEnv(lifecycle.Common{NATSURL: "nats://x:4222", AdminAddr: "127.0.0.1:1"})
	if c.Filter.ReconcileInterval != 7*time.Second || c.Bridge.Queue != "q-from-env" || c.Status.HTTPAddr != "127.0.0.1:18080" {
		t.Fatalf("reconcile %v queue %q http %q", c.Filter.ReconcileInterval, c.Bridge.Queue, c.Status.HTTPAddr)
	}
	if c.Filter.NATSURL != "nats://x:4222" || c.Filter.AdminAddr != "off" {
		t.Fatalf("common not applied: %+v", c.Filter.Common)
	}
}

// Each service binary becomes ready and exits 0 on SIGTERM.
func TestServiceBinariesExitCleanlyOnSIGTERM(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
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
			admin := freeAddr(t)
			cmd := exec.Command(filepath.Join(bin, s))
			cmd.Env = append(os.Environ(), "EBS_NATS_URL="+e.nats.URL(), "EBS_CONFIG="+e.config, "EBS_KOJI_URL="+e.koji,
				"EBS_DATABASE_URL="+e.db, "EBS_HTTP_ADDR="+freeAddr(t), "EBS_GRPC_ADDR="+freeAddr(t), "EBS_ADMIN_ADDR="+admin)
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				if ready(admin) {
					break
				}
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("%s never became ready on %s:\n%s", s, admin, out.String())
				}
				time.Sleep(100 * time.Millisecond)
			}
			// The binary's own healthcheck mode agrees.
			hc := exec.Command(filepath.Join(bin, s), "healthcheck")
			hc.Env = append(os.Environ(), "EBS_ADMIN_ADDR="+admin)
			if b, err := hc.CombinedOutput(); err != nil {
				t.Errorf("%s healthcheck: %v\n%s", s, err, b)
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

func ready(admin string) bool {
	resp, err := http.Get("http://" + admin + "/startup")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr())
}

// syncBuffer is a log buffer safe for the service's goroutines and the test.
type syncBuffer = lifecycletest.LockedBuffer
