package koji

import (
	"fmt"
	"strings"
	"time"
)

// TaskState is koji.TASK_STATES.
type TaskState int

// Task states.
const (
	TaskFree     TaskState = 0
	TaskOpen     TaskState = 1
	TaskClosed   TaskState = 2
	TaskCanceled TaskState = 3
	TaskAssigned TaskState = 4
	TaskFailed   TaskState = 5
)

var taskStateNames = []string{"FREE", "OPEN", "CLOSED", "CANCELED", "ASSIGNED", "FAILED"}

func (s TaskState) String() string {
	if s >= 0 && int(s) < len(taskStateNames) {
		return taskStateNames[s]
	}
	return fmt.Sprintf("TaskState(%d)", int(s))
}

// Finished reports CLOSED, CANCELED or FAILED.
func (s TaskState) Finished() bool {
	return s == TaskClosed || s == TaskCanceled || s == TaskFailed
}

// ParseTaskState reads a state name as messages spell it.
func ParseTaskState(name string) (TaskState, bool) {
	for i, n := range taskStateNames {
		if strings.EqualFold(n, name) {
			return TaskState(i), true
		}
	}
	return 0, false
}

// BuildState is koji.BUILD_STATES.
type BuildState int

// Build states.
const (
	BuildBuilding BuildState = 0
	BuildComplete BuildState = 1
	BuildDeleted  BuildState = 2
	BuildFailed   BuildState = 3
	BuildCanceled BuildState = 4
)

var buildStateNames = []string{"BUILDING", "COMPLETE", "DELETED", "FAILED", "CANCELED"}

func (s BuildState) String() string {
	if s >= 0 && int(s) < len(buildStateNames) {
		return buildStateNames[s]
	}
	return fmt.Sprintf("BuildState(%d)", int(s))
}

// Finished reports any state but BUILDING.
func (s BuildState) Finished() bool { return s != BuildBuilding }

// RepoState is koji.REPO_STATES.
type RepoState int

// Repo states.
const (
	RepoInit    RepoState = 0
	RepoReady   RepoState = 1
	RepoExpired RepoState = 2
	RepoDeleted RepoState = 3
	RepoProblem RepoState = 4
)

var repoStateNames = []string{"INIT", "READY", "EXPIRED", "DELETED", "PROBLEM"}

func (s RepoState) String() string {
	if s >= 0 && int(s) < len(repoStateNames) {
		return repoStateNames[s]
	}
	return fmt.Sprintf("RepoState(%d)", int(s))
}

// PrioDefault is koji.PRIO_DEFAULT; build() priorities are relative to it.
const PrioDefault = 20

// User is getLoggedInUser's answer.
type User struct {
	ID            int64    `koji:"id"`
	Name          string   `koji:"name"`
	Status        int      `koji:"status"`
	UserType      int      `koji:"usertype"`
	AuthType      int      `koji:"authtype"`
	KrbPrincipal  string   `koji:"krb_principal"`
	KrbPrincipals []string `koji:"krb_principals"`
}

// Event is getLastEvent's answer.
type Event struct {
	ID int64   `koji:"id"`
	TS float64 `koji:"ts"`
}

// Time is the event time.
func (e Event) Time() time.Time { return tsTime(e.TS) }

// Target is a build target.
type Target struct {
	ID           int64  `koji:"id"`
	Name         string `koji:"name"`
	BuildTag     int64  `koji:"build_tag"`
	BuildTagName string `koji:"build_tag_name"`
	DestTag      int64  `koji:"dest_tag"`
	DestTagName  string `koji:"dest_tag_name"`
}

// Tag is getTag's answer.
type Tag struct {
	ID     int64          `koji:"id"`
	Name   string         `koji:"name"`
	PermID *int64         `koji:"perm_id"`
	Perm   string         `koji:"perm"`
	Arches string         `koji:"arches"`
	Locked bool           `koji:"locked"`
	Maven  bool           `koji:"maven_support"`
	Extra  map[string]any `koji:"extra"`
}

// IsSideTag reports extra.sidetag.
func (t Tag) IsSideTag() bool { b, _ := t.Extra["sidetag"].(bool); return b }

// SideTagUser is extra.sidetag_user.
func (t Tag) SideTagUser() string { s, _ := t.Extra["sidetag_user"].(string); return s }

// SideTag is createSideTag's answer.
type SideTag struct {
	ID     int64          `koji:"id"`
	Name   string         `koji:"name"`
	TaskID *int64         `koji:"task_id"`
	Repo   map[string]any `koji:"request"`
}

// SideTagInfo is one element of listSideTags (user_id is a string on the wire).
type SideTagInfo struct {
	ID       int64  `koji:"id"`
	Name     string `koji:"name"`
	UserID   int64  `koji:"user_id"`
	UserName string `koji:"user_name"`
}

// Build is a build as getBuild, listBuilds, listTagged and promoteBuild
// return it (listTagged adds the tag fields).
type Build struct {
	ID              int64          `koji:"id"`
	BuildID         int64          `koji:"build_id"`
	Name            string         `koji:"name"`
	PackageID       int64          `koji:"package_id"`
	PackageName     string         `koji:"package_name"`
	Version         string         `koji:"version"`
	Release         string         `koji:"release"`
	Epoch           *int64         `koji:"epoch"`
	NVR             string         `koji:"nvr"`
	Draft           bool           `koji:"draft"`
	State           BuildState     `koji:"state"`
	TaskID          *int64         `koji:"task_id"`
	OwnerID         int64          `koji:"owner_id"`
	OwnerName       string         `koji:"owner_name"`
	PromoterID      *int64         `koji:"promoter_id"`
	PromoterName    string         `koji:"promoter_name"`
	VolumeID        int64          `koji:"volume_id"`
	VolumeName      string         `koji:"volume_name"`
	CreationEventID int64          `koji:"creation_event_id"`
	CreationTime    time.Time      `koji:"creation_time"`
	CreationTS      float64        `koji:"creation_ts"`
	StartTime       time.Time      `koji:"start_time"`
	CompletionTime  time.Time      `koji:"completion_time"`
	CompletionTS    float64        `koji:"completion_ts"`
	PromotionTime   time.Time      `koji:"promotion_time"`
	Source          string         `koji:"source"`
	Extra           map[string]any `koji:"extra"`
	TagID           int64          `koji:"tag_id"`   // listTagged only
	TagName         string         `koji:"tag_name"` // listTagged only
	CreateEvent     int64          `koji:"create_event"`
}

// SCMURL is the build's source, falling back to extra.source.original_url.
func (b Build) SCMURL() string {
	if b.Source != "" {
		return b.Source
	}
	if src, ok := b.Extra["source"].(map[string]any); ok {
		s, _ := src["original_url"].(string)
		return s
	}
	return ""
}

// Task is getTaskInfo's answer (listTasks adds owner_name and the result).
type Task struct {
	ID             int64     `koji:"id"`
	State          TaskState `koji:"state"`
	CreateTime     time.Time `koji:"create_time"`
	CreateTS       float64   `koji:"create_ts"`
	StartTime      time.Time `koji:"start_time"`
	CompletionTime time.Time `koji:"completion_time"`
	CompletionTS   float64   `koji:"completion_ts"`
	ChannelID      int64     `koji:"channel_id"`
	HostID         *int64    `koji:"host_id"`
	Parent         *int64    `koji:"parent"`
	Label          string    `koji:"label"`
	Waiting        *bool     `koji:"waiting"`
	Awaited        *bool     `koji:"awaited"`
	Owner          int64     `koji:"owner"`
	OwnerName      string    `koji:"owner_name"`
	Method         string    `koji:"method"`
	Arch           string    `koji:"arch"`
	Priority       int       `koji:"priority"`
	Weight         float64   `koji:"weight"`
	Request        []any     `koji:"request"`
}

// SCMURL is request[0] of a build task.
func (t Task) SCMURL() string { return t.requestString(0) }

// Target is request[1] of a build task.
func (t Task) Target() string { return t.requestString(1) }

// Opts is request[2] of a build task (nil if absent).
func (t Task) Opts() map[string]any {
	if len(t.Request) > 2 {
		m, _ := t.Request[2].(map[string]any)
		return m
	}
	return nil
}

// CustomUserMetadata is opts.custom_user_metadata of a build task.
func (t Task) CustomUserMetadata() map[string]any {
	m, _ := t.Opts()["custom_user_metadata"].(map[string]any)
	return m
}

func (t Task) requestString(i int) string {
	if len(t.Request) > i {
		s, _ := t.Request[i].(string)
		return s
	}
	return ""
}

// Repo is getRepo / repoInfo's answer.
type Repo struct {
	ID           int64          `koji:"id"`
	TagID        int64          `koji:"tag_id"`
	TagName      string         `koji:"tag_name"`
	State        RepoState      `koji:"state"`
	CreateEvent  int64          `koji:"create_event"`
	CreateTS     float64        `koji:"create_ts"`
	CreationTime time.Time      `koji:"creation_time"`
	StateTime    time.Time      `koji:"state_time"`
	BeginEvent   *int64         `koji:"begin_event"`
	EndEvent     *int64         `koji:"end_event"`
	Dist         bool           `koji:"dist"`
	Opts         map[string]any `koji:"opts"`
	TaskID       *int64         `koji:"task_id"`
	TaskState    *TaskState     `koji:"task_state"`
}

// BuildOpts are build()'s opts. FailFast, WaitRepo and Draft are always
// sent (as ELNBuildSync does); the rest only when set.
type BuildOpts struct {
	FailFast           bool
	WaitRepo           bool
	Draft              bool
	Scratch            bool
	SkipTag            bool
	ArchOverride       string
	RepoID             int64
	WaitBuilds         []string
	CustomUserMetadata map[string]any
}

// ListBuildsOpts are listBuilds' filters (zero values are not sent).
type ListBuildsOpts struct {
	PackageID int64
	UserID    int64
	TaskID    int64
	Prefix    string
	State     *BuildState
	Query     *QueryOpts
}

// ListTaggedOpts are listTagged's options (zero values are not sent).
type ListTaggedOpts struct {
	Latest  bool
	Inherit bool
	Package string
	Owner   string
	Draft   *bool
	Event   int64
}

// QueryOpts are Koji's queryOpts.
type QueryOpts struct {
	Order  string
	Offset int
	Limit  int
}

// TaskFilter is listTasks' opts (zero values are not sent). TopLevel
// selects tasks without a parent (parent IS NULL); Parent selects children
// of one task. Requests always come back decoded.
type TaskFilter struct {
	Method         string
	Owner          int64
	State          []TaskState
	Parent         *int64
	TopLevel       bool // parent IS NULL
	CreatedAfter   time.Time
	CreatedBefore  time.Time
	DecodeRequests bool
}

func tsTime(ts float64) time.Time {
	if ts == 0 {
		return time.Time{}
	}
	sec := int64(ts)
	return time.Unix(sec, int64((ts-float64(sec))*1e9)).UTC()
}
