package kojihub

import (
	"fmt"
	"sort"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
)

// The world is the hub's state. Every field is guarded by Hub.mu.

type user struct {
	ID           int64
	Name         string
	Perms        map[string]bool
	KrbPrincipal string
	UserType     int
}

func (u *user) admin() bool { return u != nil && u.Perms["admin"] }

func (u *user) hasPerm(p string) bool { return u != nil && (u.Perms[p] || u.Perms["admin"]) }

type inheritLink struct {
	ParentID int64
	Priority int
}

type listing struct {
	Blocked bool
	OwnerID int64
}

type tagging struct {
	BuildID int64
	Event   int64
	By      int64
}

type tag struct {
	ID          int64
	Name        string
	Arches      string // "" renders as nil
	Locked      bool
	Perm        string
	Extra       map[string]any
	Parents     []inheritLink
	Packages    map[string]listing
	Tagged      []tagging // oldest first
	CreateEvent int64
}

func (t *tag) sidetag() bool { b, _ := t.Extra["sidetag"].(bool); return b }

func (t *tag) sidetagUserID() int64 { n, _ := t.Extra["sidetag_user_id"].(int64); return n }

func (t *tag) taggedIndex(buildID int64) int {
	for i, tg := range t.Tagged {
		if tg.BuildID == buildID {
			return i
		}
	}
	return -1
}

type target struct {
	ID         int64
	Name       string
	BuildTagID int64
	DestTagID  int64
}

type pkg struct {
	ID   int64
	Name string
}

type build struct {
	ID             int64
	PkgID          int64
	Name           string
	Version        string
	Release        string
	State          koji.BuildState
	TaskID         int64 // 0: imported, no task
	OwnerID        int64
	Source         string
	CreationEvent  int64
	CreationTime   time.Time
	StartTime      time.Time
	CompletionTime time.Time
	Draft          bool
	PromoterID     int64
	PromotionTime  time.Time
	Extra          map[string]any
}

func (b *build) nvr() string { return b.Name + "-" + b.Version + "-" + b.Release }

type task struct {
	ID             int64
	Method         string
	Arch           string
	Label          string
	Parent         int64
	State          koji.TaskState
	OwnerID        int64
	Priority       int
	ChannelID      int64
	HostID         int64
	Weight         float64
	Request        []any
	Result         any
	Fault          *koji.Fault
	CreateTime     time.Time
	StartTime      time.Time
	CompletionTime time.Time
	Children       []int64
	// execution state
	run *buildRun
}

type repo struct {
	ID          int64
	TagID       int64
	TagName     string
	State       koji.RepoState
	CreateEvent int64
	CreateTime  time.Time
	StateTime   time.Time
	TaskID      int64
}

type session struct {
	ID       int64
	Key      string
	UserID   int64
	AuthType int
	Start    time.Time
	Expired  bool
	Closed   bool
	LastCall *int64
}

type world struct {
	users      map[int64]*user
	userByName map[string]*user
	tags       map[int64]*tag
	tagByName  map[string]*tag
	targets    map[int64]*target
	targetName map[string]*target
	pkgs       map[string]*pkg
	pkgByID    map[int64]*pkg
	builds     map[int64]*build
	buildByNVR map[string]*build
	buildByPkg map[int64][]*build
	tasks      map[int64]*task
	taskOrder  []int64
	repos      map[int64]*repo
	reposByTag map[int64][]*repo
	sessions   map[int64]*session

	lastEvent   int64
	lastEventTS time.Time

	nextTag, nextTarget, nextPkg, nextBuild, nextTask, nextRepo, nextUser, nextSession int64
}

func newWorld(base time.Time) *world {
	return &world{
		users: map[int64]*user{}, userByName: map[string]*user{},
		tags: map[int64]*tag{}, tagByName: map[string]*tag{},
		targets: map[int64]*target{}, targetName: map[string]*target{},
		pkgs: map[string]*pkg{}, pkgByID: map[int64]*pkg{},
		builds: map[int64]*build{}, buildByNVR: map[string]*build{}, buildByPkg: map[int64][]*build{},
		tasks: map[int64]*task{}, repos: map[int64]*repo{}, reposByTag: map[int64][]*repo{},
		sessions:  map[int64]*session{},
		lastEvent: 140000000, lastEventTS: base,
		nextTag: 30000, nextTarget: 1200, nextPkg: 9000, nextBuild: 2700000, nextTask: 135790000,
		nextRepo: 7000000, nextUser: 4000, nextSession: 48000000,
	}
}

func (w *world) event(now time.Time) int64 {
	w.lastEvent++
	if now.After(w.lastEventTS) {
		w.lastEventTS = now
	}
	return w.lastEvent
}

func (w *world) addUser(name string, perms ...string) *user {
	if u, ok := w.userByName[name]; ok {
		for _, p := range perms {
			u.Perms[p] = true
		}
		return u
	}
	w.nextUser++
	u := &user{ID: w.nextUser, Name: name, Perms: map[string]bool{}}
	for _, p := range perms {
		u.Perms[p] = true
	}
	w.users[u.ID] = u
	w.userByName[name] = u
	return u
}

func (w *world) addTag(name, arches string, parents ...string) (*tag, error) {
	if _, ok := w.tagByName[name]; ok {
		return nil, fmt.Errorf("tag %s already exists", name)
	}
	w.nextTag++
	t := &tag{ID: w.nextTag, Name: name, Arches: arches, Extra: map[string]any{}, Packages: map[string]listing{},
		CreateEvent: w.lastEvent}
	for i, p := range parents {
		pt, ok := w.tagByName[p]
		if !ok {
			return nil, fmt.Errorf("parent tag %s does not exist", p)
		}
		t.Parents = append(t.Parents, inheritLink{ParentID: pt.ID, Priority: i * 10})
	}
	w.tags[t.ID] = t
	w.tagByName[name] = t
	return t, nil
}

func (w *world) deleteTag(t *tag) {
	delete(w.tags, t.ID)
	delete(w.tagByName, t.Name)
	for id, tg := range w.targets {
		if tg.BuildTagID == t.ID || tg.DestTagID == t.ID {
			delete(w.targets, id)
			delete(w.targetName, tg.Name)
		}
	}
}

func (w *world) addTarget(name string, buildTag, destTag *tag) *target {
	w.nextTarget++
	tg := &target{ID: w.nextTarget, Name: name, BuildTagID: buildTag.ID, DestTagID: destTag.ID}
	w.targets[tg.ID] = tg
	w.targetName[name] = tg
	return tg
}

func (w *world) pkg(name string) *pkg {
	if p, ok := w.pkgs[name]; ok {
		return p
	}
	w.nextPkg++
	p := &pkg{ID: w.nextPkg, Name: name}
	w.pkgs[name] = p
	w.pkgByID[p.ID] = p
	return p
}

// inheritance returns tag ids in Koji's inheritance order: the tag, then its
// parents depth-first by priority, each once.
func (w *world) inheritance(t *tag) []*tag {
	seen := map[int64]bool{}
	var out []*tag
	var walk func(*tag)
	walk = func(x *tag) {
		if x == nil || seen[x.ID] {
			return
		}
		seen[x.ID] = true
		out = append(out, x)
		links := append([]inheritLink(nil), x.Parents...)
		sort.SliceStable(links, func(i, j int) bool { return links[i].Priority < links[j].Priority })
		for _, l := range links {
			walk(w.tags[l.ParentID])
		}
	}
	walk(t)
	return out
}

// descendants returns t and every tag inheriting from it.
func (w *world) descendants(t *tag) []*tag {
	out := []*tag{t}
	seen := map[int64]bool{t.ID: true}
	for i := 0; i < len(out); i++ {
		for _, x := range w.tags {
			if seen[x.ID] {
				continue
			}
			for _, l := range x.Parents {
				if l.ParentID == out[i].ID {
					seen[x.ID] = true
					out = append(out, x)
					break
				}
			}
		}
	}
	return out
}

// pkgListing resolves a package's listing through inheritance.
func (w *world) pkgListing(t *tag, name string) (listing, bool) {
	for _, x := range w.inheritance(t) {
		if l, ok := x.Packages[name]; ok {
			return l, true
		}
	}
	return listing{}, false
}

func (w *world) isBuildTag(t *tag) bool {
	for _, tg := range w.targets {
		if tg.BuildTagID == t.ID {
			return true
		}
	}
	return false
}

// lookupTag accepts an id, a name or a struct with id/name.
func (w *world) lookupTag(v any) *tag {
	switch x := v.(type) {
	case int64:
		return w.tags[x]
	case string:
		return w.tagByName[x]
	case map[string]any:
		if id, ok := x["id"].(int64); ok {
			return w.tags[id]
		}
		if n, ok := x["name"].(string); ok {
			return w.tagByName[n]
		}
	}
	return nil
}

func (w *world) lookupBuild(v any) *build {
	switch x := v.(type) {
	case int64:
		return w.builds[x]
	case string:
		if b, ok := w.buildByNVR[x]; ok {
			return b
		}
		// Koji also accepts an id in a string.
		var id int64
		if _, err := fmt.Sscan(x, &id); err == nil && fmt.Sprint(id) == x {
			return w.builds[id]
		}
	case map[string]any:
		if id, ok := x["id"].(int64); ok {
			return w.builds[id]
		}
		n, _ := x["name"].(string)
		v, _ := x["version"].(string)
		r, _ := x["release"].(string)
		return w.buildByNVR[n+"-"+v+"-"+r]
	}
	return nil
}

func (w *world) lookupUser(v any) *user {
	switch x := v.(type) {
	case int64:
		return w.users[x]
	case string:
		if u, ok := w.userByName[x]; ok {
			return u
		}
		var id int64
		if _, err := fmt.Sscan(x, &id); err == nil {
			return w.users[id]
		}
	}
	return nil
}

// getUser resolves a user as Koji's get_user does: an int is an id, a
// string a name or Kerberos principal, a struct its id, name and
// krb_principal members (all given must match). Unknown users are nil;
// other types are Koji's GenericError.
func (w *world) getUser(v any) (*user, error) {
	match := func(f func(*user) bool) *user { // the lowest id, deterministically
		var best *user
		for _, u := range w.users {
			if f(u) && (best == nil || u.ID < best.ID) {
				best = u
			}
		}
		return best
	}
	switch x := v.(type) {
	case int64:
		return w.users[x], nil
	case string:
		if u := w.userByName[x]; u != nil {
			return u, nil
		}
		return match(func(u *user) bool { return u.KrbPrincipal != "" && u.KrbPrincipal == x }), nil
	case map[string]any:
		id, hasID := x["id"]
		if hasID && id != nil {
			if _, ok := id.(int64); !ok {
				return nil, fault(koji.CodeGenericError, "Invalid type for userid: %s", pyType(id))
			}
		}
		name, _ := x["name"].(string)
		princ, _ := x["krb_principal"].(string)
		return match(func(u *user) bool {
			return (!hasID || id == nil || u.ID == id) && (name == "" || u.Name == name) && (princ == "" || u.KrbPrincipal == princ)
		}), nil
	}
	return nil, fault(koji.CodeGenericError, "Invalid type for userInfo: %s", pyType(v))
}

// getPackage resolves a package as Koji's get_package_id does: an int is an
// id, a string a name, a struct its "id" or else "name" member. Unknown
// packages are nil; other types are Koji's ParameterError.
func (w *world) getPackage(v any) (*pkg, error) {
	if m, ok := v.(map[string]any); ok {
		switch {
		case m["id"] != nil:
			v = m["id"]
			if _, ok := v.(int64); !ok {
				return nil, fault(koji.CodeParameterError, "Invalid name or id value: %v", m)
			}
		case m["name"] != nil:
			v = m["name"]
		default:
			return nil, fault(koji.CodeParameterError, "Invalid name or id value: %v", m)
		}
	}
	switch x := v.(type) {
	case int64:
		return w.pkgByID[x], nil
	case string:
		return w.pkgs[x], nil
	}
	return nil, fault(koji.CodeParameterError, "Invalid name or id value: %v", v)
}

// pyType names a decoded XML-RPC value's Python type, as Koji's messages do.
func pyType(v any) string {
	switch v.(type) {
	case int64:
		return "<class 'int'>"
	case float64:
		return "<class 'float'>"
	case bool:
		return "<class 'bool'>"
	case string:
		return "<class 'str'>"
	case []any:
		return "<class 'list'>"
	case map[string]any:
		return "<class 'dict'>"
	case nil:
		return "<class 'NoneType'>"
	}
	return fmt.Sprintf("%T", v)
}

func (w *world) addBuild(b *build) {
	w.builds[b.ID] = b
	w.buildByNVR[b.nvr()] = b
	w.buildByPkg[b.PkgID] = append(w.buildByPkg[b.PkgID], b)
}

func (w *world) renameBuild(b *build, release string) {
	delete(w.buildByNVR, b.nvr())
	b.Release = release
	w.buildByNVR[b.nvr()] = b
}
