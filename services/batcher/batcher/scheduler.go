package batcher

import (
	"context"
	"errors"
	"time"

	"github.com/fedora-eln/ebs/libs/natsx"
)

// schedule starts (or resumes) batches one at a time, each under the lease lock.
func (b *Batcher) schedule(ctx context.Context) error {
	tick := min(max(b.cfg.Lull/10, 20*time.Millisecond), time.Second)
	for ctx.Err() == nil {
		if !b.waitForWork(ctx, tick) {
			return nil
		}
		lease, err := natsx.Acquire(ctx, b.js, b.lockKV, natsx.KeyBatchLock,
			natsx.LockOptions{Holder: b.cfg.Holder, TTL: b.cfg.LockTTL, Logger: b.log})
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			b.log.Warn("taking the batch lock failed; retrying", "error", err)
			sleepCtx(ctx, time.Second)
			continue
		}
		err = b.underLease(lease)
		rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if rerr := lease.Release(rctx); rerr != nil && !errors.Is(rerr, natsx.ErrLockLost) {
			b.log.Warn("releasing the batch lock failed (it expires by its TTL)", "error", rerr)
		}
		cancel()
		if err != nil && ctx.Err() == nil {
			b.log.Error("batch interrupted; it resumes from its checkpoint", "error", err)
			sleepCtx(ctx, min(b.cfg.Lull, 2*time.Second))
		}
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// waitForWork returns true once there is a batch to resume or the pending
// set is ready for a new one; false when ctx ends.
func (b *Batcher) waitForWork(ctx context.Context, tick time.Duration) bool {
	t := time.NewTicker(tick)
	defer t.Stop()
	loggedPause := ""
	for {
		b.mu.Lock()
		current := b.current
		b.mu.Unlock()
		if current != "" {
			return true
		}
		ready, why := b.readyForBatch()
		if ready {
			return true
		}
		if why != loggedPause && why != "" {
			b.log.Info("batches paused; requests keep waiting", "pause", why)
		}
		loggedPause = why
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// readyForBatch: pending not empty, lull passed, not paused. The second
// result is the pause source when paused.
func (b *Batcher) readyForBatch() (bool, string) {
	b.mu.Lock()
	n := len(b.pendingKeys)
	quiet := time.Since(b.lastAccepted)
	b.mu.Unlock()
	if n == 0 || quiet < b.cfg.Lull {
		return false, ""
	}
	if p, why := b.paused(); p {
		return false, why
	}
	return true, ""
}

// underLease resumes the current batch, or starts one from the pending set.
func (b *Batcher) underLease(lease *natsx.Lease) error {
	ctx := lease.Context()
	cur, err := b.readCurrent(ctx)
	if err != nil {
		return err
	}
	if cur == "" {
		if ok, _ := b.readyForBatch(); !ok {
			return nil
		}
		if cur, err = b.createBatch(ctx); err != nil || cur == "" {
			return err
		}
	} else {
		b.log.Info("resuming batch", "batch_id", cur)
	}
	return b.runSaga(ctx, cur)
}
