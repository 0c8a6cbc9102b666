package kojihub

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/koji/wire"
	"github.com/fedora-eln/ebs/libs/rpmver"
)

// ELN and Rawhide arches of the default world.
const defaultArches = "aarch64 ppc64le s390x x86_64"

// defaultWorld creates the users, tags and targets every hub starts with:
//
//	f45                         Rawhide (Options.RawhideTag)
//	  f45-build, f45-updates-candidate   targets f45 and rawhide
//	eln                         ELN stable tag (Bodhi's stable tag for ELN)
//	  eln-build                 target eln -> eln-build / eln
//
// and users kojiadmin (admin), bodhi (admin, as Bodhi's account can tag and
// delete tags), kojira (repo), releng, and the bot (Options.BotUser).
func (h *Hub) defaultWorld() {
	w := h.w
	w.addUser("kojiadmin", "admin")
	w.addUser("bodhi", "admin", "tag")
	w.addUser("kojira", "repo")
	w.addUser("releng")
	w.addUser(h.opts.BotUser)
	raw := h.opts.RawhideTag
	rt, _ := w.addTag(raw, defaultArches)
	rb, _ := w.addTag(raw+"-build", defaultArches, raw)
	rc, _ := w.addTag(raw+"-updates-candidate", defaultArches, raw)
	w.addTarget(raw, rb, rc)
	w.addTarget("rawhide", rb, rc)
	et, _ := w.addTag("eln", defaultArches)
	eb, _ := w.addTag("eln-build", defaultArches, "eln")
	w.addTarget("eln", eb, et)
	_ = rt
	h.initialRepo(rb)
	h.initialRepo(eb)
}

// AddUser creates a user (or adds permissions to an existing one), e.g.
// AddUser("bodhi", "admin").
func (h *Hub) AddUser(name string, perms ...string) int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.w.addUser(name, perms...).ID
}

// TagSpec describes a tag for AddTag.
type TagSpec struct {
	Name     string
	Parents  []string // in priority order
	Arches   string   // default: the default world's arches
	Packages []string // package list entries
	Perm     string
	Locked   bool
}

// AddTag creates a tag (and gives it a READY repo if it is a build tag
// later used by AddTarget).
func (h *Hub) AddTag(s TagSpec) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if s.Arches == "" {
		s.Arches = defaultArches
	}
	t, err := h.w.addTag(s.Name, s.Arches, s.Parents...)
	if err != nil {
		return 0, err
	}
	t.Perm, t.Locked = s.Perm, s.Locked
	for _, p := range s.Packages {
		h.w.pkg(p)
		t.Packages[p] = listing{OwnerID: h.w.userByName["releng"].ID}
	}
	return t.ID, nil
}

// AddTarget creates a build target.
func (h *Hub) AddTarget(name, buildTag, destTag string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	bt, dt := h.w.tagByName[buildTag], h.w.tagByName[destTag]
	if bt == nil || dt == nil {
		return fmt.Errorf("kojihub: AddTarget %s: unknown tag", name)
	}
	h.w.addTarget(name, bt, dt)
	if len(h.w.reposByTag[bt.ID]) == 0 {
		h.initialRepo(bt)
	}
	return nil
}

// AddPackages lists packages in tag's package list.
func (h *Hub) AddPackages(tagName string, pkgs ...string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.w.tagByName[tagName]
	if t == nil {
		return fmt.Errorf("kojihub: no tag %s", tagName)
	}
	for _, p := range pkgs {
		h.w.pkg(p)
		t.Packages[p] = listing{OwnerID: h.w.userByName["releng"].ID}
	}
	return nil
}

// BlockPackage blocks a package in a tag's package list.
func (h *Hub) BlockPackage(tagName, pkgName string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.w.tagByName[tagName]
	if t == nil {
		return fmt.Errorf("kojihub: no tag %s", tagName)
	}
	t.Packages[pkgName] = listing{Blocked: true}
	return nil
}

// BuildSpec describes an existing (imported or already built) build.
type BuildSpec struct {
	NVR          string
	Owner        string // default "releng"
	Source       string // default git+https://src.fedoraproject.org/rpms/<name>.git#<hash of NVR>
	State        koji.BuildState
	Draft        bool
	Tags         []string // tagged (silently) into these tags, in order
	CreationTime time.Time
	// WithTask gives the build a CLOSED build task (most real builds have one).
	WithTask bool
}

// AddBuild creates a build silently (no messages) and lists its package
// in the Rawhide and ELN tags. It returns the build id.
func (h *Hub) AddBuild(s BuildSpec) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, err := h.addBuildLocked(s)
	if err != nil {
		return 0, err
	}
	return b.ID, nil
}

func (h *Hub) addBuildLocked(s BuildSpec) (*build, error) {
	w := h.w
	n, v, r, err := rpmver.ParseNVR(s.NVR)
	if err != nil {
		return nil, fmt.Errorf("kojihub: %w", err)
	}
	if w.buildByNVR[s.NVR] != nil {
		return nil, fmt.Errorf("kojihub: build %s already exists", s.NVR)
	}
	if s.Owner == "" {
		s.Owner = "releng"
	}
	owner := w.addUser(s.Owner)
	if s.Source == "" {
		s.Source = fmt.Sprintf("git+https://src.fedoraproject.org/rpms/%s.git#%s", n, fakeHash(s.NVR))
	}
	if s.CreationTime.IsZero() {
		s.CreationTime = h.opts.BaseTime
	}
	p := w.pkg(n)
	for _, tn := range []string{h.opts.RawhideTag, "eln"} {
		if t := w.tagByName[tn]; t != nil {
			if _, ok := t.Packages[n]; !ok {
				t.Packages[n] = listing{OwnerID: owner.ID}
			}
		}
	}
	w.nextBuild++
	b := &build{ID: w.nextBuild, PkgID: p.ID, Name: n, Version: v, Release: r, State: s.State, OwnerID: owner.ID,
		Source: s.Source, CreationTime: s.CreationTime, StartTime: s.CreationTime.Add(-15 * time.Minute),
		CompletionTime: s.CreationTime, Draft: s.Draft, Extra: map[string]any{}}
	if b.State == koji.BuildBuilding {
		b.CompletionTime = time.Time{}
	}
	b.CreationEvent = w.event(s.CreationTime)
	if s.WithTask {
		w.nextTask++
		t := &task{ID: w.nextTask, Method: "build", Arch: "noarch", State: koji.TaskClosed, OwnerID: owner.ID,
			Priority: koji.PrioDefault, ChannelID: 1, HostID: 77, Weight: 0.2, CreateTime: b.StartTime,
			StartTime: b.StartTime, CompletionTime: b.CompletionTime,
			Request: []any{s.Source, h.opts.RawhideTag, map[string]any{}}}
		w.tasks[t.ID] = t
		w.taskOrder = append(w.taskOrder, t.ID)
		b.TaskID = t.ID
	}
	w.addBuild(b)
	for _, tn := range s.Tags {
		t := w.tagByName[tn]
		if t == nil {
			return nil, fmt.Errorf("kojihub: no tag %s", tn)
		}
		t.Tagged = append(t.Tagged, tagging{BuildID: b.ID, Event: w.event(s.CreationTime), By: owner.ID})
	}
	return b, nil
}

func fakeHash(s string) string {
	var x uint64 = 1469598103934665603
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

// Tag tags a build into a tag at once, as another actor would (e.g. Bodhi
// or a packager's build landing in Rawhide): buildsys.tag is published and
// repos regenerate. by is the tagging user (default "bodhi").
func (h *Hub) Tag(tagName, nvr, by string) error {
	return h.mutate(func(c *call) error {
		t, b := h.w.tagByName[tagName], h.w.buildByNVR[nvr]
		if t == nil || b == nil {
			return fmt.Errorf("kojihub: Tag: unknown tag %q or build %q", tagName, nvr)
		}
		if by == "" {
			by = "bodhi"
		}
		if t.taggedIndex(b.ID) >= 0 {
			return fmt.Errorf("kojihub: build %s already tagged (%s)", nvr, tagName)
		}
		h.tag(c, t, b, h.w.addUser(by).ID)
		return nil
	})
}

// Untag removes a build from a tag at once, with buildsys.untag.
func (h *Hub) Untag(tagName, nvr, by string) error {
	return h.mutate(func(c *call) error {
		t, b := h.w.tagByName[tagName], h.w.buildByNVR[nvr]
		if t == nil || b == nil || t.taggedIndex(b.ID) < 0 {
			return fmt.Errorf("kojihub: Untag: %s not in %s", nvr, tagName)
		}
		if by == "" {
			by = "bodhi"
		}
		h.untag(c, t, b, h.w.addUser(by).ID)
		return nil
	})
}

// NewRawhideBuild creates a COMPLETE build owned by owner and tags it into
// the Rawhide tag with a buildsys.tag message: what ebs reacts to.
func (h *Hub) NewRawhideBuild(nvr, owner string) (int64, error) {
	var id int64
	err := h.mutate(func(c *call) error {
		b, err := h.addBuildLocked(BuildSpec{NVR: nvr, Owner: owner, State: koji.BuildComplete, WithTask: true,
			CreationTime: c.now})
		if err != nil {
			return err
		}
		id = b.ID
		h.tag(c, h.w.tagByName[h.opts.RawhideTag], b, h.w.addUser("bodhi").ID)
		return nil
	})
	return id, err
}

// mutate runs f like a committed hub call: under the lock, messages
// published afterwards.
func (h *Hub) mutate(f func(c *call) error) error {
	h.mu.Lock()
	c := &call{h: h, now: time.Now()}
	err := f(c)
	msgs, after := c.msgs, c.after
	if err != nil {
		msgs, after = nil, nil
	}
	h.mu.Unlock()
	h.pub.enqueue(msgs)
	for _, a := range after {
		a()
	}
	return err
}

// SideTags lists live side tags.
func (h *Hub) SideTags() []koji.SideTagInfo {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []koji.SideTagInfo
	for _, t := range h.w.tags {
		if t.sidetag() {
			out = append(out, koji.SideTagInfo{ID: t.ID, Name: t.Name, UserID: t.sidetagUserID(), UserName: nameOf(h.w, t.sidetagUserID())})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// TagExists reports whether a tag (e.g. a removed side tag) exists.
func (h *Hub) TagExists(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.w.tagByName[name] != nil
}

// Tagged lists the NVRs tagged directly in a tag, newest first.
func (h *Hub) Tagged(tagName string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.w.tagByName[tagName]
	if t == nil {
		return nil
	}
	out := make([]string, 0, len(t.Tagged))
	for i := len(t.Tagged) - 1; i >= 0; i-- {
		if b := h.w.builds[t.Tagged[i].BuildID]; b != nil {
			out = append(out, b.nvr())
		}
	}
	return out
}

// Build returns a build by NVR as a client would see it.
func (h *Hub) Build(nvr string) (koji.Build, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b := h.w.buildByNVR[nvr]
	if b == nil {
		return koji.Build{}, false
	}
	var kb koji.Build
	_ = wire.Into(decodeStruct(h.w.renderBuild(b)), &kb)
	return kb, true
}

// BuildsOfPackage lists a package's builds, oldest first.
func (h *Hub) BuildsOfPackage(name string) []koji.Build {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.w.pkgs[name]
	if p == nil {
		return nil
	}
	var out []koji.Build
	for _, b := range h.w.buildByPkg[p.ID] {
		var kb koji.Build
		_ = wire.Into(decodeStruct(h.w.renderBuild(b)), &kb)
		out = append(out, kb)
	}
	return out
}

// Packages lists package names, sorted.
func (h *Hub) Packages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Sorted(maps.Keys(h.w.pkgs))
}

// RepoState is the state of a tag's newest repo (false if it has none).
func (h *Hub) RepoState(tagName string) (koji.RepoState, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.w.tagByName[tagName]
	if t == nil {
		return 0, false
	}
	rs := h.w.reposByTag[t.ID]
	if len(rs) == 0 {
		return 0, false
	}
	return rs[len(rs)-1].State, true
}

// Options returns the hub's effective options.
func (h *Hub) Options() Options { return h.opts }

// NewClient returns a koji client for this hub, logged in as user on first
// use ("" for an anonymous client). On a TLS hub it presents a client
// certificate from the hub's PKI; on plain HTTP it names the user to
// /ssllogin with RemoteUserHeader. Retries are quick (10 ms base) so tests
// with injected faults stay fast.
func (h *Hub) NewClient(t testing.TB, user string) *koji.Client {
	t.Helper()
	c, err := h.Client(user, koji.Options{})
	if err != nil {
		t.Fatalf("kojihub: client: %v", err)
	}
	return c
}

// Client is NewClient without a test: opts fill in what NewClient sets
// (URL, HTTPClient, Auth) unless already set.
func (h *Hub) Client(user string, opts koji.Options) (*koji.Client, error) {
	if opts.URL == "" {
		opts.URL = h.URL()
	}
	if opts.RetryBase == 0 {
		opts.RetryBase = 10 * time.Millisecond
		opts.RetryMax = 100 * time.Millisecond
	}
	if user != "" && opts.Auth == nil {
		opts.Auth = koji.SSLAuth{}
	}
	if opts.HTTPClient == nil {
		if h.opts.TLS {
			cfg, err := h.opts.PKI.ClientTLS(user)
			if err != nil {
				return nil, err
			}
			opts.HTTPClient = koji.HTTPClientFor(cfg)
		} else {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.MaxIdleConnsPerHost = 16
			var rt http.RoundTripper = tr
			if user != "" {
				rt = remoteUser{base: tr, user: user}
			}
			opts.HTTPClient = &http.Client{Transport: rt, Timeout: time.Minute}
		}
	}
	return koji.New(opts)
}

// remoteUser adds RemoteUserHeader to logins.
type remoteUser struct {
	base http.RoundTripper
	user string
}

func (r remoteUser) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set(RemoteUserHeader, r.user)
	return r.base.RoundTrip(req)
}
