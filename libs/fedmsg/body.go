package fedmsg

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Topic suffixes of the Koji hub's messages (after the environment prefix).
const (
	TopicTag              = "buildsys.tag"
	TopicUntag            = "buildsys.untag"
	TopicBuildStateChange = "buildsys.build.state.change"
	TopicTaskStateChange  = "buildsys.task.state.change"
	TopicRepoInit         = "buildsys.repo.init"
	TopicRepoDone         = "buildsys.repo.done"
)

// Default topic prefixes.
const (
	PrefixProd = "org.fedoraproject.prod"
	PrefixStg  = "org.fedoraproject.stg"
)

// FlexString accepts a JSON string or number (task owners were numeric ids in
// older messages and are user names now) and null.
type FlexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = FlexString(s)
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("fedmsg: want string or number, got %s", b)
		}
		*f = FlexString(n.String())
	}
	return nil
}

// TagBody is the body of buildsys.tag and buildsys.untag (TagV1 / UntagV1).
type TagBody struct {
	BaseURL  string     `json:"base_url"`
	Tag      string     `json:"tag"`
	TagID    int64      `json:"tag_id"`
	Name     string     `json:"name"`
	Version  string     `json:"version"`
	Release  string     `json:"release"`
	BuildID  int64      `json:"build_id"`
	User     FlexString `json:"user"`
	Owner    FlexString `json:"owner"`
	Instance string     `json:"instance"`
}

// NVR is name-version-release (the message has no nvr field).
func (b TagBody) NVR() string { return b.Name + "-" + b.Version + "-" + b.Release }

// Validate reports what a usable tag message lacks.
func (b TagBody) Validate() error {
	switch {
	case b.Tag == "":
		return fmt.Errorf("fedmsg: tag message without tag")
	case b.Name == "" || b.Version == "" || b.Release == "":
		return fmt.Errorf("fedmsg: tag message without name, version and release")
	case b.BuildID <= 0:
		return fmt.Errorf("fedmsg: tag message without build_id")
	}
	return nil
}

// RepoBody is the body of buildsys.repo.init and buildsys.repo.done.
type RepoBody struct {
	BaseURL  string `json:"base_url"`
	Tag      string `json:"tag"`
	TagID    int64  `json:"tag_id"`
	RepoID   int64  `json:"repo_id"`
	Instance string `json:"instance"`
}

// TaskInfo is the task-info object inside task and build messages. Times are
// float POSIX seconds; owner is a user name (or an old numeric id).
type TaskInfo struct {
	ID             int64             `json:"id"`
	State          int               `json:"state"`
	CreateTime     *float64          `json:"create_time"`
	StartTime      *float64          `json:"start_time"`
	CompletionTime *float64          `json:"completion_time"`
	ChannelID      *int64            `json:"channel_id"`
	HostID         *int64            `json:"host_id"`
	HostName       *string           `json:"host_name"`
	Parent         *int64            `json:"parent"`
	Label          *string           `json:"label"`
	Waiting        *bool             `json:"waiting"`
	Awaited        *bool             `json:"awaited"`
	Owner          FlexString        `json:"owner"`
	Method         string            `json:"method"`
	Arch           string            `json:"arch"`
	Priority       int               `json:"priority"`
	Request        []json.RawMessage `json:"request,omitempty"`
	URL            string            `json:"url"`
	Result         json.RawMessage   `json:"result"`
	Children       []TaskInfo        `json:"children"`
}

// SCMURL returns request[0] when it is a string (the SCM URL of a build task).
func (t TaskInfo) SCMURL() string {
	if len(t.Request) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(t.Request[0], &s) != nil {
		return ""
	}
	return s
}

// TaskStateChangeBody is the body of buildsys.task.state.change (TaskStateChangeV1).
// Koji only sends it for top-level scratch tasks.
type TaskStateChangeBody struct {
	BaseURL      string     `json:"base_url"`
	FilesBaseURL string     `json:"files_base_url"`
	ID           int64      `json:"id"`
	Method       string     `json:"method"`
	Attribute    string     `json:"attribute"`
	Old          *string    `json:"old"`
	New          string     `json:"new"`
	Owner        FlexString `json:"owner"`
	SRPM         string     `json:"srpm"`
	Instance     string     `json:"instance"`
	Info         TaskInfo   `json:"info"`
}

// BuildStateChangeBody is the body of buildsys.build.state.change (BuildStateChangeV1).
type BuildStateChangeBody struct {
	BaseURL        string            `json:"base_url"`
	Name           string            `json:"name"`
	Version        string            `json:"version"`
	Release        string            `json:"release"`
	Epoch          json.RawMessage   `json:"epoch"`
	Attribute      string            `json:"attribute"`
	Old            *int              `json:"old"`
	New            int               `json:"new"`
	BuildID        *int64            `json:"build_id"`
	TaskID         *int64            `json:"task_id"`
	Owner          FlexString        `json:"owner"`
	Instance       string            `json:"instance"`
	CreationTime   string            `json:"creation_time"`
	CompletionTime *string           `json:"completion_time"`
	FilesBaseURL   string            `json:"files_base_url"`
	URL            string            `json:"url"`
	Task           *TaskInfo         `json:"task"`
	Request        []json.RawMessage `json:"request"`
}

// NVR is name-version-release.
func (b BuildStateChangeBody) NVR() string { return b.Name + "-" + b.Version + "-" + b.Release }

// Koji task state names as messages spell them.
var TaskStateNames = map[int]string{0: "FREE", 1: "OPEN", 2: "CLOSED", 3: "CANCELED", 4: "ASSIGNED", 5: "FAILED"}

// Decode parses a JSON object body into v, reporting non-object bodies.
func Decode(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return fmt.Errorf("fedmsg: body is not a JSON object")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("fedmsg: decode body: %w", err)
	}
	return nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
