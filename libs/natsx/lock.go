package natsx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Lock errors.
var (
	// ErrLockHeld: another holder has the lock (TryAcquire).
	ErrLockHeld = errors.New("natsx: lock held by another holder")
	// ErrLockLost: the lease expired or was taken over; the holder must stop.
	ErrLockLost = errors.New("natsx: lock lost")
	// ErrLockReleased: the holder released the lease.
	ErrLockReleased = errors.New("natsx: lock released")
)

// LockOptions configure a lease lock.
type LockOptions struct {
	// Holder identifies the holder in the lock value (host/pid/uuid).
	Holder string
	// TTL after which an un-renewed lease expires on the server. Default 15 s.
	TTL time.Duration
	// Renew is how often the holder renews. Default TTL/3.
	Renew  time.Duration
	Logger *slog.Logger
}

// LockValue is what the lock key holds (JSON), for operators and logs.
type LockValue struct {
	Holder     string    `json:"holder"`
	AcquiredAt time.Time `json:"acquired_at"`
	RenewedAt  time.Time `json:"renewed_at"`
}

// Lease is a held lock. Its Context is cancelled, with cause ErrLockLost or
// ErrLockReleased, as soon as the lease is no longer held: work done under the
// lock must run under that context.
type Lease struct {
	kv     jetstream.KeyValue
	js     jetstream.JetStream
	key    string
	opts   LockOptions
	ctx    context.Context
	cancel context.CancelCauseFunc
	done   chan struct{}

	paused atomic.Bool // test hook: a hung holder

	mu       sync.Mutex
	rev      uint64
	acquired time.Time
}

// TryAcquire takes the lock key in bucket kv if nobody holds it (create-if-
// absent with a per-key TTL), or returns ErrLockHeld. The bucket must have
// LimitMarkerTTL set (BucketLock has). parent bounds the lease's life.
func TryAcquire(parent context.Context, js jetstream.JetStream, kv jetstream.KeyValue, key string, o LockOptions) (*Lease, error) {
	if o.TTL <= 0 {
		o.TTL = 15 * time.Second
	}
	if o.Renew <= 0 {
		o.Renew = o.TTL / 3
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	now := time.Now().UTC()
	val, _ := json.Marshal(LockValue{Holder: o.Holder, AcquiredAt: now, RenewedAt: now})
	rev, err := kv.Create(parent, key, val, jetstream.KeyTTL(o.TTL))
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, ErrLockHeld
		}
		return nil, fmt.Errorf("natsx: acquire lock %s: %w", key, err)
	}
	ctx, cancel := context.WithCancelCause(parent)
	l := &Lease{kv: kv, js: js, key: key, opts: o, ctx: ctx, cancel: cancel,
		done: make(chan struct{}), rev: rev, acquired: now}
	go l.keepAlive()
	return l, nil
}

// Acquire waits until the lock is taken or ctx ends.
func Acquire(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, key string, o LockOptions) (*Lease, error) {
	if o.TTL <= 0 {
		o.TTL = 15 * time.Second
	}
	for {
		l, err := TryAcquire(ctx, js, kv, key, o)
		if err == nil {
			return l, nil
		}
		if !errors.Is(err, ErrLockHeld) && o.Logger != nil {
			o.Logger.Warn("lock acquire failed, retrying", "key", key, "error", err)
		}
		if err := waitForRelease(ctx, kv, key, o.TTL/2); err != nil {
			return nil, err
		}
	}
}

// waitForRelease returns when key is deleted or expires, or after at most d.
func waitForRelease(ctx context.Context, kv jetstream.KeyValue, key string, d time.Duration) error {
	wctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	w, err := kv.Watch(wctx, key, jetstream.UpdatesOnly())
	if err != nil {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wctx.Done():
			return nil
		}
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-wctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e != nil && e.Operation() != jetstream.KeyValuePut {
				return nil
			}
		}
	}
}

// Context is cancelled when the lease ends; context.Cause says why.
func (l *Lease) Context() context.Context { return l.ctx }

// Lost is closed when the lease is no longer held, however that happened.
func (l *Lease) Lost() <-chan struct{} { return l.ctx.Done() }

// Err returns nil while held, else ErrLockLost or ErrLockReleased.
func (l *Lease) Err() error {
	if l.ctx.Err() == nil {
		return nil
	}
	return context.Cause(l.ctx)
}

// Revision is the lock key's revision the holder last wrote.
func (l *Lease) Revision() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rev
}

func (l *Lease) keepAlive() {
	defer close(l.done)
	log := l.opts.Logger.With("component", "lock", "key", l.key, "holder", l.opts.Holder)
	lastOK := l.acquired
	t := time.NewTicker(l.opts.Renew)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		var err error
		if l.paused.Load() {
			err = errors.New("renewal paused")
		} else {
			err = l.renew(l.ctx)
		}
		switch {
		case err == nil:
			lastOK = start
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch), errors.Is(err, jetstream.ErrKeyNotFound):
			log.Error("lock lost: someone else holds it or it expired", "error", err)
			l.cancel(ErrLockLost)
			return
		default:
			// The server counts the TTL from a renewal it stored, which was
			// sent after lastOK. Give up a renewal period before the server
			// can expire the lease, so that two holders never overlap.
			if time.Since(lastOK) >= l.opts.TTL-l.opts.Renew {
				log.Error("lock lost: could not renew within the TTL", "error", err)
				l.cancel(ErrLockLost)
				return
			}
			log.Warn("lock renewal failed, retrying", "error", err)
		}
	}
}

// renew rewrites the key with a fresh TTL, only if our revision is still the latest.
func (l *Lease) renew(parent context.Context) error {
	l.mu.Lock()
	rev := l.rev
	l.mu.Unlock()
	val, _ := json.Marshal(LockValue{Holder: l.opts.Holder, AcquiredAt: l.acquired, RenewedAt: time.Now().UTC()})
	ctx, cancel := context.WithTimeout(parent, l.opts.Renew)
	defer cancel()
	msg := &nats.Msg{Subject: "$KV." + l.kv.Bucket() + "." + l.key, Data: val}
	ack, err := l.js.PublishMsg(ctx, msg,
		jetstream.WithExpectLastSequencePerSubject(rev), jetstream.WithMsgTTL(l.opts.TTL))
	if err != nil {
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
			apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return fmt.Errorf("%w: %w", err, jetstream.ErrKeyRevisionMismatch)
		}
		return err
	}
	l.mu.Lock()
	l.rev = ack.Sequence
	l.mu.Unlock()
	return nil
}

// Release deletes the lock if this lease still holds it. A stale holder
// (whose lease expired and was taken over) gets ErrLockLost and changes nothing.
func (l *Lease) Release(ctx context.Context) error {
	if l.ctx.Err() != nil {
		<-l.done
		if errors.Is(context.Cause(l.ctx), ErrLockReleased) {
			return nil
		}
		return ErrLockLost
	}
	l.cancel(ErrLockReleased)
	<-l.done
	l.mu.Lock()
	rev := l.rev
	l.mu.Unlock()
	if err := l.kv.Delete(ctx, l.key, jetstream.LastRevision(rev)); err != nil {
		if isWrongLastSeqErr(err) {
			return ErrLockLost
		}
		return fmt.Errorf("natsx: release lock %s: %w", l.key, err)
	}
	return nil
}

func isWrongLastSeqErr(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// MinRoundTTL is the shortest round ClaimRound can hold (the server's
// per-message TTL has a one-second resolution).
const MinRoundTTL = time.Second

// ClaimRound claims one round of a periodic job that every replica of a
// service runs (polling Koji, following Bodhi updates): the first caller
// gets true and the key lives for ttl (at least MinRoundTTL); everyone else
// gets false until it expires on the server. So adding replicas does not
// multiply the calls to Koji or Bodhi, and a replica that dies mid-round only
// delays the next one. The bucket must allow per-key TTLs (BucketLock does).
func ClaimRound(ctx context.Context, kv jetstream.KeyValue, key, holder string, ttl time.Duration) (bool, error) {
	_, err := kv.Create(ctx, key, []byte(holder), jetstream.KeyTTL(max(ttl, MinRoundTTL)))
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyExists):
		return false, nil
	default:
		return false, fmt.Errorf("natsx: claim round %s: %w", key, err)
	}
}

// Round is a periodic job shared by the replicas of a service (see ClaimRound).
type Round struct {
	KV     jetstream.KeyValue // BucketLock
	Key    string
	Holder string
	Log    *slog.Logger
}

// NewRound opens BucketLock for a round named key, held as holder (default:
// host name and pid).
func NewRound(ctx context.Context, js jetstream.JetStream, key, holder string, log *slog.Logger) (*Round, error) {
	kv, err := js.KeyValue(ctx, BucketLock)
	if err != nil {
		return nil, fmt.Errorf("natsx: open %s: %w", BucketLock, err)
	}
	if holder == "" {
		host, _ := os.Hostname()
		holder = fmt.Sprintf("%s/%d", host, os.Getpid())
	}
	if log == nil {
		log = slog.Default()
	}
	return &Round{KV: kv, Key: key, Holder: holder, Log: log}, nil
}

// Mine reports whether this replica runs the round that starts now. On a
// NATS error it answers yes: an extra poll is better than a missed one.
func (r *Round) Mine(ctx context.Context, interval time.Duration) bool {
	if r == nil {
		return true
	}
	// Expire a little before the next round, so clock jitter between
	// replicas never makes a round that nobody may run.
	ok, err := ClaimRound(ctx, r.KV, r.Key, r.Holder, interval*9/10)
	if err != nil {
		r.Log.Warn("could not claim the poll round; polling anyway", "key", r.Key, "error", err)
		return true
	}
	return ok
}

// Loop runs a shared periodic job until ctx ends: poll at start-up (always:
// a replica that just started checks what it holds) and then once per
// interval in whichever replica claims the round; tick (nil: none) runs
// every tickEvery in every replica, for local work such as deadlines. A
// nil Round polls every interval (a single replica).
func (r *Round) Loop(ctx context.Context, interval, tickEvery time.Duration, poll, tick func(ctx context.Context)) {
	if tick == nil || tickEvery <= 0 || tickEvery > interval {
		tickEvery = interval
	}
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	var last time.Time
	for {
		// Half a tick of slack: ticks arrive a hair early relative to last,
		// and a round must not slip to the tick after its due one.
		if last.IsZero() || time.Since(last) >= interval-tickEvery/2 {
			first := last.IsZero()
			last = time.Now()
			if first || r.Mine(ctx, interval) {
				poll(ctx)
			}
		}
		if tick != nil {
			tick(ctx)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
