package demo

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/ebs/world"
)

// KojiCalls counts the calls one Koji account made to the hub.
type KojiCalls struct {
	User     string         // "" for anonymous calls
	Requests int            // HTTP round trips (a multicall is one)
	Calls    int            // calls, multicall elements included
	ByMethod map[string]int // calls per method
}

// CountKojiCalls counts the calls in log per account, leaving out the
// accounts in others (Bodhi's, which also feeds the Rawhide tags, is not
// ebs). Logged-in accounts come first, anonymous calls last.
func CountKojiCalls(log []kojihub.CallRecord, others ...string) []KojiCalls {
	skip := map[string]bool{}
	for _, o := range others {
		skip[o] = true
	}
	by := map[string]*KojiCalls{}
	for _, r := range log {
		if skip[r.User] {
			continue
		}
		k := by[r.User]
		if k == nil {
			k = &KojiCalls{User: r.User, ByMethod: map[string]int{}}
			by[r.User] = k
		}
		if !r.InMulticall {
			k.Requests++
		}
		if r.Method == "multiCall" || r.Method == "system.multicall" {
			continue
		}
		k.Calls++
		k.ByMethod[r.Method]++
	}
	var out []KojiCalls
	for _, k := range by {
		out = append(out, *k)
	}
	sort.Slice(out, func(i, j int) bool {
		if (out[i].User == "") != (out[j].User == "") {
			return out[j].User == ""
		}
		return out[i].User < out[j].User
	})
	return out
}

// Label names the account.
func (k KojiCalls) Label() string {
	if k.User == "" {
		return "anonymous reads"
	}
	return "as " + k.User
}

func (k KojiCalls) String() string {
	type mc struct {
		m string
		n int
	}
	var ms []mc
	for m, n := range k.ByMethod {
		ms = append(ms, mc{m, n})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].n > ms[j].n || ms[i].n == ms[j].n && ms[i].m < ms[j].m })
	var parts []string
	for i, x := range ms {
		if i == 6 {
			parts = append(parts, fmt.Sprintf("%d more methods", len(ms)-i))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %d", x.m, x.n))
	}
	return fmt.Sprintf("%d calls in %d HTTP requests (%s)", k.Calls, k.Requests, strings.Join(parts, ", "))
}

// SummaryData is what the summary shows.
type SummaryData struct {
	Triggers  []world.Trigger
	Completed []*ebsv1.BatchCompleted
	Updates   []world.Update
	Koji      []KojiCalls
	Wall      time.Duration
	Findings  world.Findings
}

// WriteSummary prints the end-of-demo table: packages per outcome, the
// Bodhi updates, Koji calls, wall time, and each check against the
// configuration.
func WriteSummary(w io.Writer, d SummaryData) {
	type row struct {
		what  string
		names []string
	}
	var built, retried, failed, timedOut, other []string
	var batchTime time.Duration
	for _, bc := range d.Completed {
		if bc.GetStartedAt() != nil && bc.GetCompletedAt() != nil {
			batchTime += bc.GetCompletedAt().AsTime().Sub(bc.GetStartedAt().AsTime())
		}
		for _, o := range bc.GetOutcomes() {
			switch o.GetState() {
			case ebsv1.PackageState_PACKAGE_STATE_BUILT:
				built = append(built, o.GetComponent())
				if o.GetAttempts() > 1 {
					retried = append(retried, o.GetComponent())
				}
			case ebsv1.PackageState_PACKAGE_STATE_FAILED:
				name := o.GetComponent()
				if o.GetDenylisted() {
					name += " (denylisted)"
				}
				failed = append(failed, name)
			case ebsv1.PackageState_PACKAGE_STATE_TIMED_OUT:
				timedOut = append(timedOut, o.GetComponent())
			default:
				other = append(other, o.GetComponent()+" "+strings.ToLower(strings.TrimPrefix(o.GetState().String(), "PACKAGE_STATE_")))
			}
		}
	}
	var excluded, unlisted []string
	for _, t := range d.Triggers {
		switch {
		case t.Has(world.RoleExcluded):
			excluded = append(excluded, t.Fedora)
		case t.Has(world.RoleIneligible):
			unlisted = append(unlisted, t.Fedora)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Summary")
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	show := func(label string, names []string, all bool) {
		detail := ""
		if len(names) > 0 && (all || len(names) <= 4) {
			detail = strings.Join(names, ", ")
		} else if len(names) > 0 {
			detail = list(names, 4)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\n", label, len(names), detail)
	}
	fmt.Fprintf(tw, "  outcome\tpackages\t\n")
	show("built", built, false)
	show("  of which on a retry", retried, true)
	show("failed", failed, true)
	if len(timedOut) > 0 {
		show("timed out", timedOut, true)
	}
	if len(other) > 0 {
		show("other", other, true)
	}
	show("excluded (never requested)", excluded, true)
	show("not in Content Resolver", unlisted, true)
	_ = tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	var ups []string
	for _, u := range d.Updates {
		ups = append(ups, fmt.Sprintf("%s (%d builds, %s)", u.Alias, len(u.NVRs), u.Status))
	}
	if len(ups) == 0 {
		ups = []string{"none"}
	}
	fmt.Fprintf(tw, "  Bodhi updates\t%s\n", strings.Join(ups, ", "))
	var tags []string
	for _, bc := range d.Completed {
		tags = append(tags, bc.GetBuildSideTag())
		tags = append(tags, bc.GetUpdateSideTags()...)
	}
	fmt.Fprintf(tw, "  side tags\t%s\n", strings.Join(tags, ", "))
	for i, k := range d.Koji {
		label := ""
		if i == 0 {
			label = "Koji calls by ebs"
		}
		fmt.Fprintf(tw, "  %s\t%s: %s\n", label, k.Label(), k)
	}
	fmt.Fprintf(tw, "  wall time\t%s (batch %s)\n", d.Wall.Round(100*time.Millisecond), batchTime.Round(100*time.Millisecond))
	_ = tw.Flush()
	if len(d.Findings) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Checks (what the production configuration demands of this world)")
		for _, f := range d.Findings {
			mark := "✓"
			if !f.OK {
				mark = "✗"
			}
			fmt.Fprintf(w, "  %s %s: %s\n", mark, f.Check, f.Detail)
		}
	}
}
