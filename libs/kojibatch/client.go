package kojibatch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
)

// New adapts a libs/koji client (logged in for the write methods) to Hub.
func New(c *koji.Client) Hub { return &client{c: c} }

type client struct{ c *koji.Client }

// conv turns a libs/koji error into a *Fault (keeping it for errors.Is/As).
func conv(err error) error {
	if err == nil {
		return nil
	}
	var kf *koji.Fault
	if errors.As(err, &kf) {
		return &Fault{Code: kf.Code, Msg: kf.Message, Transient: kf.Code == koji.CodeServerOffline, err: err}
	}
	// Transport failures and HTTP errors that outlived the retry budget.
	transient := true
	var he *koji.HTTPError
	if errors.As(err, &he) {
		transient = he.Temporary()
	}
	return &Fault{Msg: err.Error(), Transient: transient, err: err}
}

func convResults[T, U any](in []koji.BatchResult[T], err error, f func(T) (U, error)) ([]Result[U], error) {
	if err != nil {
		return nil, conv(err)
	}
	out := make([]Result[U], len(in))
	for i, r := range in {
		if r.Err != nil {
			out[i].Err = conv(r.Err)
			continue
		}
		out[i].Value, out[i].Err = f(r.Value)
	}
	return out, nil
}

func (h *client) LoggedInUser(ctx context.Context) (User, error) {
	u, err := h.c.GetLoggedInUser(ctx)
	if err != nil {
		return User{}, conv(err)
	}
	if u == nil {
		return User{}, &Fault{Code: koji.CodeActionNotAllowed, Msg: "not logged in"}
	}
	return User{ID: u.ID, Name: u.Name}, nil
}

func (h *client) GetBuildTarget(ctx context.Context, name string) (Target, error) {
	t, err := h.c.GetBuildTarget(ctx, name)
	if err != nil {
		return Target{}, conv(err)
	}
	if t == nil {
		return Target{}, &Fault{Code: koji.CodeGenericError, Msg: fmt.Sprintf("no such build target: %s", name)}
	}
	return Target{Name: t.Name, BuildTagName: t.BuildTagName, DestTagName: t.DestTagName}, nil
}

func build(b *koji.Build) Build {
	out := Build{ID: b.ID, NVR: b.NVR, Name: b.Name, State: int(b.State), Source: b.SCMURL(), Draft: b.Draft, CreationTime: b.CreationTime}
	if out.ID == 0 {
		out.ID = b.BuildID
	}
	if b.TaskID != nil {
		out.TaskID = *b.TaskID
	}
	return out
}

func (h *client) GetBuilds(ctx context.Context, ids []int64) ([]Result[Build], error) {
	// One multicall chunk at a time, kept only as the few fields ebs uses:
	// 10,000 full koji.Builds would be tens of MiB alive at once.
	out := make([]Result[Build], 0, len(ids))
	for start := 0; start < len(ids); start += koji.DefaultChunkSize {
		chunk := ids[start:min(start+koji.DefaultChunkSize, len(ids))]
		refs := make([]any, len(chunk))
		for i, id := range chunk {
			refs[i] = id
		}
		res, err := h.c.GetBuilds(ctx, refs, true)
		conv, err := convResults(res, err, func(b *koji.Build) (Build, error) {
			if b == nil {
				return Build{}, &Fault{Code: koji.CodeGenericError, Msg: "no such build"}
			}
			return build(b), nil
		})
		if err != nil {
			return nil, err
		}
		out = append(out, conv...)
	}
	return out, nil
}

func (h *client) CreateSideTag(ctx context.Context, base string) (SideTag, error) {
	t, err := h.c.CreateSideTag(ctx, base)
	if err != nil {
		return SideTag{}, conv(err)
	}
	return SideTag{ID: t.ID, Name: t.Name}, nil
}

func (h *client) ListSideTags(ctx context.Context, user string) ([]SideTag, error) {
	ts, err := h.c.ListSideTags(ctx, "", user)
	if err != nil {
		return nil, conv(err)
	}
	out := make([]SideTag, len(ts))
	for i, t := range ts {
		out[i] = SideTag{ID: t.ID, Name: t.Name}
	}
	return out, nil
}

func (h *client) RemoveSideTag(ctx context.Context, tag string) error {
	return conv(h.c.RemoveSideTag(ctx, tag))
}

func (h *client) TagBuilds(ctx context.Context, tag string, nvrs []string) ([]Result[int64], error) {
	res, err := h.c.TagBuilds(ctx, tag, nvrs)
	return convResults(res, err, func(id int64) (int64, error) { return id, nil })
}

func (h *client) ListTagged(ctx context.Context, tag string) ([]string, error) {
	bs, err := h.c.ListTagged(ctx, tag, koji.ListTaggedOpts{})
	if err != nil {
		return nil, conv(err)
	}
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.NVR
	}
	return out, nil
}

func (h *client) TaggedAmong(ctx context.Context, tag string, nvrs []string) ([]string, error) {
	var out []string
	// One multicall chunk at a time: only its answers are decoded at once.
	for start := 0; start < len(nvrs); start += koji.DefaultChunkSize {
		chunk := nvrs[start:min(start+koji.DefaultChunkSize, len(nvrs))]
		calls := make([]koji.Call, len(chunk))
		for i, n := range chunk {
			calls[i] = koji.NewCall("listTags", koji.KW("build", n))
		}
		res, err := h.c.Multicall(ctx, calls, koji.DefaultChunkSize)
		if err != nil {
			return nil, conv(err)
		}
		for i, r := range res {
			var tags []koji.Tag
			if err := r.Decode(&tags); err != nil {
				var f *koji.Fault
				if errors.As(err, &f) {
					continue // no such build (yet): not tagged
				}
				return nil, conv(err)
			}
			for _, t := range tags {
				if t.Name == tag {
					out = append(out, chunk[i])
					break
				}
			}
		}
	}
	return out, nil
}

func (h *client) GetRepo(ctx context.Context, tag string) (*Repo, error) {
	r, err := h.c.GetRepo(ctx, tag)
	if err != nil || r == nil {
		return nil, conv(err)
	}
	return &Repo{ID: r.ID, State: int(r.State), CreateEvent: r.CreateEvent}, nil
}

func (h *client) SubmitBuilds(ctx context.Context, calls []BuildCall) ([]Result[int64], error) {
	reqs := make([]koji.BuildRequest, len(calls))
	for i, c := range calls {
		p := c.Priority
		opts := koji.BuildOpts{FailFast: c.FailFast, WaitRepo: c.WaitRepo, Draft: c.Draft, Scratch: c.Scratch}
		if c.Attempt != "" {
			opts.CustomUserMetadata = map[string]any{"ebs_attempt": c.Attempt}
		}
		reqs[i] = koji.BuildRequest{Source: c.SCMURL, Target: c.Target, Opts: opts, Priority: &p}
	}
	res, err := h.c.SubmitBuilds(ctx, reqs)
	return convResults(res, err, func(id int64) (int64, error) { return id, nil })
}

func (h *client) ListTasks(ctx context.Context, method string, ownerID int64, after time.Time) ([]Task, error) {
	ts, err := h.c.ListTasks(ctx, koji.TaskFilter{Method: method, Owner: ownerID, CreatedAfter: after, TopLevel: true, DecodeRequests: true}, nil)
	if err != nil {
		return nil, conv(err)
	}
	out := make([]Task, len(ts))
	for i, t := range ts {
		out[i] = Task{ID: t.ID, State: int(t.State), Method: t.Method, SCMURL: t.SCMURL(), Target: t.Target()}
		if a, ok := t.CustomUserMetadata()["ebs_attempt"].(string); ok {
			out[i].EBSAttempt = a
		}
		if t.Method == "tagBuild" && len(t.Request) > 1 {
			out[i].Tag = fmt.Sprint(t.Request[0])
			out[i].BuildRef = fmt.Sprint(t.Request[1])
		}
	}
	return out, nil
}

func (h *client) TaskStates(ctx context.Context, ids []int64) ([]Result[Task], error) {
	res, err := h.c.GetTaskInfos(ctx, ids, false)
	return convResults(res, err, func(t *koji.Task) (Task, error) {
		if t == nil {
			return Task{}, &Fault{Code: koji.CodeGenericError, Msg: "no such task"}
		}
		return Task{ID: t.ID, State: int(t.State), Method: t.Method}, nil
	})
}

func (h *client) TaskBuild(ctx context.Context, taskID int64) (Build, bool, error) {
	bs, err := h.c.ListBuilds(ctx, koji.ListBuildsOpts{TaskID: taskID})
	if err != nil {
		return Build{}, false, conv(err)
	}
	if len(bs) == 0 {
		return Build{}, false, nil
	}
	return build(&bs[0]), true, nil
}

func (h *client) TaskFailure(ctx context.Context, taskID int64) (string, error) {
	_, err := h.c.GetTaskResult(ctx, taskID)
	if err == nil {
		return "", nil
	}
	var kf *koji.Fault
	if errors.As(err, &kf) {
		return fmt.Sprintf("%s: %s", kf.Name(), kf.Message), nil
	}
	return "", conv(err)
}

func (h *client) CancelTasks(ctx context.Context, ids []int64) ([]Result[struct{}], error) {
	res, err := h.c.CancelTasks(ctx, ids)
	return convResults(res, err, func(any) (struct{}, error) { return struct{}{}, nil })
}

func (h *client) PromoteBuilds(ctx context.Context, nvrs []string) ([]Result[string], error) {
	res, err := h.c.PromoteBuilds(ctx, nvrs)
	return convResults(res, err, func(b *koji.Build) (string, error) {
		if b == nil {
			return "", &Fault{Code: koji.CodeGenericError, Msg: "promoteBuild returned nothing"}
		}
		return b.NVR, nil
	})
}
