//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"time"

	"github.com/fedora-eln/ebs/libs/bodhi"
	"github.com/fedora-eln/ebs/services/ebs/world"
)

// Check runs world.Check on what the system did, with Koji's and Bodhi's
// state. Call it once every batch has ended: it also demands that ebs's
// Koji user owns no side tag any more.
func (s *System) Check(ctx context.Context, trs []world.Trigger) world.Findings {
	s.t.Helper()
	obs := s.Obs.Observation()
	ups, err := s.Updates(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	obs.Updates = ups
	kc, err := s.KojiClient("")
	if err != nil {
		s.t.Fatal(err)
	}
	obs.SideTagExists = func(tag string) bool {
		t, err := kc.GetTag(ctx, tag, false)
		if err != nil {
			s.t.Errorf("getTag %s: %v", tag, err)
			return true
		}
		return t != nil
	}
	obs.SideTagsLeft = func() []string {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		return world.WaitSideTagsGone(wctx, func(ctx context.Context) ([]string, error) {
			ts, err := kc.ListSideTags(ctx, "", world.Builder)
			var names []string
			for _, t := range ts {
				names = append(names, t.Name)
			}
			return names, err
		})
	}
	cfg, err := world.Config(s.CR.URL)
	if err != nil {
		s.t.Fatal(err)
	}
	return world.Check(trs, cfg.Bodhi, obs)
}

// Updates lists every update Bodhi holds.
func (s *System) Updates(ctx context.Context) ([]world.Update, error) {
	c, err := bodhi.New(bodhi.Options{BaseURL: s.BodhiURL})
	if err != nil {
		return nil, err
	}
	var out []world.Update
	for page := 1; ; page++ {
		p, err := c.ListUpdates(ctx, bodhi.UpdateQuery{Page: page, RowsPerPage: 100})
		if err != nil {
			return nil, fmt.Errorf("bodhi: list updates: %w", err)
		}
		for _, u := range p.Updates {
			out = append(out, world.Update{Alias: u.Alias, FromTag: u.FromTag, Status: u.Status, NVRs: u.NVRs()})
		}
		if page >= p.Pages {
			return out, nil
		}
	}
}
