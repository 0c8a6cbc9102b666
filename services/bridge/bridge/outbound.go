package bridge

import (
	"context"
	"crypto/sha1"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// CompletionMessage is the Fedora message announcing a finished batch: the
// BatchCompleted event as a JSON object (proto field names), a message id
// derived from the batch id (a re-sent completion carries the same id, so
// bus consumers can de-duplicate), severity INFO.
func CompletionMessage(topic string, ev *ebsv1.BatchCompleted, sentAt time.Time) (fedmsg.Message, error) {
	body, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(ev)
	if err != nil {
		return fedmsg.Message{}, fmt.Errorf("bridge: encode batch %s: %w", ev.GetBatchId(), err)
	}
	sentAt = sentAt.UTC().Truncate(time.Second)
	h := sha1.Sum([]byte("ebs-batch-complete:" + topic + ":" + ev.GetBatchId()))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	id := fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
	return fedmsg.Message{
		ID:    id,
		Topic: topic,
		Headers: map[string]any{
			fedmsg.HeaderSchema:   "base.message",
			fedmsg.HeaderSeverity: fedmsg.SeverityInfo,
			fedmsg.HeaderSentAt:   sentAt.Format("2006-01-02T15:04:05+00:00"),
			fedmsg.HeaderPriority: 0,
		},
		Body:   body,
		SentAt: sentAt,
	}, nil
}

// outbound publishes completions over one lazily (re)opened connection.
type outbound struct {
	b    *Bridge
	mu   sync.Mutex
	conn *amqp.Connection
	ch   *amqp.Channel
}

func (o *outbound) publish(ctx context.Context, m fedmsg.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ch == nil || o.conn.IsClosed() {
		conn, err := dialAMQP(o.b.cfg.OutboundURL, o.b.cfg, "ebs-bridge-outbound")
		if err != nil {
			return err
		}
		ch, err := conn.Channel()
		if err == nil {
			err = ch.Confirm(false)
		}
		if err != nil {
			conn.Close()
			return fmt.Errorf("bridge: outbound channel: %w", err)
		}
		o.conn, o.ch = conn, ch
	}
	conf, err := o.ch.PublishWithDeferredConfirmWithContext(ctx, o.b.cfg.Exchange, m.Topic, false, false, m.Publishing())
	if err == nil {
		var ok bool
		ok, err = conf.WaitContext(ctx)
		if err == nil && !ok {
			err = fmt.Errorf("broker nacked")
		}
	}
	if err != nil {
		o.close()
		return fmt.Errorf("bridge: publish %s: %w", m.Topic, err)
	}
	return nil
}

func (o *outbound) close() {
	if o.conn != nil {
		_ = o.conn.Close()
	}
	o.conn, o.ch = nil, nil
}

// PublishCompletions consumes ebs.batch.completed (durable consumer
// bridge-outbound) and publishes each to the bus under cfg.OutboundTopic; a
// completion is acked only after the broker confirmed it.
func (b *Bridge) PublishCompletions(ctx context.Context) error {
	if b.cfg.OutboundTopic == "" || b.cfg.OutboundURL == "" {
		return fmt.Errorf("bridge: outbound needs --outbound-topic and a broker URL")
	}
	o := &outbound{b: b}
	defer func() {
		o.mu.Lock()
		o.close()
		o.mu.Unlock()
	}()
	b.log.Info("publishing batch completions", "topic", b.cfg.OutboundTopic, "broker", redact(b.cfg.OutboundURL))
	return natsx.Consume(ctx, b.js, natsx.StreamEBS, natsx.ConsumerBridgeOutbound,
		func() *ebsv1.BatchCompleted { return new(ebsv1.BatchCompleted) },
		func(ctx context.Context, d *natsx.Delivery[*ebsv1.BatchCompleted]) error {
			m, err := CompletionMessage(b.cfg.OutboundTopic, d.Msg, b.now())
			if err != nil {
				return natsx.Reject(err)
			}
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := o.publish(pctx, m); err != nil {
				b.metrics.Outbound.WithLabelValues("failed").Inc()
				return err
			}
			b.metrics.Outbound.WithLabelValues("published").Inc()
			b.log.Info("batch completion published", "batch_id", d.Msg.GetBatchId(), "message_id", m.ID)
			return nil
		}, natsx.ConsumeOptions{Service: Name, Logger: b.log})
}
