package bodhipublisher

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/bodhi"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// followLoop polls every followed update each FollowInterval until ctx ends.
func (p *Publisher) followLoop(ctx context.Context) {
	if p.o.Bodhi == nil {
		return // dry run without Bodhi: nothing is ever followed
	}
	// Every replica sees every followed update; one of them asks Bodhi
	// each round.
	p.followRound.Loop(ctx, p.o.FollowInterval, 0, p.followOnce, nil)
}

// followOnce checks each followed update once.
func (p *Publisher) followOnce(ctx context.Context) {
	entries, err := p.follows.List(ctx)
	if err != nil {
		if ctx.Err() == nil {
			p.log.Warn("cannot list followed updates", "error", err)
		}
		return
	}
	p.m.followed.Set(float64(len(entries)))
	for _, e := range entries {
		if ctx.Err() != nil {
			return
		}
		if err := p.check(ctx, e); err != nil && ctx.Err() == nil {
			p.log.Warn("following update failed; will retry", "alias", e.Value.GetAlias(), "command_id", e.Value.GetCommandId(), "error", err)
		}
	}
}

// check polls one update: a status change is published (and, when final,
// following stops); past the deadline a timed-out change ends following.
func (p *Publisher) check(ctx context.Context, e natsx.Entry[*ebsv1.FollowedUpdate]) error {
	fu := e.Value
	log := p.log.With("alias", fu.GetAlias(), "command_id", fu.GetCommandId(), "batch_id", fu.GetBatchId())
	// One poll must not hold the loop for the client's whole retry budget.
	cctx, cancel := context.WithTimeout(ctx, max(p.o.FollowInterval, 30*time.Second))
	u, err := p.o.Bodhi.Update(cctx, fu.GetAlias())
	cancel()
	now := time.Now()
	if err == nil && u.Status != fu.GetStatus() {
		final := bodhi.Final(u.Status)
		log.Info("Bodhi update status changed", "old_status", fu.GetStatus(), "new_status", u.Status, "final", final)
		if err := p.publishStatus(ctx, fu, u.Status, final, false); err != nil {
			return err
		}
		p.m.statusChanges.WithLabelValues(u.Status).Inc()
		if final {
			return p.stopFollowing(ctx, e)
		}
		fu.Status = u.Status
		fu.CheckedAt = timestamppb.New(now)
		if _, err := p.follows.Update(ctx, e.Key, fu, e.Revision); err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return err
		}
		return nil
	}
	if now.After(fu.GetDeadline().AsTime()) {
		log.Warn("Bodhi update did not reach a final status in time; no longer following", "status", fu.GetStatus(), "poll_error", err)
		if err := p.publishStatus(ctx, fu, fu.GetStatus(), true, true); err != nil {
			return err
		}
		p.m.statusChanges.WithLabelValues("timed_out").Inc()
		return p.stopFollowing(ctx, e)
	}
	return err
}

func (p *Publisher) publishStatus(ctx context.Context, fu *ebsv1.FollowedUpdate, newStatus string, final, timedOut bool) error {
	return p.publish(ctx, &ebsv1.BodhiEvent{
		CommandId: fu.GetCommandId(), BatchId: fu.GetBatchId(), At: timestamppb.Now(),
		Event: &ebsv1.BodhiEvent_UpdateStatusChanged{UpdateStatusChanged: &ebsv1.UpdateStatusChanged{
			Alias: fu.GetAlias(), OldStatus: fu.GetStatus(), NewStatus: newStatus, Final: final, TimedOut: timedOut}},
	})
}

// stopFollowing deletes the record if nobody changed it meanwhile.
func (p *Publisher) stopFollowing(ctx context.Context, e natsx.Entry[*ebsv1.FollowedUpdate]) error {
	err := p.follows.KV.Delete(ctx, e.Key, jetstream.LastRevision(e.Revision))
	if err != nil && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return err
	}
	return nil
}
