package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Config is one loaded, validated configuration.
type Config struct {
	Koji       Koji
	Bodhi      Bodhi
	DB         DB
	OIDC       *OIDC  // nil: open_id_connect: false (no auth)
	Email      *Email // nil: email: false
	Control    Control
	Components Components
	// Source names where the configuration came from (for errors and logs).
	Source string
}

// Koji is configuration.koji.
type Koji struct {
	Profile      string
	BuildTarget  string
	StableTag    string
	Username     string
	ScratchBuild bool
	FailFast     bool
	WaitRepo     bool
	Instance     string
}

// Bodhi is configuration.bodhi.
type Bodhi struct {
	// BatchSize is NVRs per update; 0 never splits.
	BatchSize int
	// MaxSingleBatchSize: split only when the total exceeds it (default BatchSize).
	MaxSingleBatchSize int
	Staging            bool
	WarnTimeout        time.Duration
}

// DB is configuration.db (the password comes from a secret, never YAML).
type DB struct {
	Host     string
	Port     int
	Name     string
	Driver   string
	User     string
	PageSize int
}

// OIDC is configuration.open_id_connect when enabled.
type OIDC struct {
	AuthURL          string
	ClientID         string
	TokenEndpoint    string
	UserinfoEndpoint string
	AdminGroups      []string
	Scopes           []string
}

// Email is configuration.email when enabled.
type Email struct {
	SMTPHost     string
	SMTPPort     int
	SMTPUsername string
	From         string
	Recipients   []string
}

// Control is configuration.control.
type Control struct {
	TriggerTag     string
	Pause          bool
	StatusInterval time.Duration
	SkipTag        []Pattern
	Exclude        []Pattern
	Ordering       []OrderingRule
}

// Pattern is a Python-style regular expression used with re.search semantics
// (unanchored unless the pattern anchors itself).
type Pattern struct {
	Source string
	re     *regexp.Regexp
}

// Match reports whether the pattern matches anywhere in name.
func (p Pattern) Match(name string) bool { return p.re != nil && p.re.MatchString(name) }

// OrderingRule maps a pattern on the ELN name to a slice ordering value.
type OrderingRule struct {
	Pattern
	Value int
}

// DefaultOrdering is the ordering of components no rule matches.
const DefaultOrdering = 1000

// Components is the top-level components section.
type Components struct {
	AutoPackageList *AutoPackageList
	// Overrides keyed by the downstream (ELN) name.
	Overrides map[string]Override
}

// AutoPackageList selects Content Resolver lists.
type AutoPackageList struct {
	Views           []string
	Sources         []string
	ContentResolver string
}

// Override renames or adds a component.
type Override struct {
	UpstreamName string
	Extra        map[string]any
}

// Ordering returns the ordering of an ELN component: the first matching rule
// in YAML order, else DefaultOrdering.
func (c Control) OrderingOf(eln string) int {
	for _, r := range c.Ordering {
		if r.Match(eln) {
			return r.Value
		}
	}
	return DefaultOrdering
}

// Skipped reports whether a component's Rawhide build must not be tagged into
// the build side tag (skip_tag).
func (c Control) Skipped(name string) bool { return anyMatch(c.SkipTag, name) }

// Excluded reports whether a name is excluded.
func (c Control) Excluded(name string) bool { return anyMatch(c.Exclude, name) }

func anyMatch(ps []Pattern, s string) bool {
	for _, p := range ps {
		if p.Match(s) {
			return true
		}
	}
	return false
}

// CompilePattern compiles a Python regex for Go's RE2, rejecting what RE2
// cannot express (look-arounds, back-references) with a clear error.
func CompilePattern(src string) (Pattern, error) {
	re, err := regexp.Compile(src)
	if err != nil {
		return Pattern{}, fmt.Errorf("pattern %q is not supported (Go RE2 syntax: no look-arounds or back-references): %w", src, err)
	}
	return Pattern{Source: src, re: re}, nil
}

// LoadFile reads and validates one configuration file (single-file layout),
// or several files merged in order (static then dynamic).
func LoadFile(paths ...string) (*Config, error) {
	var docs [][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		docs = append(docs, b)
	}
	return Parse(strings.Join(paths, "+"), docs...)
}

// Parse decodes one or more YAML documents (merged in order) into a Config.
func Parse(source string, docs ...[]byte) (*Config, error) {
	var raw rawFile
	for _, d := range docs {
		dec := yaml.NewDecoder(bytes.NewReader(d))
		dec.KnownFields(false)
		if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config %s: %w", source, err)
		}
	}
	c, err := raw.convert()
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", source, err)
	}
	c.Source = source
	return c, nil
}
