package fedmsgsim

import (
	"bufio"
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
// as a JSON string is taken as the raw (non-JSON) body text. The first
// record it cannot read is an error naming its line; ScanRecorded reads
// past such records instead.
func ReadRecorded(r io.Reader) ([]fedmsg.Message, error) {
	var out []fedmsg.Message
	n := 0
	err := ScanRecorded(r, func(rec Recorded) error {
		n++
		if rec.Err != nil {
			return fmt.Errorf("fedmsgsim: recorded message %d (line %d): %w", n, rec.Line, rec.Err)
		}
		out = append(out, rec.Message)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Recorded is one item read from a recording: a message, or (Err set) a
// record that cannot be read, with its text.
type Recorded struct {
	// Line is the 1-based line where the record starts.
	Line    int
	Message fedmsg.Message
	// Err says why the record is unusable; Raw is then its text.
	Err error
	Raw []byte
}

// ScanRecorded reads a recording like ReadRecorded and calls fn with each
// message in order, and with each record it cannot read (Err set), then
// goes on after it: one malformed line costs that line only. A JSON value
// may span lines (a pretty-printed datagrepper page). A new record starts
// at a line beginning with '{' or '[' in its first column: text that is not
// JSON is one unusable record up to there, and so is a value still
// incomplete there or at the end of the input (a truncated line does not
// swallow the lines after it). ScanRecorded returns fn's first error or a
// read error.
func ScanRecorded(r io.Reader, fn func(Recorded) error) error {
	br := bufio.NewReader(r)
	var (
		buf   []byte    // the text of an incomplete value
		start int       // the line buf starts at
		skip  *Recorded // an unusable record, growing until the next record starts
		depth nesting   // of buf: decode only once its brackets close
	)
	flush := func() error {
		if skip == nil {
			return nil
		}
		rec := *skip
		skip = nil
		rec.Raw = bytes.TrimSpace(rec.Raw)
		return fn(rec)
	}
	for n := 1; ; n++ {
		line, rerr := br.ReadBytes('\n')
		if rerr != nil && !errors.Is(rerr, io.EOF) {
			return fmt.Errorf("fedmsgsim: read recording: %w", rerr)
		}
		if len(line) > 0 {
			newRecord := line[0] == '{' || line[0] == '['
			switch {
			case skip != nil && !newRecord:
				skip.Raw = append(skip.Raw, line...)
				line = nil
			case skip != nil:
				if err := flush(); err != nil {
					return err
				}
			case newRecord && len(bytes.TrimSpace(buf)) > 0:
				if err := settle(buf, start, "incomplete JSON value", fn); err != nil {
					return err
				}
				buf, depth = buf[:0], nesting{}
			}
			if line != nil {
				if len(bytes.TrimSpace(buf)) == 0 {
					buf, start, depth = buf[:0], n, nesting{}
				}
				buf = append(buf, line...)
				// A pretty-printed value spans many lines: decoding it at each
				// one would be quadratic, so wait until its brackets close.
				if depth.feed(line) {
					var err error
					if buf, start, skip, err = scanValues(buf, start, fn); err != nil {
						return err
					}
					depth = nesting{}
					depth.feed(buf) // what is left of an incomplete value
				}
			}
		}
		if errors.Is(rerr, io.EOF) {
			if err := flush(); err != nil {
				return err
			}
			if len(bytes.TrimSpace(buf)) > 0 {
				return settle(buf, start, "incomplete JSON value at the end of the input", fn)
			}
			return nil
		}
	}
}

// settle reports what buf, a value whose brackets never closed, holds: the
// complete values before it, then the syntax error that broke it, or
// incomplete when it is only cut short.
func settle(buf []byte, start int, incomplete string, fn func(Recorded) error) error {
	rest, line, skip, err := scanValues(buf, start, fn)
	switch {
	case err != nil:
		return err
	case skip != nil:
		skip.Raw = bytes.TrimSpace(skip.Raw)
		return fn(*skip)
	case len(bytes.TrimSpace(rest)) > 0:
		return fn(Recorded{Line: line, Err: errors.New(incomplete), Raw: bytes.Clone(bytes.TrimSpace(rest))})
	}
	return nil
}

// nesting follows the bracket depth of JSON text fed to it in pieces,
// outside strings.
type nesting struct {
	depth            int
	inString, escape bool
}

// feed takes the next piece of text and reports whether the brackets are
// closed (or unbalanced) after it: the text may hold complete values.
func (n *nesting) feed(b []byte) bool {
	for _, c := range b {
		switch {
		case n.escape:
			n.escape = false
		case n.inString && c == '\\':
			n.escape = true
		case c == '"':
			n.inString = !n.inString
		case n.inString:
		case c == '{' || c == '[':
			n.depth++
		case c == '}' || c == ']':
			n.depth--
		}
	}
	return n.depth <= 0
}

// scanValues calls fn with the messages of each complete value at the
// start of buf and returns what is left (an incomplete value) and the line
// it starts at, or, when the text is not JSON, the unusable record from
// there on.
func scanValues(buf []byte, start int, fn func(Recorded) error) ([]byte, int, *Recorded, error) {
	dec := json.NewDecoder(bytes.NewReader(buf))
	dec.UseNumber()
	var done int64 // bytes of buf handled
	for {
		var raw json.RawMessage
		err := dec.Decode(&raw)
		switch {
		case errors.Is(err, io.EOF):
			return buf[:0], start, nil, nil
		case errors.Is(err, io.ErrUnexpectedEOF):
			return buf[done:], lineAt(buf, done, start), nil, nil
		case err != nil:
			return buf[:0], start, &Recorded{Line: lineAt(buf, done, start), Err: err, Raw: bytes.Clone(buf[done:])}, nil
		}
		line := lineAt(buf, done, start)
		done = dec.InputOffset()
		msgs, errs := decodeRecord(raw)
		for _, m := range msgs {
			if ferr := fn(Recorded{Line: line, Message: m}); ferr != nil {
				return nil, 0, nil, ferr
			}
		}
		for _, e := range errs {
			if ferr := fn(Recorded{Line: line, Err: e, Raw: bytes.Clone(raw)}); ferr != nil {
				return nil, 0, nil, ferr
			}
		}
	}
}

// lineAt is the line of the first non-space byte at or after offset off of
// buf, whose first byte is on line start.
func lineAt(buf []byte, off int64, start int) int {
	rest := buf[off:]
	lead := len(rest) - len(bytes.TrimLeft(rest, " \t\r\n"))
	return start + bytes.Count(buf[:off+int64(lead)], []byte("\n"))
}

// decodeRecord decodes one record: its messages, and why those it holds
// that cannot be read (one per message of a datagrepper page) were not.
func decodeRecord(raw json.RawMessage) ([]fedmsg.Message, []error) {
	var rec record
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&rec); err != nil {
		return nil, []error{err}
	}
	if rec.RawMessages != nil {
		var out []fedmsg.Message
		var errs []error
		for i, r := range rec.RawMessages {
			msgs, merrs := decodeRecord(r)
			out = append(out, msgs...)
			for _, e := range merrs {
				errs = append(errs, fmt.Errorf("raw_messages[%d]: %w", i, e))
			}
		}
		return out, errs
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
			return nil, []error{err}
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
