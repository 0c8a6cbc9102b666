package observe

import (
	"context"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/ebs/world"
)

// Subjects the observer follows.
var Subjects = []string{
	natsx.SubjectRebuildRequested,
	natsx.SubjectBatchAll,
	natsx.SubjectKojiEvtPrefix + ">",
	natsx.SubjectBodhiEvtPrefix + ">",
	natsx.SubjectDeadLetter,
}

// Event is one decoded message.
type Event struct {
	Subject string
	Seq     uint64
	Msg     proto.Message
}

// Observer follows the EBS stream.
type Observer struct {
	mu      sync.Mutex
	cond    *sync.Cond
	obs     world.Observation
	dead    []*ebsv1.DeadLetter
	count   int
	cc      jetstream.ConsumeContext
	onEvent func(Event)
}

// Start follows js's EBS stream from the beginning; onEvent (optional) is
// called for every decoded message, in stream order, from one goroutine.
func Start(ctx context.Context, js jetstream.JetStream, onEvent func(Event)) (*Observer, error) {
	o := &Observer{onEvent: onEvent}
	o.cond = sync.NewCond(&o.mu)
	cons, err := js.OrderedConsumer(ctx, natsx.StreamEBS, jetstream.OrderedConsumerConfig{
		FilterSubjects: Subjects, DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		return nil, fmt.Errorf("observe: ordered consumer: %w", err)
	}
	cc, err := cons.Consume(o.handle)
	if err != nil {
		return nil, fmt.Errorf("observe: consume: %w", err)
	}
	o.cc = cc
	go func() {
		<-ctx.Done()
		o.Stop()
	}()
	return o, nil
}

// Stop stops following.
func (o *Observer) Stop() {
	o.cc.Stop()
	o.mu.Lock()
	o.cond.Broadcast()
	o.mu.Unlock()
}

func (o *Observer) handle(m jetstream.Msg) {
	name := m.Headers().Get(natsx.HeaderType)
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(name))
	if err != nil {
		return // not ebs's: nothing to show
	}
	msg := mt.New().Interface()
	if err := proto.Unmarshal(m.Data(), msg); err != nil {
		return
	}
	var seq uint64
	if md, err := m.Metadata(); err == nil {
		seq = md.Sequence.Stream
	}
	o.mu.Lock()
	o.count++
	switch x := msg.(type) {
	case *ebsv1.RebuildRequest:
		o.obs.Requests = append(o.obs.Requests, x)
	case *ebsv1.BatchStarted:
		o.obs.Started = append(o.obs.Started, x)
	case *ebsv1.SliceStarted:
		o.obs.Slices = append(o.obs.Slices, x)
	case *ebsv1.BatchCompleted:
		o.obs.Completed = append(o.obs.Completed, x)
	case *ebsv1.DeadLetter:
		o.dead = append(o.dead, x)
	}
	o.cond.Broadcast()
	o.mu.Unlock()
	if o.onEvent != nil {
		o.onEvent(Event{Subject: m.Subject(), Seq: seq, Msg: msg})
	}
}

// Observation returns a copy of what was seen so far (without Koji and
// Bodhi state, which the caller adds).
func (o *Observer) Observation() world.Observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.snapshot()
}

func (o *Observer) snapshot() world.Observation {
	return world.Observation{
		Requests:  append([]*ebsv1.RebuildRequest(nil), o.obs.Requests...),
		Started:   append([]*ebsv1.BatchStarted(nil), o.obs.Started...),
		Slices:    append([]*ebsv1.SliceStarted(nil), o.obs.Slices...),
		Completed: append([]*ebsv1.BatchCompleted(nil), o.obs.Completed...),
	}
}

// DeadLetters returns the dead letters seen so far.
func (o *Observer) DeadLetters() []*ebsv1.DeadLetter {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*ebsv1.DeadLetter(nil), o.dead...)
}

// WaitFor waits until done(observation) is true or ctx ends.
func (o *Observer) WaitFor(ctx context.Context, done func(world.Observation) bool) error {
	stop := context.AfterFunc(ctx, func() {
		o.mu.Lock()
		o.cond.Broadcast()
		o.mu.Unlock()
	})
	defer stop()
	o.mu.Lock()
	defer o.mu.Unlock()
	for !done(o.snapshot()) {
		if err := ctx.Err(); err != nil {
			return err
		}
		o.cond.Wait()
	}
	return nil
}

// Closed reports whether every component in components has an outcome in
// some BatchCompleted of obs.
func Closed(obs world.Observation, components []string) bool {
	have := map[string]bool{}
	for _, bc := range obs.Completed {
		for _, oc := range bc.GetOutcomes() {
			have[oc.GetComponent()] = true
		}
	}
	for _, c := range components {
		if !have[c] {
			return false
		}
	}
	return true
}
