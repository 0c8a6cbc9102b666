package config

import (
	"fmt"
	"os"
	"time"
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
	// Timers are the original service's fixed intervals and timeouts. They are
	// not part of the YAML; services override them with their own flags.
	Timers Timers
	// Source names where the configuration came from (for errors and logs).
	Source string
	// Layout is LayoutSingleFile (trigger tag in configuration.koji, the
	// production distrobaker.yaml) or LayoutSplit (trigger tag in
	// configuration.control, the static + dynamic files).
	Layout string
	// TriggerTagKey is the key path the trigger tag was read from.
	TriggerTagKey string
	// Digest is the sha256 (hex) of the configuration text, documents in order.
	Digest string
	// Revision is the git commit the configuration was read at ("" unless git).
	Revision string
	// Warnings are non-fatal findings (defaults assumed, unknown keys).
	Warnings []string
}

// Layouts.
const (
	LayoutSingleFile = "single-file"
	LayoutSplit      = "split"
)

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
	// WarnTimeout (minutes in YAML, default 180); 0 means none.
	WarnTimeout time.Duration
}

// ChunkSizes splits total NVRs into Bodhi update sizes: one chunk when
// BatchSize is 0 or total is at most MaxSingleBatchSize, else chunks of
// BatchSize in order (the last one smaller).
func (b Bodhi) ChunkSizes(total int) []int {
	if total <= 0 {
		return nil
	}
	if b.BatchSize <= 0 || total <= b.MaxSingleBatchSize {
		return []int{total}
	}
	var out []int
	for total > 0 {
		n := min(b.BatchSize, total)
		out = append(out, n)
		total -= n
	}
	return out
}

// DB is configuration.db (the password comes from Secrets, never YAML).
type DB struct {
	Host     string
	Port     int
	Name     string
	Driver   string
	User     string
	PageSize int
}

// OIDC is configuration.open_id_connect when enabled (the client secret comes
// from Secrets, never YAML).
type OIDC struct {
	AuthURL          string
	ClientID         string
	TokenEndpoint    string
	UserinfoEndpoint string
	AdminGroups      []string
	Scopes           []string
}

// DefaultOIDCScopes are the scopes used when open_id_connect.scopes is absent.
var DefaultOIDCScopes = []string{"openid", "profile", "https://id.fedoraproject.org/scope/groups"}

// Email is configuration.email when enabled (the SMTP password comes from
// Secrets, never YAML).
type Email struct {
	SMTPHost     string
	SMTPPort     int
	SMTPUsername string
	From         string
	Recipients   []string
}

// Control is configuration.control.
type Control struct {
	// TriggerTag as configured; "rawhide" is resolved through Bodhi by the
	// filter (see RawhideTriggerTag).
	TriggerTag     string
	Pause          bool
	StatusInterval time.Duration
	SkipTag        []Pattern
	Exclude        []Pattern
	Ordering       []OrderingRule
}

// RawhideTriggerTag is the trigger tag value resolved through Bodhi's
// pending releases (the release whose branch is "rawhide" gives its stable_tag).
const RawhideTriggerTag = "rawhide"

// DefaultOrdering is the ordering of components no rule matches.
const DefaultOrdering = 1000

// DefaultContentResolver is used when autopackagelist.content_resolver is absent.
const DefaultContentResolver = "https://tiny.distro.builders"

// Components is the top-level components section.
type Components struct {
	AutoPackageList *AutoPackageList
	// Overrides keyed by the downstream (ELN) name.
	Overrides map[string]Override
	// OverrideOrder lists the override keys in YAML order.
	OverrideOrder []string
}

// AutoPackageList selects Content Resolver lists.
type AutoPackageList struct {
	Views           []string
	Sources         []string
	ContentResolver string
}

// Override renames or adds a component.
type Override struct {
	// UpstreamName is the Fedora name (defaults to the downstream name).
	UpstreamName string
	Extra        map[string]any
}

// OrderingOf returns the ordering of an ELN component: the first matching rule
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
func (c Control) Skipped(name string) bool { return anyMatch(c.SkipTag, name) != nil }

// Excluded reports whether a name is excluded.
func (c Control) Excluded(name string) bool { return anyMatch(c.Exclude, name) != nil }

// ExcludedBy returns the first exclude pattern matching name, or nil.
func (c Control) ExcludedBy(name string) *Pattern { return anyMatch(c.Exclude, name) }

func anyMatch(ps []Pattern, s string) *Pattern {
	for i := range ps {
		if ps[i].Match(s) {
			return &ps[i]
		}
	}
	return nil
}

// LoadFile reads and validates one configuration file (single-file layout),
// or several files merged in order (static then dynamic).
func LoadFile(paths ...string) (*Config, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("config: no file given")
	}
	docs := make([]Document, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		docs = append(docs, Document{Name: p, Data: b})
	}
	return ParseDocuments(docs...)
}

// Parse decodes one or more YAML documents (merged in order) into a Config.
// source names them in errors: one name, or one name per document joined
// with "+" (as LoadFile does).
func Parse(source string, docs ...[]byte) (*Config, error) {
	names := splitNames(source, len(docs))
	ds := make([]Document, len(docs))
	for i, d := range docs {
		ds[i] = Document{Name: names[i], Data: d}
	}
	c, err := ParseDocuments(ds...)
	if c != nil {
		c.Source = source
	}
	return c, err
}
