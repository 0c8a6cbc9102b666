package bridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// Outcome is what happened to one message.
type Outcome string

// Outcomes.
const (
	Stored       Outcome = "stored"        // new on FEDMSG
	Duplicate    Outcome = "duplicate"     // FEDMSG already had its id
	DeadLettered Outcome = "dead_lettered" // unusable input, recorded on ebs.deadletter
)

// Metrics are the bridge's metrics (ebs_bridge_*).
type Metrics struct {
	// Messages counts inbound messages by source (amqp, replay) and outcome
	// (stored, duplicate, dead_lettered, nacked).
	Messages *prometheus.CounterVec
	// DeadLetters counts dead-lettered input by reason.
	DeadLetters *prometheus.CounterVec
	// Connects counts broker connections made; Connected is 1 while connected.
	Connects  prometheus.Counter
	Connected prometheus.Gauge
	// Outbound counts batch completions published to the bus, by result.
	Outbound *prometheus.CounterVec
}

// NewMetrics registers the bridge's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ebs_bridge_messages_total",
			Help: "Fedora messages handled, by source (amqp, replay) and outcome (stored, duplicate, dead_lettered, nacked)."}, []string{"source", "outcome"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ebs_bridge_dead_letters_total",
			Help: "Unusable Fedora messages recorded on ebs.deadletter, by reason."}, []string{"reason"}),
		Connects:  prometheus.NewCounter(prometheus.CounterOpts{Name: "ebs_bridge_amqp_connects_total", Help: "AMQP connections established (the first and every reconnect)."}),
		Connected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ebs_bridge_amqp_connected", Help: "1 while the inbound AMQP consumer is connected."}),
		Outbound: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ebs_bridge_outbound_total",
			Help: "Batch completions published to Fedora Messaging, by result (published, failed)."}, []string{"result"}),
	}
	for _, s := range []string{"amqp", "replay"} {
		for _, o := range []string{string(Stored), string(Duplicate), string(DeadLettered), "nacked"} {
			m.Messages.WithLabelValues(s, o)
		}
	}
	for _, r := range []string{reasonNoID, reasonNoTopic, reasonTooLarge, reasonNotJSON, reasonBadTopic, reasonMalformed} {
		m.DeadLetters.WithLabelValues(r)
	}
	m.Outbound.WithLabelValues("published")
	m.Outbound.WithLabelValues("failed")
	if reg != nil {
		reg.MustRegister(m.Messages, m.DeadLetters, m.Connects, m.Connected, m.Outbound)
	}
	return m
}

// Dead-letter reasons (metric label values).
const (
	reasonNoID     = "no_message_id"
	reasonNoTopic  = "no_topic"
	reasonTooLarge = "too_large"
	reasonNotJSON  = "not_json"
	reasonBadTopic = "bad_topic"
	// reasonMalformed: a --replay record that is not a readable message
	// (not JSON, truncated, the wrong shape).
	reasonMalformed = "malformed_record"
)

// Bridge stores Fedora messages on FEDMSG.
type Bridge struct {
	js      jetstream.JetStream
	cfg     Config
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time
}

// New returns a Bridge publishing to js. reg receives its metrics (nil: none).
func New(js jetstream.JetStream, cfg Config, log *slog.Logger, reg prometheus.Registerer) *Bridge {
	if log == nil {
		log = slog.Default()
	}
	return &Bridge{js: js, cfg: cfg.withDefaults(), log: log.With("component", Name), metrics: NewMetrics(reg), now: time.Now}
}

// Metrics returns the bridge's metrics.
func (b *Bridge) Metrics() *Metrics { return b.metrics }

// classify returns why m can never be stored ("" when it can).
func (b *Bridge) classify(m fedmsg.Message) (reason string, err error) {
	switch {
	case m.ID == "":
		return reasonNoID, m.Validate()
	case m.Topic == "":
		return reasonNoTopic, m.Validate()
	case len(m.Body) > fedmsg.MaxBodySize:
		return reasonTooLarge, m.Validate()
	}
	if err := m.Validate(); err != nil {
		return reasonNotJSON, err
	}
	if err := validSubject(natsx.FedmsgSubject(m.Topic, b.cfg.TopicPrefix)); err != nil {
		return reasonBadTopic, fmt.Errorf("topic %q: %w", m.Topic, err)
	}
	return "", nil
}

// validSubject rejects what NATS cannot store as a literal subject.
func validSubject(s string) error {
	if len(s) > 1024 {
		return fmt.Errorf("longer than 1024 bytes")
	}
	for _, tok := range strings.Split(s, ".") {
		switch {
		case tok == "":
			return fmt.Errorf("empty token in %q", s)
		case tok == "*" || tok == ">":
			return fmt.Errorf("wildcard token in %q", s)
		case strings.IndexFunc(tok, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			return fmt.Errorf("white space or control character in %q", s)
		}
	}
	return nil
}

// Store puts m on FEDMSG, or on ebs.deadletter when it can never be stored.
// An error means JetStream did not acknowledge: the caller must keep the
// message (nack with requeue) and try again later.
func (b *Bridge) Store(ctx context.Context, m fedmsg.Message, source string, deliveries uint64) (Outcome, error) {
	if reason, cause := b.classify(m); reason != "" {
		if err := b.deadLetter(ctx, m, source, deliveries, reason, cause); err != nil {
			return "", err
		}
		b.metrics.DeadLetters.WithLabelValues(reason).Inc()
		b.metrics.Messages.WithLabelValues(source, string(DeadLettered)).Inc()
		b.log.Warn("message dead-lettered", "source", source, "topic", m.Topic, "message_id", m.ID, "reason", cause)
		return DeadLettered, nil
	}
	subject := natsx.FedmsgSubject(m.Topic, b.cfg.TopicPrefix)
	ack, err := natsx.Publish(ctx, b.js, subject, m.ID, m.ToProto(b.now()))
	if err != nil {
		return "", err
	}
	outcome := Stored
	if ack.Duplicate {
		outcome = Duplicate
	}
	b.metrics.Messages.WithLabelValues(source, string(outcome)).Inc()
	b.log.Debug("message stored", "source", source, "subject", subject, "message_id", m.ID, "seq", ack.Sequence, "duplicate", ack.Duplicate)
	return outcome, nil
}

// storeAsync publishes a storable message to FEDMSG without waiting; the
// future resolves with JetStream's PubAck.
func (b *Bridge) storeAsync(m fedmsg.Message) (jetstream.PubAckFuture, error) {
	return natsx.PublishAsync(b.js, natsx.FedmsgSubject(m.Topic, b.cfg.TopicPrefix), m.ID, m.ToProto(b.now()))
}

// maxDeadLetterPayload keeps dead letters well under the NATS payload limit.
const maxDeadLetterPayload = 2 << 20

func (b *Bridge) deadLetter(ctx context.Context, m fedmsg.Message, source string, deliveries uint64, reason string, cause error) error {
	id := "amqp-" + m.ID
	if m.ID == "" {
		// No id to de-duplicate on: the content is the identity, so a
		// redelivery of the same bad message gives the same dead letter.
		sum := sha256.New()
		sum.Write([]byte(m.Topic))
		sum.Write([]byte{0})
		sum.Write(m.Body)
		id = "amqp-" + hex.EncodeToString(sum.Sum(nil))[:32]
	}
	payload, text := m.Body, fmt.Sprintf("%s: %v", reason, cause)
	if len(payload) > maxDeadLetterPayload {
		payload = payload[:maxDeadLetterPayload]
		text += fmt.Sprintf(" (payload truncated to %d of %d bytes)", maxDeadLetterPayload, len(m.Body))
	}
	headers := map[string]string{}
	for k, v := range m.ToProto(time.Time{}).GetHeaders() {
		headers[k] = v
	}
	if m.ID != "" {
		headers["message_id"] = m.ID
	}
	stream := "amqp"
	if source != "amqp" {
		stream = source
	}
	dl := &ebsv1.DeadLetter{
		Id: id, Service: Name, Stream: stream, Subject: m.Topic, Reason: text,
		Payload: payload, Headers: headers, At: timestamppb.New(b.now()), Deliveries: deliveries,
	}
	if _, err := natsx.Publish(ctx, b.js, natsx.SubjectDeadLetter, id, dl); err != nil {
		return err
	}
	return nil
}
