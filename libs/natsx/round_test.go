package natsx_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/natsx"
)

// Round.Loop: the start-up poll runs even while another replica holds the
// round; later rounds go to whoever claims them; tick runs in every
// replica, as often as polls or more.
func TestRoundLoop(t *testing.T) {
	t.Parallel()
	c, kv := lockBucket(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Another replica holds the current round.
	if ok, err := natsx.ClaimRound(ctx, kv, "poll", "other", time.Hour); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	held, err := natsx.NewRound(ctx, c.JS, "poll", "me", nil)
	if err != nil {
		t.Fatal(err)
	}
	var polls, ticks atomic.Int32
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		held.Loop(lctx, time.Second, 100*time.Millisecond,
			func(context.Context) { polls.Add(1) }, func(context.Context) { ticks.Add(1) })
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for !ok() {
			if ctx.Err() != nil {
				t.Fatalf("timed out waiting for %s (polls %d, ticks %d)", what, polls.Load(), ticks.Load())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("the start-up poll", func() bool { return polls.Load() == 1 })
	// The other replica's round runs for an hour: ticks go on, polls do not.
	waitFor("ticks", func() bool { return ticks.Load() >= 15 })
	if n := polls.Load(); n != 1 {
		t.Fatalf("%d polls while another replica held the round, want only the start-up one", n)
	}
	// Its round gone, the next one is ours.
	if err := kv.Purge(ctx, "poll"); err != nil {
		t.Fatal(err)
	}
	waitFor("a claimed round", func() bool { return polls.Load() >= 2 })
	stop()
	<-done

	// A nil Round (one replica) polls every interval.
	var nilPolls atomic.Int32
	nctx, nstop := context.WithCancel(ctx)
	ndone := make(chan struct{})
	go func() {
		defer close(ndone)
		(*natsx.Round)(nil).Loop(nctx, 50*time.Millisecond, 0, func(context.Context) { nilPolls.Add(1) }, nil)
	}()
	for nilPolls.Load() < 3 {
		if ctx.Err() != nil {
			t.Fatalf("a nil Round polled %d times", nilPolls.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	nstop()
	<-ndone
}
