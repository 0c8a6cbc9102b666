//go:build e2e

package e2e

import (
	"context"
	"testing"
	"time"

	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/ebs/world"
)

// TestEndToEnd runs the showcase wave through every service as a separate
// process and checks everything the configuration demands, then the status
// API and the PostgreSQL history.
func TestEndToEnd(t *testing.T) {
	s := StartSystem(t, Options{World: world.Options{Build: 400 * time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	trs := s.Feed(ctx, 0)
	if err := s.WaitClosed(ctx, trs); err != nil {
		t.Fatalf("the batch did not complete: %v", err)
	}
	fs := s.Check(ctx, trs)
	if !fs.OK() {
		t.Fatalf("the batch did not end as the configuration demands:\n%s", fs)
	}
	t.Logf("checks:\n%s", fs)

	// The BatchCompleted event, and the status service's view of it.
	obs := s.Obs.Observation()
	if len(obs.Completed) != 1 {
		t.Fatalf("%d BatchCompleted events, want 1", len(obs.Completed))
	}
	bc := obs.Completed[0]
	outcomes := map[string]*ebsv1.PackageOutcome{}
	for _, o := range bc.GetOutcomes() {
		outcomes[o.GetComponent()] = o
	}
	var check []string
	for _, tr := range trs {
		if tr.Eligible && (tr.Has(world.RoleRenamed) || tr.Has(world.RoleFailing) || tr.Has(world.RoleFlaky) || tr.Fedora == "llvm") {
			check = append(check, tr.ELN)
		}
	}
	s.checkStatusAPI(ctx, outcomes, check...)
	s.checkDatabase(ctx, bc)
	if c := s.Crashes(); len(c) > 0 {
		t.Fatalf("processes exited on their own: %v", c)
	}
}
