package koji

import (
	"context"
	"fmt"

	"github.com/fedora-eln/ebs/libs/koji/wire"
)

// Each method below sends the call the way koji.ClientSession does:
// positional arguments where the Python API callers pass them positionally,
// optional ones as the trailing keyword struct. Build and tag arguments
// accept what the hub accepts: an int64 id or a name/NVR string.

// Call describes one call, for Multicall.
type Call struct {
	Method string
	Params []any
}

// NewCall builds a Call (use KW for keyword arguments).
func NewCall(method string, params ...any) Call { return Call{Method: method, Params: params} }

func ref(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case int32:
		return int64(x)
	case int64, string:
		return x
	default:
		panic(fmt.Sprintf("koji: a build or tag is an int64 id or a name, not %T", v))
	}
}

// GetAPIVersion returns the hub's API version (1).
func (c *Client) GetAPIVersion(ctx context.Context) (int, error) {
	var v int
	return v, c.Call(ctx, &v, "getAPIVersion")
}

// GetLoggedInUser returns the session's user, or nil when anonymous.
func (c *Client) GetLoggedInUser(ctx context.Context) (*User, error) {
	var u *User
	return u, c.Call(ctx, &u, "getLoggedInUser")
}

// GetLastEvent returns the newest event.
func (c *Client) GetLastEvent(ctx context.Context) (Event, error) {
	var e Event
	return e, c.Call(ctx, &e, "getLastEvent")
}

// GetBuildTarget returns a target, or nil if there is none by that name.
func (c *Client) GetBuildTarget(ctx context.Context, name string) (*Target, error) {
	var t *Target
	return t, c.Call(ctx, &t, "getBuildTarget", name)
}

// GetTag returns a tag, or nil (strict=false) / GenericError (strict=true).
func (c *Client) GetTag(ctx context.Context, tag any, strict bool) (*Tag, error) {
	var t *Tag
	return t, c.Call(ctx, &t, "getTag", refStrict(tag, strict)...)
}

func refStrict(x any, strict bool) []any {
	if strict {
		return []any{ref(x), KW("strict", true)}
	}
	return []any{ref(x)}
}

// GetBuild returns a build by id or NVR; nil when missing unless strict
// (then GenericError "No such build").
func (c *Client) GetBuild(ctx context.Context, build any, strict bool) (*Build, error) {
	var b *Build
	return b, c.Call(ctx, &b, "getBuild", refStrict(build, strict)...)
}

// ListBuilds lists builds matching opts (listBuilds(taskID=...) finds the
// build a task produced).
func (c *Client) ListBuilds(ctx context.Context, opts ListBuildsOpts) ([]Build, error) {
	var bs []Build
	cl := listBuildsCall(opts)
	return bs, c.Call(ctx, &bs, cl.Method, cl.Params...)
}

func listBuildsCall(o ListBuildsOpts) Call {
	var kw []any
	if o.PackageID != 0 {
		kw = append(kw, "packageID", o.PackageID)
	}
	if o.UserID != 0 {
		kw = append(kw, "userID", o.UserID)
	}
	if o.TaskID != 0 {
		kw = append(kw, "taskID", o.TaskID)
	}
	if o.Prefix != "" {
		kw = append(kw, "prefix", o.Prefix)
	}
	if o.State != nil {
		kw = append(kw, "state", int(*o.State))
	}
	if o.Query != nil {
		kw = append(kw, "queryOpts", o.Query.wire())
	}
	if len(kw) == 0 {
		return NewCall("listBuilds")
	}
	return NewCall("listBuilds", KW(kw...))
}

func (q *QueryOpts) wire() wire.Struct {
	var s wire.Struct
	if q.Order != "" {
		s = append(s, wire.Member{Name: "order", Value: q.Order})
	}
	if q.Offset != 0 {
		s = append(s, wire.Member{Name: "offset", Value: q.Offset})
	}
	if q.Limit != 0 {
		s = append(s, wire.Member{Name: "limit", Value: q.Limit})
	}
	if s == nil {
		s = wire.Struct{}
	}
	return s
}

// ListTagged lists builds tagged in tag (newest tagging first).
func (c *Client) ListTagged(ctx context.Context, tag string, opts ListTaggedOpts) ([]Build, error) {
	var kw []any
	if opts.Event != 0 {
		kw = append(kw, "event", opts.Event)
	}
	if opts.Latest {
		kw = append(kw, "latest", true)
	}
	if opts.Inherit {
		kw = append(kw, "inherit", true)
	}
	if opts.Package != "" {
		kw = append(kw, "package", opts.Package)
	}
	if opts.Owner != "" {
		kw = append(kw, "owner", opts.Owner)
	}
	if opts.Draft != nil {
		kw = append(kw, "draft", *opts.Draft)
	}
	params := []any{tag}
	if len(kw) > 0 {
		params = append(params, KW(kw...))
	}
	var bs []Build
	err := c.Call(ctx, &bs, "listTagged", params...)
	for i := range bs {
		if bs[i].ID == 0 {
			bs[i].ID = bs[i].BuildID
		}
	}
	return bs, err
}

// ListTags lists the tags a build is tagged in.
func (c *Client) ListTags(ctx context.Context, build any) ([]Tag, error) {
	var ts []Tag
	return ts, c.Call(ctx, &ts, "listTags", KW("build", ref(build)))
}

// CreateSideTag creates <basetag>-side-<id> owned by the logged-in user.
func (c *Client) CreateSideTag(ctx context.Context, basetag string) (*SideTag, error) {
	var st *SideTag
	return st, c.Call(ctx, &st, "createSideTag", basetag)
}

// RemoveSideTag removes a side tag (owner or admin only).
func (c *Client) RemoveSideTag(ctx context.Context, sidetag any) error {
	return c.Call(ctx, nil, "removeSideTag", ref(sidetag))
}

// ListSideTags lists side tags, optionally of one base tag and/or user
// ("" for any).
func (c *Client) ListSideTags(ctx context.Context, basetag, user string) ([]SideTagInfo, error) {
	var kw []any
	if basetag != "" {
		kw = append(kw, "basetag", basetag)
	}
	if user != "" {
		kw = append(kw, "user", user)
	}
	var params []any
	if len(kw) > 0 {
		params = append(params, KW(kw...))
	}
	var out []SideTagInfo
	return out, c.Call(ctx, &out, "listSideTags", params...)
}

// DeleteTag deletes a tag (admin); Bodhi uses it for update side tags.
func (c *Client) DeleteTag(ctx context.Context, tag any) error {
	return c.Call(ctx, nil, "deleteTag", ref(tag))
}

// TagBuild starts a tagBuild task and returns its id; the build is in the
// tag only once that task is CLOSED.
func (c *Client) TagBuild(ctx context.Context, tag string, build any) (int64, error) {
	var id int64
	cl := tagBuildReq(tag, build)
	return id, c.Call(ctx, &id, cl.Method, cl.Params...)
}

func tagBuildReq(tag string, build any) Call { return NewCall("tagBuild", tag, ref(build)) }

// UntagBuild removes a build from a tag at once (TagError if it is not
// there and strict).
func (c *Client) UntagBuild(ctx context.Context, tag string, build any, strict bool) error {
	cl := untagBuildReq(tag, build, strict)
	return c.Call(ctx, nil, cl.Method, cl.Params...)
}

func untagBuildReq(tag string, build any, strict bool) Call {
	if strict {
		return NewCall("untagBuild", tag, ref(build))
	}
	return NewCall("untagBuild", tag, ref(build), KW("strict", false))
}

// BuildRequest is one build() submission.
type BuildRequest struct {
	Source   string // SCM URL
	Target   string // target (a side tag's name is its target)
	Opts     BuildOpts
	Priority *int // relative to PrioDefault; nil sends none
}

// Build submits build(src, target, opts, priority=...) and returns the task id.
func (c *Client) Build(ctx context.Context, r BuildRequest) (int64, error) {
	var id int64
	cl := buildReq(r)
	return id, c.Call(ctx, &id, cl.Method, cl.Params...)
}

func buildReq(r BuildRequest) Call {
	params := []any{r.Source, r.Target, r.Opts.wire()}
	if r.Priority != nil {
		params = append(params, KW("priority", *r.Priority))
	}
	return NewCall("build", params...)
}

func (o BuildOpts) wire() wire.Struct {
	s := wire.Struct{{Name: "fail_fast", Value: o.FailFast}, {Name: "wait_repo", Value: o.WaitRepo}, {Name: "draft", Value: o.Draft}}
	if o.Scratch {
		s = append(s, wire.Member{Name: "scratch", Value: true})
	}
	if o.SkipTag {
		s = append(s, wire.Member{Name: "skip_tag", Value: true})
	}
	if o.ArchOverride != "" {
		s = append(s, wire.Member{Name: "arch_override", Value: o.ArchOverride})
	}
	if o.RepoID != 0 {
		s = append(s, wire.Member{Name: "repo_id", Value: o.RepoID})
	}
	if len(o.WaitBuilds) > 0 {
		s = append(s, wire.Member{Name: "wait_builds", Value: o.WaitBuilds})
	}
	if len(o.CustomUserMetadata) > 0 {
		s = append(s, wire.Member{Name: "custom_user_metadata", Value: o.CustomUserMetadata})
	}
	return s
}

// GetTaskInfo returns a task (with its request params when request is
// true), or nil if there is no such task.
func (c *Client) GetTaskInfo(ctx context.Context, id int64, request bool) (*Task, error) {
	var t *Task
	cl := taskInfoReq(id, request)
	return t, c.Call(ctx, &t, cl.Method, cl.Params...)
}

func taskInfoReq(id int64, request bool) Call {
	if request {
		return NewCall("getTaskInfo", id, KW("request", true))
	}
	return NewCall("getTaskInfo", id)
}

// GetTaskChildren lists a task's direct children.
func (c *Client) GetTaskChildren(ctx context.Context, id int64, request bool) ([]Task, error) {
	params := []any{id}
	if request {
		params = append(params, KW("request", true))
	}
	var ts []Task
	return ts, c.Call(ctx, &ts, "getTaskChildren", params...)
}

// ListTasks lists tasks matching f (listTasks(opts, queryOpts)); requests
// come back decoded.
func (c *Client) ListTasks(ctx context.Context, f TaskFilter, q *QueryOpts) ([]Task, error) {
	opts := wire.Struct{}
	if f.Method != "" {
		opts = append(opts, wire.Member{Name: "method", Value: f.Method})
	}
	if f.Owner != 0 {
		opts = append(opts, wire.Member{Name: "owner", Value: f.Owner})
	}
	if len(f.State) > 0 {
		states := make([]int, len(f.State))
		for i, s := range f.State {
			states[i] = int(s)
		}
		opts = append(opts, wire.Member{Name: "state", Value: states})
	}
	if f.Parent != nil {
		opts = append(opts, wire.Member{Name: "parent", Value: *f.Parent})
	} else if f.TopLevel {
		opts = append(opts, wire.Member{Name: "parent", Value: nil})
	}
	if !f.CreatedAfter.IsZero() {
		opts = append(opts, wire.Member{Name: "createdAfter", Value: float64(f.CreatedAfter.UnixMicro()) / 1e6})
	}
	if !f.CreatedBefore.IsZero() {
		opts = append(opts, wire.Member{Name: "createdBefore", Value: float64(f.CreatedBefore.UnixMicro()) / 1e6})
	}
	opts = append(opts, wire.Member{Name: "decode", Value: true})
	kw := []any{"opts", opts}
	if q != nil {
		kw = append(kw, "queryOpts", q.wire())
	}
	var ts []Task
	return ts, c.Call(ctx, &ts, "listTasks", KW(kw...))
}

// GetTaskResult returns a finished task's result (method-specific). A
// FAILED task's call faults with the task's own fault; a canceled or
// unfinished one with GenericError.
func (c *Client) GetTaskResult(ctx context.Context, id int64) (any, error) {
	var v any
	return v, c.Call(ctx, &v, "getTaskResult", id)
}

// CancelTask cancels a task and (recurse) its children.
func (c *Client) CancelTask(ctx context.Context, id int64) error {
	cl := cancelReq(id)
	return c.Call(ctx, nil, cl.Method, cl.Params...)
}

func cancelReq(id int64) Call { return NewCall("cancelTask", id, KW("recurse", true)) }

// PromoteBuild turns a COMPLETE draft build into a regular one.
func (c *Client) PromoteBuild(ctx context.Context, build any) (*Build, error) {
	var b *Build
	return b, c.Call(ctx, &b, "promoteBuild", ref(build))
}

// GetRepo returns the newest READY repo of tag, or nil.
func (c *Client) GetRepo(ctx context.Context, tag string) (*Repo, error) {
	var r *Repo
	return r, c.Call(ctx, &r, "getRepo", tag)
}

// GetRepoState returns the newest repo of tag in the given state, or nil.
func (c *Client) GetRepoState(ctx context.Context, tag string, state RepoState) (*Repo, error) {
	var r *Repo
	return r, c.Call(ctx, &r, "getRepo", tag, KW("state", int(state)))
}

// RepoInfo returns a repo by id, or nil.
func (c *Client) RepoInfo(ctx context.Context, id int64) (*Repo, error) {
	var r *Repo
	return r, c.Call(ctx, &r, "repoInfo", id)
}
