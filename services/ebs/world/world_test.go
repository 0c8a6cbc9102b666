package world_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/ebs/world"
)

func TestWorldIsDeterministic(t *testing.T) {
	t.Parallel()
	a, err := world.New(world.Options{Waves: 3})
	if err != nil {
		t.Fatal(err)
	}
	b, err := world.New(world.Options{Waves: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two worlds from the same options differ")
	}
	c, err := world.New(world.Options{Waves: 3, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	if reflect.DeepEqual(a.Triggers, c.Triggers) {
		t.Fatal("another seed gave the same triggers")
	}
}

// The showcase wave exercises every rule of the production configuration,
// and what the world expects follows from that configuration.
func TestShowcaseCoversTheConfiguration(t *testing.T) {
	t.Parallel()
	w, err := world.New(world.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := world.Config("http://cr.example")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Control.TriggerTag != world.TriggerTag || cfg.Koji.StableTag != world.StableTag || cfg.Koji.BuildTarget != "eln" {
		t.Fatalf("demo configuration: trigger %q stable %q target %q", cfg.Control.TriggerTag, cfg.Koji.StableTag, cfg.Koji.BuildTarget)
	}
	if got := cfg.Components.AutoPackageList.ContentResolver; got != "http://cr.example" {
		t.Fatalf("content resolver %q", got)
	}
	listed := map[string]bool{}
	for _, l := range w.Lists {
		for _, n := range l.Names {
			listed[n] = true
		}
	}
	roles := map[world.Role]int{}
	orderings := map[int]bool{}
	for _, tr := range w.Wave(0) {
		for _, r := range tr.Roles {
			roles[r]++
		}
		orderings[tr.Ordering] = true
		switch {
		case tr.Has(world.RoleExcluded):
			if tr.Eligible || !listed[tr.ELN] || !cfg.Control.Excluded(tr.Fedora) {
				t.Errorf("%s: an excluded package must be listed, match an exclude rule and be ineligible", tr.Fedora)
			}
		case tr.Has(world.RoleIneligible):
			if tr.Eligible || listed[tr.Fedora] {
				t.Errorf("%s: an ineligible package must be unlisted", tr.Fedora)
			}
		default:
			if !tr.Eligible {
				t.Errorf("%s (%v) should be eligible", tr.Fedora, tr.Roles)
			}
		}
		if tr.Has(world.RoleSkipTag) == tr.Seeded {
			t.Errorf("%s: skip-tag role %v but seeded %v", tr.Fedora, tr.Has(world.RoleSkipTag), tr.Seeded)
		}
		if tr.Has(world.RoleRenamed) && (tr.Fedora != "freeipa" || tr.ELN != "ipa" || !strings.HasPrefix(tr.ELNNVR, "ipa-")) {
			t.Errorf("rename: %+v", tr)
		}
	}
	for _, r := range []world.Role{world.RoleBuilt, world.RoleFailing, world.RoleSRPMFail, world.RoleFlaky,
		world.RoleSkipTag, world.RoleExcluded, world.RoleIneligible, world.RoleRenamed} {
		if roles[r] == 0 {
			t.Errorf("the showcase has no %s package", r)
		}
	}
	for _, o := range []int{0, 1, 500, 1000, 1001} {
		if !orderings[o] {
			t.Errorf("no package with ordering %d (slices llvm 0, clang 1, nettle 500, default, ipa 1001)", o)
		}
	}
	byName := map[string]world.Trigger{}
	for _, tr := range w.Triggers {
		byName[tr.Fedora] = tr
	}
	if byName["llvm"].Ordering != 0 || byName["clang"].Ordering != 1 || !byName["clang"].Has(world.RoleFlaky) {
		t.Errorf("llvm/clang chain: %+v %+v", byName["llvm"], byName["clang"])
	}
	if n := len(w.Generated); n < 300 {
		t.Errorf("only %d generated packages", n)
	}
}

func TestLaterWavesUseFreshPackages(t *testing.T) {
	t.Parallel()
	w, err := world.New(world.Options{Waves: 4})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, tr := range w.Triggers {
		if prev, ok := seen[tr.Fedora]; ok {
			t.Errorf("%s in waves %d and %d", tr.Fedora, prev, tr.Wave)
		}
		seen[tr.Fedora] = tr.Wave
	}
	for n := 1; n < 4; n++ {
		var failing, flaky int
		for _, tr := range w.Wave(n) {
			if tr.Has(world.RoleFailing) {
				failing++
			}
			if tr.Has(world.RoleFlaky) {
				flaky++
			}
		}
		if failing != 1 || flaky != 1 {
			t.Errorf("wave %d: %d failing, %d flaky; want 1 and 1", n, failing, flaky)
		}
	}
}

// perfect is what a correct ebs reports for triggers in one batch.
func perfect(trs []world.Trigger) world.Observation {
	obs := world.Observation{SideTagExists: func(string) bool { return false }, SideTagsLeft: func() []string { return nil }}
	bs := &ebsv1.BatchStarted{BatchId: "b1"}
	bc := &ebsv1.BatchCompleted{BatchId: "b1", BuildSideTag: "eln-build-side-1", Result: ebsv1.BatchResult_BATCH_RESULT_PARTIAL}
	up := world.Update{Alias: "FEDORA-ELN-2026-1", FromTag: "eln-build-side-2", Status: "stable"}
	slices := map[int][]string{}
	for _, tr := range trs {
		if !tr.Eligible {
			continue
		}
		obs.Requests = append(obs.Requests, &ebsv1.RebuildRequest{Component: tr.ELN, FedoraName: tr.Fedora, Nvr: tr.NVR})
		bs.Packages = append(bs.Packages, &ebsv1.BatchPackage{Component: tr.ELN, SourceNvr: tr.NVR, Seeded: tr.Seeded, Ordering: int32(tr.Ordering)})
		slices[tr.Ordering] = append(slices[tr.Ordering], tr.ELN)
		o := &ebsv1.PackageOutcome{Component: tr.ELN, FedoraName: tr.Fedora, SourceNvr: tr.NVR, Attempts: 1,
			State: ebsv1.PackageState_PACKAGE_STATE_BUILT, Nvr: tr.ELNNVR, BodhiUpdateAlias: up.Alias, ReachedStable: true}
		switch {
		case tr.Has(world.RoleFailing) || tr.Has(world.RoleSRPMFail):
			o.State, o.Nvr, o.Attempts, o.Denylisted, o.BodhiUpdateAlias, o.ReachedStable = ebsv1.PackageState_PACKAGE_STATE_FAILED, "", 3, true, "", false
		case tr.Has(world.RoleFlaky):
			o.Attempts = 2
		}
		if o.State == ebsv1.PackageState_PACKAGE_STATE_BUILT {
			up.NVRs = append(up.NVRs, o.Nvr)
		}
		bc.Outcomes = append(bc.Outcomes, o)
	}
	var ords []int
	for o := range slices {
		ords = append(ords, o)
	}
	sortInts(ords)
	for i, o := range ords {
		obs.Slices = append(obs.Slices, &ebsv1.SliceStarted{BatchId: "b1", Slice: int32(i), Ordering: int32(o), Components: slices[o]})
	}
	bc.Updates = []*ebsv1.BodhiUpdateRef{{Alias: up.Alias, Nvrs: up.NVRs}}
	obs.Started = []*ebsv1.BatchStarted{bs}
	obs.Completed = []*ebsv1.BatchCompleted{bc}
	obs.Updates = []world.Update{up}
	return obs
}

func sortInts(a []int) { slices.Sort(a) }

func TestCheck(t *testing.T) {
	t.Parallel()
	w, err := world.New(world.Options{})
	if err != nil {
		t.Fatal(err)
	}
	trs := w.Wave(0)
	bodhi := config.Bodhi{BatchSize: 750, MaxSingleBatchSize: 750}
	find := func(pred func(world.Trigger) bool) world.Trigger {
		for _, tr := range trs {
			if pred(tr) {
				return tr
			}
		}
		t.Fatal("no such trigger")
		return world.Trigger{}
	}
	outcome := func(obs world.Observation, c string) *ebsv1.PackageOutcome {
		for _, o := range obs.Completed[0].Outcomes {
			if o.Component == c {
				return o
			}
		}
		t.Fatalf("no outcome for %s", c)
		return nil
	}
	excluded := find(func(tr world.Trigger) bool { return tr.Has(world.RoleExcluded) })
	flaky := find(func(tr world.Trigger) bool { return tr.Has(world.RoleFlaky) })
	failing := find(func(tr world.Trigger) bool { return tr.Has(world.RoleFailing) })
	skip := find(func(tr world.Trigger) bool { return tr.Has(world.RoleSkipTag) })
	built := find(func(tr world.Trigger) bool { return tr.Has(world.RoleBuilt) })

	cases := []struct {
		name   string
		break_ func(*world.Observation)
		want   string // the failing check ("" = all pass)
	}{
		{"correct", func(*world.Observation) {}, ""},
		{"excluded requested", func(o *world.Observation) {
			o.Requests = append(o.Requests, &ebsv1.RebuildRequest{Component: excluded.ELN, FedoraName: excluded.Fedora, Nvr: excluded.NVR})
		}, "eligible packages requested"},
		{"request lost", func(o *world.Observation) { o.Requests = o.Requests[1:] }, "eligible packages requested"},
		{"flaky not retried", func(o *world.Observation) {
			x := outcome(*o, flaky.ELN)
			x.State, x.Attempts = ebsv1.PackageState_PACKAGE_STATE_FAILED, 1
		}, "flaky builds built on the retry"},
		{"failure not denylisted", func(o *world.Observation) { outcome(*o, failing.ELN).Denylisted = false }, "real failures"},
		{"skip_tag seeded", func(o *world.Observation) {
			for _, p := range o.Started[0].Packages {
				if p.Component == skip.ELN {
					p.Seeded = true
				}
			}
		}, "skip_tag packages"},
		{"slices out of order", func(o *world.Observation) {
			o.Slices[0], o.Slices[1] = o.Slices[1], o.Slices[0]
		}, "slices in ascending ordering"},
		{"update filed twice", func(o *world.Observation) {
			o.Updates = append(o.Updates, world.Update{Alias: "FEDORA-ELN-2026-2", NVRs: []string{built.ELNNVR}})
		}, "one Bodhi update per chunk"},
		{"side tag left", func(o *world.Observation) { o.SideTagExists = func(string) bool { return true } }, "build side tags removed"},
		{"update or orphan side tag left", func(o *world.Observation) {
			o.SideTagsLeft = func() []string { return []string{"eln-build-side-9"} }
		}, "no side tags left in Koji"},
		{"double outcome", func(o *world.Observation) {
			o.Completed = append(o.Completed, &ebsv1.BatchCompleted{BatchId: "b2", Outcomes: []*ebsv1.PackageOutcome{outcome(*o, built.ELN)}})
		}, "every request closed by exactly one batch"},
		{"wrong result", func(o *world.Observation) { o.Completed[0].Result = ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED }, "batch results"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			obs := perfect(trs)
			tc.break_(&obs)
			fs := world.Check(trs, bodhi, obs)
			failed := fs.Failed()
			if tc.want == "" {
				if !fs.OK() {
					t.Fatalf("a correct run fails:\n%s", fs)
				}
				return
			}
			if len(failed) == 0 || !strings.HasPrefix(failed[0].Check, tc.want) {
				t.Fatalf("want %q to fail, got:\n%s", tc.want, fs)
			}
			fmt.Fprint(testWriter{t}, failed.String())
		})
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// compose.yaml runs the demo world from deploy/compose/: the files there are
// what `ebs world files -content-resolver http://world:8082 deploy/compose`
// writes (run it after changing the world).
func TestComposeFilesAreCurrent(t *testing.T) {
	t.Parallel()
	w, err := world.New(world.Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := w.WriteFiles(dir, "http://world:8082"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{world.ScenarioFileName, world.ConfigFileName} {
		want, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("..", "..", "..", "deploy", "compose", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("deploy/compose/%s is stale: run `go run ./services/ebs world files -content-resolver http://world:8082 deploy/compose`", name)
		}
	}
}

// kojisim reading the world's scenario file has the world: the generated
// packages, the named builds, and every trigger's new Rawhide build waiting
// in f45-updates-candidate with its SCM URL.
func TestScenarioFileReproducesTheWorld(t *testing.T) {
	t.Parallel()
	w, err := world.New(world.Options{Waves: 2})
	if err != nil {
		t.Fatal(err)
	}
	text, err := w.ScenarioYAML()
	if err != nil {
		t.Fatal(err)
	}
	f, err := kojihub.ParseScenarioFile(text)
	if err != nil {
		t.Fatal(err)
	}
	hub, err := kojihub.New(f.Options())
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	have := map[string]bool{}
	for _, p := range hub.Packages() {
		have[p] = true
	}
	for _, p := range w.Generated {
		if !have[p] {
			t.Errorf("generated package %s missing", p)
		}
	}
	candidates, rawhide := hub.Tagged(world.CandidateTag), hub.Tagged(world.TriggerTag)
	for _, tr := range w.Triggers {
		b, ok := hub.Build(tr.NVR)
		if !ok || b.Source != tr.SCMURL {
			t.Errorf("%s: %+v %v, want source %s", tr.NVR, b, ok, tr.SCMURL)
		}
		if !slices.Contains(candidates, tr.NVR) || slices.Contains(rawhide, tr.NVR) {
			t.Errorf("%s must wait in %s, not be in %s", tr.NVR, world.CandidateTag, world.TriggerTag)
		}
	}
	if _, ok := hub.Build("ipa-4.12.5-3.eln150"); !ok {
		t.Error("the ELN build of ipa is missing")
	}
}

// WaitSideTagsGone returns nothing once Koji lists no side tags, and what
// is left (or the listing error) when the wait ends first. The list
// function ends the wait itself, so no case depends on the clock.
func TestWaitSideTagsGone(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		answers [][]string // one per call; the last repeats
		err     error
		want    []string
	}{
		{"gone at once", [][]string{nil}, nil, nil},
		{"gone on the third look", [][]string{{"a", "b"}, {"b"}, nil}, nil, nil},
		{"never gone", [][]string{{"eln-build-side-3"}}, nil, []string{"eln-build-side-3"}},
		{"listing fails", [][]string{nil}, errors.New("hub down"), []string{"listSideTags: hub down"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			calls := 0
			got := world.WaitSideTagsGone(ctx, func(context.Context) ([]string, error) {
				calls++
				if calls >= 5 {
					cancel() // give up after five looks
				}
				a := tc.answers[min(calls, len(tc.answers))-1]
				return a, tc.err
			})
			if !slices.Equal(got, tc.want) {
				t.Fatalf("left %q, want %q", got, tc.want)
			}
		})
	}
}
