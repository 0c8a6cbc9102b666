package config_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/lifecycle/lifecycletest"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// A refresh with a broken file keeps the old configuration and reports it
// (log, metric, ConfigEvent); a valid change takes effect without a restart.
func TestWatcherKeepsOldConfigOnBrokenRefresh(t *testing.T) {
	t.Parallel()
	conn := natstest.Start(t).Provisioned(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	path := filepath.Join(t.TempDir(), "distrobaker.yaml")
	prod, err := os.ReadFile("testdata/distrobaker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	write := func(b []byte) {
		t.Helper()
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(prod)
	reg := prometheus.NewRegistry()
	var (
		appliedMu sync.Mutex
		applied   []string
	)
	var logs syncBuffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	w, err := config.NewWatcher(ctx, path, config.WatchOptions{
		Service: "test", Registerer: reg, JetStream: conn.JS, Interval: 20 * time.Millisecond, Logger: log,
		Apply: func(_ context.Context, c *config.Config) error {
			if c.Control.TriggerTag == "f99" {
				return errors.New("f99 is not a real tag")
			}
			appliedMu.Lock()
			applied = append(applied, c.Control.TriggerTag)
			appliedMu.Unlock()
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	first := w.Current()
	if first.Control.TriggerTag != "f45" || first.Control.Pause {
		t.Fatalf("first: %+v", first.Control)
	}

	// Broken YAML: rejected, the old configuration stays.
	write([]byte("configuration:\n  koji: [\n"))
	cur, err := w.Refresh(ctx)
	if err == nil || cur != first || w.Current() != first {
		t.Fatalf("broken file: err %v, current changed %v", err, w.Current() != first)
	}
	// Valid YAML failing validation: rejected too.
	write([]byte(strings.Replace(string(prod), "    pause: false\n", "    pause: perhaps\n", 1)))
	if _, err := w.Refresh(ctx); err == nil || !strings.Contains(err.Error(), "configuration.control.pause") {
		t.Fatalf("invalid file: %v", err)
	}
	// Valid but refused by the service (Apply): rejected.
	write([]byte(strings.Replace(string(prod), "trigger_tag: f45", "trigger_tag: f99", 1)))
	if _, err := w.Refresh(ctx); err == nil || !strings.Contains(err.Error(), "f99 is not a real tag") || w.Current() != first {
		t.Fatalf("apply refusal: %v", err)
	}
	if got := testutil.ToFloat64(w.Metrics().Loads.WithLabelValues("rejected")); got != 3 {
		t.Fatalf("rejected loads metric %v", got)
	}
	if got := testutil.ToFloat64(w.Metrics().Valid); got != 0 {
		t.Fatalf("valid gauge %v", got)
	}
	// The log: one error per rejected refresh, saying why, naming the source
	// and the configuration kept.
	rejections := logRecords(t, logs.String(), "configuration rejected; keeping the previous one")
	if len(rejections) != 3 {
		t.Fatalf("%d rejection log lines, want 3:\n%s", len(rejections), logs.String())
	}
	for i, want := range []string{"not valid YAML", "configuration.control.pause", "f99 is not a real tag"} {
		r := rejections[i]
		if r["level"] != "ERROR" || r["source"] != path || r["component"] != "config" ||
			r["current_digest"] != first.Digest[:12] || !strings.Contains(fmt.Sprint(r["error"]), want) {
			t.Errorf("rejection %d: %v, want an ERROR with source, current_digest and an error containing %q", i, r, want)
		}
	}

	// A valid change takes effect: run the loop and wait for it.
	updates := w.Subscribe()
	go func() { _ = w.Run(ctx) }()
	write([]byte(strings.Replace(string(prod), "    pause: false\n", "    pause: true\n", 1)))
	select {
	case c := <-updates:
		if !c.Control.Pause || w.Current() != c || c.Digest == first.Digest {
			t.Fatalf("update: pause %v", c.Control.Pause)
		}
	case <-ctx.Done():
		t.Fatal("the valid change was not picked up")
	}
	if got := testutil.ToFloat64(w.Metrics().Valid); got != 1 {
		t.Fatalf("valid gauge %v", got)
	}
	appliedMu.Lock()
	if len(applied) < 2 || applied[0] != "f45" {
		t.Fatalf("applied %v", applied)
	}
	appliedMu.Unlock()
	if n, err := testutil.GatherAndCount(reg, "ebs_config_loads_total"); err != nil || n != 3 {
		t.Fatalf("registered series %d %v", n, err)
	}

	// The events: one loaded (start), three rejected, one loaded (the change).
	events := readConfigEvents(t, conn.JS, 5)
	var loaded, rejected int
	for _, e := range events {
		if e.Service != "test" || e.Source != path {
			t.Fatalf("event %v", e)
		}
		if e.Accepted {
			loaded++
			if len(e.Digest) != 64 {
				t.Fatalf("loaded event without digest: %v", e)
			}
		} else {
			rejected++
			if e.Error == "" {
				t.Fatalf("rejected event without error: %v", e)
			}
		}
	}
	if loaded != 2 || rejected != 3 {
		t.Fatalf("loaded %d rejected %d", loaded, rejected)
	}
}

// syncBuffer is a log buffer safe for the service's goroutines and the test.
type syncBuffer = lifecycletest.LockedBuffer

// logRecords decodes the JSON log lines whose message is msg.
func logRecords(t *testing.T, logs, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

// readConfigEvents waits for n configuration events and checks that each
// is on the subject its verdict names.
func readConfigEvents(t *testing.T, js jetstream.JetStream, n int) []*ebsv1.ConfigEvent {
	t.Helper()
	msgs := natstest.WaitStored(t, js, natsx.StreamEBS, "ebs.config.>", n, 10*time.Second)
	events := natstest.Decode[ebsv1.ConfigEvent](t, msgs)
	for i, e := range events {
		wantSubject := natsx.SubjectConfigRejected
		if e.Accepted {
			wantSubject = natsx.SubjectConfigLoaded
		}
		if msgs[i].Subject != wantSubject {
			t.Fatalf("event on %s, accepted=%v", msgs[i].Subject, e.Accepted)
		}
	}
	return events
}

// The start-up check: an invalid configuration stops the service.
func TestNewWatcherFailsOnInvalidConfig(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("configuration: {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := config.NewWatcher(context.Background(), path, config.WatchOptions{Service: "test"})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "configuration.koji") {
		t.Fatalf("got %v", err)
	}
	if _, err := config.NewWatcher(context.Background(), "", config.WatchOptions{}); err == nil {
		t.Fatal("empty source accepted")
	}
}

// Two watchers of one service on one registry share the metrics.
func TestWatcherMetricsShared(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	ctx := context.Background()
	w1, err := config.NewWatcher(ctx, "testdata/distrobaker.yaml", config.WatchOptions{Service: "s", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	w2, err := config.NewWatcher(ctx, "testdata/distrobaker.yaml", config.WatchOptions{Service: "s", Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if w1.Metrics().Loads != w2.Metrics().Loads {
		t.Fatal("metrics not shared")
	}
	if got := testutil.ToFloat64(w1.Metrics().Loads.WithLabelValues("accepted")); got != 2 {
		t.Fatalf("accepted loads %v", got)
	}
}
