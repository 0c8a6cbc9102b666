package fedmsg

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// Header names of the Fedora Messaging wire format.
const (
	HeaderSchema        = "fedora_messaging_schema"
	HeaderSchemaPackage = "fedora_messaging_schema_package"
	HeaderSeverity      = "fedora_messaging_severity"
	HeaderSentAt        = "sent-at"
	HeaderPriority      = "priority"
)

// Severities.
const (
	SeverityDebug   = 10
	SeverityInfo    = 20
	SeverityWarning = 30
	SeverityError   = 40
)

// MaxBodySize is the largest body ebs accepts from the bus.
const MaxBodySize = 1 << 20

// Message is one Fedora Messaging message.
type Message struct {
	ID       string
	Topic    string
	Headers  map[string]any
	Body     []byte
	SentAt   time.Time
	Priority int
}

// schemas maps topic suffixes to the koji-fedoramessaging-messages schema names.
var schemas = map[string]string{
	TopicTag:              "koji_fedoramessaging.tag.TagV1",
	TopicUntag:            "koji_fedoramessaging.tag.UntagV1",
	TopicBuildStateChange: "koji_fedoramessaging.build.BuildStateChangeV1",
	TopicTaskStateChange:  "koji_fedoramessaging.task.TaskStateChangeV1",
	TopicRepoInit:         "koji_fedoramessaging.repo.InitV1",
	TopicRepoDone:         "koji_fedoramessaging.repo.DoneV1",
}

var (
	massRebuildTag = regexp.MustCompile(`^f\d+-rebuild$`)
	elnTag         = regexp.MustCompile(`^eln(-.*)?$`)
)

// KojiMessage builds the message the hub's messaging plugin would publish for
// a buildsys.* body: schema, severity, priority and filter headers as in
// koji-fedoramessaging. suffix is e.g. TopicTag; body is marshalled to JSON.
func KojiMessage(prefix, suffix string, body any, sentAt time.Time) (Message, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return Message{}, fmt.Errorf("fedmsg: marshal %s body: %w", suffix, err)
	}
	sentAt = sentAt.UTC().Truncate(time.Second)
	schema, ok := schemas[suffix]
	if !ok {
		schema = "base.message"
	}
	h := map[string]any{
		HeaderSchema:        schema,
		HeaderSchemaPackage: "koji_fedoramessaging_messages",
		HeaderSentAt:        sentAt.Format("2006-01-02T15:04:05+00:00"),
	}
	severity, priority := SeverityDebug, 0
	users, rpms := []string{}, []string{}
	switch b := body.(type) {
	case TagBody:
		switch {
		case massRebuildTag.MatchString(b.Tag):
			priority = 0
		case elnTag.MatchString(b.Tag):
			priority = 1
		default:
			priority = 2
		}
		users = append(users, string(b.User), string(b.Owner))
		rpms = append(rpms, b.Name)
	case BuildStateChangeBody:
		severity = SeverityInfo
		users = append(users, string(b.Owner))
		rpms = append(rpms, b.Name)
	case TaskStateChangeBody:
		severity = SeverityInfo
		users = append(users, string(b.Owner))
	}
	h[HeaderSeverity] = severity
	h[HeaderPriority] = priority
	for _, u := range users {
		if u != "" {
			h["fedora_messaging_user_"+u] = true
		}
	}
	for _, r := range rpms {
		if r != "" {
			h["fedora_messaging_rpm_"+r] = true
		}
	}
	return Message{ID: NewID(), Topic: prefix + "." + suffix, Headers: h, Body: raw, SentAt: sentAt, Priority: priority}, nil
}

// NewID returns a random UUID4, as fedora-messaging uses for message ids.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Validate reports why a message cannot be stored: no id, no topic, a body
// that is not a JSON object, or one over MaxBodySize.
func (m Message) Validate() error {
	switch {
	case m.ID == "":
		return fmt.Errorf("fedmsg: message without message_id (topic %q)", m.Topic)
	case m.Topic == "":
		return fmt.Errorf("fedmsg: message %s without topic", m.ID)
	case len(m.Body) > MaxBodySize:
		return fmt.Errorf("fedmsg: message %s body is %d bytes, over the %d byte limit", m.ID, len(m.Body), MaxBodySize)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(m.Body, &obj); err != nil {
		return fmt.Errorf("fedmsg: message %s body is not a JSON object: %v", m.ID, err)
	}
	return nil
}

// ToProto converts m to the FEDMSG envelope.
func (m Message) ToProto(receivedAt time.Time) *ebsv1.FedoraMessage {
	fm := &ebsv1.FedoraMessage{
		MessageId:  m.ID,
		Topic:      m.Topic,
		Body:       m.Body,
		Headers:    map[string]string{},
		ReceivedAt: timestamppb.New(receivedAt),
		Priority:   int32(m.Priority),
	}
	keys := make([]string, 0, len(m.Headers))
	for k := range m.Headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fm.Headers[k] = headerString(m.Headers[k])
	}
	fm.Schema = fm.Headers[HeaderSchema]
	if n, err := strconv.Atoi(fm.Headers[HeaderSeverity]); err == nil {
		fm.Severity = int32(n)
	}
	sent := m.SentAt
	if sent.IsZero() {
		sent, _ = ParseSentAt(fm.Headers[HeaderSentAt])
	}
	if !sent.IsZero() {
		fm.SentAt = timestamppb.New(sent)
	}
	return fm
}

// ParseSentAt parses the sent-at header (ISO 8601, with or without fraction).
func ParseSentAt(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05-07:00", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("fedmsg: bad sent-at %q", s)
}

func headerString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case []byte:
		return string(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case int, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32, float64:
		return strings.TrimSpace(fmt.Sprint(x))
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(b)
	}
}
