package kojihub

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/koji/wire"
	"github.com/fedora-eln/ebs/libs/rpmver"
)

const filesBaseURL = "https://kojipkgs.fedoraproject.org/work"

// newTask creates a FREE task (a child if parent != 0).
func (h *Hub) newTask(c *call, method, arch string, parent, owner int64, priority int, request []any) *task {
	w := h.w
	w.nextTask++
	t := &task{ID: w.nextTask, Method: method, Arch: arch, Parent: parent, State: koji.TaskFree, OwnerID: owner,
		Priority: priority, ChannelID: 1, Weight: 0.2, Request: request, CreateTime: c.now}
	switch method {
	case "newRepo":
		t.ChannelID, t.Weight = 2, 0.8
	case "buildArch":
		t.Weight = 1.5
	}
	w.tasks[t.ID] = t
	w.taskOrder = append(w.taskOrder, t.ID)
	if p := w.tasks[parent]; p != nil {
		p.Children = append(p.Children, t.ID)
	}
	w.event(c.now)
	return t
}

func (h *Hub) setTaskState(c *call, t *task, s koji.TaskState) {
	if t.State == s || t.State.Finished() {
		return
	}
	old := t.State
	t.State = s
	if s == koji.TaskOpen && t.StartTime.IsZero() {
		t.StartTime = c.now
		t.HostID = 77 + t.ID%5
	}
	if s.Finished() {
		t.CompletionTime = c.now
	}
	h.w.event(c.now)
	h.taskMessage(c, t, old)
}

func (h *Hub) finishTask(c *call, t *task, result any) {
	t.Result = result
	h.setTaskState(c, t, koji.TaskClosed)
}

func (h *Hub) failTask(c *call, t *task, f *koji.Fault) {
	t.Fault = f
	if t.StartTime.IsZero() {
		t.StartTime = c.now
	}
	h.setTaskState(c, t, koji.TaskFailed)
}

// scratchTopLevel: the messaging plugin only announces state changes of
// top-level tasks whose last request argument is a struct with scratch.
func scratchTopLevel(t *task) bool {
	if t.Parent != 0 || len(t.Request) == 0 {
		return false
	}
	m, ok := t.Request[len(t.Request)-1].(map[string]any)
	if !ok {
		return false
	}
	b, _ := m["scratch"].(bool)
	return b
}

func (h *Hub) taskMessage(c *call, t *task, old koji.TaskState) {
	if !scratchTopLevel(t) {
		return
	}
	o := old.String()
	body := fedmsg.TaskStateChangeBody{BaseURL: baseURL, FilesBaseURL: filesBaseURL, ID: t.ID, Method: t.Method,
		Attribute: "state", Old: &o, New: t.State.String(), Owner: fedmsg.FlexString(nameOf(h.w, t.OwnerID)),
		Instance: "primary", Info: h.taskInfo(t, true)}
	if len(t.Request) > 0 {
		if s, ok := t.Request[0].(string); ok {
			body.SRPM = path.Base(s)
		}
	}
	c.emit(fedmsg.TopicTaskStateChange, body)
}

func nameOf(w *world, id int64) string {
	if u := w.users[id]; u != nil {
		return u.Name
	}
	return ""
}

// taskInfo is the task-info object of messages (children expanded).
func (h *Hub) taskInfo(t *task, top bool) fedmsg.TaskInfo {
	w := h.w
	f := func(tm time.Time) *float64 {
		if tm.IsZero() {
			return nil
		}
		v := float64(tm.UnixMicro()) / 1e6
		return &v
	}
	ti := fedmsg.TaskInfo{ID: t.ID, State: int(t.State), CreateTime: f(t.CreateTime), StartTime: f(t.StartTime),
		CompletionTime: f(t.CompletionTime), Owner: fedmsg.FlexString(nameOf(w, t.OwnerID)), Method: t.Method,
		Arch: t.Arch, Priority: t.Priority, URL: fmt.Sprintf("%s/koji/taskinfo?taskID=%d", baseURL, t.ID),
		Result: json.RawMessage("null"), Children: []fedmsg.TaskInfo{}}
	ch := t.ChannelID
	ti.ChannelID = &ch
	if t.HostID != 0 {
		hid := t.HostID
		hn := fmt.Sprintf("buildhw-x86-%02d.iad2.fedoraproject.org", hid%100)
		ti.HostID, ti.HostName = &hid, &hn
	}
	if t.Parent != 0 {
		p := t.Parent
		ti.Parent = &p
	}
	if t.Label != "" {
		l := t.Label
		ti.Label = &l
	}
	if top {
		for _, r := range t.Request {
			b, _ := json.Marshal(r)
			ti.Request = append(ti.Request, b)
		}
	}
	if t.State == koji.TaskClosed && t.Result != nil {
		if b, err := json.Marshal(t.Result); err == nil {
			ti.Result = b
		}
	}
	for _, id := range t.Children {
		if child := w.tasks[id]; child != nil {
			ti.Children = append(ti.Children, h.taskInfo(child, false))
		}
	}
	return ti
}

// buildRun is the execution state of one build task tree.
type buildRun struct {
	parent   *task
	out      Outcome
	target   *target
	scratch  bool
	draft    bool
	failFast bool
	skipTag  bool
	waitRepo bool
	pkg      string // the dist-git repository (scenario outcomes are keyed by it)
	name     string // the package built: pkg, or the name in Outcome.NVR
	version  string
	release  string
	source   string
	buildID  int64
	arches   []string
}

func init() {
	register("build", "src, target, opts=None, priority=None, channel=None", submitBuild)
	register("getTaskInfo", "task_id, request=False, strict=False", func(c *call) (any, error) {
		w := c.h.w
		one := func(v any) (any, error) {
			id, ok := v.(int64)
			t := w.tasks[id]
			if !ok || t == nil {
				if c.bool("strict") {
					return nil, fault(koji.CodeGenericError, "No such task: %v", v)
				}
				return nil, nil
			}
			return w.renderTask(t, c.bool("request")), nil
		}
		if ids, ok := c.raw("task_id").([]any); ok {
			out := make([]any, len(ids))
			for i, id := range ids {
				v, err := one(id)
				if err != nil {
					return nil, err
				}
				out[i] = v
			}
			return out, nil
		}
		return one(c.raw("task_id"))
	})
	register("getTaskChildren", "task_id, request=False, strict=False", func(c *call) (any, error) {
		w := c.h.w
		id, err := c.int("task_id")
		if err != nil {
			return nil, err
		}
		t := w.tasks[id]
		if t == nil {
			if c.bool("strict") {
				return nil, fault(koji.CodeGenericError, "No such task: %d", id)
			}
			return []any{}, nil
		}
		out := []any{}
		for _, cid := range t.Children {
			out = append(out, w.renderTask(w.tasks[cid], c.bool("request")))
		}
		return out, nil
	})
	register("getTaskRequest", "taskId", func(c *call) (any, error) {
		t, err := c.task("taskId")
		if err != nil {
			return nil, err
		}
		return t.Request, nil
	})
	register("taskFinished", "taskId", func(c *call) (any, error) {
		t, err := c.task("taskId")
		if err != nil {
			return nil, err
		}
		return t.State.Finished(), nil
	})
	register("getTaskResult", "taskId, raise_fault=True", func(c *call) (any, error) {
		id, err := c.int("taskId")
		if err != nil {
			return nil, err
		}
		t := c.h.w.tasks[id]
		switch {
		case t == nil:
			return nil, fault(koji.CodeGenericError, "No such task")
		case t.State == koji.TaskCanceled:
			return nil, fault(koji.CodeGenericError, "Task %d is canceled", id)
		case t.State == koji.TaskFailed && t.Fault != nil:
			if c.isNil("raise_fault") || c.bool("raise_fault") {
				return nil, t.Fault
			}
			return wire.Struct{{Name: "faultCode", Value: t.Fault.Code}, {Name: "faultString", Value: t.Fault.Message}}, nil
		case !t.State.Finished():
			return nil, fault(koji.CodeGenericError, "Task %d is not finished", id)
		}
		return t.Result, nil
	})
	register("listTasks", "opts=None, queryOpts=None", listTasks)
	register("cancelTask", "task_id, recurse=True", func(c *call) (any, error) {
		h := c.h
		t, err := c.task("task_id")
		if err != nil {
			return nil, err
		}
		if c.user == nil || (t.OwnerID != c.user.ID && !c.user.admin()) {
			return nil, fault(koji.CodeActionNotAllowed, "Cannot cancel task, not owner")
		}
		if t.State.Finished() {
			return nil, nil
		}
		h.cancel(c, t, c.isNil("recurse") || c.bool("recurse"))
		c.commit = true
		return nil, nil
	})
	register("promoteBuild", "build, force=False", promoteBuild)
}

// task returns the task whose id is argument name, or Koji's "No such task"
// fault.
func (c *call) task(name string) (*task, error) {
	id, err := c.int(name)
	if err != nil {
		return nil, err
	}
	t := c.h.w.tasks[id]
	if t == nil {
		return nil, fault(koji.CodeGenericError, "No such task: %d", id)
	}
	return t, nil
}

// cancel cancels t (and its unfinished descendants) and a BUILDING build of
// its run.
func (h *Hub) cancel(c *call, t *task, recurse bool) {
	if recurse {
		for _, id := range t.Children {
			if ch := h.w.tasks[id]; ch != nil && !ch.State.Finished() {
				h.cancel(c, ch, true)
			}
		}
	}
	h.setTaskState(c, t, koji.TaskCanceled)
	if r := t.run; r != nil {
		if b := h.w.builds[r.buildID]; b != nil && b.State == koji.BuildBuilding {
			h.setBuildState(c, b, koji.BuildCanceled)
		}
	}
}

func listTasks(c *call) (any, error) {
	w := c.h.w
	opts, _ := c.raw("opts").(map[string]any)
	match := func(t *task) bool {
		if opts == nil {
			return true
		}
		if m, ok := opts["method"].(string); ok && t.Method != m {
			return false
		}
		if o, ok := opts["owner"]; ok {
			u := w.lookupUser(o)
			if u == nil || t.OwnerID != u.ID {
				return false
			}
		}
		if st, ok := opts["state"].([]any); ok {
			found := false
			for _, s := range st {
				if n, _ := s.(int64); koji.TaskState(n) == t.State {
					found = true
				}
			}
			if !found {
				return false
			}
		}
		if ns, ok := opts["not_state"].([]any); ok {
			for _, s := range ns {
				if n, _ := s.(int64); koji.TaskState(n) == t.State {
					return false
				}
			}
		}
		if p, ok := opts["parent"]; ok {
			switch x := p.(type) {
			case nil:
				if t.Parent != 0 {
					return false
				}
			case int64:
				if t.Parent != x {
					return false
				}
			case []any:
				found := false
				for _, e := range x {
					if n, _ := e.(int64); n == t.Parent {
						found = true
					}
				}
				if !found {
					return false
				}
			}
		}
		if ca, ok := opts["createdAfter"]; ok {
			if tm, ok := optTime(ca); ok && !t.CreateTime.After(tm) {
				return false
			}
		}
		if cb, ok := opts["createdBefore"]; ok {
			if tm, ok := optTime(cb); ok && !t.CreateTime.Before(tm) {
				return false
			}
		}
		return true
	}
	var out []*task
	for _, id := range w.taskOrder {
		if t := w.tasks[id]; t != nil && match(t) {
			out = append(out, t)
		}
	}
	out = applyQueryOpts(out, c.raw("queryOpts"))
	decode, _ := opts["decode"].(bool)
	res := make([]any, len(out))
	for i, t := range out {
		s := w.renderTask(t, false)
		if decode {
			s = append(s, wire.Member{Name: "request", Value: t.Request})
			s = append(s, wire.Member{Name: "result", Value: t.Result})
		} else {
			req, _ := wire.EncodeCall("", t.Request...)
			s = append(s, wire.Member{Name: "request", Value: string(req)})
			s = append(s, wire.Member{Name: "result", Value: nil})
		}
		s = append(s, wire.Member{Name: "owner_name", Value: w.userName(t.OwnerID)}, wire.Member{Name: "owner_type", Value: 0})
		res[i] = s
	}
	return res, nil
}

func optTime(v any) (time.Time, bool) {
	switch x := v.(type) {
	case float64:
		sec := int64(x)
		return time.Unix(sec, int64((x-float64(sec))*1e9)), true
	case int64:
		return time.Unix(x, 0), true
	case string:
		t, err := wire.ParseTime(x)
		return t, err == nil
	}
	return time.Time{}, false
}

// submitBuild is build(): it creates the parent task and starts the run.
func submitBuild(c *call) (any, error) {
	h, w := c.h, c.h.w
	if err := c.assertLogin(); err != nil {
		return nil, err
	}
	src, err := c.str("src")
	if err != nil || src == "" {
		return nil, fault(koji.CodeParameterError, "Invalid type for value '%v': %T", c.raw("src"), c.raw("src"))
	}
	tname, _ := c.str("target")
	tg := w.targetName[tname]
	if tg == nil {
		return nil, fault(koji.CodeGenericError, "No such build target: %s", tname)
	}
	opts, _ := c.raw("opts").(map[string]any)
	if opts == nil && !c.isNil("opts") {
		return nil, fault(koji.CodeParameterError, "Invalid type for value '%v': %T", c.raw("opts"), c.raw("opts"))
	}
	prio := koji.PrioDefault
	if !c.isNil("priority") {
		p, err := c.int("priority")
		if err != nil {
			return nil, err
		}
		if p < 0 && !c.user.admin() {
			return nil, fault(koji.CodeActionNotAllowed, "only admins may create high-priority tasks")
		}
		prio += int(p)
	}
	b := func(k string) bool { v, _ := opts[k].(bool); return v }
	request := []any{src, tname}
	if opts != nil {
		request = append(request, opts)
	} else {
		request = append(request, map[string]any{})
	}
	run := &buildRun{target: tg, scratch: b("scratch"), draft: b("draft"), failFast: b("fail_fast"),
		skipTag: b("skip_tag"), waitRepo: b("wait_repo"), source: src}
	if run.scratch {
		// A scratch build is never a draft.
		run.draft = false
	}
	run.pkg = pkgFromSCM(src)
	h.runs[run.pkg]++
	run.out = h.scen.outcomeFor(run.pkg, h.runs[run.pkg], h.rng)
	run.version, run.release = h.deriveVR(run.pkg, src, run.out.NVR)
	run.name = run.pkg
	if n, _, _, err := rpmver.ParseNVR(run.out.NVR); run.out.NVR != "" && err == nil {
		// A spec may name its package after the distribution: freeipa.spec
		// builds ipa on RHEL and ELN.
		run.name = n
	}
	if bt := w.tags[tg.BuildTagID]; bt != nil {
		run.arches = strings.Fields(bt.Arches)
	}
	if ao, _ := opts["arch_override"].(string); ao != "" && run.scratch {
		run.arches = strings.Fields(ao)
	}
	if len(run.arches) == 0 {
		run.arches = []string{"x86_64"}
	}
	parent := h.newTask(c, "build", "noarch", 0, c.user.ID, prio, request)
	parent.run = run
	run.parent = parent
	c.commit = true
	d := run.out.Duration.D()
	c.after = append(c.after, func() { h.after(d/20, func(c *call) { h.startBuild(c, run) }) })
	return parent.ID, nil
}

// pkgFromSCM reads the package from git+https://src.fedoraproject.org/rpms/<pkg>.git#<ref>.
func pkgFromSCM(src string) string {
	u, _, _ := strings.Cut(src, "#")
	u, _, _ = strings.Cut(u, "?")
	return strings.TrimSuffix(path.Base(u), ".git")
}

// deriveVR finds the version-release an ELN rebuild of src would get: the
// Rawhide build with that source, its dist tag swapped for ELN's.
func (h *Hub) deriveVR(pkgName, src, override string) (string, string) {
	if override != "" {
		if _, v, r, err := rpmver.ParseNVR(override); err == nil {
			return v, r
		}
	}
	w := h.w
	var best *build
	if p := w.pkgs[pkgName]; p != nil {
		for _, b := range w.buildByPkg[p.ID] {
			if b.Source == src {
				best = b
				break
			}
		}
		// Otherwise the latest Rawhide build, else the newest complete one.
		if rt := w.tagByName[h.opts.RawhideTag]; best == nil && rt != nil {
			for i := len(rt.Tagged) - 1; i >= 0 && best == nil; i-- {
				if b := w.builds[rt.Tagged[i].BuildID]; b != nil && b.PkgID == p.ID {
					best = b
				}
			}
		}
		for _, b := range w.buildByPkg[p.ID] {
			if best == nil || (b.State == koji.BuildComplete && b.ID > best.ID && best.State != koji.BuildComplete) {
				best = b
			}
		}
	}
	if best == nil {
		return "1.0", "1." + h.opts.ELNDist
	}
	rel := best.Release
	if i := strings.Index(rel, ",draft_"); i >= 0 {
		rel = rel[:i]
	}
	rel = strings.Replace(rel, "."+h.opts.FedoraDist, "."+h.opts.ELNDist, 1)
	if !strings.Contains(rel, h.opts.ELNDist) {
		rel += "." + h.opts.ELNDist
	}
	return best.Version, rel
}

func (h *Hub) startBuild(c *call, r *buildRun) {
	p := r.parent
	if p.State.Finished() {
		return
	}
	h.setTaskState(c, p, koji.TaskOpen)
	bt := h.w.tags[r.target.BuildTagID]
	if r.waitRepo && bt != nil && !h.repoReady(bt) {
		// wait_repo: the builder waits for a current repo of the build tag.
		h.wait[bt.ID] = append(h.wait[bt.ID], func() {
			h.after(0, func(c *call) { h.startSRPM(c, r) })
		})
		return
	}
	h.startSRPM(c, r)
}

func (h *Hub) startSRPM(c *call, r *buildRun) {
	if r.parent.State.Finished() {
		return
	}
	srpm := h.newTask(c, "buildSRPMFromSCM", "noarch", r.parent.ID, r.parent.OwnerID, r.parent.Priority,
		[]any{r.source, r.target.BuildTagID, map[string]any{"repo_id": h.lastRepoID(r.target.BuildTagID)}})
	srpm.Label = "srpm"
	h.setTaskState(c, srpm, koji.TaskOpen)
	d := r.out.Duration.D()
	h.after(d/5, func(c *call) { h.srpmDone(c, r, srpm) })
}

func (h *Hub) lastRepoID(tagID int64) any {
	if rs := h.w.reposByTag[tagID]; len(rs) > 0 {
		return rs[len(rs)-1].ID
	}
	return nil
}

func taskDir(id int64) string { return fmt.Sprintf("tasks/%d/%d", id%10000, id) }

func (h *Hub) srpmDone(c *call, r *buildRun, srpm *task) {
	p := r.parent
	if p.State.Finished() || srpm.State.Finished() {
		return
	}
	w := h.w
	nvr := r.name + "-" + r.version + "-" + r.release
	if r.out.Result == ResultSRPMFail {
		f := fault(koji.CodeBuildError, "error building srpm, mock exited with status 1; see build.log for more information")
		h.failTask(c, srpm, f)
		h.failTask(c, p, fault(koji.CodeBuildError, "BuildError: %s", f.Message))
		return
	}
	h.finishTask(c, srpm, map[string]any{
		"srpm": taskDir(srpm.ID) + "/" + nvr + ".src.rpm", "logs": []any{taskDir(srpm.ID) + "/build.log"},
		"brootid": 9000000 + srpm.ID%1000000, "source": map[string]any{"source": r.source, "url": r.source},
	})
	if !r.scratch {
		existing := w.buildByNVR[nvr]
		if r.out.Result == ResultNVRExists || (existing != nil && !r.draft && existing.State != koji.BuildFailed && existing.State != koji.BuildCanceled) {
			id, state := int64(0), "COMPLETE"
			if existing != nil {
				id, state = existing.ID, existing.State.String()
			}
			h.failTask(c, p, fault(koji.CodeGenericError,
				"GenericError: Build already exists (id=%d, state=%s): {'name': '%s', 'version': '%s', 'release': '%s', 'epoch': None}",
				id, state, r.name, r.version, r.release))
			return
		}
		if !r.skipTag {
			if dt := w.tags[r.target.DestTagID]; dt != nil {
				if l, ok := w.pkgListing(dt, r.name); !ok || l.Blocked {
					h.failTask(c, p, fault(koji.CodeBuildError, "BuildError: package %s not in list for tag %s", r.name, dt.Name))
					return
				}
			}
		}
		b := &build{PkgID: w.pkg(r.name).ID, Name: r.name, Version: r.version, Release: r.release,
			State: koji.BuildBuilding, TaskID: p.ID, OwnerID: p.OwnerID, Source: r.source,
			CreationTime: c.now, StartTime: p.StartTime, Draft: r.draft, Extra: map[string]any{}}
		w.nextBuild++
		b.ID = w.nextBuild
		if r.draft {
			b.Extra["draft"] = map[string]any{"promoted": false, "target_release": r.release}
			b.Release = fmt.Sprintf("%s,draft_%d", r.release, b.ID)
		}
		b.CreationEvent = w.event(c.now)
		w.addBuild(b)
		r.buildID = b.ID
		h.buildMessage(c, b, nil)
	}
	var arches []*task
	for _, a := range r.arches {
		t := h.newTask(c, "buildArch", a, p.ID, p.OwnerID, p.Priority, []any{taskDir(srpm.ID) + "/" + nvr + ".src.rpm", r.target.BuildTagID, a, true, map[string]any{}})
		t.Label = a
		h.setTaskState(c, t, koji.TaskOpen)
		arches = append(arches, t)
	}
	if r.out.Result == ResultHang {
		return // until cancelTask
	}
	d := r.out.Duration.D()
	h.after(d-d/5-d/20, func(c *call) { h.archesDone(c, r, arches, nvr) })
}

func (h *Hub) archesDone(c *call, r *buildRun, arches []*task, nvr string) {
	p := r.parent
	if p.State.Finished() {
		return
	}
	w := h.w
	b := w.builds[r.buildID]
	if r.out.Result == ResultFail {
		var first *koji.Fault
		for i, t := range arches {
			if t.State.Finished() {
				continue
			}
			if i == 0 {
				first = fault(koji.CodeBuildError, "error building package (arch %s), mock exited with status 1; see build.log for more information", t.Arch)
				h.failTask(c, t, first)
			} else if r.failFast {
				h.setTaskState(c, t, koji.TaskCanceled)
			} else {
				h.finishTask(c, t, h.archResult(t, nvr))
			}
		}
		if first == nil {
			first = fault(koji.CodeBuildError, "error building package")
		}
		if b != nil {
			b.CompletionTime = c.now
			h.setBuildState(c, b, koji.BuildFailed)
		}
		h.failTask(c, p, fault(koji.CodeBuildError, "BuildError: %s", first.Message))
		return
	}
	for _, t := range arches {
		if !t.State.Finished() {
			h.finishTask(c, t, h.archResult(t, nvr))
		}
	}
	if b == nil { // scratch
		h.finishTask(c, p, nil)
		return
	}
	b.CompletionTime = c.now
	h.setBuildState(c, b, koji.BuildComplete)
	dt := w.tags[r.target.DestTagID]
	if r.skipTag || dt == nil {
		h.finishTask(c, p, nil)
		return
	}
	tk := h.newTask(c, "tagBuild", "noarch", p.ID, p.OwnerID, p.Priority, []any{dt.ID, b.ID, false, nil, true})
	h.setTaskState(c, tk, koji.TaskOpen)
	h.after(h.scen.TagDelay.D(), func(c *call) {
		if tk.State.Finished() {
			return
		}
		if dt.taggedIndex(b.ID) < 0 && w.tags[dt.ID] != nil {
			h.tag(c, dt, b, p.OwnerID)
		}
		h.finishTask(c, tk, nil)
		h.finishTask(c, p, nil)
	})
}

func (h *Hub) archResult(t *task, nvr string) map[string]any {
	dir := taskDir(t.ID)
	return map[string]any{"brootid": 9000000 + t.ID%1000000, "srpms": []any{},
		"rpms": []any{dir + "/" + nvr + "." + t.Arch + ".rpm"}, "logs": []any{dir + "/build.log", dir + "/root.log"}}
}

func (h *Hub) setBuildState(c *call, b *build, s koji.BuildState) {
	old := int(b.State)
	b.State = s
	h.w.event(c.now)
	h.buildMessage(c, b, &old)
}

func (h *Hub) buildMessage(c *call, b *build, old *int) {
	w := h.w
	id := b.ID
	body := fedmsg.BuildStateChangeBody{BaseURL: baseURL, Name: b.Name, Version: b.Version, Release: b.Release,
		Epoch: json.RawMessage("null"), Attribute: "state", Old: old, New: int(b.State), BuildID: &id,
		Owner: fedmsg.FlexString(nameOf(w, b.OwnerID)), Instance: "primary",
		CreationTime: b.CreationTime.UTC().Format("2006-01-02T15:04:05.000000+00:00"), FilesBaseURL: filesBaseURL,
		URL: fmt.Sprintf("%s/koji/buildinfo?buildID=%d", baseURL, b.ID)}
	if !b.CompletionTime.IsZero() {
		s := b.CompletionTime.UTC().Format("2006-01-02T15:04:05.000000+00:00")
		body.CompletionTime = &s
	}
	if t := w.tasks[b.TaskID]; t != nil {
		tid := t.ID
		body.TaskID = &tid
		ti := h.taskInfo(t, true)
		body.Task = &ti
		body.Request = ti.Request
	}
	c.emit(fedmsg.TopicBuildStateChange, body)
}

func promoteBuild(c *call) (any, error) {
	h, w := c.h, c.h.w
	if err := c.assertLogin(); err != nil {
		return nil, err
	}
	b := w.lookupBuild(c.raw("build"))
	if b == nil {
		return nil, noSuchBuild(c.raw("build"))
	}
	reason := func(format string, a ...any) error {
		return fault(koji.CodeGenericError, "Cannot promote build %s. Reason: %s", b.nvr(), fmt.Sprintf(format, a...))
	}
	if !b.Draft {
		return nil, reason("Not a draft build")
	}
	if b.State != koji.BuildComplete {
		return nil, reason("state (%s) is not COMPLETE", b.State)
	}
	if b.OwnerID != c.user.ID && !c.user.admin() {
		return nil, fault(koji.CodeActionNotAllowed, "policy violation (draft_promotion)")
	}
	rel := b.Release
	if i := strings.Index(rel, ",draft_"); i >= 0 {
		rel = rel[:i]
	}
	if other := w.buildByNVR[b.Name+"-"+b.Version+"-"+rel]; other != nil && other != b {
		return nil, reason("Target build exists: %s(#%d)", other.nvr(), other.ID)
	}
	w.renameBuild(b, rel)
	b.Draft = false
	b.PromoterID = c.user.ID
	b.PromotionTime = c.now
	if d, ok := b.Extra["draft"].(map[string]any); ok {
		d["promoted"] = true
	}
	w.event(c.now)
	c.commit = true
	c.emit("buildsys.build.promote", map[string]any{"base_url": baseURL, "instance": "primary"})
	// Tag listings point at the build id, so the promoted NVR shows up
	// wherever the draft was tagged; no untag/tag happens.
	_ = h
	return w.renderBuild(b), nil
}

// TaskInfo is the simulator's view of a task for Go tests.
func (h *Hub) TaskInfo(id int64) (koji.Task, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.w.tasks[id]
	if t == nil {
		return koji.Task{}, false
	}
	var kt koji.Task
	v := decodeStruct(h.w.renderTask(t, true))
	_ = wire.Into(v, &kt)
	return kt, true
}

// TaskChildren returns the ids of a task's children.
func (h *Hub) TaskChildren(id int64) []int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.w.tasks[id]; t != nil {
		return append([]int64(nil), t.Children...)
	}
	return nil
}

// decodeStruct turns a rendered wire.Struct into the generic map a client
// would decode, so Go-side inspection uses the same typed structs.
func decodeStruct(v any) any {
	switch x := v.(type) {
	case wire.Struct:
		m := make(map[string]any, len(x))
		for _, mem := range x {
			m[mem.Name] = decodeStruct(mem.Value)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = decodeStruct(e)
		}
		return out
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = decodeStruct(e)
		}
		return m
	case int:
		return int64(x)
	default:
		return v
	}
}
