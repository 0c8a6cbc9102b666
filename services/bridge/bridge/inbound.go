package bridge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-eln/ebs/libs/fedmsg"
)

// dialAMQP connects with the configured TLS files: a client certificate
// means SASL EXTERNAL (the broker takes the user from the certificate).
func dialAMQP(rawURL string, cfg Config, name string) (*amqp.Connection, error) {
	ac, err := amqpConfig(rawURL, cfg, name)
	if err != nil {
		return nil, err
	}
	conn, err := amqp.DialConfig(rawURL, ac)
	if err != nil {
		return nil, fmt.Errorf("bridge: dial %s: %w", redact(rawURL), err)
	}
	return conn, nil
}

// amqpConfig builds the connection settings: heartbeats, the client
// properties Fedora asks for (app name), and TLS with the CA and client
// certificate when configured.
func amqpConfig(rawURL string, cfg Config, name string) (amqp.Config, error) {
	ac := amqp.Config{
		Heartbeat:  10 * time.Second,
		Locale:     "en_US",
		Dial:       amqp.DefaultDial(30 * time.Second),
		Properties: amqp.Table{"connection_name": name, "app": "ebs " + Name},
	}
	if cfg.AMQPCA == "" && cfg.AMQPCert == "" {
		return ac, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if u, err := url.Parse(rawURL); err == nil {
		tc.ServerName = u.Hostname()
	}
	if cfg.AMQPCA != "" {
		pem, err := os.ReadFile(cfg.AMQPCA)
		if err != nil {
			return ac, fmt.Errorf("bridge: CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return ac, fmt.Errorf("bridge: CA %s holds no PEM certificate", cfg.AMQPCA)
		}
		tc.RootCAs = pool
	}
	if cfg.AMQPCert != "" {
		key := cfg.AMQPKey
		if key == "" {
			key = cfg.AMQPCert
		}
		cert, err := tls.LoadX509KeyPair(cfg.AMQPCert, key)
		if err != nil {
			return ac, fmt.Errorf("bridge: client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
		ac.SASL = []amqp.Authentication{&amqp.ExternalAuth{}}
	}
	ac.TLSClientConfig = tc
	return ac, nil
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(unparsable URL)"
	}
	return p.Redacted()
}

// backoff doubles from min to max.
type backoff struct{ min, max, cur time.Duration }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(b.cur*2, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// ConsumeAMQP consumes the configured queue until ctx ends, reconnecting
// (and re-declaring the queue and bindings) with backoff whenever the broker
// connection is lost. It returns nil when ctx ends.
func (b *Bridge) ConsumeAMQP(ctx context.Context, queue string) error {
	if b.cfg.AMQPURL == "" {
		return errors.New("bridge: no AMQP URL")
	}
	reconnect := &backoff{min: b.cfg.ReconnectMin, max: b.cfg.ReconnectMax}
	for ctx.Err() == nil {
		err := b.consumeOnce(ctx, queue, reconnect)
		b.metrics.Connected.Set(0)
		if ctx.Err() != nil {
			return nil
		}
		d := reconnect.next()
		b.log.Warn("AMQP consumer stopped; reconnecting", "error", err, "delay", d)
		if !sleep(ctx, d) {
			return nil
		}
	}
	return nil
}

// consumeOnce runs one connection's worth of consumption.
func (b *Bridge) consumeOnce(ctx context.Context, queue string, reconnect *backoff) error {
	conn, err := dialAMQP(b.cfg.AMQPURL, b.cfg, "ebs-bridge")
	if err != nil {
		return err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return fmt.Errorf("bridge: channel: %w", err)
	}
	if err := ch.Qos(b.cfg.Prefetch, 0, false); err != nil {
		return fmt.Errorf("bridge: qos: %w", err)
	}
	durable, autoDelete, exclusive := true, false, false
	if b.cfg.QueueTransient {
		durable, autoDelete, exclusive = false, true, true
	}
	q, err := ch.QueueDeclare(queue, durable, autoDelete, exclusive, false, nil)
	if err != nil {
		return fmt.Errorf("bridge: declare queue %q: %w", queue, err)
	}
	for _, key := range b.cfg.RoutingKeys {
		if err := ch.QueueBind(q.Name, key, b.cfg.Exchange, false, nil); err != nil {
			return fmt.Errorf("bridge: bind %q on %s: %w", key, b.cfg.Exchange, err)
		}
	}
	deliveries, err := ch.ConsumeWithContext(ctx, q.Name, "", false, false, false, false, nil)
	if err != nil {
		return fmt.Errorf("bridge: consume %q: %w", q.Name, err)
	}
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	reconnect.reset()
	b.metrics.Connects.Inc()
	b.metrics.Connected.Set(1)
	b.log.Info("consuming Fedora Messaging", "broker", redact(b.cfg.AMQPURL), "queue", q.Name, "durable", durable,
		"routing_keys", b.cfg.RoutingKeys, "prefetch", b.cfg.Prefetch)
	jsWait := &backoff{min: b.cfg.ReconnectMin, max: b.cfg.ReconnectMax}
	// Deliveries are stored asynchronously, in order, as they arrive; the
	// acker acks each one once JetStream has acknowledged it. The
	// prefetch bounds how many are in flight.
	inflight := make(chan *inflight, max(b.cfg.Prefetch, 1))
	acked := make(chan struct{})
	var pause atomic.Int64 // unix nanos before which nothing new is stored
	go func() {
		defer close(acked)
		b.ackInOrder(ctx, inflight, jsWait, &pause)
	}()
	defer func() {
		close(inflight)
		<-acked
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-closed:
			if e == nil {
				return errors.New("bridge: connection closed")
			}
			return fmt.Errorf("bridge: connection lost: %w", e)
		case d, ok := <-deliveries:
			if !ok {
				return errors.New("bridge: delivery channel closed")
			}
			if until := pause.Load(); until > 0 {
				// JetStream failed a store: wait before the next one.
				if !sleep(ctx, time.Until(time.Unix(0, until))) {
					_ = d.Nack(false, true)
					return nil
				}
			}
			inflight <- b.store(ctx, d)
		}
	}
}

// storeTimeout bounds how long a delivery waits for JetStream's PubAck
// before it is requeued.
const storeTimeout = 10 * time.Second

// inflight is a delivery being stored.
type inflight struct {
	d      amqp.Delivery
	m      fedmsg.Message
	future jetstream.PubAckFuture // nil: stored synchronously (dead letter) or failed
	err    error
	at     time.Time
}

// store starts storing a delivery: a publish to FEDMSG without waiting,
// or, for input that can never be stored, its dead letter (synchronously:
// rare).
func (b *Bridge) store(ctx context.Context, d amqp.Delivery) *inflight {
	m := fedmsg.FromDelivery(d)
	p := &inflight{d: d, m: m, at: time.Now()}
	if reason, _ := b.classify(m); reason != "" {
		deliveries := uint64(1)
		if d.Redelivered {
			deliveries = 2
		}
		pctx, cancel := context.WithTimeout(ctx, storeTimeout)
		_, p.err = b.Store(pctx, m, "amqp", deliveries)
		cancel()
		return p
	}
	p.future, p.err = b.storeAsync(m)
	return p
}

// ackInOrder acks each delivery once it is stored; one that was not
// (JetStream failed or did not answer in time) is nacked with requeue,
// and storing pauses for a growing back-off.
func (b *Bridge) ackInOrder(ctx context.Context, in <-chan *inflight, jsWait *backoff, pause *atomic.Int64) {
	for p := range in {
		err := p.err
		outcome := DeadLettered
		if err == nil && p.future != nil {
			timer := time.NewTimer(max(time.Until(p.at.Add(storeTimeout)), 0))
			select {
			case ack := <-p.future.Ok():
				outcome = Stored
				if ack.Duplicate {
					outcome = Duplicate
				}
				b.metrics.Messages.WithLabelValues("amqp", string(outcome)).Inc()
				b.log.Debug("message stored", "source", "amqp", "stream", ack.Stream, "message_id", p.m.ID, "seq", ack.Sequence, "duplicate", ack.Duplicate)
			case err = <-p.future.Err():
			case <-timer.C:
				err = fmt.Errorf("no PubAck within %s", storeTimeout)
			case <-ctx.Done():
				err = ctx.Err()
			}
			timer.Stop()
		}
		if err != nil {
			b.metrics.Messages.WithLabelValues("amqp", "nacked").Inc()
			if nerr := p.d.Nack(false, true); nerr != nil {
				b.log.Warn("nack failed; the broker redelivers on reconnect", "error", nerr)
			}
			wait := jsWait.next()
			pause.Store(time.Now().Add(wait).UnixNano())
			b.log.Warn("JetStream did not acknowledge; message requeued", "message_id", p.m.ID, "topic", p.m.Topic, "delay", wait, "error", err)
			continue
		}
		if pause.Load() != 0 {
			pause.Store(0)
			jsWait.reset()
		}
		if aerr := p.d.Ack(false); aerr != nil {
			// The message is stored; the broker redelivers it and the duplicate
			// is dropped by JetStream's de-duplication.
			b.log.Warn("ack failed after storing", "message_id", p.m.ID, "outcome", outcome, "error", aerr)
		}
	}
}
