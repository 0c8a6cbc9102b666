package kojihub

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"go.yaml.in/yaml/v3"
)

// Result is what a build of a package does.
type Result string

// Build outcomes.
const (
	ResultSucceed   Result = "succeed"
	ResultFail      Result = "fail"       // a buildArch task fails (BuildError); the build is FAILED
	ResultHang      Result = "hang"       // the buildArch tasks never finish; only cancelTask ends it
	ResultSRPMFail  Result = "srpm-fail"  // buildSRPMFromSCM fails; no build entry is created
	ResultNVRExists Result = "nvr-exists" // the build task fails with "Build already exists"
)

// Duration is a time.Duration written as "20ms" in YAML.
type Duration time.Duration

// D is the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML reads "20ms", "1s", or a number of milliseconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	if v, err := time.ParseDuration(s); err == nil {
		*d = Duration(v)
		return nil
	}
	var ms int64
	if _, err := fmt.Sscan(s, &ms); err == nil {
		*d = Duration(time.Duration(ms) * time.Millisecond)
		return nil
	}
	return fmt.Errorf("kojihub: bad duration %q", s)
}

// MarshalYAML writes the duration as a string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Outcome scripts the builds of one package.
type Outcome struct {
	Result Result `yaml:"outcome"`
	// Times: with outcome "fail", fail this many attempts, then succeed
	// (0 = fail every time).
	Times int `yaml:"times,omitempty"`
	// Duration of the whole build (SRPM ~20%, arches the rest).
	Duration Duration `yaml:"duration,omitempty"`
	// NVR forces the NVR of the build (otherwise derived from the Rawhide
	// build with the same source, dist tag swapped).
	NVR string `yaml:"nvr,omitempty"`
}

// Scenario scripts the simulator's timing and outcomes. Everything is in
// real time, so keep durations in milliseconds for tests.
type Scenario struct {
	// Default outcome for packages not listed (default: succeed in 20 ms).
	Default Outcome `yaml:"default"`
	// Packages by name.
	Packages map[string]Outcome `yaml:"packages,omitempty"`
	// FailRate fails this fraction of unlisted builds, chosen with the seed.
	FailRate float64 `yaml:"fail_rate,omitempty"`
	// TagDelay is how long a tagBuild task takes (default 5 ms).
	TagDelay Duration `yaml:"tag_delay,omitempty"`
	// RepoDelay is how long a repo regeneration takes (default 10 ms).
	RepoDelay Duration `yaml:"repo_delay,omitempty"`
}

// ScenarioFile is the YAML file kojisim reads: a world, a scenario, faults.
type ScenarioFile struct {
	Seed     uint64      `yaml:"seed,omitempty"`
	World    WorldSpec   `yaml:"world,omitempty"`
	Scenario Scenario    `yaml:"scenario"`
	Faults   []FaultRule `yaml:"faults,omitempty"`
	Lossy    float64     `yaml:"lossy,omitempty"`
}

// WorldSpec sizes the generated world.
type WorldSpec struct {
	Packages    int        `yaml:"packages,omitempty"`
	ELNFraction float64    `yaml:"eln_fraction,omitempty"`
	Users       []UserSpec `yaml:"users,omitempty"`
	// Builds are added after the generated packages, in order: packages a
	// scenario needs by name (see BuildFileSpec).
	Builds []BuildFileSpec `yaml:"builds,omitempty"`
}

// BuildFileSpec is an existing build of the world file: a COMPLETE build
// with a build task, tagged (silently) into Tags.
type BuildFileSpec struct {
	NVR    string   `yaml:"nvr"`
	Owner  string   `yaml:"owner,omitempty"`  // default releng
	Source string   `yaml:"source,omitempty"` // default derived from the NVR
	Tags   []string `yaml:"tags,omitempty"`
}

// UserSpec is an extra user of the world.
type UserSpec struct {
	Name  string   `yaml:"name"`
	Perms []string `yaml:"perms,omitempty"`
}

// LoadScenarioFile reads a YAML scenario file.
func LoadScenarioFile(path string) (*ScenarioFile, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("kojihub: %w", err)
	}
	return ParseScenarioFile(b)
}

// ParseScenarioFile parses YAML; unknown keys are errors, so typos show.
func ParseScenarioFile(b []byte) (*ScenarioFile, error) {
	var f ScenarioFile
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("kojihub: scenario: %w", err)
	}
	if err := f.Scenario.validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

func (s *Scenario) validate() error {
	check := func(name string, o Outcome) error {
		switch o.Result {
		case "", ResultSucceed, ResultFail, ResultHang, ResultSRPMFail, ResultNVRExists:
			return nil
		}
		return fmt.Errorf("kojihub: scenario %s: unknown outcome %q (succeed, fail, hang, srpm-fail, nvr-exists)", name, o.Result)
	}
	if err := check("default", s.Default); err != nil {
		return err
	}
	for n, o := range s.Packages {
		if err := check(n, o); err != nil {
			return err
		}
	}
	if s.FailRate < 0 || s.FailRate > 1 {
		return fmt.Errorf("kojihub: scenario fail_rate %v not in [0,1]", s.FailRate)
	}
	return nil
}

func (s Scenario) withDefaults() *Scenario {
	if s.Default.Result == "" {
		s.Default.Result = ResultSucceed
	}
	if s.Default.Duration == 0 {
		s.Default.Duration = Duration(20 * time.Millisecond)
	}
	if s.TagDelay == 0 {
		s.TagDelay = Duration(5 * time.Millisecond)
	}
	if s.RepoDelay == 0 {
		s.RepoDelay = Duration(10 * time.Millisecond)
	}
	pk := make(map[string]Outcome, len(s.Packages))
	for k, v := range s.Packages {
		pk[k] = v
	}
	s.Packages = pk
	return &s
}

// outcomeFor resolves the outcome of attempt n (1-based) of pkg.
func (s *Scenario) outcomeFor(pkg string, attempt int, rng *rand.Rand) Outcome {
	o, listed := s.Packages[pkg]
	if !listed {
		o = s.Default
		if s.FailRate > 0 && rng.Float64() < s.FailRate {
			o.Result = ResultFail
		}
	}
	if o.Result == "" {
		o.Result = ResultSucceed
	}
	if o.Duration == 0 {
		o.Duration = s.Default.Duration
	}
	if o.Result == ResultFail && o.Times > 0 && attempt > o.Times {
		o.Result = ResultSucceed
	}
	return o
}

// SetScenario replaces the scenario (running builds keep their outcome).
func (h *Hub) SetScenario(s Scenario) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.scen = s.withDefaults()
}

// SetOutcome scripts one package.
func (h *Hub) SetOutcome(pkg string, o Outcome) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.scen.Packages[pkg] = o
}

// Attempts is how many builds of pkg were submitted.
func (h *Hub) Attempts(pkg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.runs[pkg]
}
