package natsx_test

import (
	"context"
	"errors"
	"fmt"
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

// allMessageTypes lists every message of package ebs.v1 (the whole contract).
func allMessageTypes(t *testing.T) []protoreflect.MessageType {
	t.Helper()
	_ = ebsv1.File_ebs_v1_batch_proto // link the package
	var out []protoreflect.MessageType
	protoregistry.GlobalTypes.RangeMessages(func(mt protoreflect.MessageType) bool {
		if mt.Descriptor().ParentFile().Package() == "ebs.v1" {
			out = append(out, mt)
		}
		return true
	})
	if len(out) < 40 {
		t.Fatalf("expected the whole ebs.v1 contract, found %d message types", len(out))
	}
	return out
}

// fill sets every field of m to a value derived from seed, recursing into
// messages up to depth (oneofs end up with their last case set).
func fill(m protoreflect.Message, seed int, depth int) {
	fields := m.Descriptor().Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		switch {
		case fd.IsMap():
			if depth <= 0 && fd.MapValue().Kind() == protoreflect.MessageKind {
				continue
			}
			mp := m.Mutable(fd).Map()
			k := scalar(fd.MapKey(), seed+i)
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				v := mp.NewValue()
				fill(v.Message(), seed+i, depth-1)
				mp.Set(k.MapKey(), v)
			} else {
				mp.Set(k.MapKey(), scalar(fd.MapValue(), seed+i))
			}
		case fd.IsList():
			l := m.Mutable(fd).List()
			for j := range 2 {
				if fd.Kind() == protoreflect.MessageKind {
					if depth <= 0 {
						break
					}
					v := l.NewElement()
					fill(v.Message(), seed+i+j, depth-1)
					l.Append(v)
				} else {
					l.Append(scalar(fd, seed+i+j))
				}
			}
		case fd.Kind() == protoreflect.MessageKind:
			if depth <= 0 {
				continue
			}
			fill(m.Mutable(fd).Message(), seed+i, depth-1)
		default:
			m.Set(fd, scalar(fd, seed+i))
		}
	}
}

func scalar(fd protoreflect.FieldDescriptor, n int) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(true)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		return protoreflect.ValueOfEnum(vals.Get(vals.Len() - 1).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(n + 1))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(n) + 1<<33)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(n + 1))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(uint64(n) + 1<<34)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(n) + 0.5)
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(float64(n) + 0.25)
	case protoreflect.BytesKind:
		return protoreflect.ValueOfBytes([]byte(fmt.Sprintf(`{"n":%d}`, n)))
	default:
		return protoreflect.ValueOfString(fmt.Sprintf("%s-%d", fd.Name(), n))
	}
}

func TestEveryContractMessageRoundTripsThroughJetStream(t *testing.T) {
	t.Parallel()
	c := natstest.Start(t).Provisioned(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	types := allMessageTypes(t)
	sent := map[string]proto.Message{}
	for i, mt := range types {
		m := mt.New()
		fill(m, i, 3)
		name := string(mt.Descriptor().Name())
		subject := "ebs.test." + name
		id := "roundtrip-" + name
		for range 2 { // the second publish is a duplicate
			ack, err := natsx.Publish(ctx, c.JS, subject, id, m.Interface())
			if err != nil {
				t.Fatalf("publish %s: %v", name, err)
			}
			if ack.Stream != natsx.StreamEBS {
				t.Fatalf("published to %s", ack.Stream)
			}
		}
		sent[subject] = m.Interface()
	}

	st, err := c.JS.Stream(ctx, natsx.StreamEBS)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(types)) {
		t.Fatalf("stream holds %d messages, want %d (duplicates stored once)", info.State.Msgs, len(types))
	}

	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{"ebs.test.>"}})
	if err != nil {
		t.Fatal(err)
	}
	for range types {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		want := sent[msg.Subject()]
		typeName := msg.Headers().Get(natsx.HeaderType)
		mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(typeName))
		if err != nil {
			t.Fatalf("%s: type header %q: %v", msg.Subject(), typeName, err)
		}
		got := mt.New().Interface()
		if err := proto.Unmarshal(msg.Data(), got); err != nil {
			t.Fatalf("%s: %v", msg.Subject(), err)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("%s: decoded message differs:\n got %v\nwant %v", msg.Subject(), got, want)
		}
		delete(sent, msg.Subject())
	}
	if len(sent) != 0 {
		t.Fatalf("%d messages not read back", len(sent))
	}
}

func TestPublishRequiresMsgID(t *testing.T) {
	t.Parallel()
	c := natstest.Start(t).Provisioned(t)
	_, err := natsx.Publish(context.Background(), c.JS, natsx.SubjectRebuildRequested, "", &ebsv1.RebuildRequest{})
	if !errors.Is(err, natsx.ErrNoMsgID) {
		t.Fatalf("want ErrNoMsgID, got %v", err)
	}
}

// PublishAsync stores messages in order with the same headers and
// de-duplication as Publish, and reports each one through its future.
func TestPublishAsync(t *testing.T) {
	t.Parallel()
	c := natstest.Start(t).Provisioned(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := natsx.PublishAsync(c.JS, natsx.SubjectRebuildRequested, "", &ebsv1.RebuildRequest{}); !errors.Is(err, natsx.ErrNoMsgID) {
		t.Fatalf("want ErrNoMsgID, got %v", err)
	}
	var futures []jetstream.PubAckFuture
	for i := range 50 {
		id := fmt.Sprintf("async-%d", i%40) // the last 10 are duplicates
		f, err := natsx.PublishAsync(c.JS, natsx.SubjectRebuildRequested, id, &ebsv1.RebuildRequest{RequestId: id, Component: fmt.Sprint(i)})
		if err != nil {
			t.Fatal(err)
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			if ack.Duplicate != (i >= 40) {
				t.Fatalf("publish %d: duplicate %v", i, ack.Duplicate)
			}
			if !ack.Duplicate && ack.Sequence != uint64(i+1) {
				t.Fatalf("publish %d stored at %d: out of order", i, ack.Sequence)
			}
		case err := <-f.Err():
			t.Fatalf("publish %d: %v", i, err)
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
	st, err := c.JS.Stream(ctx, natsx.StreamEBS)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.GetMsg(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	var got ebsv1.RebuildRequest
	if err := proto.Unmarshal(raw.Data, &got); err != nil || got.GetRequestId() != "async-6" ||
		raw.Header.Get(natsx.HeaderType) != "ebs.v1.RebuildRequest" || raw.Header.Get("Nats-Msg-Id") != "async-6" {
		t.Fatalf("stored %v with headers %v (%v)", &got, raw.Header, err)
	}
}

func TestVerbSubject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix string
		m      proto.Message
		want   string
	}{
		{natsx.SubjectKojiCmdPrefix, &ebsv1.KojiCommand{Verb: &ebsv1.KojiCommand_CreateSideTag{CreateSideTag: &ebsv1.CreateSideTag{}}}, "ebs.koji.cmd.create-side-tag"},
		{natsx.SubjectKojiEvtPrefix, &ebsv1.KojiEvent{Event: &ebsv1.KojiEvent_TaskFinished{TaskFinished: &ebsv1.TaskFinished{}}}, "ebs.koji.evt.task-finished"},
		{natsx.SubjectWatchCmdPrefix, &ebsv1.WatchCommand{Verb: &ebsv1.WatchCommand_WaitTagged{WaitTagged: &ebsv1.WaitTagged{}}}, "ebs.watch.cmd.wait-tagged"},
		{natsx.SubjectBodhiEvtPrefix, &ebsv1.BodhiEvent{Event: &ebsv1.BodhiEvent_UpdateCreated{UpdateCreated: &ebsv1.UpdateCreated{}}}, "ebs.bodhi.evt.update-created"},
	}
	for _, tt := range tests {
		got, err := natsx.VerbSubject(tt.prefix, tt.m)
		if err != nil || got != tt.want {
			t.Errorf("VerbSubject = %q, %v; want %q", got, err, tt.want)
		}
	}
	if _, err := natsx.VerbSubject(natsx.SubjectKojiCmdPrefix, &ebsv1.KojiCommand{}); err == nil {
		t.Error("VerbSubject with no case set should fail")
	}
}

func TestFedmsgSubject(t *testing.T) {
	t.Parallel()
	tests := []struct{ topic, prefix, want string }{
		{"org.fedoraproject.prod.buildsys.tag", "org.fedoraproject.prod", "fedmsg.buildsys.tag"},
		{"org.fedoraproject.stg.buildsys.repo.done", "org.fedoraproject.stg", "fedmsg.buildsys.repo.done"},
		{"org.centos.prod.buildsys.tag", "org.fedoraproject.prod", "fedmsg.org.centos.prod.buildsys.tag"},
	}
	for _, tt := range tests {
		if got := natsx.FedmsgSubject(tt.topic, tt.prefix); got != tt.want {
			t.Errorf("FedmsgSubject(%q) = %q, want %q", tt.topic, got, tt.want)
		}
	}
}

func TestEscapeKeyRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"gtk+", "libsigc++20", "python3.12", "rubygem-power_assert", "git+https://src.fedoraproject.org/rpms/grep.git#799f", "ok-name", ""} {
		k := natsx.EscapeKey(s)
		for _, c := range k {
			if !(c == '-' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
				t.Fatalf("EscapeKey(%q) = %q has %q", s, k, c)
			}
		}
		back, err := natsx.UnescapeKey(k)
		if err != nil || back != s {
			t.Fatalf("UnescapeKey(EscapeKey(%q)) = %q, %v", s, back, err)
		}
	}
	if _, err := natsx.UnescapeKey("bad_Z"); err == nil {
		t.Fatal("bad key accepted")
	}
}
