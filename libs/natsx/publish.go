package natsx

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Headers ebs sets on every message it publishes.
const (
	HeaderType        = "Ebs-Type" // full protobuf message name
	HeaderContentType = "Content-Type"
	ContentTypeProto  = "application/protobuf"
)

// ErrNoMsgID is returned when a publish has no de-duplication id.
var ErrNoMsgID = errors.New("natsx: publish needs a Nats-Msg-Id")

// Publish marshals m and publishes it to subject with Nats-Msg-Id msgID, and
// waits for the stream's PubAck. A duplicate id inside the stream's
// de-duplication window is stored once; the returned ack then has Duplicate set.
func Publish(ctx context.Context, js jetstream.JetStream, subject, msgID string, m proto.Message) (*jetstream.PubAck, error) {
	msg, err := newMsg(subject, msgID, m)
	if err != nil {
		return nil, err
	}
	ack, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(msgID))
	if err != nil {
		return nil, fmt.Errorf("natsx: publish %s (id %s): %w", subject, msgID, err)
	}
	return ack, nil
}

// PublishAsync is Publish without waiting: the returned future resolves
// with the stream's PubAck (or an error). Publishes on one connection are
// stored in the order they were made. A caller that must not lose the
// message acts on it (acks its source) only once the future says Ok.
func PublishAsync(js jetstream.JetStream, subject, msgID string, m proto.Message) (jetstream.PubAckFuture, error) {
	msg, err := newMsg(subject, msgID, m)
	if err != nil {
		return nil, err
	}
	f, err := js.PublishMsgAsync(msg, jetstream.WithMsgID(msgID))
	if err != nil {
		return nil, fmt.Errorf("natsx: publish %s (id %s): %w", subject, msgID, err)
	}
	return f, nil
}

func newMsg(subject, msgID string, m proto.Message) (*nats.Msg, error) {
	if msgID == "" {
		return nil, fmt.Errorf("%w (subject %s)", ErrNoMsgID, subject)
	}
	data, err := proto.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("natsx: marshal %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header.Set(HeaderType, string(m.ProtoReflect().Descriptor().FullName()))
	msg.Header.Set(HeaderContentType, ContentTypeProto)
	return msg, nil
}

// VerbSubject returns prefix + the kebab-case name of the set case of m's
// oneof named "verb" or "event" (e.g. KojiCommand{CreateSideTag} ->
// "ebs.koji.cmd.create-side-tag"). It fails when no case is set.
func VerbSubject(prefix string, m proto.Message) (string, error) {
	v, err := OneofCase(m)
	if err != nil {
		return "", err
	}
	return prefix + v, nil
}

// OneofCase returns the kebab-case name of the set case of m's first oneof.
func OneofCase(m proto.Message) (string, error) {
	r := m.ProtoReflect()
	oneofs := r.Descriptor().Oneofs()
	for i := 0; i < oneofs.Len(); i++ {
		var fd protoreflect.FieldDescriptor = r.WhichOneof(oneofs.Get(i))
		if fd != nil {
			return strings.ReplaceAll(string(fd.Name()), "_", "-"), nil
		}
	}
	return "", fmt.Errorf("natsx: %s has no oneof case set", r.Descriptor().FullName())
}
