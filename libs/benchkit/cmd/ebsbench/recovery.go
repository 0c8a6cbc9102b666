package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/fedora-eln/ebs/libs/benchkit"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

type seen struct {
	at      time.Time
	subject string
	id      string
}

// measureRecovery is measurement 5: kill -9 of the batcher right after it
// issued its first build submission, restarted at once (as Kubernetes
// restarts a crashed container); how long until the batch resumes: the
// new process is ready, takes the batch lock (the dead holder's lease
// must expire first), reads the checkpoint and issues its next command.
func measureRecovery(ctx context.Context, s *System, o Options, n, round int, baseline float64) (*benchkit.Recovery, error) {
	rc := &benchkit.Recovery{N: n, LockTTL: o.LockTTL.Seconds(), BaselineWall: baseline}
	pkgs := s.Listed[:n]
	s.log.Info("recovery: feeding", "n", n)
	if _, err := feed(ctx, s, pkgs, round, o.PhaseTimeout); err != nil {
		return nil, err
	}
	ev, err := follow(s.Conn.NC)
	if err != nil {
		return nil, err
	}
	defer ev.stop()
	var mu sync.Mutex
	var cmds []seen
	firstSubmit := make(chan struct{})
	var once sync.Once
	sub, err := s.Conn.NC.Subscribe("ebs.*.cmd.>", func(m *nats.Msg) {
		mu.Lock()
		cmds = append(cmds, seen{at: time.Now(), subject: m.Subject, id: m.Header.Get(nats.MsgIdHdr)})
		mu.Unlock()
		if m.Subject == natsx.SubjectKojiCmdPrefix+"submit-builds" {
			// The main slice's submission (not the one-package slices
			// the ordering rules make first): the batch is well under way.
			var c ebsv1.KojiCommand
			if proto.Unmarshal(m.Data, &c) == nil && len(c.GetSubmitBuilds().GetBuilds()) >= 100 {
				once.Do(func() { close(firstSubmit) })
			}
		}
	})
	if err != nil {
		return nil, err
	}
	_ = sub.SetPendingLimits(-1, -1)
	defer func() { _ = sub.Unsubscribe() }()
	lockKV, err := s.Conn.JS.KeyValue(ctx, natsx.BucketLock)
	if err != nil {
		return nil, err
	}
	lw, err := lockKV.Watch(ctx, natsx.KeyBatchLock, jetstream.UpdatesOnly())
	if err != nil {
		return nil, err
	}
	defer func() { _ = lw.Stop() }()
	var puts []time.Time
	go func() {
		for e := range lw.Updates() {
			if e != nil && e.Operation() == jetstream.KeyValuePut {
				mu.Lock()
				puts = append(puts, time.Now())
				mu.Unlock()
			}
		}
	}()
	if err := s.Conn.NC.Flush(); err != nil {
		return nil, err
	}
	s.Hub.ResetCounters()
	if err := s.SetPause(ctx, false); err != nil {
		return nil, err
	}
	defer func() { _ = s.SetPause(context.Background(), true) }()
	select {
	case <-firstSubmit:
	case <-time.After(o.PhaseTimeout):
		return nil, fmt.Errorf("recovery: no submit-builds command within %s", o.PhaseTimeout)
	}
	batcher := s.Procs["batcher"]
	batcher.Kill()
	killed := time.Now()
	rc.KilledAt = "as it submitted the main slice's builds"
	if err := batcher.Start(); err != nil {
		return nil, err
	}
	rc.RestartedAfter = time.Since(killed).Seconds()
	rctx, cancel := context.WithTimeout(ctx, o.PhaseTimeout)
	defer cancel()
	if err := batcher.WaitReady(rctx, nil); err != nil {
		return nil, err
	}
	readyAt := time.Now()
	rc.ReadySeconds = readyAt.Sub(killed).Seconds()
	// The lock: the first put after the kill (the dead holder's lease has
	// expired and the new process took it). The resumed saga's first
	// command: the first seen after the new process was ready (the old
	// one's last publishes arrived within milliseconds of the kill).
	var locked time.Time
	var next *seen
	for locked.IsZero() || next == nil {
		mu.Lock()
		for _, t := range puts {
			if locked.IsZero() && t.After(killed) {
				locked = t
			}
		}
		for i := range cmds {
			if next == nil && cmds[i].at.After(readyAt) {
				next = &cmds[i]
			}
		}
		mu.Unlock()
		if !locked.IsZero() && next != nil {
			break
		}
		select {
		case <-rctx.Done():
			return nil, fmt.Errorf("recovery: the restarted batcher did not resume (lock taken %v, command seen %v): %w",
				!locked.IsZero(), next != nil, rctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
	rc.LockSeconds = locked.Sub(killed).Seconds()
	rc.ResumeSeconds = next.at.Sub(killed).Seconds()
	rc.NextCommand = strings.TrimPrefix(next.subject, "ebs.") + " " + next.id
	var c *ebsv1.BatchCompleted
	select {
	case c = <-ev.completed:
	case <-rctx.Done():
		return nil, fmt.Errorf("recovery: the resumed batch did not complete: %w", rctx.Err())
	}
	rc.WallSeconds = c.GetCompletedAt().AsTime().Sub(c.GetStartedAt().AsTime()).Seconds()
	built := 0
	for _, oc := range c.GetOutcomes() {
		if oc.GetState() == ebsv1.PackageState_PACKAGE_STATE_BUILT {
			built++
		}
	}
	rc.Completed = built == n
	perSCM := map[string]int{}
	for _, r := range s.Hub.CallsTo("build") {
		if len(r.Params) > 0 && r.FaultCode == 0 {
			if u, ok := r.Params[0].(string); ok {
				perSCM[u]++
			}
		}
	}
	for _, k := range perSCM {
		if k > 1 {
			rc.BuiltTwice++
		}
	}
	if !rc.Completed {
		return rc, fmt.Errorf("recovery: %d of %d built after the restart (result %s)", built, n, c.GetResult())
	}
	return rc, nil
}
