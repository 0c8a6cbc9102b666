package natsx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newRequest() *ebsv1.RebuildRequest { return new(ebsv1.RebuildRequest) }

// deadLetters collects ebs.deadletter messages.
func deadLetters(t *testing.T, js jetstream.JetStream, want int) []*ebsv1.DeadLetter {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, natsx.StreamEBS, jetstream.OrderedConsumerConfig{FilterSubjects: []string{natsx.SubjectDeadLetter}})
	if err != nil {
		t.Fatal(err)
	}
	var out []*ebsv1.DeadLetter
	for len(out) < want {
		m, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			t.Fatalf("waiting for %d dead letters, have %d: %v", want, len(out), err)
		}
		dl := new(ebsv1.DeadLetter)
		if err := proto.Unmarshal(m.Data(), dl); err != nil {
			t.Fatal(err)
		}
		out = append(out, dl)
	}
	return out
}

func TestConsumeAckRetryRejectAndUndecodable(t *testing.T) {
	t.Parallel()
	c := natstest.Start(t).Provisioned(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	pub := func(id, component string) {
		if _, err := natsx.Publish(ctx, c.JS, natsx.SubjectRebuildRequested, id, &ebsv1.RebuildRequest{RequestId: id, Component: component}); err != nil {
			t.Fatal(err)
		}
	}
	pub("ok", "bash")
	pub("retry", "flaky")
	pub("reject", "poison")
	// Not a RebuildRequest at all.
	if _, err := c.JS.PublishMsg(ctx, &nats.Msg{Subject: natsx.SubjectRebuildRequested, Data: []byte("\xff\xff not protobuf"),
		Header: nats.Header{nats.MsgIdHdr: []string{"garbage"}}}); err != nil {
		t.Fatal(err)
	}
	// A different contract type on this subject.
	if _, err := natsx.Publish(ctx, c.JS, natsx.SubjectRebuildRequested, "wrong-type", &ebsv1.DeadLetter{Id: "x"}); err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	seen := map[string]int{}
	done := make(chan struct{})
	go func() {
		_ = natsx.Consume(ctx, c.JS, natsx.StreamEBS, natsx.ConsumerBatcher, newRequest,
			func(ctx context.Context, d *natsx.Delivery[*ebsv1.RebuildRequest]) error {
				mu.Lock()
				seen[d.Msg.RequestId]++
				n := seen[d.Msg.RequestId]
				if seen["ok"] == 1 && seen["retry"] == 2 {
					select {
					case <-done:
					default:
						close(done)
					}
				}
				mu.Unlock()
				switch d.Msg.RequestId {
				case "retry":
					if n == 1 {
						return natsx.Retry(errors.New("not yet"), 100*time.Millisecond)
					}
				case "reject":
					return natsx.Reject(errors.New("poison pill"))
				}
				return nil
			}, natsx.ConsumeOptions{Service: "test", Logger: quiet})
	}()

	dls := deadLetters(t, c.JS, 3)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ok and retried messages were not handled")
	}
	reasons := map[string]string{}
	for _, dl := range dls {
		if dl.Service != "test" || dl.Stream != natsx.StreamEBS || dl.Subject != natsx.SubjectRebuildRequested || len(dl.Payload) == 0 {
			t.Errorf("dead letter lacks provenance: %v", dl)
		}
		reasons[dl.Headers[nats.MsgIdHdr]] = dl.Reason
	}
	for _, id := range []string{"reject", "garbage", "wrong-type"} {
		if reasons[id] == "" {
			t.Errorf("%s was not dead-lettered (have %v)", id, reasons)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if seen["ok"] != 1 || seen["retry"] != 2 || seen["reject"] != 1 {
		t.Fatalf("deliveries: %v", seen)
	}
}

func TestConsumeDeadLettersAfterMaxDeliver(t *testing.T) {
	t.Parallel()
	c := natstest.Start(t).Provisioned(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := natsx.Publish(ctx, c.JS, natsx.SubjectRebuildRequested, "always-fails", &ebsv1.RebuildRequest{RequestId: "always-fails"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	calls := 0
	go func() {
		_ = natsx.Consume(ctx, c.JS, natsx.StreamEBS, natsx.ConsumerBatcher, newRequest,
			func(ctx context.Context, d *natsx.Delivery[*ebsv1.RebuildRequest]) error {
				mu.Lock()
				calls++
				mu.Unlock()
				return errors.New("koji is down")
			}, natsx.ConsumeOptions{Service: "test", Logger: quiet, Backoff: func(uint64) time.Duration { return time.Millisecond }})
	}()
	dls := deadLetters(t, c.JS, 1)
	def, _ := natsx.ConsumerFor(natsx.StreamEBS, natsx.ConsumerBatcher)
	if dls[0].Deliveries != uint64(def.MaxDeliver) {
		t.Fatalf("dead-lettered after %d deliveries, want %d", dls[0].Deliveries, def.MaxDeliver)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != def.MaxDeliver {
		t.Fatalf("handler ran %d times, want %d", calls, def.MaxDeliver)
	}
}

func TestProvisionIsIdempotent(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	c := srv.Provisioned(t)
	ctx := context.Background()
	if _, err := natsx.Publish(ctx, c.JS, natsx.SubjectRebuildRequested, "keep-me", &ebsv1.RebuildRequest{}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := natsx.Provision(ctx, c.JS, natsx.ProvisionOptions{}); err != nil {
			t.Fatalf("second provision: %v", err)
		}
	}
	st, _ := c.JS.Stream(ctx, natsx.StreamEBS)
	info, _ := st.Info(ctx)
	if info.State.Msgs != 1 {
		t.Fatalf("re-provisioning changed the stream: %d messages", info.State.Msgs)
	}
	for _, b := range natsx.Buckets {
		if _, err := c.KV(ctx, b.Bucket); err != nil {
			t.Errorf("bucket %s: %v", b.Bucket, err)
		}
	}
	for _, d := range natsx.Consumers {
		if _, err := c.JS.Consumer(ctx, d.Stream, d.Durable); err != nil {
			t.Errorf("consumer %s/%s: %v", d.Stream, d.Durable, err)
		}
	}
}

func TestProtoKVMutateAndWatch(t *testing.T) {
	t.Parallel()
	c := natstest.Start(t).Provisioned(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, _ := c.KV(ctx, natsx.BucketPending)
	p := natsx.NewProtoKV(kv, func() *ebsv1.PendingRequest { return new(ebsv1.PendingRequest) })
	key := natsx.EscapeKey("gtk+")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, _, err := p.Mutate(ctx, key, func(v *ebsv1.PendingRequest, _ bool) error {
				v.Superseded = append(v.Superseded, string(rune('a'+i)))
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	v, _, err := p.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Superseded) != 8 {
		t.Fatalf("concurrent mutations lost updates: %v", v.Superseded)
	}
	ch, err := p.Watch(ctx, []string{key}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := <-ch; e.Key != key || len(e.Value.Superseded) != 8 {
		t.Fatalf("watch initial value: %+v", e)
	}
	if err := p.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if e := <-ch; e.Op != jetstream.KeyValueDelete {
		t.Fatalf("watch delete: %+v", e)
	}
	list, err := p.List(ctx)
	if err != nil || len(list) != 0 {
		t.Fatalf("list after delete: %v %v", list, err)
	}
}

// OnDeadLetter sees the decoded message (nil for undecodable data) before the
// dead letter is written; when it fails, the message stays and comes back.
func TestConsumeOnDeadLetterHook(t *testing.T) {
	t.Parallel()
	c := natstest.Start(t).Provisioned(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := natsx.Publish(ctx, c.JS, natsx.SubjectRebuildRequested, "poison", &ebsv1.RebuildRequest{RequestId: "poison"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.JS.PublishMsg(ctx, &nats.Msg{Subject: natsx.SubjectRebuildRequested, Data: []byte("\xff\xff"),
		Header: nats.Header{nats.MsgIdHdr: []string{"garbage"}}}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var hooked []string
	failOnce := true
	go func() {
		_ = natsx.Consume(ctx, c.JS, natsx.StreamEBS, natsx.ConsumerBatcher, newRequest,
			func(context.Context, *natsx.Delivery[*ebsv1.RebuildRequest]) error {
				return natsx.Reject(errors.New("poison pill"))
			}, natsx.ConsumeOptions{Service: "test", Logger: quiet,
				OnDeadLetter: func(_ context.Context, m proto.Message, reason string) error {
					mu.Lock()
					defer mu.Unlock()
					name := "<nil>"
					if r, ok := m.(*ebsv1.RebuildRequest); ok {
						name = r.GetRequestId()
					}
					hooked = append(hooked, name)
					if name == "poison" && failOnce {
						failOnce = false
						return errors.New("results bucket unavailable")
					}
					return nil
				}})
	}()
	dls := deadLetters(t, c.JS, 2)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(hooked) != "[poison <nil> poison]" && fmt.Sprint(hooked) != "[<nil> poison poison]" && fmt.Sprint(hooked) != "[poison poison <nil>]" {
		t.Fatalf("hook calls %v: want poison twice (the first failed, so it came back) and nil once", hooked)
	}
	if len(dls) != 2 {
		t.Fatalf("dead letters %d", len(dls))
	}
}
