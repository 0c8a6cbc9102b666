package batcher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// handleRequest puts a request into the pending set (newest build wins) and
// acks only once the KV write is done.
func (b *Batcher) handleRequest(ctx context.Context, d *natsx.Delivery[*ebsv1.RebuildRequest]) error {
	req := d.Msg
	switch {
	case req.GetComponent() == "":
		return natsx.Reject(errors.New("rebuild request without component"))
	case req.GetRequestId() == "":
		return natsx.Reject(errors.New("rebuild request without request_id"))
	case req.GetBuildId() <= 0:
		return natsx.Reject(fmt.Errorf("rebuild request %s without build_id", req.GetRequestId()))
	}
	key := natsx.EscapeKey(req.GetComponent())
	log := b.log.With("component_name", req.GetComponent(), "request_id", req.GetRequestId(), "nvr", req.GetNvr())
	for {
		cur, rev, err := b.pending.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			_, err = b.pending.Create(ctx, key, &ebsv1.PendingRequest{Request: req, PendingSince: timestamppb.Now()})
			if errors.Is(err, jetstream.ErrKeyExists) {
				continue
			}
			if err != nil {
				return err
			}
			log.Info("request pending")
			b.m.requests.WithLabelValues("pending").Inc()
			return nil
		}
		if err != nil {
			return err
		}
		old := cur.GetRequest()
		if old.GetRequestId() == req.GetRequestId() {
			b.m.requests.WithLabelValues("duplicate").Inc()
			return nil
		}
		if !newer(req, old) {
			// The pending one stays; this one is recorded as superseded.
			log.Info("request superseded by the pending one", "pending_request_id", old.GetRequestId(), "pending_nvr", old.GetNvr())
			b.m.requests.WithLabelValues("superseded").Inc()
			return b.publishSuperseded(ctx, req, old)
		}
		next := proto.Clone(cur).(*ebsv1.PendingRequest)
		next.Request = req
		next.Superseded = append(next.Superseded, old.GetRequestId())
		if _, err := b.pending.Update(ctx, key, next, rev); err != nil {
			if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound) {
				continue
			}
			return err
		}
		log.Info("request replaces the pending one", "superseded_request_id", old.GetRequestId(), "superseded_nvr", old.GetNvr())
		b.m.requests.WithLabelValues("replaced").Inc()
		return b.publishSuperseded(ctx, old, req)
	}
}

// newer reports whether a is a newer build than b: build creation time, then
// build id; the same build is not newer.
func newer(a, b *ebsv1.RebuildRequest) bool {
	if a.GetBuildId() == b.GetBuildId() {
		return false
	}
	at, bt := a.GetBuildCreatedAt(), b.GetBuildCreatedAt()
	if at != nil && bt != nil && !at.AsTime().Equal(bt.AsTime()) {
		return at.AsTime().After(bt.AsTime())
	}
	return a.GetBuildId() > b.GetBuildId()
}

func (b *Batcher) publishSuperseded(ctx context.Context, loser, winner *ebsv1.RebuildRequest) error {
	ev := &ebsv1.RequestSuperseded{Component: loser.GetComponent(), SupersededRequestId: loser.GetRequestId(),
		SupersededNvr: loser.GetNvr(), ByRequestId: winner.GetRequestId(), ByNvr: winner.GetNvr(), At: timestamppb.Now()}
	_, err := natsx.Publish(ctx, b.js, natsx.SubjectRebuildSuperseded, "superseded-"+loser.GetRequestId(), ev)
	return err
}

// watchPending follows KV ebs_pending: every put restarts the lull (on every
// replica, whichever took the request in).
func (b *Batcher) watchPending(ctx context.Context) error {
	ch, err := b.pending.Watch(ctx, nil, nil)
	if err != nil {
		return err
	}
	for e := range ch {
		b.mu.Lock()
		if e.Op == jetstream.KeyValuePut {
			b.pendingKeys[e.Key] = true
			b.lastAccepted = time.Now()
		} else {
			delete(b.pendingKeys, e.Key)
		}
		b.m.pending.Set(float64(len(b.pendingKeys)))
		b.mu.Unlock()
	}
	return nil
}

// watchControl follows the runtime pause in KV ebs_control.
func (b *Batcher) watchControl(ctx context.Context) error {
	ch, err := b.control.Watch(ctx, []string{natsx.KeyPause}, nil)
	if err != nil {
		return err
	}
	for e := range ch {
		b.mu.Lock()
		b.runtimePaused = e.Op == jetstream.KeyValuePut && e.Value.GetPaused()
		b.mu.Unlock()
	}
	return nil
}

// watchCurrent follows KV ebs_batches "current", so a standby replica knows
// there is a batch to take over.
func (b *Batcher) watchCurrent(ctx context.Context) error {
	w, err := b.batches.Watch(ctx, natsx.KeyCurrent)
	if err != nil {
		return fmt.Errorf("batcher: watch current: %w", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil {
				continue
			}
			id := ""
			if e.Operation() == jetstream.KeyValuePut {
				var cb ebsv1.CurrentBatch
				if err := proto.Unmarshal(e.Value(), &cb); err == nil {
					id = cb.GetBatchId()
				}
			}
			b.mu.Lock()
			b.current = id
			b.mu.Unlock()
		}
	}
}

// paused reports whether batches are held back, and why.
func (b *Batcher) paused() (bool, string) {
	b.mu.Lock()
	rt := b.runtimePaused
	b.mu.Unlock()
	cfg := b.settings().Control.Pause
	switch {
	case cfg && rt:
		return true, "config+runtime"
	case cfg:
		return true, "config"
	case rt:
		return true, "runtime"
	}
	return false, ""
}
