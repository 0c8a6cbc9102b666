package fedmsgsim

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/natsx"
)

// Sink receives the simulator's messages.
type Sink interface {
	Publish(ctx context.Context, m fedmsg.Message) error
	Close() error
}

// AMQPSink publishes to an AMQP exchange with publisher confirms. It is safe
// for concurrent use.
type AMQPSink struct {
	mu  sync.Mutex
	pub *fedmsg.Publisher
}

// DialAMQP connects to url (amqp:// or amqps://) and publishes to exchange
// ("" = amq.topic, as Fedora's broker).
func DialAMQP(url, exchange string) (*AMQPSink, error) {
	p, err := fedmsg.Dial(url, exchange)
	if err != nil {
		return nil, fmt.Errorf("fedmsgsim: %w", err)
	}
	return &AMQPSink{pub: p}, nil
}

// Publish sends m (routing key m.Topic) and waits for the broker's confirm.
func (s *AMQPSink) Publish(ctx context.Context, m fedmsg.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pub.Publish(ctx, m)
}

// Close closes the connection.
func (s *AMQPSink) Close() error { return s.pub.Close() }

// JetStreamSink stores messages straight into FEDMSG, as the bridge would
// (subject from the topic minus Prefix, Nats-Msg-Id = message id). Messages
// the bridge would dead-letter are refused with their validation error.
type JetStreamSink struct {
	JS jetstream.JetStream
	// Prefix is the environment prefix removed from topics for subjects
	// (default org.fedoraproject.prod).
	Prefix string
}

// NewJetStreamSink returns a sink into FEDMSG.
func NewJetStreamSink(js jetstream.JetStream, prefix string) *JetStreamSink {
	if prefix == "" {
		prefix = fedmsg.PrefixProd
	}
	return &JetStreamSink{JS: js, Prefix: prefix}
}

// Publish stores m on FEDMSG.
func (s *JetStreamSink) Publish(ctx context.Context, m fedmsg.Message) error {
	if err := m.Validate(); err != nil {
		return fmt.Errorf("fedmsgsim: %w", err)
	}
	if _, err := natsx.Publish(ctx, s.JS, natsx.FedmsgSubject(m.Topic, s.Prefix), m.ID, m.ToProto(time.Now())); err != nil {
		return fmt.Errorf("fedmsgsim: %w", err)
	}
	return nil
}

// Close does nothing (the connection belongs to the caller).
func (s *JetStreamSink) Close() error { return nil }

// Recorder is a Sink that keeps what it receives (tests, recording).
type Recorder struct {
	mu   sync.Mutex
	msgs []fedmsg.Message
}

// Publish records m.
func (r *Recorder) Publish(_ context.Context, m fedmsg.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}

// Close does nothing.
func (r *Recorder) Close() error { return nil }

// Messages returns a copy of what was recorded.
func (r *Recorder) Messages() []fedmsg.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]fedmsg.Message(nil), r.msgs...)
}
