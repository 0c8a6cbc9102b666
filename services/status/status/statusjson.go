package status

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/fedora-eln/ebs/libs/rpmver"
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

// KojiBatchReader is a KojiReader that can run many per-package look-ups in
// one request (a Koji multicall). status.json's fallback for components the
// user has not built uses it when the reader has it: the same calls as the
// original, in a few HTTP requests instead of one per component.
type KojiBatchReader interface {
	// ListBuildsByPackages is ListBuildsByPackage of each name, in order.
	ListBuildsByPackages(ctx context.Context, names []string) ([][]KojiBuild, error)
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
	// Each entry is encoded as soon as it is made: the document for tens of
	// thousands of components is held once, as JSON, not also as maps.
	// (json.Marshal of RawMessage values writes them as they are, keys
	// sorted: the same bytes as marshalling the maps.)
	out := map[string]json.RawMessage{}
	updated, err := json.Marshal(pythonTime(g.now()))
	if err != nil {
		return nil, err
	}
	out["__updated"] = updated
	var missing []Component
	for _, c := range comps {
		b, ok := g.userBuild(builds, c)
		if !ok {
			missing = append(missing, c)
			continue
		}
		if out[c.Name], err = g.entry(ctx, c, b, taggedNVR); err != nil {
			return nil, err
		}
	}
	// Components the user has not built: each package's builds, oldest
	// first, where the last with a start_ts wins; asked packageChunk at a
	// time, each chunk encoded before the next is read.
	for start := 0; start < len(missing); start += packageChunk {
		chunk := missing[start:min(start+packageChunk, len(missing))]
		names := make([]string, len(chunk))
		for i, c := range chunk {
			names[i] = c.Name
		}
		byPackage, err := g.packageBuilds(ctx, names)
		if err != nil {
			return nil, err
		}
		for _, c := range chunk {
			bs := byPackage[c.Name]
			if len(bs) == 0 {
				out[c.Name] = json.RawMessage("null")
				continue
			}
			if out[c.Name], err = g.entry(ctx, c, bs[0], taggedNVR); err != nil {
				return nil, err
			}
		}
	}
	return document(out), nil
}

// document writes entries as json.Marshal writes a map (keys sorted), into
// a buffer of the exact size, letting go of each entry once written.
func document(entries map[string]json.RawMessage) []byte {
	keys := make([]string, 0, len(entries))
	size := 2
	for k, v := range entries {
		keys = append(keys, k)
		size += len(k) + len(v) + 8 // quotes, colon, comma, a few escapes
	}
	sort.Strings(keys)
	buf := bytes.NewBuffer(make([]byte, 0, size))
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, _ := json.Marshal(k) // a string always encodes
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(entries[k])
		delete(entries, k)
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// entry is component c's status.json entry for build b, encoded.
func (g *statusGenerator) entry(ctx context.Context, c Component, b KojiBuild, taggedNVR map[string]string) (json.RawMessage, error) {
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
	raw, err := json.Marshal(entry)
	if err != nil {
		return nil, fmt.Errorf("status.json entry %s: %w", c.Name, err)
	}
	return raw, nil
}

// userBuild is the newest build of c (by ELN name, else Fedora name) among
// the user's.
func (g *statusGenerator) userBuild(builds map[string]KojiBuild, c Component) (KojiBuild, bool) {
	b, ok := builds[c.Name]
	if !ok && c.Upstream != "" {
		b, ok = builds[c.Upstream]
	}
	return b, ok
}

// packageBuilds runs listBuilds(packageID=name, queryOpts={"order":
// "start_ts"}) for each name: in multicalls when the reader can, 500
// names at a time. Only the last build with a start_ts is kept (the one
// Generate uses): a package's whole build history, for every component,
// would be hundreds of MiB in production.
func (g *statusGenerator) packageBuilds(ctx context.Context, names []string) (map[string][]KojiBuild, error) {
	out := make(map[string][]KojiBuild, len(names))
	if br, ok := g.koji.(KojiBatchReader); ok && len(names) > 0 {
		for start := 0; start < len(names); start += packageChunk {
			chunk := names[start:min(start+packageChunk, len(names))]
			lists, err := br.ListBuildsByPackages(ctx, chunk)
			if err != nil {
				return nil, fmt.Errorf("koji listBuilds(packageID=...) for %d packages: %w", len(names), err)
			}
			for i, n := range chunk {
				out[n] = lastStarted(lists[i])
			}
		}
		return out, nil
	}
	for _, n := range names {
		all, err := g.koji.ListBuildsByPackage(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("koji listBuilds(packageID=%s): %w", n, err)
		}
		out[n] = lastStarted(all)
	}
	return out, nil
}

// packageChunk is how many packages one ListBuildsByPackages asks about
// (one multicall).
const packageChunk = 500

// lastStarted is the last build that has a start_ts, alone, or none.
func lastStarted(bs []KojiBuild) []KojiBuild {
	for i := len(bs) - 1; i >= 0; i-- {
		if hasStartTS(bs[i]) {
			return []KojiBuild{bs[i]} // not a slice of bs: the rest is let go
		}
	}
	return nil
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
	// Epochs are ignored, as the original compared version-release only.
	if _, v, r, err := rpmver.ParseNVR(taggedNVR); err == nil &&
		rpmver.LabelCompare(rpmver.EVR{Version: v, Release: r}, rpmver.EVR{Version: str(b["version"]), Release: str(b["release"])}) >= 0 {
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
