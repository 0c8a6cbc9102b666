package natsx

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
)

// ProtoKV stores protobuf values of one type in a KV bucket.
type ProtoKV[T proto.Message] struct {
	KV   jetstream.KeyValue
	newT func() T
}

// NewProtoKV wraps kv; newT returns an empty T.
func NewProtoKV[T proto.Message](kv jetstream.KeyValue, newT func() T) *ProtoKV[T] {
	return &ProtoKV[T]{KV: kv, newT: newT}
}

// Entry is a decoded KV entry.
type Entry[T proto.Message] struct {
	Key      string
	Value    T
	Revision uint64
	// Op is jetstream.KeyValuePut, or KeyValueDelete / KeyValuePurge (Value empty).
	Op jetstream.KeyValueOp
}

// Get returns the value of key. A missing or deleted key gives jetstream.ErrKeyNotFound.
func (p *ProtoKV[T]) Get(ctx context.Context, key string) (T, uint64, error) {
	var zero T
	e, err := p.KV.Get(ctx, key)
	if err != nil {
		return zero, 0, fmt.Errorf("natsx: get %s/%s: %w", p.KV.Bucket(), key, err)
	}
	v, err := p.decode(e.Value())
	if err != nil {
		return zero, 0, fmt.Errorf("natsx: decode %s/%s: %w", p.KV.Bucket(), key, err)
	}
	return v, e.Revision(), nil
}

func (p *ProtoKV[T]) decode(b []byte) (T, error) {
	v := p.newT()
	if err := proto.Unmarshal(b, v); err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

// Put writes key unconditionally.
func (p *ProtoKV[T]) Put(ctx context.Context, key string, v T) (uint64, error) {
	b, err := proto.Marshal(v)
	if err != nil {
		return 0, err
	}
	rev, err := p.KV.Put(ctx, key, b)
	if err != nil {
		return 0, fmt.Errorf("natsx: put %s/%s: %w", p.KV.Bucket(), key, err)
	}
	return rev, nil
}

// Create writes key only if it does not exist (jetstream.ErrKeyExists otherwise).
func (p *ProtoKV[T]) Create(ctx context.Context, key string, v T) (uint64, error) {
	b, err := proto.Marshal(v)
	if err != nil {
		return 0, err
	}
	rev, err := p.KV.Create(ctx, key, b)
	if err != nil {
		return 0, fmt.Errorf("natsx: create %s/%s: %w", p.KV.Bucket(), key, err)
	}
	return rev, nil
}

// Update writes key only if its revision is still rev
// (jetstream.ErrKeyRevisionMismatch otherwise).
func (p *ProtoKV[T]) Update(ctx context.Context, key string, v T, rev uint64) (uint64, error) {
	b, err := proto.Marshal(v)
	if err != nil {
		return 0, err
	}
	nrev, err := p.KV.Update(ctx, key, b, rev)
	if err != nil {
		return 0, fmt.Errorf("natsx: update %s/%s: %w", p.KV.Bucket(), key, err)
	}
	return nrev, nil
}

// Delete removes key (no error if it is absent).
func (p *ProtoKV[T]) Delete(ctx context.Context, key string) error {
	if err := p.KV.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("natsx: delete %s/%s: %w", p.KV.Bucket(), key, err)
	}
	return nil
}

// Mutate applies f to the current value of key (a new T when absent) and
// writes the result with a revision check, retrying on conflicts. f may
// return ErrNoChange to write nothing.
func (p *ProtoKV[T]) Mutate(ctx context.Context, key string, f func(v T, exists bool) error) (T, uint64, error) {
	for {
		cur, rev, err := p.Get(ctx, key)
		exists := err == nil
		if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			var zero T
			return zero, 0, err
		}
		if !exists {
			cur = p.newT()
		}
		if err := f(cur, exists); err != nil {
			if errors.Is(err, ErrNoChange) {
				return cur, rev, nil
			}
			var zero T
			return zero, 0, err
		}
		if exists {
			rev, err = p.Update(ctx, key, cur, rev)
		} else {
			rev, err = p.Create(ctx, key, cur)
		}
		if err == nil {
			return cur, rev, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyExists) {
			var zero T
			return zero, 0, err
		}
		if ctx.Err() != nil {
			var zero T
			return zero, 0, ctx.Err()
		}
	}
}

// ErrNoChange tells Mutate to leave the value as it is.
var ErrNoChange = errors.New("natsx: no change")

// List returns every live entry whose key matches one of the filters
// (subject wildcards; none means all).
func (p *ProtoKV[T]) List(ctx context.Context, filters ...string) ([]Entry[T], error) {
	if len(filters) == 0 {
		filters = []string{">"}
	}
	w, err := p.KV.WatchFiltered(ctx, filters, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("natsx: list %s: %w", p.KV.Bucket(), err)
	}
	defer w.Stop()
	var out []Entry[T]
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-w.Updates():
			if !ok {
				return out, nil
			}
			if e == nil { // end of initial values
				return out, nil
			}
			v, err := p.decode(e.Value())
			if err != nil {
				return nil, fmt.Errorf("natsx: decode %s/%s: %w", p.KV.Bucket(), e.Key(), err)
			}
			out = append(out, Entry[T]{Key: e.Key(), Value: v, Revision: e.Revision(), Op: e.Operation()})
		}
	}
}

// Watch streams the current entries matching filters, then every change,
// until ctx ends. The channel closes when ctx ends. A nil-Key entry is never
// sent; deletes arrive with Op set and an empty Value. Undecodable values are
// skipped (and reported through onError when it is set).
func (p *ProtoKV[T]) Watch(ctx context.Context, filters []string, onError func(key string, err error)) (<-chan Entry[T], error) {
	if len(filters) == 0 {
		filters = []string{">"}
	}
	w, err := p.KV.WatchFiltered(ctx, filters)
	if err != nil {
		return nil, fmt.Errorf("natsx: watch %s: %w", p.KV.Bucket(), err)
	}
	out := make(chan Entry[T], 64)
	go func() {
		defer close(out)
		defer w.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e == nil {
					continue
				}
				ent := Entry[T]{Key: e.Key(), Revision: e.Revision(), Op: e.Operation(), Value: p.newT()}
				if e.Operation() == jetstream.KeyValuePut {
					v, err := p.decode(e.Value())
					if err != nil {
						if onError != nil {
							onError(e.Key(), err)
						}
						continue
					}
					ent.Value = v
				}
				select {
				case out <- ent:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// EscapeKey turns an arbitrary name (an ELN component, an SCM URL) into a
// single-token KV key: letters, digits and '-' stay, every other byte
// becomes '_' and two hex digits. UnescapeKey reverses it.
func EscapeKey(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "_%02X", c)
	}
	return b.String()
}

// UnescapeKey reverses EscapeKey.
func UnescapeKey(k string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(k); i++ {
		if k[i] != '_' {
			b.WriteByte(k[i])
			continue
		}
		if i+3 > len(k) {
			return "", fmt.Errorf("natsx: bad escaped key %q", k)
		}
		c, err := strconv.ParseUint(k[i+1:i+3], 16, 8)
		if err != nil {
			return "", fmt.Errorf("natsx: bad escaped key %q: %w", k, err)
		}
		b.WriteByte(byte(c))
		i += 2
	}
	return b.String(), nil
}
