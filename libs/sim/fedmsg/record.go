package fedmsgsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/fedora-eln/ebs/libs/fedmsg"
)

// record is one recorded message. Datagrepper (datanommer) returns
// {msg_id, topic, timestamp, headers, msg}; fedora-messaging serializes
// {id, topic, headers, body, priority}. Both are read; the latter is written.
type record struct {
	ID        string          `json:"id,omitempty"`
	MsgID     string          `json:"msg_id,omitempty"`
	Topic     string          `json:"topic"`
	Headers   map[string]any  `json:"headers,omitempty"`
	Body      json.RawMessage `json:"body,omitempty"`
	Msg       json.RawMessage `json:"msg,omitempty"`
	Priority  *int            `json:"priority,omitempty"`
	Timestamp json.Number     `json:"timestamp,omitempty"`
	// A datagrepper search page holds its messages here.
	RawMessages []json.RawMessage `json:"raw_messages,omitempty"`
}

// ReadRecorded reads recorded messages: JSON values one after another
// (JSON lines, the datagrepper message shape or the fedora-messaging one),
// or whole datagrepper search pages ({"raw_messages": [...]}). A body given
// as a JSON string is taken as the raw (non-JSON) body text.
func ReadRecorded(r io.Reader) ([]fedmsg.Message, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	var out []fedmsg.Message
	for n := 1; ; n++ {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("fedmsgsim: recorded message %d: %w", n, err)
		}
		msgs, err := decodeRecord(raw)
		if err != nil {
			return nil, fmt.Errorf("fedmsgsim: recorded message %d: %w", n, err)
		}
		out = append(out, msgs...)
	}
}

func decodeRecord(raw json.RawMessage) ([]fedmsg.Message, error) {
	var rec record
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&rec); err != nil {
		return nil, err
	}
	if rec.RawMessages != nil {
		var out []fedmsg.Message
		for _, r := range rec.RawMessages {
			msgs, err := decodeRecord(r)
			if err != nil {
				return nil, err
			}
			out = append(out, msgs...)
		}
		return out, nil
	}
	m := fedmsg.Message{ID: rec.ID, Topic: rec.Topic, Headers: map[string]any{}}
	if m.ID == "" {
		m.ID = rec.MsgID
	}
	for k, v := range rec.Headers {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				m.Headers[k] = int32(max(math.MinInt32, min(i, math.MaxInt32)))
				continue
			}
		}
		m.Headers[k] = v
	}
	body := rec.Body
	if len(body) == 0 {
		body = rec.Msg
	}
	if len(body) > 0 && body[0] == '"' {
		var s string
		if err := json.Unmarshal(body, &s); err != nil {
			return nil, err
		}
		m.Body = []byte(s)
	} else {
		m.Body = bytes.Clone(body)
	}
	if s, ok := m.Headers[fedmsg.HeaderSentAt].(string); ok {
		m.SentAt, _ = fedmsg.ParseSentAt(s)
	}
	if m.SentAt.IsZero() && rec.Timestamp != "" {
		if f, err := rec.Timestamp.Float64(); err == nil {
			sec, frac := math.Modf(f)
			m.SentAt = time.Unix(int64(sec), int64(frac*1e9)).UTC()
		}
	}
	if rec.Priority != nil {
		m.Priority = *rec.Priority
	} else if p, ok := m.Headers[fedmsg.HeaderPriority].(int32); ok {
		m.Priority = int(p)
	}
	return []fedmsg.Message{m}, nil
}

// WriteRecorded writes messages as JSON lines in the fedora-messaging shape
// ({id, topic, headers, body, priority}); a body that is not JSON is written
// as a JSON string.
func WriteRecorded(w io.Writer, msgs ...fedmsg.Message) error {
	enc := json.NewEncoder(w)
	for _, m := range msgs {
		rec := record{ID: m.ID, Topic: m.Topic, Headers: m.Headers}
		p := m.Priority
		rec.Priority = &p
		if json.Valid(m.Body) && len(bytes.TrimSpace(m.Body)) > 0 && bytes.TrimSpace(m.Body)[0] != '"' {
			rec.Body = json.RawMessage(m.Body)
		} else {
			s, _ := json.Marshal(string(m.Body))
			rec.Body = s
		}
		if err := enc.Encode(rec); err != nil {
			return fmt.Errorf("fedmsgsim: write %s: %w", m.ID, err)
		}
	}
	return nil
}
