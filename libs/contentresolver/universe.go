package contentresolver

import (
	"errors"
	"fmt"
	"maps"
	"sort"

	"github.com/fedora-eln/ebs/libs/config"
)

// Views and sources as the original names them; ViewOverride marks a
// component known only from an override.
const (
	ViewELN       = "eln"
	ViewELNExtras = "eln-extras"
	ViewOverride  = "override"
)

// ListName is the Content Resolver file of one source and view.
func ListName(source, view string) string {
	return "view-" + source + "-package-name-list--view-" + view + ".txt"
}

// List is one fetched package-name list.
type List struct {
	View   string
	Source string
	Names  []string
}

// Entry is one component.
type Entry struct {
	// Downstream is the ELN name, Upstream the Fedora name.
	Downstream string
	Upstream   string
	// View is eln, eln-extras (or any configured view) or override; Source
	// is source, buildroot-source or override.
	View   string
	Source string
	// Extra holds an override's other keys.
	Extra map[string]any
}

// Universe is the set of components ebs cares about.
type Universe struct {
	downstream map[string]*Entry
	upstream   map[string]*Entry
}

// ErrEmpty is returned when lists and overrides give no component at all.
var ErrEmpty = errors.New("contentresolver: the component list is empty; refusing to apply the configuration")

// Build makes the universe from fetched lists and the configured components,
// as the original did: for each view in reverse, each source in reverse,
// every non-empty line becomes {view, source, name, name}, later writes
// winning (so the first-listed view and source win); the upstream map starts
// as a shallow copy (the same entries); then each override, in YAML order,
// creates its downstream entry (view/source "override") or updates the
// existing one, and adds a copy under its upstream name.
func Build(apl *config.AutoPackageList, lists []List, comps config.Components) (*Universe, error) {
	byKey := map[[2]string][]string{}
	for _, l := range lists {
		byKey[[2]string{l.View, l.Source}] = l.Names
	}
	u := &Universe{downstream: map[string]*Entry{}, upstream: map[string]*Entry{}}
	if apl != nil {
		for i := len(apl.Views) - 1; i >= 0; i-- {
			for j := len(apl.Sources) - 1; j >= 0; j-- {
				view, source := apl.Views[i], apl.Sources[j]
				names, ok := byKey[[2]string{view, source}]
				if !ok {
					return nil, fmt.Errorf("contentresolver: list %s was not fetched", ListName(source, view))
				}
				for _, n := range names {
					if n == "" {
						continue
					}
					u.downstream[n] = &Entry{View: view, Source: source, Upstream: n, Downstream: n}
				}
			}
		}
	}
	maps.Copy(u.upstream, u.downstream)
	order := comps.OverrideOrder
	if len(order) != len(comps.Overrides) {
		order = make([]string, 0, len(comps.Overrides))
		for name := range comps.Overrides {
			order = append(order, name)
		}
		sort.Strings(order)
	}
	for _, name := range order {
		o := comps.Overrides[name]
		upstream := o.UpstreamName
		if upstream == "" {
			upstream = name
		}
		e, ok := u.downstream[name]
		if !ok {
			e = &Entry{View: ViewOverride, Source: ViewOverride, Upstream: upstream, Downstream: name}
			u.downstream[name] = e
		}
		// dict.update(override_options): upstream_name and any extra keys.
		e.Upstream = upstream
		for k, v := range o.Extra {
			s, isString := v.(string)
			switch {
			case k == "view" && isString:
				e.View = s
			case k == "source" && isString:
				e.Source = s
			case k == "downstream_name" && isString:
				e.Downstream = s
			default:
				if e.Extra == nil {
					e.Extra = map[string]any{}
				}
				e.Extra[k] = v
			}
		}
		cp := *e
		cp.Extra = maps.Clone(e.Extra)
		u.upstream[upstream] = &cp
	}
	if len(u.downstream) == 0 {
		return nil, ErrEmpty
	}
	return u, nil
}

// Downstream looks an ELN name up (for /trigger, manual rebuilds, the reconciler).
func (u *Universe) Downstream(name string) (Entry, bool) {
	e, ok := u.downstream[name]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// Upstream looks a Fedora name up (for bus messages).
func (u *Universe) Upstream(name string) (Entry, bool) {
	e, ok := u.upstream[name]
	if !ok {
		return Entry{}, false
	}
	return *e, true
}

// ELNName converts a name to its ELN name the way the original's
// ensure_downstream_name did: a name that is itself a downstream component
// stays as it is; otherwise the upstream entry's downstream name; ok is false
// for unknown names.
func (u *Universe) ELNName(name string) (string, bool) {
	if _, ok := u.downstream[name]; ok {
		return name, true
	}
	if e, ok := u.upstream[name]; ok {
		return e.Downstream, true
	}
	return "", false
}

// Components returns every downstream entry, sorted by ELN name.
func (u *Universe) Components() []Entry {
	out := make([]Entry, 0, len(u.downstream))
	for _, e := range u.downstream {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Downstream < out[j].Downstream })
	return out
}

// Len is the number of downstream components.
func (u *Universe) Len() int { return len(u.downstream) }

// UpstreamLen is the number of upstream names.
func (u *Universe) UpstreamLen() int { return len(u.upstream) }
