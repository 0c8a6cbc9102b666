package status

import (
	"context"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	"github.com/prometheus/client_golang/prometheus"
)

// The Koji client status.json builds for itself exports its metrics on the
// registry it is given (the server passes its admin registry).
func TestDefaultKojiReaderExportsMetrics(t *testing.T) {
	t.Parallel()
	hub := kojihub.Start(t, kojihub.Options{})
	reg := prometheus.NewRegistry()
	r, err := defaultKojiReader(hub.URL(), reg)
	if err != nil || r == nil {
		t.Fatalf("reader %v, %v", r, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := r.ListTagged(ctx, "eln"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ebs_koji_client_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if l := m.GetLabel(); len(l) == 1 && l[0].GetValue() == "listTagged" && m.GetCounter().GetValue() == 1 {
				return
			}
		}
	}
	t.Fatalf("no ebs_koji_client_calls_total{method=listTagged} 1 in %v", mfs)
}
