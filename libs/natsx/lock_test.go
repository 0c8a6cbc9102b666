package natsx_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
)

func lockBucket(t *testing.T) (*natsx.Conn, jetstream.KeyValue) {
	t.Helper()
	c := natstest.Start(t).Provisioned(t)
	kv, err := c.KV(context.Background(), natsx.BucketLock)
	if err != nil {
		t.Fatal(err)
	}
	return c, kv
}

func TestLockContendersNeverOverlap(t *testing.T) {
	t.Parallel()
	c, kv := lockBucket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var holders atomic.Int32
	var maxHolders atomic.Int32
	var rounds atomic.Int32
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 3 {
				l, err := natsx.Acquire(ctx, c.JS, kv, "contended", natsx.LockOptions{
					Holder: fmt.Sprintf("h%d-%d", i, j), TTL: 2 * time.Second})
				if err != nil {
					t.Errorf("acquire: %v", err)
					return
				}
				n := holders.Add(1)
				for {
					m := maxHolders.Load()
					if n <= m || maxHolders.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(20 * time.Millisecond)
				holders.Add(-1)
				rounds.Add(1)
				if err := l.Release(ctx); err != nil {
					t.Errorf("release: %v", err)
				}
			}
		})
	}
	wg.Wait()
	if got := maxHolders.Load(); got != 1 {
		t.Fatalf("at most one holder expected at a time, saw %d", got)
	}
	if rounds.Load() != 12 {
		t.Fatalf("every contender should have held the lock 3 times: %d rounds", rounds.Load())
	}
}

func TestLockTryAcquireHeld(t *testing.T) {
	t.Parallel()
	c, kv := lockBucket(t)
	ctx := context.Background()
	// A 6 s lease renewed every 2 s survives a 4 s stall of its renewals:
	// enough for a loaded CI machine running every package under -race.
	const ttl = 6 * time.Second
	a, err := natsx.TryAcquire(ctx, c.JS, kv, "k", natsx.LockOptions{Holder: "a", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := natsx.TryAcquire(ctx, c.JS, kv, "k", natsx.LockOptions{Holder: "b", TTL: ttl}); !errors.Is(err, natsx.ErrLockHeld) {
		t.Fatalf("second TryAcquire: want ErrLockHeld, got %v", err)
	}
	// Renewals keep it held past the TTL.
	time.Sleep(ttl + time.Second)
	if a.Err() != nil {
		t.Fatalf("renewed lease lost: %v", a.Err())
	}
	if _, err := natsx.TryAcquire(ctx, c.JS, kv, "k", natsx.LockOptions{Holder: "b", TTL: ttl}); !errors.Is(err, natsx.ErrLockHeld) {
		t.Fatalf("TryAcquire after renewals: want ErrLockHeld, got %v", err)
	}
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(a.Err(), natsx.ErrLockReleased) {
		t.Fatalf("released lease: Err() = %v", a.Err())
	}
	b, err := natsx.TryAcquire(ctx, c.JS, kv, "k", natsx.LockOptions{Holder: "b", TTL: ttl})
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	_ = b.Release(ctx)
}

func TestLockHolderThatStopsRenewingLosesIt(t *testing.T) {
	t.Parallel()
	c, kv := lockBucket(t)
	ctx := context.Background()
	const ttl = time.Second
	a, err := natsx.TryAcquire(ctx, c.JS, kv, "k", natsx.LockOptions{Holder: "a", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	a.StopRenewing()
	select {
	case <-a.Lost():
	case <-time.After(5 * ttl):
		t.Fatal("a holder that stopped renewing was not told it lost the lock")
	}
	if !errors.Is(a.Err(), natsx.ErrLockLost) {
		t.Fatalf("Err() = %v, want ErrLockLost", a.Err())
	}
	// The server expires the key after the TTL: another holder gets it.
	actx, cancel := context.WithTimeout(ctx, 10*ttl)
	defer cancel()
	b, err := natsx.Acquire(actx, c.JS, kv, "k", natsx.LockOptions{Holder: "b", TTL: ttl})
	if err != nil {
		t.Fatalf("new holder could not acquire after the TTL: %v", err)
	}
	defer b.Release(ctx)
}

func TestLockStaleHolderCannotRenewOrRelease(t *testing.T) {
	t.Parallel()
	c, kv := lockBucket(t)
	ctx := context.Background()
	const ttl = time.Second
	a, err := natsx.TryAcquire(ctx, c.JS, kv, "k", natsx.LockOptions{Holder: "a", TTL: ttl})
	if err != nil {
		t.Fatal(err)
	}
	a.StopRenewing()
	actx, cancel := context.WithTimeout(ctx, 10*ttl)
	defer cancel()
	// b's lease is longer: this test is about what the stale holder a can
	// do, and b must not lose its own lease to a loaded machine's scheduling
	// while it is checked.
	b, err := natsx.Acquire(actx, c.JS, kv, "k", natsx.LockOptions{Holder: "b", TTL: 5 * ttl})
	if err != nil {
		t.Fatal(err)
	}
	// a's lease ran out before b could take it; a has been told (its own
	// clock gives up at TTL-Renew, before the server expires the key).
	select {
	case <-a.Lost():
	case <-time.After(5 * ttl):
		t.Fatal("b holds the lock but a was never told it lost it")
	}
	if err := a.ForceRenew(); !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		t.Fatalf("stale renew: want revision mismatch, got %v", err)
	}
	if err := a.ForceRelease(ctx); err == nil {
		t.Fatal("stale release deleted the new holder's lock")
	}
	if err := a.Release(ctx); !errors.Is(err, natsx.ErrLockLost) {
		t.Fatalf("stale Release: want ErrLockLost, got %v", err)
	}
	// b still holds it.
	time.Sleep(2 * ttl)
	if b.Err() != nil {
		t.Fatalf("new holder lost the lock to a stale holder: %v", b.Err())
	}
	if _, err := natsx.TryAcquire(ctx, c.JS, kv, "k", natsx.LockOptions{Holder: "c", TTL: ttl}); !errors.Is(err, natsx.ErrLockHeld) {
		t.Fatalf("want ErrLockHeld while b holds, got %v", err)
	}
	if err := b.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestClaimRoundOnePerInterval(t *testing.T) {
	t.Parallel()
	_, kv := lockBucket(t)
	ctx := context.Background()
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 5 {
		wg.Go(func() {
			ok, err := natsx.ClaimRound(ctx, kv, "poll", fmt.Sprint(i), time.Second)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d replicas won the same round, want 1", wins.Load())
	}
	// After the round's TTL the next round can be claimed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := natsx.ClaimRound(ctx, kv, "poll", "late", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the round never expired")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
