package kojihub

import (
	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/koji"
)

// repoRegen is kojira's pending regeneration of one build tag.
type repoRegen struct {
	dirty bool // the tag changed again while a repo was being generated
}

// requestRegen is kojira noticing a tag change: every build tag at or below
// t gets a new repo (repo.init now, repo.done after the scenario's RepoDelay).
func (h *Hub) requestRegen(c *call, t *tag) {
	for _, x := range h.w.descendants(t) {
		if !h.w.isBuildTag(x) {
			continue
		}
		if q := h.repoQ[x.ID]; q != nil {
			q.dirty = true
			continue
		}
		h.repoQ[x.ID] = &repoRegen{}
		id := x.ID
		c.after = append(c.after, func() { h.after(0, func(c *call) { h.startRepo(c, id) }) })
	}
}

func (h *Hub) startRepo(c *call, tagID int64) {
	w := h.w
	t := w.tags[tagID]
	if t == nil {
		delete(h.repoQ, tagID)
		return
	}
	kojira := w.addUser("kojira", "repo")
	tk := h.newTask(c, "newRepo", "noarch", 0, kojira.ID, 15, []any{t.Name})
	h.setTaskState(c, tk, koji.TaskOpen)
	w.nextRepo++
	r := &repo{ID: w.nextRepo, TagID: t.ID, TagName: t.Name, State: koji.RepoInit, CreateEvent: w.event(c.now),
		CreateTime: c.now, StateTime: c.now, TaskID: tk.ID}
	w.repos[r.ID] = r
	w.reposByTag[t.ID] = append(w.reposByTag[t.ID], r)
	c.emit(fedmsg.TopicRepoInit, fedmsg.RepoBody{BaseURL: baseURL, Tag: t.Name, TagID: t.ID, RepoID: r.ID, Instance: "primary"})
	h.after(h.scen.RepoDelay.D(), func(c *call) { h.finishRepo(c, r, tk) })
}

func (h *Hub) finishRepo(c *call, r *repo, tk *task) {
	w := h.w
	for _, old := range w.reposByTag[r.TagID] {
		if old != r && old.State == koji.RepoReady {
			old.State = koji.RepoExpired
			old.StateTime = c.now
		}
	}
	r.State = koji.RepoReady
	r.StateTime = c.now
	h.finishTask(c, tk, []any{r.ID, r.CreateEvent})
	if w.tags[r.TagID] != nil {
		c.emit(fedmsg.TopicRepoDone, fedmsg.RepoBody{BaseURL: baseURL, Tag: r.TagName, TagID: r.TagID, RepoID: r.ID, Instance: "primary"})
	}
	q := h.repoQ[r.TagID]
	if q != nil && q.dirty && w.tags[r.TagID] != nil {
		q.dirty = false
		id := r.TagID
		h.after(0, func(c *call) { h.startRepo(c, id) })
		return
	}
	delete(h.repoQ, r.TagID)
	waiters := h.wait[r.TagID]
	delete(h.wait, r.TagID)
	for _, f := range waiters {
		f()
	}
}

// repoReady: the tag has a READY repo and no regeneration pending.
func (h *Hub) repoReady(t *tag) bool {
	if h.repoQ[t.ID] != nil {
		return false
	}
	for _, r := range h.w.reposByTag[t.ID] {
		if r.State == koji.RepoReady {
			return true
		}
	}
	return false
}

// initialRepo gives a build tag of the initial world a READY repo, silently.
func (h *Hub) initialRepo(t *tag) {
	w := h.w
	w.nextRepo++
	now := h.opts.BaseTime
	r := &repo{ID: w.nextRepo, TagID: t.ID, TagName: t.Name, State: koji.RepoReady, CreateEvent: w.lastEvent,
		CreateTime: now, StateTime: now}
	w.repos[r.ID] = r
	w.reposByTag[t.ID] = append(w.reposByTag[t.ID], r)
}

func init() {
	register("getRepo", "tag, state=None, event=None, dist=False, min_event=None", func(c *call) (any, error) {
		w := c.h.w
		t := w.lookupTag(c.raw("tag"))
		if t == nil {
			return nil, noSuchTag(c.raw("tag"))
		}
		state := int64(koji.RepoReady)
		if !c.isNil("state") {
			s, err := c.int("state")
			if err != nil {
				return nil, err
			}
			state = s
		}
		minEvent, _ := c.int("min_event")
		rs := w.reposByTag[t.ID]
		for i := len(rs) - 1; i >= 0; i-- {
			r := rs[i]
			if int64(r.State) == state && r.CreateEvent >= minEvent {
				return w.renderRepo(r), nil
			}
		}
		return nil, nil
	})
	register("repoInfo", "repo_id, strict=False", func(c *call) (any, error) {
		id, err := c.int("repo_id")
		if err != nil {
			return nil, err
		}
		r := c.h.w.repos[id]
		if r == nil {
			if c.bool("strict") {
				return nil, fault(koji.CodeGenericError, "No such repo: %d", id)
			}
			return nil, nil
		}
		return c.h.w.renderRepo(r), nil
	})
}
