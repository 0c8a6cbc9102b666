package natsx_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// everyCase returns one envelope per case of m's verb/event oneof: the
// envelope's own fields filled, exactly that case set (and filled).
func everyCase[T proto.Message](t *testing.T, newT func() T) []T {
	t.Helper()
	d := newT().ProtoReflect().Descriptor()
	oneof := d.Oneofs().ByName("verb")
	if oneof == nil {
		oneof = d.Oneofs().ByName("event")
	}
	if oneof == nil || oneof.Fields().Len() == 0 {
		t.Fatalf("%s has no verb/event oneof", d.FullName())
	}
	var out []T
	for i := 0; i < oneof.Fields().Len(); i++ {
		env := newT()
		r := env.ProtoReflect()
		fill(r, 100+i, 3)
		for j := 0; j < oneof.Fields().Len(); j++ {
			r.Clear(oneof.Fields().Get(j))
		}
		fill(r.Mutable(oneof.Fields().Get(i)).Message(), 200+i, 3)
		out = append(out, env)
	}
	return out
}

// family publishes every case of one command or event envelope on its real
// subject (natsx.VerbSubject) and reads them back: commands through their
// service's durable consumer with natsx.Consume, events through an ordered
// consumer on the family's subjects, decoded by the Ebs-Type header.
type family struct {
	name    string
	prefix  string
	durable string // "" for events
	cases   func(t *testing.T) []proto.Message
	consume func(ctx context.Context, js jetstream.JetStream, got func(subject string, m proto.Message)) error
}

func asMessages[T proto.Message](ms []T) []proto.Message {
	out := make([]proto.Message, len(ms))
	for i, m := range ms {
		out[i] = m
	}
	return out
}

func commandFamily[T proto.Message](name, prefix, durable string, newT func() T) family {
	return family{
		name: name, prefix: prefix, durable: durable,
		cases: func(t *testing.T) []proto.Message { return asMessages(everyCase(t, newT)) },
		consume: func(ctx context.Context, js jetstream.JetStream, got func(string, proto.Message)) error {
			return natsx.Consume(ctx, js, natsx.StreamEBS, durable, newT, func(_ context.Context, d *natsx.Delivery[T]) error {
				got(d.Subject, d.Msg)
				return nil
			}, natsx.ConsumeOptions{Service: "test"})
		},
	}
}

func eventFamily[T proto.Message](name, prefix string, newT func() T) family {
	return family{
		name: name, prefix: prefix,
		cases: func(t *testing.T) []proto.Message { return asMessages(everyCase(t, newT)) },
		consume: func(ctx context.Context, js jetstream.JetStream, got func(string, proto.Message)) error {
			cons, err := js.OrderedConsumer(ctx, natsx.StreamEBS, jetstream.OrderedConsumerConfig{FilterSubjects: []string{prefix + ">"}})
			if err != nil {
				return err
			}
			for ctx.Err() == nil {
				msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
				if err != nil {
					continue
				}
				mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(msg.Headers().Get(natsx.HeaderType)))
				if err != nil {
					return err
				}
				m := mt.New().Interface()
				if err := proto.Unmarshal(msg.Data(), m); err != nil {
					return err
				}
				got(msg.Subject(), m)
			}
			return nil
		},
	}
}

// TestEveryVerbAndEventOnItsSubject publishes every oneof case of every
// command and event envelope on the subject the services use, and reads
// each back equal through the consumer that serves it in production.
func TestEveryVerbAndEventOnItsSubject(t *testing.T) {
	t.Parallel()
	families := []family{
		commandFamily("koji commands", natsx.SubjectKojiCmdPrefix, natsx.ConsumerKojiWorkerCmd, func() *ebsv1.KojiCommand { return new(ebsv1.KojiCommand) }),
		commandFamily("watch commands", natsx.SubjectWatchCmdPrefix, natsx.ConsumerRepoWatcherCmd, func() *ebsv1.WatchCommand { return new(ebsv1.WatchCommand) }),
		commandFamily("bodhi commands", natsx.SubjectBodhiCmdPrefix, natsx.ConsumerBodhiPublisher, func() *ebsv1.BodhiCommand { return new(ebsv1.BodhiCommand) }),
		eventFamily("koji events", natsx.SubjectKojiEvtPrefix, func() *ebsv1.KojiEvent { return new(ebsv1.KojiEvent) }),
		eventFamily("watch events", natsx.SubjectWatchEvtPrefix, func() *ebsv1.WatchEvent { return new(ebsv1.WatchEvent) }),
		eventFamily("bodhi events", natsx.SubjectBodhiEvtPrefix, func() *ebsv1.BodhiEvent { return new(ebsv1.BodhiEvent) }),
	}
	for _, f := range families {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			c := natstest.Start(t).Provisioned(t)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			sent := map[string]proto.Message{}
			for _, m := range f.cases(t) {
				subject, err := natsx.VerbSubject(f.prefix, m)
				if err != nil {
					t.Fatal(err)
				}
				if verb := strings.TrimPrefix(subject, f.prefix); verb == "" || strings.ContainsAny(verb, "._ ") {
					t.Fatalf("subject %q: the verb must be one kebab-case token", subject)
				}
				if _, dup := sent[subject]; dup {
					t.Fatalf("two cases share subject %s", subject)
				}
				if _, err := natsx.Publish(ctx, c.JS, subject, "case-"+subject, m); err != nil {
					t.Fatalf("publish %s: %v", subject, err)
				}
				sent[subject] = m
			}

			var mu sync.Mutex
			received := map[string]proto.Message{}
			cctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() {
				done <- f.consume(cctx, c.JS, func(subject string, m proto.Message) {
					mu.Lock()
					defer mu.Unlock()
					received[subject] = m
					if len(received) == len(sent) {
						stop()
					}
				})
			}()
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-ctx.Done():
				t.Fatal("timed out reading the messages back")
			}
			mu.Lock()
			defer mu.Unlock()
			if len(received) != len(sent) {
				t.Fatalf("read back %d of %d cases", len(received), len(sent))
			}
			for subject, want := range sent {
				if got := received[subject]; !proto.Equal(got, want) {
					t.Errorf("%s: decoded differs:\n got %v\nwant %v", subject, got, want)
				}
			}
		})
	}
}
