package world

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/contentresolver"
	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

// Koji names of the demo world (the simulator's default world).
const (
	TriggerTag   = "f45"                   // Rawhide, configuration.koji.trigger_tag
	CandidateTag = "f45-updates-candidate" // where new Rawhide builds wait
	StableTag    = "eln"                   // configuration.koji.stable_tag
	Tagger       = "bodhi"                 // who tags Rawhide builds into f45
	Builder      = "eln-buildsync"         // ebs's Koji user: owns its side tags
	FedoraDist   = "fc45"
	ELNDist      = "eln150"
)

// Defaults of Options.
const (
	DefaultSeed     = 45
	DefaultPackages = 300
	DefaultWaves    = 1
	DefaultBuild    = 1500 * time.Millisecond
)

// Options size the world.
type Options struct {
	// Seed makes everything deterministic (default DefaultSeed).
	Seed uint64
	// Packages generated in Koji besides the named ones (default 300).
	Packages int
	// Waves of new Rawhide builds, one batch each (default 1). The first wave
	// is the showcase (every rule of the configuration at work); later waves
	// are plain packages with one real failure and one flaky build each.
	Waves int
	// WaveSize is the number of ordinary eligible packages per wave
	// (default 30 for the first wave, 12 for the others).
	WaveSize int
	// Build is the mean duration of one simulated build (default 1.5 s);
	// builds take between a third and twice as long.
	Build time.Duration
}

func (o Options) withDefaults() Options {
	if o.Seed == 0 {
		o.Seed = DefaultSeed
	}
	if o.Packages <= 0 {
		o.Packages = DefaultPackages
	}
	if o.Waves <= 0 {
		o.Waves = DefaultWaves
	}
	if o.Build <= 0 {
		o.Build = DefaultBuild
	}
	return o
}

// Role says why a trigger is in the world (what it demonstrates).
type Role string

// Roles of triggers.
const (
	RoleBuilt      Role = "built"      // an ordinary eligible package that builds
	RoleFailing    Role = "failing"    // fails on every attempt: denylisted
	RoleSRPMFail   Role = "srpm-fail"  // its SRPM never builds: denylisted
	RoleFlaky      Role = "flaky"      // fails once, builds on the retry
	RoleSkipTag    Role = "skip-tag"   // rebuilt but not seeded into the side tag
	RoleExcluded   Role = "excluded"   // listed, but an exclude rule matches: never requested
	RoleIneligible Role = "ineligible" // not in the Content Resolver lists: never requested
	RoleRenamed    Role = "renamed"    // freeipa in Fedora, ipa in ELN
)

// Trigger is one new Rawhide build of the world.
type Trigger struct {
	Wave int
	// Fedora is the Koji package name, ELN the component (== Fedora unless renamed).
	Fedora string
	ELN    string
	// NVR of the new Rawhide build tagged into f45; SCMURL is its source.
	NVR    string
	SCMURL string
	Roles  []Role
	// What the configuration says about it (computed with libs/config and
	// libs/contentresolver, as the filter and batcher do).
	Eligible bool // in the universe and not excluded: a request is made
	Seeded   bool // no skip_tag match: tagged into the build side tag
	Ordering int
	// Outcome of its builds in the simulator.
	Outcome kojihub.Outcome
	// ELNNVR is the NVR an ELN rebuild gets (only for builds that succeed).
	ELNNVR string
}

// Has reports whether the trigger plays role r.
func (t Trigger) Has(r Role) bool { return slices.Contains(t.Roles, r) }

// World is the generated world.
type World struct {
	Options Options
	// Scenario is the kojisim scenario (seed, generated world size, outcomes
	// and timing); Builds are the named builds added after generation, in
	// order (the untagged new Rawhide builds among them).
	Scenario kojihub.ScenarioFile
	Builds   []kojihub.BuildSpec
	// Lists are the Content Resolver lists.
	Lists []contentresolver.List
	// Triggers of every wave, in feeding order.
	Triggers []Trigger
	// Generated names every package Koji generates (besides Builds).
	Generated []string
}

// Wave returns the triggers of wave n.
func (w *World) Wave(n int) []Trigger {
	var out []Trigger
	for _, t := range w.Triggers {
		if t.Wave == n {
			out = append(out, t)
		}
	}
	return out
}

// named is a package the scenario needs by name, with its existing builds.
type named struct {
	fedora, eln string
	version     string
	release     int
	roles       []Role
	// elnBuild gives the package an existing ELN build (the rename needs one:
	// ipa is what ELN ships).
	elnBuild bool
}

// The showcase: every rule of the production configuration at work.
var showcase = []named{
	{fedora: "llvm", version: "21.1.4", release: 2, roles: []Role{RoleSkipTag}},                                // ordering 0
	{fedora: "clang", version: "21.1.4", release: 2, roles: []Role{RoleSkipTag, RoleFlaky}},                    // ordering 1
	{fedora: "ocaml-srpm-macros", version: "11", release: 3, roles: []Role{RoleSkipTag}},                       // ordering 0
	{fedora: "ocaml", version: "5.4.0", release: 4, roles: []Role{RoleSkipTag}},                                // ordering 1
	{fedora: "nettle", version: "3.10.2", release: 2, roles: []Role{RoleSkipTag}},                              // ordering 500
	{fedora: "freeipa", eln: "ipa", version: "4.12.5", release: 3, roles: []Role{RoleRenamed}, elnBuild: true}, // ordering 1001
	{fedora: "gcc", version: "15.2.1", release: 5, roles: []Role{RoleSkipTag}},
	{fedora: "binutils", version: "2.45.1", release: 2, roles: []Role{RoleSkipTag}},
	{fedora: "rust", version: "1.91.1", release: 1, roles: []Role{RoleSkipTag}},
	{fedora: "selinux-policy", version: "42.17", release: 1, roles: []Role{RoleSkipTag}},
	{fedora: "redhat-rpm-config", version: "343", release: 2, roles: []Role{RoleSkipTag}},
	{fedora: "lld", version: "21.1.4", release: 2, roles: []Role{RoleSkipTag}},
	{fedora: "kernel", version: "6.18.0", release: 63, roles: []Role{RoleExcluded}},
	{fedora: "fedora-release", version: "45", release: 1, roles: []Role{RoleExcluded}},
	{fedora: "golang", version: "1.26.8", release: 1, roles: []Role{RoleExcluded}},
	{fedora: "shim-unsigned-x64", version: "16.1", release: 4, roles: []Role{RoleExcluded}},
	{fedora: "texlive-base", version: "20250308", release: 9, roles: []Role{RoleExcluded}},
}

// New generates the world. The same Options always give the same world.
func New(o Options) (*World, error) {
	o = o.withDefaults()
	w := &World{Options: o}
	rng := rand.New(rand.NewPCG(o.Seed, 0xeb5))

	// What Koji generates for this seed: a throwaway hub tells us.
	scen := kojihub.Scenario{
		Default:   kojihub.Outcome{Result: kojihub.ResultSucceed, Duration: kojihub.Duration(o.Build)},
		Packages:  map[string]kojihub.Outcome{},
		TagDelay:  kojihub.Duration(20 * time.Millisecond),
		RepoDelay: kojihub.Duration(150 * time.Millisecond),
	}
	w.Scenario = kojihub.ScenarioFile{Seed: o.Seed, World: kojihub.WorldSpec{Packages: o.Packages, ELNFraction: 0.1}, Scenario: scen}
	hub, err := kojihub.New(kojihub.Options{Seed: o.Seed, Packages: o.Packages})
	if err != nil {
		return nil, fmt.Errorf("world: generate: %w", err)
	}
	defer hub.Close()
	rawhide := map[string]string{} // Fedora name -> NVR in f45
	for _, nvr := range hub.Tagged(TriggerTag) {
		n, _, _, err := splitNVR(nvr)
		if err == nil {
			rawhide[n] = nvr
		}
	}
	w.Generated = hub.Packages()
	sort.Strings(w.Generated)

	cfg, err := Config("http://content-resolver.invalid")
	if err != nil {
		return nil, err
	}
	ctl := cfg.Control

	// Named packages: an existing Rawhide build (unless generated) and the new one.
	var triggers []Trigger
	owners := []string{"tstellar", "sgallagh", "yselkowitz", "abbra", "ppisar", "jakub", "dmalcolm", "mhroncok"}
	for _, n := range showcase {
		if n.eln == "" {
			n.eln = n.fedora
		}
		old, ok := rawhide[n.fedora]
		if !ok {
			old = fmt.Sprintf("%s-%s-%d.%s", n.fedora, n.version, n.release, FedoraDist)
			w.Builds = append(w.Builds, kojihub.BuildSpec{NVR: old, Owner: owners[rng.IntN(len(owners))],
				State: koji.BuildComplete, Tags: []string{TriggerTag}, WithTask: true})
			rawhide[n.fedora] = old
		}
		if n.elnBuild {
			_, v, r, _ := splitNVR(old)
			w.Builds = append(w.Builds, kojihub.BuildSpec{NVR: fmt.Sprintf("%s-%s-%s", n.eln, v, swapDist(r)),
				Owner: Builder, State: koji.BuildComplete, Tags: []string{StableTag}, WithTask: true})
		}
		triggers = append(triggers, Trigger{Wave: 0, Fedora: n.fedora, ELN: n.eln, Roles: n.roles})
	}

	// Ordinary packages: generated ones no rule of the configuration touches.
	var plain []string
	for _, p := range w.Generated {
		if _, ok := rawhide[p]; !ok || isShowcase(p) || ctl.Skipped(p) || ctl.Excluded(p) ||
			ctl.OrderingOf(p) != config.DefaultOrdering || strings.ContainsAny(p, "+") {
			continue
		}
		plain = append(plain, p)
	}
	rng.Shuffle(len(plain), func(i, j int) { plain[i], plain[j] = plain[j], plain[i] })
	take := func(n int) []string {
		n = min(n, len(plain))
		out := plain[:n]
		plain = plain[n:]
		return out
	}
	for wave := 0; wave < o.Waves; wave++ {
		size := o.WaveSize
		if size <= 0 {
			size = 30
			if wave > 0 {
				size = 12
			}
		}
		names := take(size)
		if len(names) < 4 {
			return nil, fmt.Errorf("world: %d packages are too few for %d waves", o.Packages, o.Waves)
		}
		for i, p := range names {
			t := Trigger{Wave: wave, Fedora: p, ELN: p, Roles: []Role{RoleBuilt}}
			switch {
			case i == 0:
				t.Roles = []Role{RoleFailing}
			case i == 1 && wave == 0:
				t.Roles = []Role{RoleSRPMFail}
			case i == 2:
				t.Roles = []Role{RoleFlaky}
			}
			triggers = append(triggers, t)
		}
		for _, p := range take(3) {
			triggers = append(triggers, Trigger{Wave: wave, Fedora: p, ELN: p, Roles: []Role{RoleIneligible}})
		}
	}

	// Content Resolver lists: every trigger but the ineligible ones, and most
	// of the other generated packages (so the universe is realistic).
	ineligible := map[string]bool{}
	for _, t := range triggers {
		if t.Has(RoleIneligible) {
			ineligible[t.Fedora] = true
		}
	}
	var eln, extras, buildroot []string
	for _, t := range triggers {
		if !t.Has(RoleIneligible) {
			eln = append(eln, t.ELN)
		}
	}
	for _, p := range w.Generated {
		if ineligible[p] || isShowcase(p) || slices.Contains(eln, p) {
			continue
		}
		switch r := rng.Float64(); {
		case r < 0.55:
			eln = append(eln, p)
		case r < 0.65:
			extras = append(extras, p)
		case r < 0.72:
			buildroot = append(buildroot, p)
		}
	}
	sort.Strings(eln)
	sort.Strings(extras)
	sort.Strings(buildroot)
	w.Lists = []contentresolver.List{
		{View: "eln", Source: "source", Names: eln},
		{View: "eln", Source: "buildroot-source", Names: buildroot},
		{View: "eln-extras", Source: "source", Names: extras},
		{View: "eln-extras", Source: "buildroot-source", Names: nil},
	}
	universe, err := contentresolver.Build(cfg.Components.AutoPackageList, w.Lists, cfg.Components)
	if err != nil {
		return nil, fmt.Errorf("world: universe: %w", err)
	}

	// The new Rawhide builds, their outcomes, and what the configuration
	// says about each (the same calls the filter and batcher make).
	for i := range triggers {
		t := &triggers[i]
		old := rawhide[t.Fedora]
		n, v, r, err := splitNVR(old)
		if err != nil {
			return nil, fmt.Errorf("world: %s: %w", t.Fedora, err)
		}
		t.NVR = fmt.Sprintf("%s-%s-%s", n, v, bumpRelease(r, 1+t.Wave))
		t.SCMURL = fmt.Sprintf("git+https://src.fedoraproject.org/rpms/%s.git#%s", n, hash(o.Seed, t.NVR))
		w.Builds = append(w.Builds, kojihub.BuildSpec{NVR: t.NVR, Owner: owners[rng.IntN(len(owners))], Source: t.SCMURL,
			State: koji.BuildComplete, Tags: []string{CandidateTag}, WithTask: true})
		_, inUniverse := universe.Upstream(t.Fedora)
		t.Eligible = inUniverse && !ctl.Excluded(t.Fedora)
		if e, ok := universe.Upstream(t.Fedora); ok {
			t.ELN = e.Downstream
		}
		t.Seeded = !ctl.Skipped(t.Fedora)
		t.Ordering = ctl.OrderingOf(t.ELN)
		d := kojihub.Duration(o.Build/3 + time.Duration(rng.Int64N(int64(o.Build*5/3))))
		out := kojihub.Outcome{Result: kojihub.ResultSucceed, Duration: d}
		switch {
		case t.Has(RoleFailing):
			out.Result = kojihub.ResultFail
		case t.Has(RoleSRPMFail):
			out.Result = kojihub.ResultSRPMFail
		case t.Has(RoleFlaky):
			out.Result, out.Times = kojihub.ResultFail, 1
		}
		_, v2, r2, _ := splitNVR(t.NVR)
		if t.ELN != t.Fedora {
			// The spec names the package after the distribution: freeipa.spec
			// builds ipa on RHEL and ELN.
			out.NVR = fmt.Sprintf("%s-%s-%s", t.ELN, v2, swapDist(r2))
		}
		if out.Result == kojihub.ResultSucceed || out.Times > 0 {
			t.ELNNVR = fmt.Sprintf("%s-%s-%s", t.ELN, v2, swapDist(r2))
		}
		t.Outcome = out
		if t.Eligible {
			w.Scenario.Scenario.Packages[t.Fedora] = out
		}
	}
	w.Triggers = triggers
	return w, nil
}

func isShowcase(p string) bool {
	for _, n := range showcase {
		if n.fedora == p || n.eln == p {
			return true
		}
	}
	return false
}

// splitNVR splits name-version-release.
func splitNVR(nvr string) (n, v, r string, err error) {
	i := strings.LastIndexByte(nvr, '-')
	if i <= 0 {
		return "", "", "", fmt.Errorf("invalid NVR %q", nvr)
	}
	j := strings.LastIndexByte(nvr[:i], '-')
	if j <= 0 {
		return "", "", "", fmt.Errorf("invalid NVR %q", nvr)
	}
	return nvr[:j], nvr[j+1 : i], nvr[i+1:], nil
}

// bumpRelease adds n to the leading number of a release ("3.fc45" -> "4.fc45").
func bumpRelease(r string, n int) string {
	head, tail, _ := strings.Cut(r, ".")
	k, err := strconv.Atoi(head)
	if err != nil {
		return r + "." + strconv.Itoa(n)
	}
	if tail == "" {
		return strconv.Itoa(k + n)
	}
	return strconv.Itoa(k+n) + "." + tail
}

func swapDist(r string) string { return strings.Replace(r, "."+FedoraDist, "."+ELNDist, 1) }

// hash is a stable git-commit-like hex string.
func hash(seed uint64, s string) string {
	x := seed ^ 1469598103934665603
	out := make([]byte, 0, 40)
	for len(out) < 40 {
		for i := 0; i < len(s); i++ {
			x ^= uint64(s[i])
			x *= 1099511628211
		}
		out = fmt.Appendf(out, "%016x", x)
	}
	return string(out[:40])
}
