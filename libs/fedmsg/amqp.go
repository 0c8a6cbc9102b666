package fedmsg

import (
	"context"
	"fmt"
	"net/url"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Exchange is the Fedora Messaging exchange.
const Exchange = "amq.topic"

// FromDelivery reads a Fedora Messaging message from an AMQP delivery.
func FromDelivery(d amqp.Delivery) Message {
	h := map[string]any{}
	for k, v := range d.Headers {
		h[k] = v
	}
	m := Message{ID: d.MessageId, Topic: d.RoutingKey, Headers: h, Body: d.Body, Priority: int(d.Priority)}
	if s, ok := h[HeaderSentAt].(string); ok {
		m.SentAt, _ = ParseSentAt(s)
	}
	return m
}

// Publishing returns the AMQP publishing for m, with the properties
// fedora-messaging sets (JSON, UTF-8, persistent, message id, priority).
func (m Message) Publishing() amqp.Publishing {
	h := amqp.Table{}
	for k, v := range m.Headers {
		switch x := v.(type) {
		case int:
			h[k] = int32(x)
		default:
			h[k] = v
		}
	}
	return amqp.Publishing{
		ContentType:     "application/json",
		ContentEncoding: "utf-8",
		DeliveryMode:    amqp.Persistent,
		MessageId:       m.ID,
		Priority:        uint8(max(0, min(m.Priority, 9))),
		Timestamp:       m.SentAt,
		Headers:         h,
		Body:            m.Body,
	}
}

// Publisher publishes messages to an AMQP exchange with publisher confirms.
// It is not safe for concurrent use; use one per goroutine.
type Publisher struct {
	conn     *amqp.Connection
	ch       *amqp.Channel
	exchange string
}

// Dial connects a Publisher to url (amqp:// or amqps://), publishing to exchange.
func Dial(url, exchange string) (*Publisher, error) {
	if exchange == "" {
		exchange = Exchange
	}
	conn, err := amqp.DialConfig(url, amqp.Config{Heartbeat: 10 * time.Second, Properties: amqp.Table{"connection_name": "ebs-fedmsg-publisher"}})
	if err != nil {
		return nil, fmt.Errorf("fedmsg: dial %s: %w", redactURL(url), err)
	}
	ch, err := conn.Channel()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("fedmsg: channel: %w", err)
	}
	if err := ch.Confirm(false); err != nil {
		conn.Close()
		return nil, fmt.Errorf("fedmsg: confirm mode: %w", err)
	}
	return &Publisher{conn: conn, ch: ch, exchange: exchange}, nil
}

// Publish sends m with routing key m.Topic and waits for the broker's confirm.
func (p *Publisher) Publish(ctx context.Context, m Message) error {
	conf, err := p.ch.PublishWithDeferredConfirmWithContext(ctx, p.exchange, m.Topic, false, false, m.Publishing())
	if err != nil {
		return fmt.Errorf("fedmsg: publish %s: %w", m.Topic, err)
	}
	ok, err := conf.WaitContext(ctx)
	if err != nil {
		return fmt.Errorf("fedmsg: confirm %s: %w", m.Topic, err)
	}
	if !ok {
		return fmt.Errorf("fedmsg: broker nacked %s", m.Topic)
	}
	return nil
}

// Close closes the connection.
func (p *Publisher) Close() error { return p.conn.Close() }

func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}
