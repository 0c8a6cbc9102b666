package kojibatch

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Koji task states (TASK_STATES).
const (
	TaskFree     = 0
	TaskOpen     = 1
	TaskClosed   = 2
	TaskCanceled = 3
	TaskAssigned = 4
	TaskFailed   = 5
)

// TaskStateFinal reports whether a task state is final.
func TaskStateFinal(state int) bool {
	return state == TaskClosed || state == TaskCanceled || state == TaskFailed
}

// Koji build states (BUILD_STATES).
const (
	BuildBuilding = 0
	BuildComplete = 1
	BuildDeleted  = 2
	BuildFailed   = 3
	BuildCanceled = 4
)

// Fault is a Koji fault (or a transport failure, Code 0) returned by one call.
type Fault struct {
	Code int
	Msg  string
	// Transient is true for failures that may pass (outage, 5xx, offline).
	Transient bool
	err       error // the client's error, when there is one
}

// Unwrap returns the client's error.
func (f *Fault) Unwrap() error { return f.err }

func (f *Fault) Error() string {
	if f.Code == 0 {
		return f.Msg
	}
	return fmt.Sprintf("koji fault %d: %s", f.Code, f.Msg)
}

// AsFault extracts a *Fault from err (nil when err is not one).
func AsFault(err error) *Fault {
	var f *Fault
	if errors.As(err, &f) {
		return f
	}
	return nil
}

// User is the logged-in user.
type User struct {
	ID   int64
	Name string
}

// SideTag is a side tag.
type SideTag struct {
	ID   int64
	Name string
}

// Target is a build target.
type Target struct {
	Name         string
	BuildTagName string
	DestTagName  string
}

// Build is the part of a Koji build the batch engine reads.
type Build struct {
	ID           int64
	NVR          string
	Name         string
	State        int
	TaskID       int64
	Source       string
	Draft        bool
	CreationTime time.Time
}

// Repo is a tag's repo.
type Repo struct {
	ID          int64
	State       int
	CreateEvent int64
}

// Task is the part of a Koji task the batch engine reads.
type Task struct {
	ID     int64
	State  int
	Method string
	// Request of build tasks: SCM URL, target, custom_user_metadata.ebs_attempt.
	SCMURL     string
	Target     string
	EBSAttempt string
	// Request of tagBuild tasks as Koji records it: [tag_id, build_id, ...],
	// so both are decimal ids, never names.
	Tag      string
	BuildRef string
}

// BuildCall is one build(src, target, opts, priority) call.
type BuildCall struct {
	SCMURL   string
	Target   string
	Scratch  bool
	Draft    bool
	FailFast bool
	WaitRepo bool
	Priority int
	// Attempt goes into opts.custom_user_metadata.ebs_attempt, so that a
	// redelivered submission can find the tasks an earlier delivery made.
	Attempt string
}

// Result is one call of a multicall: a value or a fault.
type Result[T any] struct {
	Value T
	Err   error
}

// Hub is every Koji operation of the batch engine. Multi-item methods run as
// multicalls in chunks (at most 500 calls per request); their per-item
// results are in input order and one item's fault does not lose the others.
// A method's own error means no answer came (after libs/koji's retries).
// For a read that is all; for a write it does not mean nothing happened: the
// hub may have applied it and lost the answer (a RetryError or a 5xx after
// the call), so callers look before they repeat (koji-worker's mayHaveRun).
type Hub interface {
	LoggedInUser(ctx context.Context) (User, error)
	GetBuildTarget(ctx context.Context, name string) (Target, error)
	// GetBuilds is getBuild(id, strict=True) for each id.
	GetBuilds(ctx context.Context, ids []int64) ([]Result[Build], error)

	CreateSideTag(ctx context.Context, baseTag string) (SideTag, error)
	ListSideTags(ctx context.Context, user string) ([]SideTag, error)
	RemoveSideTag(ctx context.Context, tag string) error

	// TagBuilds is tagBuild(tag, nvr) for each NVR: the tagBuild task ids.
	TagBuilds(ctx context.Context, tag string, nvrs []string) ([]Result[int64], error)
	// ListTagged is the NVRs tagged directly in tag (listTagged inherit=False).
	ListTagged(ctx context.Context, tag string) ([]string, error)
	// TaggedAmong is the NVRs of nvrs tagged directly in tag: listTags
	// (build=nvr) for each, in multicalls, so the answer is as large as the
	// question, not as the tag (a stable tag holds tens of thousands of
	// builds). An NVR Koji does not know is not tagged.
	TaggedAmong(ctx context.Context, tag string, nvrs []string) ([]string, error)
	GetRepo(ctx context.Context, tag string) (*Repo, error)

	// SubmitBuilds is build(...) for each call: the build task ids.
	SubmitBuilds(ctx context.Context, calls []BuildCall) ([]Result[int64], error)
	// ListTasks is listTasks(method, owner id, createdAfter) with decoded requests.
	ListTasks(ctx context.Context, method string, ownerID int64, createdAfter time.Time) ([]Task, error)
	// TaskStates is getTaskInfo(id) for each id.
	TaskStates(ctx context.Context, ids []int64) ([]Result[Task], error)
	// TaskBuild is listBuilds(taskID=id)[0], or ok=false when there is none.
	TaskBuild(ctx context.Context, taskID int64) (Build, bool, error)
	// TaskFailure is the fault getTaskResult raises for a failed task ("" if none).
	TaskFailure(ctx context.Context, taskID int64) (string, error)
	// CancelTasks is cancelTask(id, recurse=True) for each id.
	CancelTasks(ctx context.Context, ids []int64) ([]Result[struct{}], error)
	// PromoteBuilds is promoteBuild(nvr) for each NVR: the promoted NVRs.
	PromoteBuilds(ctx context.Context, nvrs []string) ([]Result[string], error)
}
