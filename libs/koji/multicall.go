package koji

import (
	"context"
	"errors"
	"fmt"

	"github.com/fedora-eln/ebs/libs/koji/wire"
)

// Result is the outcome of one call inside a multicall: a generic Value or
// an Err (a *Fault for a call the hub rejected; the chunk's error when the
// whole request failed).
type Result struct {
	Value any
	Err   error
}

// Decode converts Value into out.
func (r Result) Decode(out any) error {
	if r.Err != nil {
		return r.Err
	}
	return wire.Into(r.Value, out)
}

// Multicall sends calls as multiCall requests of at most chunk calls (0 means
// Options.ChunkSize, default 500). Each chunk is one HTTP request and one
// hub transaction in which every call runs in its own savepoint, so one
// call's fault never loses the others' results. results always has one
// element per call. The returned error joins chunk-level failures
// (transport, auth, budget); those chunks' calls carry the same error.
func (c *Client) Multicall(ctx context.Context, calls []Call, chunk int) ([]Result, error) {
	if chunk <= 0 {
		chunk = c.opts.ChunkSize
	}
	results := make([]Result, len(calls))
	var errs []error
	for start := 0; start < len(calls); start += chunk {
		end := min(start+chunk, len(calls))
		if err := ctx.Err(); err != nil {
			err = fmt.Errorf("koji multiCall: %w", err)
			for i := start; i < len(calls); i++ {
				results[i].Err = err
			}
			errs = append(errs, err)
			break
		}
		if err := c.multicallChunk(ctx, calls[start:end], results[start:end]); err != nil {
			for i := start; i < end; i++ {
				results[i].Err = err
			}
			errs = append(errs, err)
		}
	}
	return results, errors.Join(errs...)
}

func (c *Client) multicallChunk(ctx context.Context, calls []Call, out []Result) error {
	list := make([]any, len(calls))
	readOnly := true
	for i, cl := range calls {
		params := cl.Params
		if params == nil {
			params = []any{}
		}
		list[i] = wire.Struct{{Name: "methodName", Value: cl.Method}, {Name: "params", Value: params}}
		readOnly = readOnly && isReadOnly(cl.Method)
		c.stats.call(cl.Method)
	}
	v, err := c.do(ctx, "multiCall", []any{list}, readOnly)
	if err != nil {
		for _, cl := range calls {
			c.opts.Metrics.element(cl.Method, err)
		}
		return err
	}
	items, ok := v.([]any)
	if !ok || len(items) != len(calls) {
		return fmt.Errorf("koji multiCall: %d results for %d calls", len(items), len(calls))
	}
	for i, item := range items {
		method := calls[i].Method
		if f, ok := wire.FaultFrom(item); ok {
			out[i].Err = faultFromWire(method, f)
			c.stats.fault(out[i].Err)
		} else if one, ok := item.([]any); ok && len(one) == 1 {
			out[i].Value = one[0]
		} else {
			out[i].Err = fmt.Errorf("koji multiCall %s: malformed element %v", method, item)
		}
		c.opts.Metrics.element(method, out[i].Err)
	}
	return nil
}

// BatchResult is one typed result of a batch helper.
type BatchResult[T any] struct {
	Value T
	Err   error
}

// batch is Multicall with typed results, converted chunk by chunk so that
// only one chunk's generic values are alive at a time (10,000 getBuild
// results decoded as maps are tens of MiB).
func batch[T any](ctx context.Context, c *Client, calls []Call) ([]BatchResult[T], error) {
	out := make([]BatchResult[T], len(calls))
	var errs []error
	chunk := c.opts.ChunkSize
	for start := 0; start < len(calls); start += chunk {
		end := min(start+chunk, len(calls))
		res, err := c.Multicall(ctx, calls[start:end], chunk)
		if err != nil {
			errs = append(errs, err)
		}
		for i, r := range res {
			if r.Err != nil {
				out[start+i].Err = r.Err
				continue
			}
			if e := wire.Into(r.Value, &out[start+i].Value); e != nil {
				out[start+i].Err = fmt.Errorf("koji %s: decode result: %w", calls[start+i].Method, e)
			}
		}
		if ctx.Err() != nil && end < len(calls) {
			// Multicall reports the calls it did not send.
			res, err := c.Multicall(ctx, calls[end:], chunk)
			for i, r := range res {
				out[end+i].Err = r.Err
			}
			errs = append(errs, err)
			break
		}
	}
	return out, errors.Join(errs...)
}

// GetBuilds calls getBuild for each id or NVR (strict: GenericError for a
// missing build instead of a nil Value).
func (c *Client) GetBuilds(ctx context.Context, builds []any, strict bool) ([]BatchResult[*Build], error) {
	calls := make([]Call, len(builds))
	for i, b := range builds {
		calls[i] = NewCall("getBuild", refStrict(b, strict)...)
	}
	return batch[*Build](ctx, c, calls)
}

// TagBuilds calls tagBuild(tag, build) for each build; Values are task ids.
func (c *Client) TagBuilds(ctx context.Context, tag string, builds []string) ([]BatchResult[int64], error) {
	calls := make([]Call, len(builds))
	for i, b := range builds {
		calls[i] = tagBuildReq(tag, b)
	}
	return batch[int64](ctx, c, calls)
}

// UntagBuilds calls untagBuild(tag, build, strict) for each build.
func (c *Client) UntagBuilds(ctx context.Context, tag string, builds []string, strict bool) ([]BatchResult[any], error) {
	calls := make([]Call, len(builds))
	for i, b := range builds {
		calls[i] = untagBuildReq(tag, b, strict)
	}
	return batch[any](ctx, c, calls)
}

// SubmitBuilds calls build() for each request; Values are task ids.
func (c *Client) SubmitBuilds(ctx context.Context, reqs []BuildRequest) ([]BatchResult[int64], error) {
	calls := make([]Call, len(reqs))
	for i, r := range reqs {
		calls[i] = buildReq(r)
	}
	return batch[int64](ctx, c, calls)
}

// GetTaskInfos calls getTaskInfo for each id (nil Value: no such task).
func (c *Client) GetTaskInfos(ctx context.Context, ids []int64, request bool) ([]BatchResult[*Task], error) {
	calls := make([]Call, len(ids))
	for i, id := range ids {
		calls[i] = taskInfoReq(id, request)
	}
	return batch[*Task](ctx, c, calls)
}

// CancelTasks calls cancelTask(id, recurse=True) for each id.
func (c *Client) CancelTasks(ctx context.Context, ids []int64) ([]BatchResult[any], error) {
	calls := make([]Call, len(ids))
	for i, id := range ids {
		calls[i] = cancelReq(id)
	}
	return batch[any](ctx, c, calls)
}

// PromoteBuilds calls promoteBuild for each draft build.
func (c *Client) PromoteBuilds(ctx context.Context, builds []string) ([]BatchResult[*Build], error) {
	calls := make([]Call, len(builds))
	for i, b := range builds {
		calls[i] = NewCall("promoteBuild", b)
	}
	return batch[*Build](ctx, c, calls)
}

// ListBuildsByTask calls listBuilds(taskID=id) for each task id: the builds
// each build task produced.
func (c *Client) ListBuildsByTask(ctx context.Context, taskIDs []int64) ([]BatchResult[[]Build], error) {
	calls := make([]Call, len(taskIDs))
	for i, id := range taskIDs {
		calls[i] = listBuildsCall(ListBuildsOpts{TaskID: id})
	}
	return batch[[]Build](ctx, c, calls)
}
