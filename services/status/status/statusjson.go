package status

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// KojiBuild is one build dict as Koji's listBuilds / listTagged return it
// (every field kept: status.json passes them through).
type KojiBuild map[string]any

// KojiReader is the read-only Koji access status.json needs.
type KojiReader interface {
	// ListTagged is listTagged(tag, latest=True).
	ListTagged(ctx context.Context, tag string) ([]KojiBuild, error)
	// ListBuildsByUser is listBuilds(userID=user, queryOpts={"order": "-start_ts"}).
	ListBuildsByUser(ctx context.Context, user string) ([]KojiBuild, error)
	// ListBuildsByPackage is listBuilds(packageID=name, queryOpts={"order": "start_ts"}).
	ListBuildsByPackage(ctx context.Context, name string) ([]KojiBuild, error)
	// ListTags is listTags(build) -> tag names.
	ListTags(ctx context.Context, buildID int64) ([]string, error)
}

// Component is one ELN component status.json reports.
type Component struct {
	// Name is the ELN (downstream) name; Upstream the Fedora name when it differs.
	Name, Upstream string
	// View is eln, eln-extras, override or UNKNOWN.
	View string
}

// ComponentSource lists the components status.json reports (every
// configured component in the original).
type ComponentSource func(ctx context.Context) ([]Component, error)

// Koji build states.
const (
	kojiBuilding = 0
	kojiComplete = 1
	kojiDeleted  = 2
	kojiFailed   = 3
	kojiCanceled = 4
)

// statusJSON keeps the last generated /status.json (503 until the first).
type statusJSON struct {
	mu   sync.RWMutex
	body []byte
	at   time.Time
}

func (s *statusJSON) get() ([]byte, time.Time) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.body, s.at
}

func (s *statusJSON) set(b []byte, at time.Time) {
	s.mu.Lock()
	s.body, s.at = b, at
	s.mu.Unlock()
}

// statusGenerator computes status.json as the original did (§6.1).
type statusGenerator struct {
	koji       KojiReader
	components ComponentSource
	stableTag  string
	user       string
	kojiWebURL string
	now        func() time.Time
	log        *slog.Logger
}

// pythonTime renders t like Python's str(datetime) with a UTC offset.
func pythonTime(t time.Time) string {
	t = t.UTC()
	s := t.Format("2006-01-02 15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		s += fmt.Sprintf(".%06d", us)
	}
	return s + "+00:00"
}

func num(v any) int64 {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case float64:
		return int64(x)
	case json.Number:
		n, _ := x.Int64()
		return n
	}
	return 0
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func hasStartTS(b KojiBuild) bool {
	v, ok := b["start_ts"]
	return ok && v != nil
}

// Generate builds the status.json document.
func (g *statusGenerator) Generate(ctx context.Context) ([]byte, error) {
	comps, err := g.components(ctx)
	if err != nil {
		return nil, fmt.Errorf("components: %w", err)
	}
	tagged, err := g.koji.ListTagged(ctx, g.stableTag)
	if err != nil {
		return nil, fmt.Errorf("koji listTagged(%s): %w", g.stableTag, err)
	}
	taggedNVR := map[string]string{}
	for _, b := range tagged {
		taggedNVR[str(b["name"])] = str(b["nvr"])
	}
	builds := map[string]KojiBuild{}
	if g.user != "" {
		mine, err := g.koji.ListBuildsByUser(ctx, g.user)
		if err != nil {
			return nil, fmt.Errorf("koji listBuilds(userID=%s): %w", g.user, err)
		}
		for _, b := range mine { // newest first: keep the first per name
			name := str(b["name"])
			if _, seen := builds[name]; !seen && hasStartTS(b) {
				builds[name] = b
			}
		}
	}
	out := map[string]any{"__updated": pythonTime(g.now())}
	for _, c := range comps {
		name := c.Name
		b, ok := builds[name]
		if !ok && c.Upstream != "" {
			b, ok = builds[c.Upstream]
		}
		if !ok {
			all, err := g.koji.ListBuildsByPackage(ctx, name)
			if err != nil {
				return nil, fmt.Errorf("koji listBuilds(packageID=%s): %w", name, err)
			}
			for _, x := range all { // oldest first: the last with a start_ts wins
				if hasStartTS(x) {
					b, ok = x, true
				}
			}
		}
		if !ok {
			out[name] = nil
			continue
		}
		entry := KojiBuild{}
		for k, v := range b {
			entry[k] = v
		}
		view := c.View
		if view == "" {
			view = "UNKNOWN"
		}
		entry["view"] = view
		entry["build_url"] = fmt.Sprintf("%s/taskinfo?taskID=%d", g.kojiWebURL, num(b["task_id"]))
		tn, isTagged := taggedNVR[str(b["name"])]
		if isTagged {
			entry["tagged"] = tn
		} else {
			entry["tagged"] = "UNKNOWN"
		}
		st, detail, err := g.classify(ctx, b, tn, isTagged)
		if err != nil {
			return nil, err
		}
		entry["status"], entry["status_detail"] = st, detail
		out[name] = entry
	}
	return json.Marshal(out)
}

var fedoraDist = regexp.MustCompile(`\.fc\d+$`)

// classify applies the original's rules in order.
func (g *statusGenerator) classify(ctx context.Context, b KojiBuild, taggedNVR string, isTagged bool) (string, string, error) {
	state := num(b["state"])
	if state == kojiBuilding {
		return "Building", "Build in progress", nil
	}
	if isTagged && str(b["nvr"]) == taggedNVR {
		return "SUCCESS", "Build tagged", nil
	}
	if !isTagged {
		return "FAILED", "Build is not tagged", nil
	}
	if fedoraDist.MatchString(taggedNVR) {
		return "FAILED", "Fedora build in tag", nil
	}
	if v, r, ok := evrOf(taggedNVR); ok && compareEVR(v, r, str(b["version"]), str(b["release"])) >= 0 {
		return "SUCCESS", "Built by another user", nil
	}
	switch state {
	case kojiComplete:
		tags, err := g.koji.ListTags(ctx, num(b["build_id"]))
		if err != nil {
			return "", "", fmt.Errorf("koji listTags(%d): %w", num(b["build_id"]), err)
		}
		for _, t := range tags {
			if strings.HasSuffix(t, "-signing-pending") {
				return "SIGNING", "Build awaiting signing", nil
			}
		}
		return "UNKNOWN", "Build completed but not tagged", nil
	case kojiFailed:
		return "FAILED", "Build failed", nil
	case kojiCanceled:
		return "FAILED", "Build cancelled", nil
	}
	return "UNKNOWN", "Build state unknown", nil
}

// evrOf splits an NVR into version and release.
func evrOf(nvr string) (string, string, bool) {
	i := strings.LastIndex(nvr, "-")
	if i <= 0 {
		return "", "", false
	}
	j := strings.LastIndex(nvr[:i], "-")
	if j <= 0 {
		return "", "", false
	}
	return nvr[j+1 : i], nvr[i+1:], true
}

// compareEVR compares version-release pairs with rpm's rules (epoch ignored,
// as the original did).
func compareEVR(v1, r1, v2, r2 string) int {
	if c := rpmvercmp(v1, v2); c != 0 {
		return c
	}
	return rpmvercmp(r1, r2)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// rpmvercmp is rpm's version segment comparison (including ~ and ^).
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		// Tilde sorts before everything, even the end of the string.
		if (i < len(a) && a[i] == '~') || (j < len(b) && b[j] == '~') {
			if i >= len(a) || a[i] != '~' {
				return 1
			}
			if j >= len(b) || b[j] != '~' {
				return -1
			}
			i++
			j++
			continue
		}
		// Caret sorts after the end of the string but before anything else.
		if (i < len(a) && a[i] == '^') || (j < len(b) && b[j] == '^') {
			if i >= len(a) {
				return -1
			}
			if j >= len(b) {
				return 1
			}
			if a[i] != '^' {
				return 1
			}
			if b[j] != '^' {
				return -1
			}
			i++
			j++
			continue
		}
		if i >= len(a) || j >= len(b) {
			break
		}
		si, sj := i, j
		numeric := isDigit(a[i])
		if numeric {
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
		} else {
			for i < len(a) && isAlpha(a[i]) {
				i++
			}
			for j < len(b) && isAlpha(b[j]) {
				j++
			}
		}
		x, y := a[si:i], b[sj:j]
		if len(y) == 0 {
			if numeric {
				return 1
			}
			return -1
		}
		if numeric {
			x, y = strings.TrimLeft(x, "0"), strings.TrimLeft(y, "0")
			if len(x) != len(y) {
				if len(x) > len(y) {
					return 1
				}
				return -1
			}
		}
		if c := strings.Compare(x, y); c != 0 {
			return c
		}
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	}
	return 1
}

// refresh regenerates status.json every interval (and at once); a Koji
// error keeps the previous document, as the original did.
func (g *statusGenerator) refresh(ctx context.Context, cache *statusJSON, interval time.Duration, m *metrics) {
	if interval <= 0 {
		interval = 10 * time.Minute
	}
	for {
		body, err := g.Generate(ctx)
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil:
			m.statusJSON.WithLabelValues("error").Inc()
			g.log.Warn("status.json generation failed; keeping the previous one", "error", err)
		default:
			m.statusJSON.WithLabelValues("ok").Inc()
			cache.set(body, g.now())
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}

// sortedNames is a helper for deterministic component lists.
func sortedNames(cs []Component) []Component {
	sort.Slice(cs, func(i, j int) bool { return cs[i].Name < cs[j].Name })
	return cs
}

// StatusJSON generates one status.json document from Koji for comps (the
// periodic refresh does this every control.status_interval).
func StatusJSON(ctx context.Context, koji KojiReader, comps []Component, stableTag, user, kojiWebURL string, now time.Time) ([]byte, error) {
	g := &statusGenerator{koji: koji, stableTag: stableTag, user: user, kojiWebURL: kojiWebURL,
		now: func() time.Time { return now }, log: slog.Default(),
		components: func(context.Context) ([]Component, error) { return comps, nil }}
	return g.Generate(ctx)
}
