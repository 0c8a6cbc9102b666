package world

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fedora-eln/ebs/libs/config"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// Observation is what ebs did, as the demo and the tests see it from the
// outside: its public events, and Koji's and Bodhi's state.
type Observation struct {
	// Requests published on ebs.rebuild.requested.
	Requests []*ebsv1.RebuildRequest
	// Batch events, in stream order.
	Started   []*ebsv1.BatchStarted
	Slices    []*ebsv1.SliceStarted
	Completed []*ebsv1.BatchCompleted
	// Updates are Bodhi's updates (every one Bodhi holds).
	Updates []Update
	// SideTagExists asks Koji whether a tag still exists (nil: not checked).
	SideTagExists func(tag string) bool
	// SideTagsLeft lists the side tags ebs's Koji user (Builder) still owns
	// once every batch has ended (nil: not checked). There must be none: no
	// build side tag abandoned while seeding, no orphan of a killed
	// service, no update side tag Bodhi did not remove.
	SideTagsLeft func() []string
}

// Update is the part of a Bodhi update the checks read.
type Update struct {
	Alias   string
	FromTag string
	Status  string
	NVRs    []string
}

// Finding is one check's result.
type Finding struct {
	Check  string
	OK     bool
	Detail string // what went wrong, or a short summary when OK
}

// Findings is a list of results.
type Findings []Finding

// OK reports whether every check passed.
func (fs Findings) OK() bool {
	for _, f := range fs {
		if !f.OK {
			return false
		}
	}
	return len(fs) > 0
}

// Failed lists the failed checks.
func (fs Findings) Failed() Findings {
	var out Findings
	for _, f := range fs {
		if !f.OK {
			out = append(out, f)
		}
	}
	return out
}

func (fs Findings) String() string {
	var b strings.Builder
	for _, f := range fs {
		mark := "ok  "
		if !f.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "%s %s: %s\n", mark, f.Check, f.Detail)
	}
	return b.String()
}

// Check compares what ebs did with what the configuration demands for the
// given triggers (a wave, or several). bodhi is configuration.bodhi, for
// the number of updates a batch files.
func Check(triggers []Trigger, bodhi config.Bodhi, obs Observation) Findings {
	var fs Findings
	add := func(check string, problems []string, okDetail string) {
		if len(problems) == 0 {
			fs = append(fs, Finding{Check: check, OK: true, Detail: okDetail})
			return
		}
		sort.Strings(problems)
		if len(problems) > 6 {
			problems = append(problems[:6:6], fmt.Sprintf("and %d more", len(problems)-6))
		}
		fs = append(fs, Finding{Check: check, Detail: strings.Join(problems, "; ")})
	}

	byELN := map[string]Trigger{}
	var eligible, ignored []string
	for _, t := range triggers {
		if t.Eligible {
			byELN[t.ELN] = t
			eligible = append(eligible, t.ELN)
		} else {
			ignored = append(ignored, t.Fedora)
		}
	}

	// Requests: one per eligible trigger, none for the others.
	requested := map[string]int{}
	for _, r := range obs.Requests {
		for _, t := range triggers {
			if r.GetFedoraName() == t.Fedora && r.GetNvr() == t.NVR {
				requested[r.GetComponent()]++
			}
		}
	}
	var p []string
	for _, c := range eligible {
		switch n := requested[c]; {
		case n == 0:
			p = append(p, c+" was never requested")
		case n > 1:
			p = append(p, fmt.Sprintf("%s requested %d times", c, n))
		}
	}
	for _, t := range triggers {
		if !t.Eligible && requested[t.ELN] > 0 {
			p = append(p, fmt.Sprintf("%s (%s) was requested", t.Fedora, strings.Join(roleNames(t.Roles), ", ")))
		}
	}
	add("eligible packages requested, excluded and unlisted ones not", p,
		fmt.Sprintf("%d requested; %d ignored (%s)", len(eligible), len(ignored), strings.Join(ignored, ", ")))

	// Outcomes: exactly one per requested package across the batches.
	outcomes := map[string]*ebsv1.PackageOutcome{}
	batchOf := map[string]*ebsv1.BatchCompleted{}
	p = nil
	var batches []*ebsv1.BatchCompleted
	for _, bc := range obs.Completed {
		mine := false
		for _, o := range bc.GetOutcomes() {
			t, ok := byELN[o.GetComponent()]
			if !ok || o.GetSourceNvr() != t.NVR {
				continue
			}
			mine = true
			if prev := outcomes[o.GetComponent()]; prev != nil {
				p = append(p, fmt.Sprintf("%s has outcomes in batches %s and %s", o.GetComponent(), batchOf[o.GetComponent()].GetBatchId(), bc.GetBatchId()))
			}
			outcomes[o.GetComponent()] = o
			batchOf[o.GetComponent()] = bc
		}
		if mine {
			batches = append(batches, bc)
		}
	}
	for _, c := range eligible {
		if outcomes[c] == nil {
			p = append(p, c+" has no outcome")
		}
	}
	add("every request closed by exactly one batch", p, fmt.Sprintf("%d outcomes in %d batch(es)", len(outcomes), len(batches)))

	// Build results per role.
	var failed, flaky, built, renamed []string
	p = nil
	for _, c := range eligible {
		t, o := byELN[c], outcomes[c]
		if o == nil {
			continue
		}
		switch {
		case t.Has(RoleFailing) || t.Has(RoleSRPMFail):
			failed = append(failed, c)
			if o.GetState() != ebsv1.PackageState_PACKAGE_STATE_FAILED || !o.GetDenylisted() {
				p = append(p, fmt.Sprintf("%s: want FAILED and denylisted, got %s denylisted=%v", c, short(o.GetState()), o.GetDenylisted()))
			}
		case t.Has(RoleFlaky):
			flaky = append(flaky, c)
			if o.GetState() != ebsv1.PackageState_PACKAGE_STATE_BUILT || o.GetAttempts() != 2 {
				p = append(p, fmt.Sprintf("%s: want BUILT on the 2nd attempt, got %s after %d", c, short(o.GetState()), o.GetAttempts()))
			}
		default:
			built = append(built, c)
			if o.GetState() != ebsv1.PackageState_PACKAGE_STATE_BUILT || o.GetAttempts() != 1 {
				p = append(p, fmt.Sprintf("%s: want BUILT on the 1st attempt, got %s after %d (%s)", c, short(o.GetState()), o.GetAttempts(), o.GetReason()))
			}
		}
		if o.GetState() == ebsv1.PackageState_PACKAGE_STATE_BUILT && o.GetNvr() != t.ELNNVR {
			p = append(p, fmt.Sprintf("%s: built %s, want %s", c, o.GetNvr(), t.ELNNVR))
		}
		if t.Has(RoleRenamed) {
			renamed = append(renamed, fmt.Sprintf("%s from %s", o.GetNvr(), o.GetFedoraName()))
			if o.GetFedoraName() != t.Fedora {
				p = append(p, fmt.Sprintf("%s: fedora_name %q, want %q", c, o.GetFedoraName(), t.Fedora))
			}
		}
	}
	add("real failures failed, were retried and denylisted", filter(p, failed), strings.Join(failed, ", "))
	add("flaky builds built on the retry", filter(p, flaky), strings.Join(flaky, ", "))
	add("everything else built at the first attempt", filter(p, built), fmt.Sprintf("%d packages", len(built)))
	if len(renamed) > 0 {
		var rn []string
		for _, c := range eligible {
			if byELN[c].Has(RoleRenamed) {
				rn = append(rn, c)
			}
		}
		add("renamed packages built under their ELN name", filter(p, rn), strings.Join(renamed, ", "))
	}

	// Seeding: skip_tag packages are not tagged into the build side tag.
	p = nil
	var notSeeded []string
	seen := map[string]bool{}
	for _, bs := range obs.Started {
		for _, bp := range bs.GetPackages() {
			t, ok := byELN[bp.GetComponent()]
			if !ok || bp.GetSourceNvr() != t.NVR {
				continue
			}
			seen[bp.GetComponent()] = true
			if bp.GetSeeded() != t.Seeded {
				p = append(p, fmt.Sprintf("%s seeded=%v, want %v", bp.GetComponent(), bp.GetSeeded(), t.Seeded))
			}
			if !t.Seeded {
				notSeeded = append(notSeeded, bp.GetComponent())
			}
			if int(bp.GetOrdering()) != t.Ordering {
				p = append(p, fmt.Sprintf("%s ordering %d, want %d", bp.GetComponent(), bp.GetOrdering(), t.Ordering))
			}
		}
	}
	for _, c := range eligible {
		if !seen[c] {
			p = append(p, c+" is in no BatchStarted")
		}
	}
	sort.Strings(notSeeded)
	add("skip_tag packages rebuilt but not seeded; ordering from the rules", p, "not seeded: "+strings.Join(notSeeded, ", "))

	// Slices: ascending ordering within each batch, each package in its slice.
	p = nil
	var order []string
	for _, bc := range batches {
		var prev int32 = -1
		first := true
		for _, s := range obs.Slices {
			if s.GetBatchId() != bc.GetBatchId() {
				continue
			}
			if !first && s.GetOrdering() <= prev {
				p = append(p, fmt.Sprintf("batch %s: slice %d (ordering %d) after ordering %d", bc.GetBatchId(), s.GetSlice(), s.GetOrdering(), prev))
			}
			first, prev = false, s.GetOrdering()
			for _, c := range s.GetComponents() {
				if t, ok := byELN[c]; ok && int32(t.Ordering) != s.GetOrdering() {
					p = append(p, fmt.Sprintf("%s built in slice %d, want %d", c, s.GetOrdering(), t.Ordering))
				}
			}
			if len(order) < 8 {
				order = append(order, fmt.Sprintf("%d", s.GetOrdering()))
			}
		}
	}
	add("slices in ascending ordering (llvm before clang, ipa last)", p, "slices "+strings.Join(order, " → "))

	// Results per batch.
	p = nil
	for _, bc := range batches {
		want := ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED
		for _, o := range bc.GetOutcomes() {
			if o.GetState() != ebsv1.PackageState_PACKAGE_STATE_BUILT {
				want = ebsv1.BatchResult_BATCH_RESULT_PARTIAL
			}
		}
		if bc.GetResult() != want {
			p = append(p, fmt.Sprintf("batch %s ended %s, want %s (%s)", bc.GetBatchId(), bc.GetResult(), want, bc.GetError()))
		}
	}
	add("batch results", p, fmt.Sprintf("%d batch(es) ended as expected", len(batches)))

	// Bodhi: every built package in exactly one update, the right number of
	// updates, everything stable.
	p = nil
	inUpdate := map[string][]string{}
	for _, u := range obs.Updates {
		for _, nvr := range u.NVRs {
			inUpdate[nvr] = append(inUpdate[nvr], u.Alias)
		}
	}
	var aliases []string
	for _, bc := range batches {
		nBuilt := 0
		for _, o := range bc.GetOutcomes() {
			if o.GetState() != ebsv1.PackageState_PACKAGE_STATE_BUILT {
				continue
			}
			nBuilt++
			if _, ok := byELN[o.GetComponent()]; !ok {
				continue
			}
			switch us := inUpdate[o.GetNvr()]; {
			case len(us) == 0:
				p = append(p, o.GetNvr()+" is in no Bodhi update")
			case len(us) > 1:
				p = append(p, fmt.Sprintf("%s is in %d updates (%s)", o.GetNvr(), len(us), strings.Join(us, ", ")))
			case o.GetBodhiUpdateAlias() != us[0]:
				p = append(p, fmt.Sprintf("%s: outcome names update %q, Bodhi has it in %s", o.GetNvr(), o.GetBodhiUpdateAlias(), us[0]))
			}
			if !o.GetReachedStable() {
				p = append(p, o.GetNvr()+" did not reach the stable tag")
			}
		}
		if want := len(bodhi.ChunkSizes(nBuilt)); len(bc.GetUpdates()) != want {
			p = append(p, fmt.Sprintf("batch %s filed %d updates, want %d", bc.GetBatchId(), len(bc.GetUpdates()), want))
		}
		for _, u := range bc.GetUpdates() {
			aliases = append(aliases, u.GetAlias())
		}
	}
	add("one Bodhi update per chunk, each build in exactly one, all stable", p, strings.Join(aliases, ", "))

	if obs.SideTagExists != nil {
		p = nil
		for _, bc := range batches {
			if st := bc.GetBuildSideTag(); st == "" {
				p = append(p, "batch "+bc.GetBatchId()+" names no build side tag")
			} else if obs.SideTagExists(st) {
				p = append(p, "build side tag "+st+" still exists")
			}
		}
		add("build side tags removed", p, fmt.Sprintf("%d removed", len(batches)))
	}
	if obs.SideTagsLeft != nil {
		p = nil
		for _, st := range obs.SideTagsLeft() {
			p = append(p, st+" is left")
		}
		add("no side tags left in Koji (seeding, orphaned or update)", p, "none")
	}
	return fs
}

// WaitSideTagsGone polls list until it reports no side tags or ctx ends,
// and returns what is left then (a listing error counts as left). Bodhi
// removes an update's side tag just after tagging its builds into the
// stable tag, so the last batch can close a moment before that.
func WaitSideTagsGone(ctx context.Context, list func(context.Context) ([]string, error)) []string {
	for {
		tags, err := list(ctx)
		if err == nil && len(tags) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return []string{fmt.Sprintf("listSideTags: %v", err)}
			}
			return tags
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// filter keeps the problems that mention one of names.
func filter(problems, names []string) []string {
	var out []string
	for _, pr := range problems {
		for _, n := range names {
			if strings.HasPrefix(pr, n+":") {
				out = append(out, pr)
				break
			}
		}
	}
	return out
}

func roleNames(rs []Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

func short(s ebsv1.PackageState) string {
	return strings.TrimPrefix(s.String(), "PACKAGE_STATE_")
}

// Eligible returns the ELN names of the eligible triggers.
func Eligible(triggers []Trigger) []string {
	var out []string
	for _, t := range triggers {
		if t.Eligible && !slices.Contains(out, t.ELN) {
			out = append(out, t.ELN)
		}
	}
	return out
}
