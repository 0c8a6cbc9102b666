package kojiworker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/commands"
	"github.com/fedora-eln/ebs/libs/kojibatch"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// MaxBuildsPerCommand bounds the builds a command may name (one multicall).
const MaxBuildsPerCommand = 500

// intentSlack widens listTasks' createdAfter for clock skew between ebs and the hub.
const intentSlack = 5 * time.Minute

// handleCommand executes one KojiCommand idempotently.
func (w *Worker) handleCommand(ctx context.Context, d *natsx.Delivery[*ebsv1.KojiCommand]) error {
	cmd := d.Msg
	verb, err := natsx.OneofCase(cmd)
	if err != nil {
		return natsx.Reject(err)
	}
	if cmd.GetCommandId() == "" {
		return natsx.Reject(errors.New("koji command without command_id"))
	}
	log := w.log.With("command_id", cmd.GetCommandId(), "batch_id", cmd.GetBatchId(), "verb", verb, "delivery", d.NumDelivered)
	mu := w.stripe(cmd.GetCommandId())
	mu.Lock()
	defer mu.Unlock()
	if res, ok, err := w.results.Get(ctx, cmd.GetCommandId()); err != nil {
		return err
	} else if ok {
		// Done before (the ack was lost): report again, do nothing again.
		log.Info("command already done; re-publishing its result")
		w.m.commands.WithLabelValues(verb, "replayed").Inc()
		return w.publishEvent(ctx, cmd.GetCommandId(), res.GetKoji())
	}
	if err := validate(cmd); err != nil {
		// Recorded, not only dead-lettered: the issuer waits on the result.
		log.Error("invalid koji command", "error", err)
		w.m.commands.WithLabelValues(verb, "invalid").Inc()
		return w.finishCommand(ctx, cmd, failed(verb, fmt.Errorf("invalid command: %w", err)))
	}

	var ev *ebsv1.KojiEvent
	switch v := cmd.GetVerb().(type) {
	case *ebsv1.KojiCommand_CreateSideTag:
		ev, err = w.createSideTag(ctx, cmd, v.CreateSideTag, d.NumDelivered)
	case *ebsv1.KojiCommand_TagBuilds:
		ev, err = w.tagBuilds(ctx, cmd, v.TagBuilds, d.NumDelivered)
	case *ebsv1.KojiCommand_RemoveSideTag:
		ev, err = w.removeSideTag(ctx, cmd, v.RemoveSideTag)
	case *ebsv1.KojiCommand_CancelTasks:
		ev, err = w.cancelTasks(ctx, cmd, v.CancelTasks)
	case *ebsv1.KojiCommand_SubmitBuilds:
		ev, err = w.submitBuilds(ctx, cmd, v.SubmitBuilds, d.NumDelivered)
	case *ebsv1.KojiCommand_PromoteBuilds:
		ev, err = w.promoteBuilds(ctx, cmd, v.PromoteBuilds)
	default:
		return natsx.Reject(fmt.Errorf("unknown koji command verb %q", verb))
	}
	if err != nil {
		// NATS trouble: nothing recorded, the command comes back.
		return err
	}
	outcome := "done"
	if ev.GetCommandFailed() != nil {
		outcome = "failed"
		log.Warn("koji command failed", "error", ev.GetCommandFailed().GetError(), "fault_code", ev.GetCommandFailed().GetFaultCode())
	} else {
		log.Info("koji command done", "event", eventName(ev))
	}
	w.m.commands.WithLabelValues(verb, outcome).Inc()
	return w.finishCommand(ctx, cmd, ev)
}

// failDeadLettered records a CommandFailed result for a command about to be
// dead-lettered (undecodable commands have no id and are only dead-lettered).
func (w *Worker) failDeadLettered(ctx context.Context, m proto.Message, reason string) error {
	cmd, _ := m.(*ebsv1.KojiCommand)
	if cmd == nil || !commands.ValidID(cmd.GetCommandId()) {
		return nil
	}
	if _, ok, err := w.results.Get(ctx, cmd.GetCommandId()); err != nil || ok {
		return err
	}
	verb, _ := natsx.OneofCase(cmd)
	w.log.Error("koji command dead-lettered; recording it as failed", "command_id", cmd.GetCommandId(), "batch_id", cmd.GetBatchId(), "reason", reason)
	return w.finishCommand(ctx, cmd, failed(verb, commands.DeadLettered(reason)))
}

func validate(cmd *ebsv1.KojiCommand) error {
	switch v := cmd.GetVerb().(type) {
	case *ebsv1.KojiCommand_CreateSideTag:
		if v.CreateSideTag.GetBaseTag() == "" {
			return errors.New("create-side-tag without base_tag")
		}
	case *ebsv1.KojiCommand_TagBuilds:
		if v.TagBuilds.GetTag() == "" {
			return errors.New("tag-builds without tag")
		}
		if len(v.TagBuilds.GetBuilds()) > MaxBuildsPerCommand {
			return fmt.Errorf("tag-builds names %d builds (max %d)", len(v.TagBuilds.GetBuilds()), MaxBuildsPerCommand)
		}
	case *ebsv1.KojiCommand_RemoveSideTag:
		if v.RemoveSideTag.GetTag() == "" {
			return errors.New("remove-side-tag without tag")
		}
	case *ebsv1.KojiCommand_SubmitBuilds:
		s := v.SubmitBuilds
		switch {
		case s.GetAttemptId() == "" || strings.ContainsAny(s.GetAttemptId(), " *>"):
			return fmt.Errorf("submit-builds with bad attempt_id %q", s.GetAttemptId())
		case s.GetTarget() == "":
			return errors.New("submit-builds without target")
		case len(s.GetBuilds()) > MaxBuildsPerCommand:
			return fmt.Errorf("submit-builds names %d builds (max %d)", len(s.GetBuilds()), MaxBuildsPerCommand)
		}
		for _, b := range s.GetBuilds() {
			if b.GetScmUrl() == "" || b.GetComponent() == "" {
				return fmt.Errorf("submit-builds: build without component or scm_url: %v", b)
			}
		}
	case *ebsv1.KojiCommand_PromoteBuilds:
		if len(v.PromoteBuilds.GetNvrs()) > MaxBuildsPerCommand {
			return fmt.Errorf("promote-builds names %d builds (max %d)", len(v.PromoteBuilds.GetNvrs()), MaxBuildsPerCommand)
		}
	}
	return nil
}

// finishCommand records the outcome, then publishes it; the caller acks.
func (w *Worker) finishCommand(ctx context.Context, cmd *ebsv1.KojiCommand, ev *ebsv1.KojiEvent) error {
	ev.CommandId = cmd.GetCommandId()
	ev.BatchId = cmd.GetBatchId()
	if ev.At == nil {
		ev.At = timestamppb.Now()
	}
	stored, _, err := w.results.Record(ctx, cmd.GetCommandId(), &ebsv1.CommandResult{Result: &ebsv1.CommandResult_Koji{Koji: ev}})
	if err != nil {
		return err
	}
	return w.publishEvent(ctx, cmd.GetCommandId(), stored.GetKoji())
}

func (w *Worker) publishEvent(ctx context.Context, commandID string, ev *ebsv1.KojiEvent) error {
	if ev == nil {
		return natsx.Reject(fmt.Errorf("result of %s is not a Koji event", commandID))
	}
	subject, err := natsx.VerbSubject(natsx.SubjectKojiEvtPrefix, ev)
	if err != nil {
		return natsx.Reject(err)
	}
	_, err = natsx.Publish(ctx, w.js, subject, commands.EventMsgID(commandID), ev)
	return err
}

func eventName(ev *ebsv1.KojiEvent) string {
	n, _ := natsx.OneofCase(ev)
	return n
}

// failed turns a Koji error into the CommandFailed event.
func failed(verb string, err error) *ebsv1.KojiEvent {
	cf := &ebsv1.CommandFailed{Verb: verb, Error: err.Error()}
	if f := kojibatch.AsFault(err); f != nil {
		cf.FaultCode = int32(f.Code)
		cf.Transient = f.Transient
		cf.Error = f.Msg
	}
	return &ebsv1.KojiEvent{Event: &ebsv1.KojiEvent_CommandFailed{CommandFailed: cf}}
}

func (w *Worker) writeIntent(ctx context.Context, cmd *ebsv1.KojiCommand, delivery uint64, mut func(*ebsv1.CommandIntent)) (*ebsv1.CommandIntent, error) {
	in := &ebsv1.CommandIntent{CommandId: cmd.GetCommandId(), At: timestamppb.Now(), Delivery: delivery}
	if mut != nil {
		mut(in)
	}
	if err := w.results.PutIntent(ctx, in); err != nil {
		return nil, err
	}
	return in, nil
}

// --- create-side-tag -------------------------------------------------------

func (w *Worker) createSideTag(ctx context.Context, cmd *ebsv1.KojiCommand, c *ebsv1.CreateSideTag, delivery uint64) (*ebsv1.KojiEvent, error) {
	const verb = "create-side-tag"
	me, err := w.me(ctx)
	if err != nil {
		return failed(verb, err), nil
	}
	created := func(t kojibatch.SideTag, recovered bool) *ebsv1.KojiEvent {
		return &ebsv1.KojiEvent{Event: &ebsv1.KojiEvent_SideTagCreated{SideTagCreated: &ebsv1.SideTagCreated{
			Tag: t.Name, TagId: t.ID, BaseTag: c.GetBaseTag(), Purpose: c.GetPurpose(), Recovered: recovered}}}
	}
	// An earlier delivery may have made the tag: look for it first.
	if in, ok, err := w.results.GetIntent(ctx, cmd.GetCommandId()); err != nil {
		return nil, err
	} else if ok {
		t, found, err := w.findNewSideTag(ctx, me, in, c.GetBaseTag())
		if err != nil {
			return failed(verb, err), nil
		}
		if found {
			w.log.Info("side tag already made by an earlier delivery", "command_id", cmd.GetCommandId(), "tag", t.Name)
			return created(t, true), nil
		}
	}
	before, err := w.hub.ListSideTags(ctx, me.Name)
	if err != nil {
		return failed(verb, err), nil
	}
	in, err := w.writeIntent(ctx, cmd, delivery, func(in *ebsv1.CommandIntent) {
		in.User, in.UserId = me.Name, me.ID
		for _, t := range before {
			in.SideTagsBefore = append(in.SideTagsBefore, t.Name)
		}
	})
	if err != nil {
		return nil, err
	}
	t, err := w.hub.CreateSideTag(ctx, c.GetBaseTag())
	if err != nil {
		// The hub may have made it even though the reply was lost.
		if t2, found, lerr := w.findNewSideTag(ctx, me, in, c.GetBaseTag()); lerr == nil && found {
			return created(t2, true), nil
		}
		return failed(verb, err), nil
	}
	return created(t, false), nil
}

// findNewSideTag looks for a side tag of base owned by me that did not exist
// when the intent was written.
func (w *Worker) findNewSideTag(ctx context.Context, me kojibatch.User, in *ebsv1.CommandIntent, base string) (kojibatch.SideTag, bool, error) {
	now, err := w.hub.ListSideTags(ctx, me.Name)
	if err != nil {
		return kojibatch.SideTag{}, false, err
	}
	var best kojibatch.SideTag
	found := false
	for _, t := range now {
		if slices.Contains(in.GetSideTagsBefore(), t.Name) || !strings.HasPrefix(t.Name, base+"-side-") {
			continue
		}
		if !found || t.ID > best.ID {
			best, found = t, true
		}
	}
	return best, found, nil
}

// --- tag-builds ------------------------------------------------------------

func (w *Worker) tagBuilds(ctx context.Context, cmd *ebsv1.KojiCommand, c *ebsv1.TagBuilds, delivery uint64) (*ebsv1.KojiEvent, error) {
	const verb = "tag-builds"
	out := &ebsv1.BuildsTagged{Tag: c.GetTag(), Tasks: map[string]int64{}}
	ev := &ebsv1.KojiEvent{Event: &ebsv1.KojiEvent_BuildsTagged{BuildsTagged: out}}
	if len(c.GetBuilds()) == 0 {
		return ev, nil
	}
	var todo []string
	for _, b := range c.GetBuilds() {
		todo = append(todo, b.GetNvr())
	}
	// Only a delivery after one that got as far as its intent can find
	// its own work done: it looks up what is tagged already and the
	// tagging tasks that have not run yet. A first delivery skips the
	// look-up: on a side tag filled chunk by chunk, listTagged would read
	// back every build tagged so far (N^2/1000 builds over a batch).
	intent, hadIntent, err := w.results.GetIntent(ctx, cmd.GetCommandId())
	if err != nil {
		return nil, err
	}
	if hadIntent {
		tagged, err := w.hub.ListTagged(ctx, c.GetTag())
		if err != nil {
			return failed(verb, err), nil
		}
		in := map[string]bool{}
		for _, n := range tagged {
			in[n] = true
		}
		me, err := w.me(ctx)
		if err != nil {
			return failed(verb, err), nil
		}
		tasks, err := w.hub.ListTasks(ctx, "tagBuild", me.ID, intent.GetAt().AsTime().Add(-intentSlack))
		if err != nil {
			return failed(verb, err), nil
		}
		pending := map[string]int64{}
		for _, t := range tasks {
			if t.Tag == c.GetTag() && t.State != kojibatch.TaskFailed && t.State != kojibatch.TaskCanceled {
				pending[t.BuildRef] = t.ID
			}
		}
		var rest []string
		for _, n := range todo {
			if in[n] {
				out.AlreadyTagged = append(out.AlreadyTagged, n)
				continue
			}
			if id, ok := pending[n]; ok {
				out.Tasks[n] = id
				continue
			}
			rest = append(rest, n)
		}
		todo = rest
	}
	if len(todo) == 0 {
		return ev, nil
	}
	if _, err := w.writeIntent(ctx, cmd, delivery, nil); err != nil {
		return nil, err
	}
	res, err := w.hub.TagBuilds(ctx, c.GetTag(), todo)
	if err != nil {
		return failed(verb, err), nil
	}
	for i, r := range res {
		if r.Err != nil {
			tf := &ebsv1.TagFailure{Nvr: todo[i], Error: r.Err.Error()}
			if f := kojibatch.AsFault(r.Err); f != nil {
				tf.FaultCode, tf.Error = int32(f.Code), f.Msg
			}
			out.Failures = append(out.Failures, tf)
			continue
		}
		out.Tasks[todo[i]] = r.Value
	}
	return ev, nil
}

// --- remove-side-tag -------------------------------------------------------

func (w *Worker) removeSideTag(ctx context.Context, _ *ebsv1.KojiCommand, c *ebsv1.RemoveSideTag) (*ebsv1.KojiEvent, error) {
	out := &ebsv1.SideTagRemoved{Tag: c.GetTag()}
	ev := &ebsv1.KojiEvent{Event: &ebsv1.KojiEvent_SideTagRemoved{SideTagRemoved: out}}
	if err := w.hub.RemoveSideTag(ctx, c.GetTag()); err != nil {
		if f := kojibatch.AsFault(err); f != nil && f.Code == 1000 &&
			(strings.Contains(f.Msg, "No such") || strings.Contains(f.Msg, "Not a sidetag")) {
			out.AlreadyGone = true
			return ev, nil
		}
		return failed("remove-side-tag", err), nil
	}
	return ev, nil
}

// --- cancel-tasks ----------------------------------------------------------

func (w *Worker) cancelTasks(ctx context.Context, _ *ebsv1.KojiCommand, c *ebsv1.CancelTasks) (*ebsv1.KojiEvent, error) {
	out := &ebsv1.TasksCancelled{}
	if len(c.GetTaskIds()) > 0 {
		res, err := w.hub.CancelTasks(ctx, c.GetTaskIds())
		if err != nil {
			return failed("cancel-tasks", err), nil
		}
		for i, r := range res {
			if r.Err != nil {
				// Cancelling a finished task is a no-op in Koji; anything
				// else is logged: the saga moves on either way.
				w.log.Warn("cancelTask failed", "task_id", c.GetTaskIds()[i], "error", r.Err)
				continue
			}
			out.TaskIds = append(out.TaskIds, c.GetTaskIds()[i])
		}
	}
	return &ebsv1.KojiEvent{Event: &ebsv1.KojiEvent_TasksCancelled{TasksCancelled: out}}, nil
}

// --- promote-builds --------------------------------------------------------

func (w *Worker) promoteBuilds(ctx context.Context, _ *ebsv1.KojiCommand, c *ebsv1.PromoteBuilds) (*ebsv1.KojiEvent, error) {
	out := &ebsv1.BuildsPromoted{Promoted: map[string]string{}}
	if len(c.GetNvrs()) > 0 {
		res, err := w.hub.PromoteBuilds(ctx, c.GetNvrs())
		if err != nil {
			return failed("promote-builds", err), nil
		}
		for i, r := range res {
			nvr := c.GetNvrs()[i]
			if r.Err == nil {
				out.Promoted[nvr] = r.Value
				continue
			}
			// A redelivery finds its earlier promotion done ("Not a draft
			// build"); the promoted NVR drops ",draft_<id>".
			if f := kojibatch.AsFault(r.Err); f != nil && strings.Contains(f.Msg, "Not a draft build") {
				out.Promoted[nvr] = PromotedNVR(nvr)
				continue
			}
			pf := &ebsv1.PromoteFailure{Nvr: nvr, Error: r.Err.Error()}
			if f := kojibatch.AsFault(r.Err); f != nil {
				pf.FaultCode, pf.Error = int32(f.Code), f.Msg
			}
			out.Failures = append(out.Failures, pf)
		}
	}
	return &ebsv1.KojiEvent{Event: &ebsv1.KojiEvent_BuildsPromoted{BuildsPromoted: out}}, nil
}

// PromotedNVR is the NVR a draft build gets when promoted.
func PromotedNVR(draft string) string {
	if i := strings.Index(draft, ",draft_"); i >= 0 {
		return draft[:i]
	}
	return draft
}

// --- submit-builds ---------------------------------------------------------

func (w *Worker) submitBuilds(ctx context.Context, cmd *ebsv1.KojiCommand, c *ebsv1.SubmitBuilds, delivery uint64) (*ebsv1.KojiEvent, error) {
	const verb = "submit-builds"
	me, err := w.me(ctx)
	if err != nil {
		return failed(verb, err), nil
	}
	out := &ebsv1.BuildsSubmitted{AttemptId: c.GetAttemptId(), Target: c.GetTarget()}
	ev := &ebsv1.KojiEvent{Event: &ebsv1.KojiEvent_BuildsSubmitted{BuildsSubmitted: out}}
	submitted := map[string]int64{} // scm url -> task id

	intent, hadIntent, err := w.results.GetIntent(ctx, cmd.GetCommandId())
	if err != nil {
		return nil, err
	}
	if hadIntent {
		found, err := w.findSubmitted(ctx, me, intent, c)
		if err != nil {
			return failed(verb, err), nil
		}
		for u, id := range found {
			submitted[u] = id
		}
		if len(found) > 0 {
			out.Recovered = true
			w.log.Info("build tasks already submitted by an earlier delivery", "command_id", cmd.GetCommandId(), "found", len(found))
		}
	} else {
		if intent, err = w.writeIntent(ctx, cmd, delivery, func(in *ebsv1.CommandIntent) { in.User, in.UserId = me.Name, me.ID }); err != nil {
			return nil, err
		}
	}
	var todo []*ebsv1.BuildSpec
	for _, b := range c.GetBuilds() {
		if _, ok := submitted[b.GetScmUrl()]; !ok {
			todo = append(todo, b)
		}
	}
	if len(todo) > 0 {
		calls := make([]kojibatch.BuildCall, len(todo))
		for i, b := range todo {
			o := c.GetOptions()
			calls[i] = kojibatch.BuildCall{SCMURL: b.GetScmUrl(), Target: c.GetTarget(), Scratch: o.GetScratch(), Draft: o.GetDraft(),
				FailFast: o.GetFailFast(), WaitRepo: o.GetWaitRepo(), Priority: int(c.GetPriority()), Attempt: c.GetAttemptId()}
		}
		res, err := w.hub.SubmitBuilds(ctx, calls)
		if err != nil {
			// The reply may be lost after the hub made the tasks.
			found, lerr := w.findSubmitted(ctx, me, intent, c)
			if lerr != nil || len(found) == 0 {
				return failed(verb, err), nil
			}
			for u, id := range found {
				submitted[u] = id
			}
			out.Recovered = true
			for _, b := range todo {
				if _, ok := submitted[b.GetScmUrl()]; !ok {
					out.Failures = append(out.Failures, submitFailure(b, err))
				}
			}
		} else {
			for i, r := range res {
				if r.Err != nil {
					out.Failures = append(out.Failures, submitFailure(todo[i], r.Err))
					continue
				}
				submitted[todo[i].GetScmUrl()] = r.Value
			}
		}
	}
	now := time.Now()
	timeout := c.GetTaskTimeout().AsDuration()
	if timeout <= 0 {
		timeout = w.cfg.TaskTimeout
	}
	var recs []*ebsv1.TaskRecord
	for _, b := range c.GetBuilds() {
		id, ok := submitted[b.GetScmUrl()]
		if !ok {
			continue
		}
		out.Tasks = append(out.Tasks, &ebsv1.SubmittedTask{Component: b.GetComponent(), ScmUrl: b.GetScmUrl(), TaskId: id})
		recs = append(recs, &ebsv1.TaskRecord{TaskId: id, AttemptId: c.GetAttemptId(), BatchId: cmd.GetBatchId(), CommandId: cmd.GetCommandId(),
			Component: b.GetComponent(), ScmUrl: b.GetScmUrl(), SubmittedAt: timestamppb.New(now), Deadline: timestamppb.New(now.Add(timeout))})
	}
	// The records are independent KV writes (a round trip each): written
	// trackParallel at a time, all before the command's result.
	errs := make([]error, len(recs))
	sem := make(chan struct{}, trackParallel)
	var wg sync.WaitGroup
	for i, rec := range recs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = w.trackTask(ctx, rec)
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return ev, nil
}

// trackParallel bounds the task records written at once for one submission.
const trackParallel = 16

func submitFailure(b *ebsv1.BuildSpec, err error) *ebsv1.SubmitFailure {
	sf := &ebsv1.SubmitFailure{Component: b.GetComponent(), ScmUrl: b.GetScmUrl(), Error: err.Error()}
	if f := kojibatch.AsFault(err); f != nil {
		sf.FaultCode, sf.Error = int32(f.Code), f.Msg
	}
	return sf
}

// findSubmitted returns the build tasks (scm url -> task id) that an earlier
// delivery of this attempt already created: listTasks(method=build,
// owner=me, createdAfter=intent) matched on SCM URL, target and
// custom_user_metadata.ebs_attempt.
func (w *Worker) findSubmitted(ctx context.Context, me kojibatch.User, in *ebsv1.CommandIntent, c *ebsv1.SubmitBuilds) (map[string]int64, error) {
	tasks, err := w.hub.ListTasks(ctx, "build", me.ID, in.GetAt().AsTime().Add(-intentSlack))
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, b := range c.GetBuilds() {
		want[b.GetScmUrl()] = true
	}
	sort.Slice(tasks, func(i, j int) bool { return tasks[i].ID < tasks[j].ID })
	found := map[string]int64{}
	for _, t := range tasks {
		if t.EBSAttempt != c.GetAttemptId() || t.Target != c.GetTarget() || !want[t.SCMURL] {
			continue
		}
		if _, dup := found[t.SCMURL]; !dup {
			found[t.SCMURL] = t.ID
		}
	}
	return found, nil
}

// trackTask writes a task record unless it exists (a redelivery).
func (w *Worker) trackTask(ctx context.Context, rec *ebsv1.TaskRecord) error {
	key := TaskKey(rec.GetAttemptId(), rec.GetTaskId())
	rev, err := w.tasks.Create(ctx, key, rec)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil
		}
		return err
	}
	w.mu.Lock()
	t, ok := w.open[rec.GetTaskId()]
	if !ok {
		t = &tracked{key: key, rev: rev, rec: rec}
		w.open[rec.GetTaskId()] = t
	}
	w.mu.Unlock()
	if !ok {
		w.finishEarly(ctx, t)
	}
	return nil
}

// TaskKey is a task record's key in KV ebs_tasks.
func TaskKey(attemptID string, taskID int64) string {
	return commands.ID(attemptID, taskID)
}
