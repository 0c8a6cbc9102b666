package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// IntentPrefix prefixes intent keys in KV ebs_results.
const IntentPrefix = "intent."

// Results is KV ebs_results: command outcomes by command id, plus intents.
type Results struct {
	kv      *natsx.ProtoKV[*ebsv1.CommandResult]
	intents *natsx.ProtoKV[*ebsv1.CommandIntent]
}

// NewResults wraps the ebs_results bucket.
func NewResults(kv jetstream.KeyValue) *Results {
	return &Results{
		kv:      natsx.NewProtoKV(kv, func() *ebsv1.CommandResult { return new(ebsv1.CommandResult) }),
		intents: natsx.NewProtoKV(kv, func() *ebsv1.CommandIntent { return new(ebsv1.CommandIntent) }),
	}
}

// OpenResults opens the provisioned ebs_results bucket of conn.
func OpenResults(ctx context.Context, js jetstream.JetStream) (*Results, error) {
	kv, err := js.KeyValue(ctx, natsx.BucketResults)
	if err != nil {
		return nil, fmt.Errorf("commands: open %s: %w", natsx.BucketResults, err)
	}
	return NewResults(kv), nil
}

// Get returns the recorded result of command id, or ok=false.
func (r *Results) Get(ctx context.Context, id string) (*ebsv1.CommandResult, bool, error) {
	res, _, err := r.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return res, true, nil
}

// Record stores res as the result of command id unless one is already
// recorded, and returns the result that is recorded now (res, or the earlier
// one a concurrent delivery wrote). created reports whether res was stored.
func (r *Results) Record(ctx context.Context, id string, res *ebsv1.CommandResult) (stored *ebsv1.CommandResult, created bool, err error) {
	if _, err := r.kv.Create(ctx, id, res); err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return nil, false, fmt.Errorf("commands: record %s: %w", id, err)
		}
		prev, ok, gerr := r.Get(ctx, id)
		if gerr != nil {
			return nil, false, gerr
		}
		if !ok {
			return nil, false, fmt.Errorf("commands: record %s: key exists but cannot be read", id)
		}
		return prev, false, nil
	}
	return res, true, nil
}

// Await returns the result of command id, waiting for it to be recorded
// (get, then watch) until ctx ends.
func (r *Results) Await(ctx context.Context, id string) (*ebsv1.CommandResult, error) {
	if res, ok, err := r.Get(ctx, id); err != nil || ok {
		return res, err
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch, err := r.kv.Watch(wctx, []string{id}, nil)
	if err != nil {
		return nil, err
	}
	for e := range ch {
		if e.Op == jetstream.KeyValuePut {
			return e.Value, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("commands: watch of %s ended", id)
}

// GetIntent returns the intent recorded for command id, or ok=false.
func (r *Results) GetIntent(ctx context.Context, id string) (*ebsv1.CommandIntent, bool, error) {
	in, _, err := r.intents.Get(ctx, IntentPrefix+id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return in, true, nil
}

// PutIntent records (or replaces) the intent of command id.
func (r *Results) PutIntent(ctx context.Context, in *ebsv1.CommandIntent) error {
	_, err := r.intents.Put(ctx, IntentPrefix+in.GetCommandId(), in)
	return err
}

// Issue publishes cmd on subject with Nats-Msg-Id id (a re-issue within the
// stream's de-duplication window is stored once) and waits for its result.
// A result already recorded is returned without publishing.
func (r *Results) Issue(ctx context.Context, js jetstream.JetStream, subject, id string, cmd proto.Message) (*ebsv1.CommandResult, error) {
	if res, ok, err := r.Get(ctx, id); err != nil || ok {
		return res, err
	}
	if _, err := natsx.Publish(ctx, js, subject, id, cmd); err != nil {
		return nil, err
	}
	return r.Await(ctx, id)
}

// Publish publishes cmd without waiting (see Issue), unless a result exists.
func (r *Results) Publish(ctx context.Context, js jetstream.JetStream, subject, id string, cmd proto.Message) error {
	if _, ok, err := r.Get(ctx, id); err != nil || ok {
		return err
	}
	_, err := natsx.Publish(ctx, js, subject, id, cmd)
	return err
}

// EventMsgID is the Nats-Msg-Id of the event that reports command id's
// outcome (distinct from the command's own id: the stream de-duplicates
// across subjects).
func EventMsgID(commandID string) string { return commandID + ".result" }

// ID joins the parts of a command id with dots: ID(b, "build", 1, 2).
func ID(parts ...any) string {
	s := make([]string, len(parts))
	for i, p := range parts {
		switch v := p.(type) {
		case string:
			s[i] = v
		case int:
			s[i] = strconv.Itoa(v)
		case int32:
			s[i] = strconv.Itoa(int(v))
		case int64:
			s[i] = strconv.FormatInt(v, 10)
		default:
			s[i] = fmt.Sprint(v)
		}
	}
	return strings.Join(s, ".")
}

// NewBatchID returns a sortable, unique batch id: b-20261126T101500Z-1a2b.
func NewBatchID(now time.Time) string {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return "b-" + now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// ValidID reports whether id can be a key of ebs_results (KV key rules:
// letters, digits and -/_=. , not starting or ending with a dot).
func ValidID(id string) bool {
	if id == "" || id[0] == '.' || id[len(id)-1] == '.' {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c == '-' || c == '/' || c == '_' || c == '=' || c == '.' ||
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
		if !ok || (c == '.' && i > 0 && id[i-1] == '.') {
			return false
		}
	}
	return true
}

// DeadLettered is the error of a CommandFailed recorded for a command that
// its worker dead-lettered: the issuer learns the command failed for good
// instead of waiting for a result that never comes.
func DeadLettered(reason string) error {
	return fmt.Errorf("dead-lettered by the worker: %s", reason)
}
