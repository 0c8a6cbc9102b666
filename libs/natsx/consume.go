package natsx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// Delivery is one decoded message handed to a handler.
type Delivery[T proto.Message] struct {
	Msg          T
	Subject      string
	MsgID        string
	Stream       string
	Sequence     uint64
	NumDelivered uint64
	Timestamp    time.Time
	Headers      nats.Header
	raw          jetstream.Msg
}

// InProgress tells the server the handler is still working (resets AckWait).
// The consumer helper already does this periodically while a handler runs.
func (d *Delivery[T]) InProgress() error { return d.raw.InProgress() }

// LastDelivery reports whether the server will not deliver the message again.
func (d *Delivery[T]) LastDelivery(maxDeliver int) bool {
	return maxDeliver > 0 && d.NumDelivered >= uint64(maxDeliver)
}

// Handler handles one delivery. Return nil to ack; Retry(...) to nak with a
// delay; Reject(...) to dead-letter and terminate; any other error naks with a
// growing delay and dead-letters on the last allowed delivery.
type Handler[T proto.Message] func(ctx context.Context, d *Delivery[T]) error

// retryError asks for redelivery after a delay.
type retryError struct {
	err   error
	delay time.Duration
}

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// Retry asks for the message to be redelivered after delay.
func Retry(err error, delay time.Duration) error { return &retryError{err: err, delay: delay} }

// rejectError marks a message that can never be handled.
type rejectError struct{ err error }

func (e *rejectError) Error() string { return e.err.Error() }
func (e *rejectError) Unwrap() error { return e.err }

// Reject dead-letters the message with err as the reason and terminates it.
func Reject(err error) error { return &rejectError{err: err} }

// IsReject reports whether err (or an error it wraps) came from Reject.
func IsReject(err error) bool {
	var r *rejectError
	return errors.As(err, &r)
}

// ConsumeOptions configure Consume.
type ConsumeOptions struct {
	// Service names the consumer in dead letters and logs.
	Service string
	Logger  *slog.Logger
	// Workers handle messages concurrently. Default 1 (in order).
	Workers int
	// Batch is how many messages a worker fetches at once. Default 1; raise it
	// for quick handlers (a fetched message waits for the ones before it, so
	// Batch x handler time must stay well under the consumer's AckWait).
	Batch int
	// Backoff gives the nak delay for a plain handler error on a delivery
	// count. Default: 1 s doubling up to 1 min.
	Backoff func(numDelivered uint64) time.Duration
	// DeadLetter publishes dead letters. Default: Publish on SubjectDeadLetter.
	DeadLetter func(ctx context.Context, dl *ebsv1.DeadLetter) error
	// OnDeadLetter, when set, runs before a message is dead-lettered, with
	// the decoded message (nil when it did not decode). Workers use it to
	// record a failed result for a command, so whoever awaits the command
	// learns it failed instead of waiting forever. An error keeps the message
	// (it is redelivered later).
	OnDeadLetter func(ctx context.Context, msg proto.Message, reason string) error
}

// DefaultBackoff doubles from 1 s up to one minute.
func DefaultBackoff(n uint64) time.Duration {
	d := time.Second
	for i := uint64(1); i < n && d < time.Minute; i++ {
		d *= 2
	}
	return min(d, time.Minute)
}

// Consume runs a durable pull consumer from the table (stream, durable) until
// ctx is done, decoding each message as T. It returns nil when ctx ends.
// newT returns an empty T (e.g. func() *ebsv1.RebuildRequest { return new(ebsv1.RebuildRequest) }).
func Consume[T proto.Message](ctx context.Context, js jetstream.JetStream, stream, durable string,
	newT func() T, h Handler[T], o ConsumeOptions) error {
	def, ok := ConsumerFor(stream, durable)
	if !ok {
		return fmt.Errorf("natsx: consumer %s/%s is not in the table", stream, durable)
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Workers <= 0 {
		o.Workers = 1
	}
	if o.Backoff == nil {
		o.Backoff = DefaultBackoff
	}
	if o.Batch <= 0 {
		o.Batch = 1
	}
	if o.DeadLetter == nil {
		o.DeadLetter = func(ctx context.Context, dl *ebsv1.DeadLetter) error {
			_, err := Publish(ctx, js, SubjectDeadLetter, dl.GetId(), dl)
			return err
		}
	}
	log := o.Logger.With("component", o.Service, "stream", stream, "consumer", durable)
	var cons jetstream.Consumer
	for {
		var err error
		cons, err = js.Consumer(ctx, stream, durable)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("consumer not available yet, retrying", "error", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	c := &consumer[T]{def: def, newT: newT, h: h, o: o, log: log}
	var wg sync.WaitGroup
	for range o.Workers {
		wg.Go(func() { c.loop(ctx, cons) })
	}
	wg.Wait()
	return nil
}

type consumer[T proto.Message] struct {
	def  ConsumerDef
	newT func() T
	h    Handler[T]
	o    ConsumeOptions
	log  *slog.Logger
}

func (c *consumer[T]) loop(ctx context.Context, cons jetstream.Consumer) {
	for ctx.Err() == nil {
		batch, err := cons.Fetch(c.o.Batch, jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.log.Warn("fetch failed, retrying", "error", err)
			sleep(ctx, time.Second)
			continue
		}
		for m := range batch.Messages() {
			c.handle(ctx, m)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && ctx.Err() == nil {
			c.log.Debug("fetch ended", "error", err)
		}
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func (c *consumer[T]) handle(ctx context.Context, m jetstream.Msg) {
	md, err := m.Metadata()
	if err != nil {
		c.log.Error("message without metadata, terminating", "subject", m.Subject(), "error", err)
		_ = m.Term()
		return
	}
	d := &Delivery[T]{
		Subject:      m.Subject(),
		MsgID:        m.Headers().Get(nats.MsgIdHdr),
		Stream:       md.Stream,
		Sequence:     md.Sequence.Stream,
		NumDelivered: md.NumDelivered,
		Timestamp:    md.Timestamp,
		Headers:      m.Headers(),
		raw:          m,
	}
	log := c.log.With("subject", d.Subject, "seq", d.Sequence, "delivery", d.NumDelivered)
	msg := c.newT()
	if err := proto.Unmarshal(m.Data(), msg); err != nil {
		c.deadLetter(ctx, d, m, fmt.Sprintf("undecodable %s: %v", msg.ProtoReflect().Descriptor().FullName(), err), log)
		return
	}
	if t := m.Headers().Get(HeaderType); t != "" && t != string(msg.ProtoReflect().Descriptor().FullName()) {
		c.deadLetter(ctx, d, m, fmt.Sprintf("message type %s where %s was expected", t, msg.ProtoReflect().Descriptor().FullName()), log)
		return
	}
	d.Msg = msg

	// Keep the message ours while the handler works.
	hctx, stop := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(max(c.def.AckWait/3, 100*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-hctx.Done():
				return
			case <-t.C:
				_ = m.InProgress()
			}
		}
	}()
	err = c.safeHandle(hctx, d)
	stop()

	var rej *rejectError
	var rty *retryError
	switch {
	case err == nil:
		if aerr := m.Ack(); aerr != nil {
			log.Warn("ack failed; the message will be redelivered", "error", aerr)
		}
	case ctx.Err() != nil:
		// Shutting down: let it be redelivered promptly elsewhere.
		_ = m.Nak()
	case errors.As(err, &rej):
		c.deadLetter(ctx, d, m, rej.err.Error(), log)
	case d.LastDelivery(c.def.MaxDeliver):
		c.deadLetter(ctx, d, m, fmt.Sprintf("gave up after %d deliveries: %v", d.NumDelivered, err), log)
	case errors.As(err, &rty):
		log.Info("handler asked for a retry", "delay", rty.delay, "error", rty.err)
		_ = m.NakWithDelay(rty.delay)
	default:
		delay := c.o.Backoff(d.NumDelivered)
		log.Warn("handler failed, will retry", "delay", delay, "error", err)
		_ = m.NakWithDelay(delay)
	}
}

func (c *consumer[T]) safeHandle(ctx context.Context, d *Delivery[T]) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v\n%s", r, debug.Stack())
		}
	}()
	return c.h(ctx, d)
}

func (c *consumer[T]) deadLetter(ctx context.Context, d *Delivery[T], m jetstream.Msg, reason string, log *slog.Logger) {
	headers := map[string]string{}
	for k, v := range m.Headers() {
		if len(v) > 0 {
			headers[k] = v[0]
		}
	}
	dl := &ebsv1.DeadLetter{
		Id:         fmt.Sprintf("%s-%d", d.Stream, d.Sequence),
		Service:    c.o.Service,
		Stream:     d.Stream,
		Sequence:   d.Sequence,
		Subject:    d.Subject,
		Reason:     reason,
		Payload:    m.Data(),
		Headers:    headers,
		At:         timestamppb.Now(),
		Deliveries: d.NumDelivered,
	}
	if c.o.OnDeadLetter != nil {
		var msg proto.Message
		if d.Msg.ProtoReflect().IsValid() {
			msg = d.Msg
		}
		if err := c.o.OnDeadLetter(ctx, msg, reason); err != nil {
			log.Error("dead-letter hook failed; keeping the message", "reason", reason, "error", err)
			_ = m.NakWithDelay(5 * time.Second)
			return
		}
	}
	if err := c.o.DeadLetter(ctx, dl); err != nil {
		// Without a durable dead letter the message must stay: retry later.
		log.Error("dead-letter publish failed; keeping the message", "reason", reason, "error", err)
		_ = m.NakWithDelay(5 * time.Second)
		return
	}
	log.Warn("message dead-lettered", "reason", reason, "dead_letter_id", dl.Id)
	_ = m.Term()
}
