package kojiworker

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/kojibatch"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// republishWindow: finished tasks younger than this get their event
// re-published at start-up (de-duplicated by the stream), in case a replica
// died between claiming a task and publishing its event.
const republishWindow = 90 * time.Minute

// loadTasks reads every task record: open ones are tracked.
func (w *Worker) loadTasks(ctx context.Context) error {
	entries, err := w.tasks.List(ctx)
	if err != nil {
		return fmt.Errorf("kojiworker: load tasks: %w", err)
	}
	for _, e := range entries {
		_ = w.apply(e) // the start-up poll covers what ended meanwhile
		if f := e.Value.GetFinished(); f != nil && time.Since(e.Value.GetFinishedAt().AsTime()) < republishWindow {
			if err := w.publishFinished(ctx, e.Key, e.Value); err != nil {
				w.log.Warn("re-publishing a task-finished event failed", "key", e.Key, "error", err)
			}
		}
	}
	return nil
}

// watchTasks keeps the open set in step with KV ebs_tasks (other replicas
// submit and finish tasks too).
func (w *Worker) watchTasks(ctx context.Context) error {
	ch, err := w.tasks.Watch(ctx, nil, func(key string, err error) {
		w.log.Error("undecodable task record", "key", key, "error", err)
	})
	if err != nil {
		return err
	}
	for e := range ch {
		if t := w.apply(e); t != nil {
			// Another replica submitted it; this one may hold its message.
			w.finishEarly(ctx, t)
		}
	}
	return nil
}

// apply updates the open set from a task record; it returns the record
// when it became open here.
func (w *Worker) apply(e natsx.Entry[*ebsv1.TaskRecord]) *tracked {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e.Op != jetstream.KeyValuePut {
		for id, t := range w.open {
			if t.key == e.Key {
				delete(w.open, id)
			}
		}
		return nil
	}
	id := e.Value.GetTaskId()
	cur, ok := w.open[id]
	if ok && cur.rev >= e.Revision {
		return nil
	}
	if e.Value.GetFinished() != nil {
		delete(w.open, id)
		return nil
	}
	t := &tracked{key: e.Key, rev: e.Revision, rec: e.Value}
	w.open[id] = t
	if ok {
		return nil
	}
	return t
}

func (w *Worker) openCount() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.open)
}

func (w *Worker) snapshot() []*tracked {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*tracked, 0, len(w.open))
	for _, t := range w.open {
		out = append(out, t)
	}
	return out
}

// pollLoop polls every open task at start-up and every PollInterval (one
// replica per round), and checks deadlines every DeadlineCheck.
func (w *Worker) pollLoop(ctx context.Context) {
	// Every replica tracks every open task; one of them polls each round.
	w.pollRound.Loop(ctx, w.cfg.PollInterval, w.cfg.DeadlineCheck, func(ctx context.Context) {
		if err := w.poll(ctx, w.snapshot()); err != nil && ctx.Err() == nil {
			w.log.Warn("task poll failed; next poll retries", "error", err)
		}
	}, func(ctx context.Context) {
		if err := w.checkDeadlines(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("deadline check failed", "error", err)
		}
	})
}

// poll asks Koji for the state of ts (getTaskInfo multicall) and finishes
// the final ones; open tasks past their deadline are cancelled and timed out.
func (w *Worker) poll(ctx context.Context, ts []*tracked) error {
	if len(ts) == 0 {
		return nil
	}
	w.m.polls.Inc()
	ids := make([]int64, len(ts))
	for i, t := range ts {
		ids[i] = t.rec.GetTaskId()
	}
	res, err := w.hub.TaskStates(ctx, ids)
	if err != nil {
		return err
	}
	now := time.Now()
	var late []*tracked
	for i, r := range res {
		t := ts[i]
		if r.Err != nil {
			w.log.Warn("getTaskInfo failed", "task_id", ids[i], "error", r.Err)
			continue
		}
		if kojibatch.TaskStateFinal(r.Value.State) {
			if err := w.finish(ctx, t, r.Value.State, ebsv1.Observation_OBSERVATION_POLL, finishHint{}); err != nil {
				w.log.Warn("finishing a polled task failed", "task_id", ids[i], "error", err)
			}
			continue
		}
		if d := t.rec.GetDeadline(); d != nil && now.After(d.AsTime()) {
			late = append(late, t)
		}
	}
	return w.timeOut(ctx, late)
}

func (w *Worker) checkDeadlines(ctx context.Context) error {
	now := time.Now()
	var late []*tracked
	for _, t := range w.snapshot() {
		if d := t.rec.GetDeadline(); d != nil && now.After(d.AsTime()) {
			late = append(late, t)
		}
	}
	if len(late) == 0 {
		return nil
	}
	// poll finishes the ones that ended meanwhile and times out the rest.
	return w.poll(ctx, late)
}

// timeOut cancels late tasks (recurse) and reports them TIMED_OUT.
func (w *Worker) timeOut(ctx context.Context, late []*tracked) error {
	if len(late) == 0 {
		return nil
	}
	ids := make([]int64, len(late))
	for i, t := range late {
		ids[i] = t.rec.GetTaskId()
	}
	res, err := w.hub.CancelTasks(ctx, ids)
	if err != nil {
		return err
	}
	for i, t := range late {
		if res[i].Err != nil {
			w.log.Warn("cancelling a timed-out task failed; reporting the timeout anyway", "task_id", ids[i], "error", res[i].Err)
		}
		if err := w.finish(ctx, t, kojibatch.TaskCanceled, ebsv1.Observation_OBSERVATION_TIMEOUT, finishHint{timedOut: true}); err != nil {
			w.log.Warn("finishing a timed-out task failed", "task_id", ids[i], "error", err)
		}
	}
	return nil
}

// finishHint carries what a message already told about the build.
type finishHint struct {
	nvr      string
	buildID  int64
	reason   string
	timedOut bool
}

// finish claims an open task record (revision-checked: exactly one path
// finishes a task), then publishes ebs.koji.evt.task-finished.
func (w *Worker) finish(ctx context.Context, t *tracked, state int, obs ebsv1.Observation, h finishHint) error {
	rec := t.rec
	// A task cancelled after its deadline was cancelled by a timeout (ours,
	// seen first through its message or by a poll after a restart): it is a
	// timeout, never retried.
	if state == kojibatch.TaskCanceled && rec.GetDeadline() != nil && time.Now().After(rec.GetDeadline().AsTime()) {
		h.timedOut = true
		if obs == ebsv1.Observation_OBSERVATION_MESSAGE || obs == ebsv1.Observation_OBSERVATION_POLL {
			obs = ebsv1.Observation_OBSERVATION_TIMEOUT
		}
	}
	tf := &ebsv1.TaskFinished{AttemptId: rec.GetAttemptId(), TaskId: rec.GetTaskId(), Component: rec.GetComponent(),
		ScmUrl: rec.GetScmUrl(), KojiState: int32(state), ObservedBy: obs, Nvr: h.nvr, BuildId: h.buildID, Reason: h.reason}
	switch {
	case h.timedOut:
		tf.Outcome = ebsv1.TaskOutcome_TASK_OUTCOME_TIMED_OUT
		tf.Reason = fmt.Sprintf("task %d still running after %s; cancelled", rec.GetTaskId(),
			rec.GetDeadline().AsTime().Sub(rec.GetSubmittedAt().AsTime()).Round(time.Second))
	case state == kojibatch.TaskClosed:
		tf.Outcome = ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED
		if tf.Nvr == "" {
			b, ok, err := w.hub.TaskBuild(ctx, rec.GetTaskId())
			if err != nil {
				return fmt.Errorf("listBuilds(taskID=%d): %w", rec.GetTaskId(), err)
			}
			if ok {
				tf.Nvr, tf.BuildId = b.NVR, b.ID
			}
		}
	case state == kojibatch.TaskCanceled:
		tf.Outcome = ebsv1.TaskOutcome_TASK_OUTCOME_CANCELED
		if tf.Reason == "" {
			tf.Reason = fmt.Sprintf("task %d was cancelled", rec.GetTaskId())
		}
	default:
		tf.Outcome = ebsv1.TaskOutcome_TASK_OUTCOME_FAILED
		if reason, err := w.hub.TaskFailure(ctx, rec.GetTaskId()); err == nil && reason != "" {
			tf.Reason = reason
		} else if tf.Reason == "" {
			tf.Reason = fmt.Sprintf("task %d failed", rec.GetTaskId())
		}
	}
	key, rev := t.key, t.rev
	for {
		next := proto.Clone(rec).(*ebsv1.TaskRecord)
		next.Finished = tf
		next.FinishedAt = timestamppb.Now()
		nrev, err := w.tasks.Update(ctx, key, next, rev)
		if err == nil {
			w.apply(natsx.Entry[*ebsv1.TaskRecord]{Key: key, Value: next, Revision: nrev, Op: jetstream.KeyValuePut})
			w.m.tasks.WithLabelValues(outcomeLabel(tf.Outcome), obsLabel(obs)).Inc()
			w.log.Info("task finished", "task_id", rec.GetTaskId(), "attempt_id", rec.GetAttemptId(), "batch_id", rec.GetBatchId(),
				"component", rec.GetComponent(), "outcome", outcomeLabel(tf.Outcome), "observed_by", obsLabel(obs), "nvr", tf.Nvr)
			if err := w.publishFinished(ctx, key, next); err != nil {
				w.log.Warn("publishing task-finished failed (re-published at start-up)", "task_id", rec.GetTaskId(), "error", err)
			}
			return nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return err
		}
		cur, crev, gerr := w.tasks.Get(ctx, key)
		if gerr != nil {
			return gerr
		}
		if cur.GetFinished() != nil {
			// Claimed by the other path or another replica.
			w.apply(natsx.Entry[*ebsv1.TaskRecord]{Key: key, Value: cur, Revision: crev, Op: jetstream.KeyValuePut})
			return nil
		}
		rec, rev = cur, crev
	}
}

func (w *Worker) publishFinished(ctx context.Context, key string, rec *ebsv1.TaskRecord) error {
	ev := &ebsv1.KojiEvent{CommandId: rec.GetCommandId(), BatchId: rec.GetBatchId(), At: rec.GetFinishedAt(),
		Event: &ebsv1.KojiEvent_TaskFinished{TaskFinished: rec.GetFinished()}}
	_, err := natsx.Publish(ctx, w.js, natsx.SubjectKojiEvtPrefix+"task-finished", key+".finished", ev)
	return err
}

func outcomeLabel(o ebsv1.TaskOutcome) string {
	return strings.ToLower(strings.TrimPrefix(o.String(), "TASK_OUTCOME_"))
}

func obsLabel(o ebsv1.Observation) string {
	return strings.ToLower(strings.TrimPrefix(o.String(), "OBSERVATION_"))
}

// handleFedmsg finishes tracked tasks from build and task state changes.
func (w *Worker) handleFedmsg(ctx context.Context, d *natsx.Delivery[*ebsv1.FedoraMessage]) error {
	switch d.Subject {
	case natsx.SubjectFedmsgBuildStateChange:
		var b fedmsg.BuildStateChangeBody
		if err := fedmsg.Decode(d.Msg.GetBody(), &b); err != nil {
			return natsx.Reject(err)
		}
		if b.TaskID == nil {
			return nil
		}
		h := finishHint{nvr: b.NVR()}
		if b.BuildID != nil {
			h.buildID = *b.BuildID
		}
		var state int
		switch b.New {
		case kojibatch.BuildComplete:
			state = kojibatch.TaskClosed
		case kojibatch.BuildFailed:
			state = kojibatch.TaskFailed
		case kojibatch.BuildCanceled:
			state = kojibatch.TaskCanceled
		default:
			return nil
		}
		if state != kojibatch.TaskClosed {
			h.nvr, h.buildID = "", 0
			h.reason = fmt.Sprintf("build %s ended in state %d", b.NVR(), b.New)
		}
		t, ok := w.lookupOrRemember(*b.TaskID, state, h)
		if !ok {
			return nil
		}
		return w.finish(ctx, t, state, ebsv1.Observation_OBSERVATION_MESSAGE, h)
	case natsx.SubjectFedmsgTaskStateChange:
		var b fedmsg.TaskStateChangeBody
		if err := fedmsg.Decode(d.Msg.GetBody(), &b); err != nil {
			return natsx.Reject(err)
		}
		var state int
		switch b.New {
		case "CLOSED":
			state = kojibatch.TaskClosed
		case "FAILED":
			state = kojibatch.TaskFailed
		case "CANCELED":
			state = kojibatch.TaskCanceled
		default:
			return nil
		}
		t, ok := w.lookupOrRemember(b.ID, state, finishHint{})
		if !ok {
			return nil
		}
		return w.finish(ctx, t, state, ebsv1.Observation_OBSERVATION_MESSAGE, finishHint{})
	}
	return nil
}

// earlyFinishes remembers, for a while, the final states that Fedora
// messages reported for tasks this replica did not track (yet). A build
// can end before koji-worker has written its task record: the build()
// multicall returns, the builds finish at once (an SRPM failure, a
// no-op build) and their messages are consumed while the records are
// still being written. Without this, such a task would wait for the next
// poll (5 minutes by default); with it, tracking the task finishes it at
// once, and no Koji call is made.
type earlyFinishes struct {
	mu    sync.Mutex
	byID  map[int64]earlyFinish
	order []int64 // insertion order, oldest first
}

type earlyFinish struct {
	state int
	hint  finishHint
	at    time.Time
}

// Bounds of earlyFinishes: the race it covers lasts as long as writing one
// submission's records (seconds); Koji's whole bus traffic passes through.
const (
	earlyMaxAge     = 10 * time.Minute
	earlyMaxEntries = 50000
)

func (e *earlyFinishes) remember(id int64, state int, h finishHint) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.byID == nil {
		e.byID = map[int64]earlyFinish{}
	}
	now := time.Now()
	if _, ok := e.byID[id]; !ok {
		e.order = append(e.order, id)
	}
	e.byID[id] = earlyFinish{state: state, hint: h, at: now}
	for len(e.order) > 0 {
		old, ok := e.byID[e.order[0]]
		if ok && len(e.byID) <= earlyMaxEntries && now.Sub(old.at) < earlyMaxAge {
			break
		}
		if ok {
			delete(e.byID, e.order[0])
		}
		e.order = e.order[1:]
	}
}

// take returns and forgets what a message said about task id.
func (e *earlyFinishes) take(id int64) (earlyFinish, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	f, ok := e.byID[id]
	if ok {
		delete(e.byID, id)
	}
	return f, ok && time.Since(f.at) < earlyMaxAge
}

// lookupOrRemember returns the open task, or remembers its final state
// for when it becomes tracked. Both happen under the lock that guards
// making a task open, so a record written meanwhile either is found here
// or finds the remembered state.
func (w *Worker) lookupOrRemember(id int64, state int, h finishHint) (*tracked, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.open[id]
	if !ok {
		w.early.remember(id, state, h)
	}
	return t, ok
}

// finishEarly finishes a task that has just become tracked if its final
// message was already consumed.
func (w *Worker) finishEarly(ctx context.Context, t *tracked) {
	f, ok := w.early.take(t.rec.GetTaskId())
	if !ok {
		return
	}
	if err := w.finish(ctx, t, f.state, ebsv1.Observation_OBSERVATION_MESSAGE, f.hint); err != nil && ctx.Err() == nil {
		w.log.Warn("finishing a task from its earlier message failed; the next poll finishes it", "task_id", t.rec.GetTaskId(), "error", err)
	}
}
