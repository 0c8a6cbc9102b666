package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// ProjectOptions configure Project.
type ProjectOptions struct {
	Logger *slog.Logger
	// Durable is the consumer on the EBS stream (default natsx.ConsumerStatus).
	Durable string
	// OnEvent is called after each event with what Apply did (metrics).
	OnEvent func(ev Event, o Outcome, msg proto.Message, err error)
	// Batch is how many messages to fetch at once (default 100).
	Batch int
}

// Project runs the projection consumer until ctx ends: every message of the
// EBS stream goes through Apply and is acked once its effect is committed
// (or it was a duplicate, or it was skipped as unknown/undecodable — an
// unknown event never blocks the projection). A database error is retried
// with a growing delay while the message is held.
//
// Messages are decoded by their Ebs-Type header, not by a fixed type, so this
// is a raw JetStream consumer rather than natsx.Consume.
func (s *Store) Project(ctx context.Context, js jetstream.JetStream, o ProjectOptions) error {
	if o.Logger == nil {
		o.Logger = s.log
	}
	if o.Durable == "" {
		o.Durable = natsx.ConsumerStatus
	}
	if o.Batch <= 0 {
		o.Batch = 100
	}
	log := o.Logger.With("component", "projection", "consumer", o.Durable)
	var cons jetstream.Consumer
	for {
		var err error
		cons, err = js.Consumer(ctx, natsx.StreamEBS, o.Durable)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("projection consumer not available yet, retrying", "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	for ctx.Err() == nil {
		batch, err := cons.Fetch(o.Batch, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.Warn("fetching events from the EBS stream failed; retrying in 1s", "error", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for m := range batch.Messages() {
			s.projectOne(ctx, js, m, o, log)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			log.Debug("fetch ended", "error", err)
		}
	}
	return nil
}

func (s *Store) projectOne(ctx context.Context, js jetstream.JetStream, m jetstream.Msg, o ProjectOptions, log *slog.Logger) {
	md, err := m.Metadata()
	if err != nil {
		log.Error("message without metadata; terminating it", "subject", m.Subject(), "error", err)
		_ = m.Term()
		return
	}
	ev := Event{
		ID:       EventID(m.Headers().Get(nats.MsgIdHdr), md.Stream, md.Sequence.Stream),
		Stream:   md.Stream,
		Sequence: md.Sequence.Stream,
		Subject:  m.Subject(),
		Type:     m.Headers().Get(natsx.HeaderType),
		Data:     m.Data(),
		Time:     md.Timestamp,
	}
	// A database error is retried here, holding the message (InProgress), so
	// the projection keeps its order and never runs out of deliveries while
	// PostgreSQL is down. An error the server gives for this event itself
	// (bad data, a projection bug) would block every later event forever:
	// after a few tries it is dead-lettered and skipped; the event stays in
	// the stream for a replay once the cause is fixed.
	var (
		outcome Outcome
		msg     proto.Message
	)
	for attempt := uint64(1); ; attempt++ {
		outcome, msg, err = s.Apply(ctx, ev)
		if err == nil || IsSkip(err) {
			break
		}
		if attempt >= permanentAfter && permanent(err) {
			if dlErr := deadLetter(ctx, js, m, ev, attempt, err); dlErr == nil {
				log.Error("projection cannot apply this event; dead-lettered and skipped (replay after fixing the cause)",
					"subject", ev.Subject, "seq", ev.Sequence, "event_id", ev.ID, "error", err)
				if o.OnEvent != nil {
					o.OnEvent(ev, Skipped, msg, err)
				}
				_ = m.Ack()
				return
			}
		}
		if ctx.Err() != nil {
			_ = m.Nak()
			return
		}
		delay := min(natsx.DefaultBackoff(attempt), 20*time.Second) // under AckWait: InProgress keeps it ours
		if permanent(err) {
			delay = time.Second // it will not pass by waiting; do not hold the history up
		}
		log.Error("projecting event failed; retrying", "subject", ev.Subject, "seq", ev.Sequence,
			"event_id", ev.ID, "delay", delay, "error", err)
		if o.OnEvent != nil {
			o.OnEvent(ev, outcome, msg, err)
		}
		_ = m.InProgress()
		select {
		case <-ctx.Done():
			_ = m.Nak()
			return
		case <-time.After(delay):
		}
	}
	if o.OnEvent != nil {
		o.OnEvent(ev, outcome, msg, err)
	}
	if err != nil {
		log.Warn("skipping event the projection cannot decode", "subject", ev.Subject, "seq", ev.Sequence,
			"type", ev.Type, "event_id", ev.ID, "reason", err)
	}
	if err := m.Ack(); err != nil {
		log.Warn("ack failed; the event will be redelivered (and skipped as a duplicate)", "error", err)
	}
}

// permanentAfter is how often an event the database rejects is tried before
// it is dead-lettered.
const permanentAfter = 5

// permanent reports a database error that retrying will not fix: the server
// rejected the statement for this event (invalid data, a constraint, a
// projection bug), as opposed to an outage (connection, resources,
// shutdown) or a transaction conflict, which are retried for as long as it
// takes.
func permanent(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || len(pgErr.Code) < 2 {
		return false
	}
	switch pgErr.Code[:2] {
	case "08", "40", "53", "54", "55", "57", "58", "XX":
		return false
	}
	return true
}

func deadLetter(ctx context.Context, js jetstream.JetStream, m jetstream.Msg, ev Event, attempts uint64, cause error) error {
	headers := map[string]string{}
	for k, v := range m.Headers() {
		if len(v) > 0 {
			headers[k] = v[0]
		}
	}
	dl := &ebsv1.DeadLetter{
		Id:         fmt.Sprintf("status-projection-%s-%d", ev.Stream, ev.Sequence),
		Service:    "status",
		Stream:     ev.Stream,
		Sequence:   ev.Sequence,
		Subject:    ev.Subject,
		Reason:     "history projection: " + cause.Error(),
		Payload:    ev.Data,
		Headers:    headers,
		At:         timestamppb.Now(),
		Deliveries: attempts,
	}
	_, err := natsx.Publish(ctx, js, natsx.SubjectDeadLetter, dl.GetId(), dl)
	return err
}
