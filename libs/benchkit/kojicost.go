package benchkit

import (
	"math"
	"sort"
	"strings"
	"time"

	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

// Phases of a batch's Koji cost, in batch order.
const (
	PhaseResolve = "resolve (SCM URLs)"
	PhaseSeed    = "seeding (build side tag)"
	PhaseSubmit  = "submission"
	PhasePolls   = "tracking polls"
	PhaseNVR     = "NVR lookup"
	PhasePromote = "promotion"
	PhaseUpdate  = "update side tags (Bodhi)"
	PhaseStable  = "stable wait"
	PhaseCleanup = "cleanup"
	PhaseOther   = "session & other"
)

// Phases lists the phases in report order.
var Phases = []string{PhaseResolve, PhaseSeed, PhaseSubmit, PhasePolls, PhaseNVR, PhasePromote,
	PhaseUpdate, PhaseStable, PhaseCleanup, PhaseOther}

// Cost is a number of HTTP requests and XML-RPC calls (multicall elements
// counted one by one; a multiCall request is one request and no call).
type Cost struct {
	Requests int64 `json:"http_requests"`
	Calls    int64 `json:"xmlrpc_calls"`
}

func (c Cost) add(o Cost) Cost { return Cost{c.Requests + o.Requests, c.Calls + o.Calls} }

// PhaseCost is the cost of a batch by phase.
type PhaseCost map[string]Cost

// Total sums every phase.
func (p PhaseCost) Total() Cost {
	var t Cost
	for _, c := range p {
		t = t.add(c)
	}
	return t
}

// Without sums every phase but the named ones.
func (p PhaseCost) Without(phases ...string) Cost {
	var t Cost
	for name, c := range p {
		skip := false
		for _, x := range phases {
			if name == x {
				skip = true
			}
		}
		if !skip {
			t = t.add(c)
		}
	}
	return t
}

// BatchTags name the tags of one batch, which tell the phases apart (the
// same method serves several: tagBuild seeds the build side tag and fills
// the update side tags, listTagged waits on all three).
type BatchTags struct {
	UpdateSideTags []string
	StableTag      string
	// Timeline is the batch's phase announcements (ebs.batch.phase), in
	// order: calls that name no tag (listTags(build=...), the waits'
	// checks) go to the phase they were made in.
	Timeline []PhaseMark
}

// PhaseMark is a batch phase (BatchPhase without its prefix: SEEDING,
// PUBLISHING, WAITING_STABLE...) starting at At.
type PhaseMark struct {
	At    time.Time
	Phase string
}

// phaseAt maps the batch phase at t to a cost phase.
func (t BatchTags) phaseAt(at time.Time) string {
	cur := ""
	for _, m := range t.Timeline {
		if m.At.After(at) {
			break
		}
		cur = m.Phase
	}
	switch cur {
	case "SEEDING":
		return PhaseSeed
	case "PUBLISHING":
		return PhaseUpdate
	case "WAITING_STABLE":
		return PhaseStable
	}
	return PhaseOther
}

// Classification is a batch's Koji traffic split by who made it.
type Classification struct {
	// EBS is ebs's own traffic by phase.
	EBS PhaseCost
	// Bodhi is what the simulated Bodhi asked Koji (user "bodhi"): not
	// ebs's cost, shown apart.
	Bodhi Cost
	// Methods counts ebs's calls per method.
	Methods map[string]int64
}

// Classify splits a call log (kojihub.Hub.CallLog, reset at the batch's
// start) into phases. Each request goes to the phase of its (first) call;
// every call to its own.
func Classify(log []kojihub.CallRecord, tags BatchTags) Classification {
	out := Classification{EBS: PhaseCost{}, Methods: map[string]int64{}}
	update := map[string]bool{}
	for _, t := range tags.UpdateSideTags {
		update[t] = true
	}
	built := false // a createSideTag after the first build() makes an update side tag
	phaseOf := func(r kojihub.CallRecord) string {
		tag := ""
		if len(r.Params) > 0 {
			tag, _ = r.Params[0].(string)
		}
		switch r.Method {
		case "getBuild", "getBuildTarget":
			return PhaseResolve
		case "createSideTag":
			if built {
				return PhaseUpdate
			}
			return PhaseSeed
		case "tagBuild", "listTagged":
			switch {
			case tag != "" && tag == tags.StableTag:
				return PhaseStable
			case update[tag]:
				return PhaseUpdate
			}
			return PhaseSeed
		case "cancelTask":
			if built {
				return PhasePolls // timeouts of build tasks
			}
			return PhaseSeed // tagging tasks of an abandoned side tag
		case "build":
			built = true
			return PhaseSubmit
		case "listTasks":
			if built {
				return PhaseSubmit
			}
			return PhaseSeed
		case "getTaskInfo", "getTaskResult":
			return PhasePolls
		case "listTags":
			// A Rawhide build is a seed; ELN builds are awaited in update
			// side tags, then in the stable tag. (The log has when a call
			// ended, which may be just after the next phase began.)
			if nvr := kwarg(r.Params, "build"); strings.Contains(nvr, ".fc") {
				return PhaseSeed
			}
			return tags.phaseAt(r.Time)
		case "listBuilds":
			return PhaseNVR
		case "promoteBuild":
			return PhasePromote
		case "removeSideTag", "deleteTag":
			return PhaseCleanup
		}
		return PhaseOther
	}
	for i := 0; i < len(log); i++ {
		r := log[i]
		if r.InMulticall {
			continue // counted with its request
		}
		var elems []kojihub.CallRecord
		for j := i + 1; j < len(log) && log[j].InMulticall; j++ {
			elems = append(elems, log[j])
		}
		if r.User == "bodhi" {
			out.Bodhi.Requests++
			if r.Method == "multiCall" || r.Method == "system.multicall" {
				out.Bodhi.Calls += int64(len(elems))
			} else {
				out.Bodhi.Calls++
			}
			continue
		}
		if r.Method != "multiCall" && r.Method != "system.multicall" {
			p := phaseOf(r)
			c := out.EBS[p]
			c.Requests++
			c.Calls++
			out.EBS[p] = c
			out.Methods[r.Method]++
			continue
		}
		reqPhase := PhaseOther
		for k, e := range elems {
			p := phaseOf(e)
			if k == 0 {
				reqPhase = p
			}
			c := out.EBS[p]
			c.Calls++
			out.EBS[p] = c
			out.Methods[e.Method]++
		}
		c := out.EBS[reqPhase]
		c.Requests++
		out.EBS[reqPhase] = c
	}
	return out
}

// kwarg returns the string keyword argument key of a call's params.
func kwarg(params []any, key string) string {
	for _, p := range params {
		if m, ok := p.(map[string]any); ok {
			if v, ok := m[key].(string); ok {
				return v
			}
		}
	}
	return ""
}

// BatchShape is what the original's cost depends on, taken from a batch
// ebs ran, so both are computed on the same batch.
type BatchShape struct {
	// Packages in the batch that were built (not skipped).
	Packages int
	// Seeded: builds tagged into the build side tag (skip_tag excluded).
	Seeded int
	// Attempts: packages submitted by each build attempt (every slice's
	// first attempt, then its resubmissions), in order.
	Attempts []int
	// Succeeded: successful build tasks.
	Succeeded int
	// Chunks: builds per Bodhi update (each gets an update side tag).
	Chunks []int
	// Draft: drafts are promoted (the original's Gen C always builds drafts).
	Draft bool
	// TagWaits, StableWait: how long the waits took (seconds), for the
	// listTagged polls every 5 minutes.
	SeedWait, UpdateWait, StableWait float64
}

// PollInterval of the original's check_tasks and check_tags (300 s).
const PollInterval = 300.0

// MulticallSize of the original's (and ebs's) multicalls.
const MulticallSize = 500

func chunks(n int) int64 { return int64((n + MulticallSize - 1) / MulticallSize) }

// OriginalModel computes the Koji traffic of the original ELNBuildSync (Gen
// C, described in the reference notes) for a batch of this shape, with the
// task polls left out (see TaskPolls: they depend on build durations):
//
//   - resolve: getBuild per trigger for the SCM URL, in multicalls of 500;
//   - seeding: createSideTag; getBuild (NVRs) and tagBuild in multicalls of
//     500; listTagged(side tag) every 5 min while waiting;
//   - submission: build() in multicalls of 500 per attempt;
//   - NVR lookup: listBuilds(taskID) per successful task, one request each;
//   - promotion: promoteBuild in multicalls of 500 per chunk (drafts);
//   - update side tags per chunk: createSideTag, getBuild and tagBuild
//     multicalls, listTagged every 5 min while waiting;
//   - stable wait: listTagged(stable tag) every 5 min;
//   - cleanup: removeSideTag.
func OriginalModel(s BatchShape) PhaseCost {
	out := PhaseCost{}
	polls := func(wait float64) int64 { return int64(math.Floor(wait / PollInterval)) }
	mc := func(n int) Cost { return Cost{Requests: chunks(n), Calls: int64(n)} }
	out[PhaseResolve] = mc(s.Packages)
	seed := Cost{Requests: 1, Calls: 1}
	if s.Seeded > 0 {
		seed = seed.add(mc(s.Seeded)).add(mc(s.Seeded))
		p := polls(s.SeedWait)
		seed = seed.add(Cost{p, p})
	}
	out[PhaseSeed] = seed
	var sub Cost
	for _, a := range s.Attempts {
		sub = sub.add(mc(a))
	}
	out[PhaseSubmit] = sub
	out[PhaseNVR] = Cost{int64(s.Succeeded), int64(s.Succeeded)}
	var prom, upd Cost
	for _, c := range s.Chunks {
		if s.Draft {
			prom = prom.add(mc(c))
		}
		upd = upd.add(Cost{1, 1}).add(mc(c)).add(mc(c))
		p := polls(s.UpdateWait)
		upd = upd.add(Cost{p, p})
	}
	out[PhasePromote] = prom
	out[PhaseUpdate] = upd
	if len(s.Chunks) > 0 {
		p := polls(s.StableWait)
		out[PhaseStable] = Cost{p, p}
	}
	out[PhaseCleanup] = Cost{1, 1}
	return out
}

// TaskPolls models the task-tracking polls of one batch whose build tasks
// take durations (seconds), slice after slice (sliceSizes split durations
// in order): a poll every 300 s from the batch's start asks for every task
// still open. ebs asks in multicalls of 500 (one request per 500 open
// tasks); the original asks getTaskInfo per task, one request each.
func TaskPolls(durations []float64, sliceSizes []int) (ebs, original Cost) {
	start := 0.0
	i := 0
	for _, n := range sliceSizes {
		if n <= 0 {
			continue
		}
		d := append([]float64(nil), durations[i:min(i+n, len(durations))]...)
		i += n
		sort.Float64s(d)
		end := start
		if len(d) > 0 {
			end = start + d[len(d)-1]
		}
		// Ticks at multiples of PollInterval within (start, end].
		for t := math.Floor(start/PollInterval)*PollInterval + PollInterval; t <= end; t += PollInterval {
			open := 0
			for _, x := range d {
				if start+x >= t {
					open++
				}
			}
			if open == 0 {
				continue
			}
			ebs = ebs.add(Cost{chunks(open), int64(open)})
			original = original.add(Cost{int64(open), int64(open)})
		}
		start = end
	}
	return ebs, original
}

// BuildDurations is the build-time profile the poll model assumes for n
// packages: log-normal with a 20-minute median and a long tail (a few
// builds take hours, as toolchains and browsers do), capped at 24 h,
// deterministic for a given n.
func BuildDurations(n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		// Deterministic quantiles of the distribution, spread evenly.
		q := (float64(i) + 0.5) / float64(n)
		z := normInv(q)
		out[i] = math.Min(1200*math.Exp(1.0*z), 24*3600)
	}
	// Interleave long and short builds as a real slice would mix them.
	r := make([]float64, n)
	for i := range out {
		r[(i*7919)%n] = out[i]
	}
	if n > 0 && gcd(7919, n) != 1 {
		return out
	}
	return r
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// normInv is the standard normal quantile (Acklam's rational approximation,
// relative error below 1.2e-9).
func normInv(p float64) float64 {
	a := []float64{-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00}
	b := []float64{-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01}
	c := []float64{-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00}
	d := []float64{7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00}
	const lo = 0.02425
	switch {
	case p < lo:
		q := math.Sqrt(-2 * math.Log(p))
		return (((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q + c[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	case p > 1-lo:
		q := math.Sqrt(-2 * math.Log(1-p))
		return -(((((c[0]*q+c[1])*q+c[2])*q+c[3])*q+c[4])*q + c[5]) / ((((d[0]*q+d[1])*q+d[2])*q+d[3])*q + 1)
	}
	q := p - 0.5
	r := q * q
	return (((((a[0]*r+a[1])*r+a[2])*r+a[3])*r+a[4])*r + a[5]) * q / (((((b[0]*r+b[1])*r+b[2])*r+b[3])*r+b[4])*r + 1)
}

// SideTagPrefix reports whether tag looks like a side tag of base.
func SideTagPrefix(tag, base string) bool { return strings.HasPrefix(tag, base+"-side-") }
