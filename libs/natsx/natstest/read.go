package natstest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// Msg is one message stored on a stream, as a test reads it.
type Msg struct {
	Subject string
	// MsgID is the Nats-Msg-Id header (natsx.Publish always sets it).
	MsgID  string
	Header nats.Header
	Data   []byte
	Seq    uint64
}

// Stored returns every message stored on stream now whose subject matches
// filter (wildcards allowed), in stream order. Messages that arrive while it
// reads are left for the next call, so it returns however busy the stream
// is. It reads with an ephemeral consumer that acks nothing, deletes it, and
// fails t on any error.
func Stored(t testing.TB, js jetstream.JetStream, stream, filter string) []Msg {
	t.Helper()
	r := newReader(t, js, stream, filter)
	defer r.close()
	out, err := r.drain()
	if err != nil {
		t.Fatalf("natstest: read %s on %s: %v", filter, stream, err)
	}
	return out
}

// WaitStored waits until at least n messages whose subject matches filter
// are stored on stream and returns every one stored by then (at least n, in
// stream order). After timeout it fails t, saying how many it found. It
// polls without ever blocking in a fetch, so messages that keep arriving
// cannot make it hang.
func WaitStored(t testing.TB, js jetstream.JetStream, stream, filter string, n int, timeout time.Duration) []Msg {
	t.Helper()
	r := newReader(t, js, stream, filter)
	defer r.close()
	deadline := time.Now().Add(timeout)
	var out []Msg
	for {
		more, err := r.drain()
		if err != nil {
			t.Fatalf("natstest: read %s on %s: %v", filter, stream, err)
		}
		out = append(out, more...)
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("natstest: %d of %d messages on %s (stream %s) after %v", len(out), n, filter, stream, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Decode unmarshals each message into a new T (Decode[ebsv1.DeadLetter]
// gives []*ebsv1.DeadLetter), failing t on undecodable data.
func Decode[T any, P interface {
	*T
	proto.Message
}](t testing.TB, msgs []Msg) []P {
	t.Helper()
	out := make([]P, len(msgs))
	for i, m := range msgs {
		v := P(new(T))
		if err := proto.Unmarshal(m.Data, v); err != nil {
			t.Fatalf("natstest: message %d on %s (Nats-Msg-Id %q) is not a %T: %v", m.Seq, m.Subject, m.MsgID, v, err)
		}
		out[i] = v
	}
	return out
}

// ByMsgID decodes the messages keyed by Nats-Msg-Id and fails t on an id
// stored twice (a duplicate the stream should have refused).
func ByMsgID[T any, P interface {
	*T
	proto.Message
}](t testing.TB, msgs []Msg) map[string]P {
	t.Helper()
	vals := Decode[T, P](t, msgs)
	out := make(map[string]P, len(msgs))
	for i, m := range msgs {
		if _, dup := out[m.MsgID]; dup {
			t.Fatalf("natstest: Nats-Msg-Id %q stored twice on %s", m.MsgID, m.Subject)
		}
		out[m.MsgID] = vals[i]
	}
	return out
}

// reader reads a filtered stream from its start with one ephemeral AckNone
// consumer.
type reader struct {
	t      testing.TB
	js     jetstream.JetStream
	stream string
	cons   jetstream.Consumer
}

func newReader(t testing.TB, js jetstream.JetStream, stream, filter string) *reader {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{
		FilterSubject:     filter,
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		AckPolicy:         jetstream.AckNonePolicy,
		MemoryStorage:     true,
		InactiveThreshold: 30 * time.Second, // the server removes it if close never runs
	})
	if err != nil {
		t.Fatalf("natstest: consumer for %s on %s: %v", filter, stream, err)
	}
	return &reader{t: t, js: js, stream: stream, cons: cons}
}

// drain reads the messages pending for the consumer when it is called.
func (r *reader) drain() ([]Msg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	info, err := r.cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("consumer info: %w", err)
	}
	pending := int(info.NumPending)
	out := make([]Msg, 0, pending)
	for len(out) < pending {
		// The messages are stored, so a fetch of at most that many
		// returns at once; the wait only bounds a server that stalls.
		batch, err := r.cons.Fetch(min(pending-len(out), 500), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return out, fmt.Errorf("fetch: %w", err)
		}
		got := 0
		for m := range batch.Messages() {
			got++
			meta, err := m.Metadata()
			if err != nil {
				return out, fmt.Errorf("metadata: %w", err)
			}
			out = append(out, Msg{Subject: m.Subject(), MsgID: m.Headers().Get(nats.MsgIdHdr), Header: m.Headers(),
				Data: m.Data(), Seq: meta.Sequence.Stream})
		}
		if err := batch.Error(); err != nil {
			return out, fmt.Errorf("fetch: %w", err)
		}
		if got == 0 {
			return out, fmt.Errorf("%d messages pending but none delivered within 5s", pending-len(out))
		}
	}
	return out, nil
}

func (r *reader) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.js.DeleteConsumer(ctx, r.stream, r.cons.CachedInfo().Name) // InactiveThreshold removes it otherwise
}
