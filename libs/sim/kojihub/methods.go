package kojihub

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/koji/wire"
)

func init() {
	register("hello", "", func(c *call) (any, error) { return "Hello World", nil })
	register("getAPIVersion", "", func(c *call) (any, error) { return 1, nil })
	register("getKojiVersion", "", func(c *call) (any, error) { return Version, nil })
	register("system.listMethods", "", func(c *call) (any, error) { return Methods(), nil })
	// As Koji's HandlerRegistry: no signatures; help is "name(args)" ("" for
	// an unknown method).
	register("system.methodSignature", "method", func(c *call) (any, error) { return "signatures not supported", nil })
	register("system.methodHelp", "method", func(c *call) (any, error) {
		name, _ := c.raw("method").(string)
		m, ok := methods[name]
		if !ok {
			return "", nil
		}
		return name + "(" + m.sig + ")", nil
	})
	register("getLastEvent", "before=None, strict=True", func(c *call) (any, error) {
		w := c.h.w
		return wire.Struct{{Name: "id", Value: w.lastEvent}, {Name: "ts", Value: tts(w.lastEventTS)}}, nil
	})

	register("getBuildTarget", "info, event=None, strict=False", func(c *call) (any, error) {
		w := c.h.w
		var tg *target
		switch v := c.raw("info").(type) {
		case string:
			tg = w.targetName[v]
		case int64:
			tg = w.targets[v]
		}
		if tg == nil {
			if c.bool("strict") {
				return nil, fault(koji.CodeGenericError, "No such build target: %v", c.raw("info"))
			}
			return nil, nil
		}
		return w.renderTarget(tg), nil
	})
	register("getBuildTargets", "info=None, event=None, buildTagID=None, destTagID=None, queryOpts=None", func(c *call) (any, error) {
		w := c.h.w
		out := []any{}
		for _, n := range slices.Sorted(maps.Keys(w.targetName)) {
			tg := w.targetName[n]
			if s, ok := c.raw("info").(string); ok && s != n {
				continue
			}
			if id, _ := c.int("buildTagID"); id != 0 && tg.BuildTagID != id {
				continue
			}
			if id, _ := c.int("destTagID"); id != 0 && tg.DestTagID != id {
				continue
			}
			out = append(out, w.renderTarget(tg))
		}
		return out, nil
	})

	register("getTag", "tagInfo, strict=False, event=None, blocked=False", func(c *call) (any, error) {
		t := c.h.w.lookupTag(c.raw("tagInfo"))
		if t == nil {
			if c.bool("strict") {
				return nil, noSuchTag(c.raw("tagInfo"))
			}
			return nil, nil
		}
		return c.h.w.renderTag(t), nil
	})
	register("getFullInheritance", "tag, event=None, reverse=False", func(c *call) (any, error) {
		w := c.h.w
		t := w.lookupTag(c.raw("tag"))
		if t == nil {
			return nil, noSuchTag(c.raw("tag"))
		}
		out := []any{}
		if c.bool("reverse") {
			for _, d := range w.descendants(t)[1:] {
				for _, l := range d.Parents {
					if p := w.tags[l.ParentID]; p != nil {
						out = append(out, inheritEntry(d, p, l, 1, d.ID))
					}
				}
			}
			return out, nil
		}
		var walk func(x *tag, depth int)
		seen := map[int64]bool{t.ID: true}
		walk = func(x *tag, depth int) {
			for _, l := range x.Parents {
				p := w.tags[l.ParentID]
				if p == nil || seen[p.ID] {
					continue
				}
				seen[p.ID] = true
				out = append(out, inheritEntry(x, p, l, depth, 0))
				walk(p, depth+1)
			}
		}
		walk(t, 1)
		return out, nil
	})
	register("listTags", "build=None, package=None, perms=True, queryOpts=None, pattern=None", func(c *call) (any, error) {
		w := c.h.w
		out := []any{}
		var b *build
		if !c.isNil("build") {
			if b = w.lookupBuild(c.raw("build")); b == nil {
				return nil, fault(koji.CodeGenericError, "No such build: %v", c.raw("build"))
			}
		}
		pkgName, _ := c.str("package")
		for _, n := range slices.Sorted(maps.Keys(w.tagByName)) {
			t := w.tagByName[n]
			if b != nil && t.taggedIndex(b.ID) < 0 {
				continue
			}
			if pkgName != "" {
				if _, ok := t.Packages[pkgName]; !ok {
					continue
				}
			}
			out = append(out, w.renderTag(t))
		}
		return out, nil
	})

	register("getBuild", "buildInfo, strict=False", func(c *call) (any, error) {
		b := c.h.w.lookupBuild(c.raw("buildInfo"))
		if b == nil {
			if c.bool("strict") {
				return nil, noSuchBuild(c.raw("buildInfo"))
			}
			return nil, nil
		}
		return c.h.w.renderBuild(b), nil
	})
	register("listBuilds", "packageID=None, userID=None, taskID=None, prefix=None, state=None, volumeID=None, source=None, createdBefore=None, createdAfter=None, completeBefore=None, completeAfter=None, type=None, typeInfo=None, queryOpts=None, pattern=None, cgID=None, draft=None", listBuilds)
	register("listTagged", "tag, event=None, inherit=False, prefix=None, latest=False, package=None, owner=None, type=None, strict=True, extra=False, draft=None", listTagged)
	register("getLatestBuilds", "tag, event=None, package=None, type=None, draft=None", func(c *call) (any, error) {
		c.args["inherit"], c.args["latest"], c.args["strict"] = true, true, true
		return listTagged(c)
	})

	register("createSideTag", "basetag, debuginfo=False, suffix=None", createSideTag)
	register("removeSideTag", "sidetag", removeSideTag)
	register("listSideTags", "basetag=None, user=None, queryOpts=None", listSideTags)
	register("deleteTag", "tagInfo", func(c *call) (any, error) {
		if err := c.assertPerm("tag"); err != nil {
			return nil, err
		}
		t := c.h.w.lookupTag(c.raw("tagInfo"))
		if t == nil {
			return nil, noSuchTag(c.raw("tagInfo"))
		}
		c.h.w.deleteTag(t)
		c.h.w.event(c.now)
		c.commit = true
		return nil, nil
	})

	register("tagBuild", "tag, build, force=False, fromtag=None", tagBuild)
	register("untagBuild", "tag, build, strict=True, force=False", untagBuild)
}

func noSuchTag(v any) error {
	if s, ok := v.(string); ok {
		return fault(koji.CodeGenericError, "No such tagInfo: '%s'", s)
	}
	return fault(koji.CodeGenericError, "No such tagInfo: %v", v)
}

// noSuchUser is get_user(strict=True)'s fault ("%r" of the argument).
func noSuchUser(v any) error {
	if s, ok := v.(string); ok {
		return fault(koji.CodeGenericError, "No such user: '%s'", s)
	}
	return fault(koji.CodeGenericError, "No such user: %v", v)
}

func noSuchBuild(v any) error { return fault(koji.CodeGenericError, "No such build: %v", v) }

func inheritEntry(child, parent *tag, l inheritLink, depth int, tagID int64) wire.Struct {
	s := wire.Struct{
		{Name: "parent_id", Value: parent.ID}, {Name: "name", Value: parent.Name}, {Name: "priority", Value: l.Priority},
		{Name: "maxdepth", Value: nil}, {Name: "intransitive", Value: false}, {Name: "noconfig", Value: false},
		{Name: "pkg_filter", Value: ""}, {Name: "child_id", Value: child.ID}, {Name: "currdepth", Value: depth},
		{Name: "nextdepth", Value: nil}, {Name: "filter", Value: []any{}},
	}
	if tagID != 0 {
		s = append(s, wire.Member{Name: "tag_id", Value: tagID})
	}
	return s
}

// listBuilds filters as Koji's listBuilds: packageID and userID may be ids,
// names (a user also by Kerberos principal) or structs, and an unknown
// package or user gives an empty list rather than a fault.
func listBuilds(c *call) (any, error) {
	w := c.h.w
	var pkgID, userID int64
	if !c.isNil("packageID") {
		p, err := w.getPackage(c.raw("packageID"))
		if err != nil {
			return nil, err
		}
		if p == nil {
			return []any{}, nil
		}
		pkgID = p.ID
	}
	if !c.isNil("userID") {
		u, err := w.getUser(c.raw("userID"))
		if err != nil {
			return nil, err
		}
		if u == nil {
			return []any{}, nil
		}
		userID = u.ID
	}
	taskID, err := c.int("taskID")
	if err != nil {
		return nil, err
	}
	prefix, _ := c.str("prefix")
	source, _ := c.str("source")
	var state *int64
	if !c.isNil("state") {
		s, err := c.int("state")
		if err != nil {
			return nil, err
		}
		state = &s
	}
	var candidates []*build
	if pkgID != 0 {
		candidates = w.buildByPkg[pkgID]
	} else {
		candidates = make([]*build, 0, len(w.builds))
		for _, b := range w.builds {
			candidates = append(candidates, b)
		}
	}
	var out []*build
	for _, b := range candidates {
		switch {
		case userID != 0 && b.OwnerID != userID:
		case taskID == -1 && b.TaskID == 0: // Koji: -1 means "built from a task"
		case taskID > 0 && b.TaskID != taskID:
		case prefix != "" && !strings.HasPrefix(b.Name, prefix):
		case source != "" && b.Source != source:
		case state != nil && int64(b.State) != *state:
		case !c.isNil("draft") && b.Draft != c.bool("draft"):
		default:
			out = append(out, b)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	res := make([]wire.Struct, len(out))
	for i, b := range out {
		res[i] = w.renderBuild(b)
	}
	opts, _ := c.raw("queryOpts").(map[string]any)
	if o, _ := opts["order"].(string); o != "" {
		orderStructs(res, o)
	}
	res = page(res, opts)
	list := make([]any, len(res))
	for i, s := range res {
		list[i] = s
	}
	return list, nil
}

// orderStructs sorts results by queryOpts' order as Koji's QueryProcessor
// makes PostgreSQL do it: comma-separated fields, "-" for descending, NULLs
// last ascending and first descending; equal rows keep their order.
func orderStructs(items []wire.Struct, order string) {
	fields := strings.Split(order, ",")
	sort.SliceStable(items, func(i, j int) bool {
		for _, f := range fields {
			f = strings.TrimSpace(f)
			desc := strings.HasPrefix(f, "-")
			f = strings.TrimPrefix(f, "-")
			a, _ := items[i].Get(f)
			b, _ := items[j].Get(f)
			c := compareSQL(a, b)
			if desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		return false
	})
}

// compareSQL orders two XML-RPC values, NULL above every value.
func compareSQL(a, b any) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return 1
	case b == nil:
		return -1
	}
	num := func(v any) (float64, bool) {
		switch x := v.(type) {
		case int64:
			return float64(x), true
		case float64:
			return x, true
		case bool:
			if x {
				return 1, true
			}
			return 0, true
		}
		return 0, false
	}
	if x, ok := num(a); ok {
		if y, ok := num(b); ok {
			switch {
			case x < y:
				return -1
			case x > y:
				return 1
			}
			return 0
		}
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

// applyQueryOpts applies queryOpts to items already in ascending id order:
// any "-" order reverses them, then offset and limit apply.
func applyQueryOpts[T any](items []T, q any) []T {
	m, _ := q.(map[string]any)
	if m == nil {
		return items
	}
	if o, _ := m["order"].(string); strings.HasPrefix(o, "-") {
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	}
	return page(items, m)
}

// page applies queryOpts' offset and limit.
func page[T any](items []T, m map[string]any) []T {
	if off, ok := m["offset"].(int64); ok && off > 0 {
		if int(off) >= len(items) {
			return items[:0]
		}
		items = items[off:]
	}
	if lim, ok := m["limit"].(int64); ok && lim >= 0 && int(lim) < len(items) {
		items = items[:lim]
	}
	return items
}

func listTagged(c *call) (any, error) {
	w := c.h.w
	t := w.lookupTag(c.raw("tag"))
	if t == nil {
		if c.isNil("strict") || c.bool("strict") {
			return nil, noSuchTag(c.raw("tag"))
		}
		return []any{}, nil
	}
	tags := []*tag{t}
	if c.bool("inherit") {
		tags = w.inheritance(t)
	}
	pkgName, _ := c.str("package")
	prefix, _ := c.str("prefix")
	owner := w.lookupUser(c.raw("owner"))
	if !c.isNil("owner") && owner == nil {
		return []any{}, nil
	}
	latest := c.bool("latest")
	var latestN int64 = 1
	if n, ok := c.raw("latest").(int64); ok && n > 1 {
		latestN = n
	}
	seen := map[string]int64{}
	out := []any{}
	var pkgID int64 = -1 // with package=: only its builds, from the index
	if pkgName != "" {
		pkgID = 0
		if p := w.pkgs[pkgName]; p != nil {
			pkgID = p.ID
		}
	}
	for _, x := range tags {
		order := x.Tagged
		if pkgID >= 0 {
			order = nil
			for _, id := range x.byPkg[pkgID] {
				order = append(order, x.Tagged[x.pos[id]])
			}
		}
		for i := len(order) - 1; i >= 0; i-- {
			tg := order[i]
			b := w.builds[tg.BuildID]
			if b == nil || b.State != koji.BuildComplete {
				continue
			}
			if pkgName != "" && b.Name != pkgName {
				continue
			}
			if prefix != "" && !strings.HasPrefix(b.Name, prefix) {
				continue
			}
			if owner != nil && b.OwnerID != owner.ID {
				continue
			}
			if !c.isNil("draft") && b.Draft != c.bool("draft") {
				continue
			}
			if l, ok := w.pkgListing(t, b.Name); !ok || l.Blocked {
				continue
			}
			if latest {
				if seen[b.Name] >= latestN {
					continue
				}
				seen[b.Name]++
			}
			out = append(out, w.renderTagged(b, x, tg))
		}
	}
	return out, nil
}

func createSideTag(c *call) (any, error) {
	h, w := c.h, c.h.w
	// The plugin's order: login, the base tag, then the suffix (no suffix
	// is allowed here: allowed_suffixes is empty).
	if err := c.assertLogin(); err != nil {
		return nil, err
	}
	base := w.lookupTag(c.raw("basetag"))
	if base == nil {
		return nil, noSuchTag(c.raw("basetag"))
	}
	if suffix, _ := c.str("suffix"); suffix != "" {
		return nil, fault(koji.CodeGenericError, "%s suffix is not allowed for sidetag", suffix)
	}
	owned := 0
	for _, t := range w.tags {
		if t.sidetag() && t.sidetagUserID() == c.user.ID {
			owned++
		}
	}
	if owned >= h.opts.SideTagLimit && !c.user.admin() {
		return nil, fault(koji.CodeActionNotAllowed, "policy violation (sidetag)")
	}
	// Koji wastes one id of tag_id_seq so that the name matches the id.
	w.nextTag++
	name := fmt.Sprintf("%s-side-%d", base.Name, w.nextTag+1)
	t, err := w.addTag(name, base.Arches, base.Name)
	if err != nil {
		return nil, fault(koji.CodeGenericError, "%v", err)
	}
	t.Parents[0].Priority = 0
	t.Extra = map[string]any{"sidetag": true, "sidetag_user": c.user.Name, "sidetag_user_id": c.user.ID}
	if c.bool("debuginfo") {
		t.Extra["with_debuginfo"] = true
	}
	t.CreateEvent = w.event(c.now)
	w.addTarget(name, t, t)
	c.commit = true
	h.requestRegen(c, t)
	return wire.Struct{{Name: "name", Value: name}, {Name: "id", Value: t.ID}, {Name: "task_id", Value: nil}, {Name: "request", Value: nil}}, nil
}

func removeSideTag(c *call) (any, error) {
	w := c.h.w
	if err := c.assertLogin(); err != nil {
		return nil, err
	}
	t := w.lookupTag(c.raw("sidetag"))
	if t == nil {
		return nil, noSuchTag(c.raw("sidetag"))
	}
	if !t.sidetag() {
		return nil, fault(koji.CodeGenericError, "Not a sidetag: %s", t.Name)
	}
	if t.sidetagUserID() != c.user.ID && !c.user.admin() {
		return nil, fault(koji.CodeActionNotAllowed, "This is not your sidetag")
	}
	tg := w.targetName[t.Name]
	if tg == nil {
		return nil, fault(koji.CodeGenericError, "Target is missing for sidetag")
	}
	if tg.BuildTagID != t.ID || tg.DestTagID != t.ID {
		return nil, fault(koji.CodeGenericError, "Target does not match sidetag")
	}
	w.deleteTag(t)
	w.event(c.now)
	c.commit = true
	return nil, nil
}

func listSideTags(c *call) (any, error) {
	w := c.h.w
	var u *user
	if !c.isNil("user") {
		var err error
		if u, err = w.getUser(c.raw("user")); err != nil {
			return nil, err
		}
		if u == nil {
			return nil, noSuchUser(c.raw("user"))
		}
	}
	var base *tag
	if !c.isNil("basetag") {
		if base = w.lookupTag(c.raw("basetag")); base == nil {
			return nil, noSuchTag(c.raw("basetag"))
		}
	}
	var tags []*tag
	for _, t := range w.tags {
		if !t.sidetag() {
			continue
		}
		if u != nil && t.sidetagUserID() != u.ID {
			continue
		}
		if base != nil && (len(t.Parents) == 0 || t.Parents[0].ParentID != base.ID) {
			continue
		}
		tags = append(tags, t)
	}
	sort.Slice(tags, func(i, j int) bool { return tags[i].ID < tags[j].ID })
	tags = applyQueryOpts(tags, c.raw("queryOpts"))
	out := make([]any, len(tags))
	for i, t := range tags {
		uid := t.sidetagUserID()
		out[i] = wire.Struct{{Name: "id", Value: t.ID}, {Name: "name", Value: t.Name},
			{Name: "user_id", Value: fmt.Sprint(uid)}, {Name: "user_name", Value: w.userName(uid)}}
	}
	return out, nil
}

// mayTag is the simulator's tag policy: admins and holders of the "tag"
// permission anywhere, side tag owners in their side tags.
func (c *call) mayTag(t *tag) error {
	if err := c.assertLogin(); err != nil {
		return err
	}
	if c.user.hasPerm("tag") || (t.sidetag() && t.sidetagUserID() == c.user.ID) {
		return nil
	}
	if t.Perm != "" && c.user.hasPerm(t.Perm) {
		return nil
	}
	return fault(koji.CodeActionNotAllowed, "policy violation (tag)")
}

func tagBuild(c *call) (any, error) {
	h, w := c.h, c.h.w
	if err := c.assertLogin(); err != nil {
		return nil, err
	}
	t := w.lookupTag(c.raw("tag"))
	if t == nil {
		return nil, noSuchTag(c.raw("tag"))
	}
	b := w.lookupBuild(c.raw("build"))
	if b == nil {
		return nil, noSuchBuild(c.raw("build"))
	}
	var from *tag
	if !c.isNil("fromtag") {
		if from = w.lookupTag(c.raw("fromtag")); from == nil {
			return nil, noSuchTag(c.raw("fromtag"))
		}
	}
	if err := w.checkTaggable(t, b); err != nil {
		return nil, err
	}
	if err := c.mayTag(t); err != nil {
		return nil, err
	}
	fromID := any(nil)
	if from != nil {
		fromID = from.ID
	}
	tk := h.newTask(c, "tagBuild", "noarch", 0, c.user.ID, 10, []any{t.ID, b.ID, c.bool("force"), fromID, true})
	c.commit = true
	tagID, buildID, userID := t.ID, b.ID, c.user.ID
	var fromTagID int64
	if from != nil {
		fromTagID = from.ID
	}
	delay := h.scen.TagDelay.D()
	c.after = append(c.after, func() {
		h.after(delay/2, func(c *call) { h.setTaskState(c, tk, koji.TaskOpen) })
		h.after(delay, func(c *call) { h.runTagTask(c, tk, tagID, buildID, fromTagID, userID) })
	})
	return tk.ID, nil
}

// checkTaggable is tagBuild's synchronous validation.
func (w *world) checkTaggable(t *tag, b *build) error {
	if b.State != koji.BuildComplete {
		return fault(koji.CodeTagError, "build %s not complete: state %s", b.nvr(), b.State)
	}
	l, ok := w.pkgListing(t, b.Name)
	if !ok {
		return fault(koji.CodeTagError, "Package %s not in list for %s", b.Name, t.Name)
	}
	if l.Blocked {
		return fault(koji.CodeTagError, "Package %s blocked in %s", b.Name, t.Name)
	}
	if t.Locked {
		return fault(koji.CodeActionNotAllowed, "tag %s is locked", t.Name)
	}
	return nil
}

// runTagTask is the builder running a tagBuild task.
func (h *Hub) runTagTask(c *call, tk *task, tagID, buildID, fromID, userID int64) {
	if tk.State.Finished() {
		return
	}
	w := h.w
	t, b := w.tags[tagID], w.builds[buildID]
	switch {
	case t == nil:
		h.failTask(c, tk, fault(koji.CodeGenericError, "No such tagInfo: %d", tagID))
	case b == nil:
		h.failTask(c, tk, fault(koji.CodeGenericError, "No such build: %d", buildID))
	case t.taggedIndex(b.ID) >= 0:
		h.failTask(c, tk, fault(koji.CodeTagError, "build %s already tagged (%s)", b.nvr(), t.Name))
	default:
		if from := w.tags[fromID]; from != nil && from.taggedIndex(b.ID) >= 0 {
			h.untag(c, from, b, userID)
		}
		h.tag(c, t, b, userID)
		h.finishTask(c, tk, nil)
	}
}

// tag adds b to t, announces it and schedules repo regeneration.
func (h *Hub) tag(c *call, t *tag, b *build, userID int64) {
	w := h.w
	ev := w.event(c.now)
	t.addTagging(tagging{BuildID: b.ID, Event: ev, By: userID}, b.PkgID)
	c.emit(fedmsg.TopicTag, h.tagBody(t, b, userID))
	h.requestRegen(c, t)
}

func (h *Hub) untag(c *call, t *tag, b *build, userID int64) {
	i := t.taggedIndex(b.ID)
	if i < 0 {
		return
	}
	t.removeTagging(i, b.PkgID)
	h.w.event(c.now)
	c.emit(fedmsg.TopicUntag, h.tagBody(t, b, userID))
	h.requestRegen(c, t)
}

func (h *Hub) tagBody(t *tag, b *build, userID int64) fedmsg.TagBody {
	name := func(id int64) fedmsg.FlexString {
		if u := h.w.users[id]; u != nil {
			return fedmsg.FlexString(u.Name)
		}
		return ""
	}
	return fedmsg.TagBody{BaseURL: baseURL, Tag: t.Name, TagID: t.ID, Name: b.Name, Version: b.Version,
		Release: b.Release, BuildID: b.ID, User: name(userID), Owner: name(b.OwnerID), Instance: "primary"}
}

func untagBuild(c *call) (any, error) {
	w := c.h.w
	if err := c.assertLogin(); err != nil {
		return nil, err
	}
	t := w.lookupTag(c.raw("tag"))
	if t == nil {
		return nil, noSuchTag(c.raw("tag"))
	}
	b := w.lookupBuild(c.raw("build"))
	if b == nil {
		return nil, noSuchBuild(c.raw("build"))
	}
	if err := c.mayTag(t); err != nil {
		return nil, err
	}
	if t.taggedIndex(b.ID) < 0 {
		if c.isNil("strict") || c.bool("strict") {
			return nil, fault(koji.CodeTagError, "build %s not in tag %s", b.nvr(), t.Name)
		}
		return nil, nil
	}
	c.h.untag(c, t, b, c.user.ID)
	c.commit = true
	return nil, nil
}

const baseURL = "https://koji.fedoraproject.org"
