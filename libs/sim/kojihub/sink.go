package kojihub

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/fedora-eln/ebs/libs/fedmsg"
	fedmsgsim "github.com/fedora-eln/ebs/libs/sim/fedmsg"
)

// Sink receives the hub's buildsys.* messages, built by fedmsg.KojiMessage
// exactly as koji-fedoramessaging builds them (body, schema, severity,
// priority and filter headers).
type Sink interface {
	Publish(ctx context.Context, m fedmsg.Message) error
}

// ChanSink delivers messages on a Go channel. The hub's publisher blocks
// (without holding the hub) while the channel is full.
type ChanSink struct {
	C chan fedmsg.Message
}

// NewChanSink returns a sink with a buffered channel.
func NewChanSink(buffer int) *ChanSink { return &ChanSink{C: make(chan fedmsg.Message, buffer)} }

// Publish implements Sink.
func (s *ChanSink) Publish(ctx context.Context, m fedmsg.Message) error {
	select {
	case s.C <- m:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AMQPSink publishes to a RabbitMQ exchange (amq.topic) with publisher
// confirms, as the hub's messaging plugin does. It is fedmsgsim's sink.
type AMQPSink = fedmsgsim.AMQPSink

// NewAMQPSink dials url (amqp://guest:guest@127.0.0.1:5672/) and publishes
// to exchange ("" means amq.topic).
func NewAMQPSink(url, exchange string) (*AMQPSink, error) { return fedmsgsim.DialAMQP(url, exchange) }

// MultiSink publishes to several sinks in order.
type MultiSink []Sink

// Publish implements Sink.
func (ms MultiSink) Publish(ctx context.Context, m fedmsg.Message) error {
	for _, s := range ms {
		if err := s.Publish(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

type pendingMsg struct {
	topic string
	body  any
	at    time.Time
}

// publisher sends messages in order from one goroutine, after the hub's
// "commit", dropping a fraction when lossy.
type publisher struct {
	sink   Sink
	log    *slog.Logger
	prefix string

	mu      sync.Mutex
	cond    *sync.Cond
	queue   []pendingMsg
	closed  bool
	lossy   float64
	rng     *rand.Rand
	sent    int64
	dropped int64
	busy    bool
	history []fedmsg.Message
	done    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
}

const maxHistory = 100000

func newPublisher(sink Sink, prefix string, lossy float64, seed uint64, log *slog.Logger) *publisher {
	p := &publisher{sink: sink, prefix: prefix, log: log, lossy: lossy, rng: rand.New(rand.NewPCG(seed+2, 11)), done: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	go p.loop()
	return p
}

func (p *publisher) enqueue(msgs []pendingMsg) {
	if len(msgs) == 0 {
		return
	}
	p.mu.Lock()
	p.queue = append(p.queue, msgs...)
	p.mu.Unlock()
	p.cond.Signal()
}

func (p *publisher) loop() {
	defer close(p.done)
	for {
		p.mu.Lock()
		for len(p.queue) == 0 && !p.closed {
			p.cond.Wait()
		}
		if p.closed && len(p.queue) == 0 {
			p.mu.Unlock()
			return
		}
		pm := p.queue[0]
		p.queue = p.queue[1:]
		p.busy = true
		drop := p.lossy > 0 && p.rng.Float64() < p.lossy
		prefix := p.prefix
		p.mu.Unlock()
		m, err := fedmsg.KojiMessage(prefix, pm.topic, pm.body, pm.at)
		if err != nil {
			p.log.Error("kojihub: build message", "topic", pm.topic, "err", err)
			p.idle()
			continue
		}
		p.mu.Lock()
		if drop {
			p.dropped++
			p.busy = false
			p.mu.Unlock()
			continue
		}
		p.sent++
		if len(p.history) >= maxHistory {
			p.history = append(p.history[:0], p.history[maxHistory/2:]...)
		}
		p.history = append(p.history, m)
		p.mu.Unlock()
		if p.sink != nil {
			ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
			if err := p.sink.Publish(ctx, m); err != nil {
				// The real plugin only logs publish failures.
				p.log.Warn("kojihub: publish failed", "topic", m.Topic, "err", err)
			}
			cancel()
		}
		p.idle()
	}
}

func (p *publisher) idle() {
	p.mu.Lock()
	p.busy = false
	p.mu.Unlock()
}

func (p *publisher) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		p.cancel()
		<-p.done
	}
	p.cancel()
}

func (p *publisher) stats() (sent, dropped int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent, p.dropped
}

// SetLossy changes the fraction of messages dropped (0 disables).
func (h *Hub) SetLossy(fraction float64) {
	h.pub.mu.Lock()
	h.pub.lossy = fraction
	h.pub.mu.Unlock()
}

// Messages returns the messages published so far (after the lossy switch),
// oldest first.
func (h *Hub) Messages() []fedmsg.Message {
	h.pub.mu.Lock()
	defer h.pub.mu.Unlock()
	return append([]fedmsg.Message(nil), h.pub.history...)
}

// PublishedTopics counts published messages per topic suffix.
func (h *Hub) PublishedTopics() map[string]int {
	out := map[string]int{}
	for _, m := range h.Messages() {
		out[m.Topic[len(h.opts.TopicPrefix)+1:]]++
	}
	return out
}

// Flush waits until every queued message has been handed to the sink.
func (h *Hub) Flush(ctx context.Context) error {
	for {
		h.pub.mu.Lock()
		n := len(h.pub.queue)
		if h.pub.busy {
			n++
		}
		h.pub.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
}
