package kojibatch_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/kojibatch"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	"github.com/prometheus/client_golang/prometheus"
)

// The services build their Koji client from ClientFlags with their admin
// registry: its calls show up as ebs_koji_client_* there.
func TestClientFlagsExportMetrics(t *testing.T) {
	t.Parallel()
	h := kojihub.Start(t, kojihub.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	reg := prometheus.NewRegistry()
	flags := kojibatch.ClientFlags{URL: h.URL()}
	hub, err := flags.Hub(ctx, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hub.GetBuildTarget(ctx, "eln"); err != nil {
		t.Fatal(err)
	}
	if _, err := hub.GetBuildTarget(ctx, "no-such-target"); err == nil {
		t.Fatal("missing target found")
	}
	// A second client on the same registry (as a service building two).
	if _, err := flags.Client(slog.New(slog.DiscardHandler), reg); err != nil {
		t.Fatalf("second client on one registry: %v", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var calls float64
	for _, mf := range mfs {
		if mf.GetName() != "ebs_koji_client_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "method" && l.GetValue() == "getBuildTarget" {
					calls = m.GetCounter().GetValue()
				}
			}
		}
	}
	if calls != 2 {
		t.Fatalf("ebs_koji_client_calls_total{method=getBuildTarget} = %v, want 2", calls)
	}
	// Without a registry the client exports nothing (and needs none).
	if _, err := flags.Client(slog.New(slog.DiscardHandler), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := (&kojibatch.ClientFlags{}).Client(slog.New(slog.DiscardHandler), nil); err == nil {
		t.Fatal("a client without --koji-url was built")
	}
}
