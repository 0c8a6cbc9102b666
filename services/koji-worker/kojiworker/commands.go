package kojiworker

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/commands"
	"github.com/fedora-eln/ebs/libs/koji"
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

// --- answers lost after the hub ran the call ---------------------------------

// mayHaveRun reports whether a Koji write that returned err may still have
// been committed by the hub: its answer was lost (a transport error, an
// HTTP 5xx that outlived the client's retries), the client's retry of a
// committed call was refused (RetryError), or the hub went offline between
// the client's attempts (ServerOffline). A definite fault (TagError,
// ParameterError...) or a 4xx means the call did not run.
func mayHaveRun(err error) bool {
	f := kojibatch.AsFault(err)
	if f == nil {
		return true
	}
	switch f.Code {
	case 0:
		return f.Transient
	case koji.CodeRetryError, koji.CodeServerOffline:
		return true
	}
	return false
}

// lostAnswerRounds bounds how often a command looks up what the hub did
// after an answer was lost and sends the rest again (the client has
// already retried each call within its budget).
const lostAnswerRounds = 2

// --- tag-builds ------------------------------------------------------------

func (w *Worker) tagBuilds(ctx context.Context, cmd *ebsv1.KojiCommand, c *ebsv1.TagBuilds, delivery uint64) (*ebsv1.KojiEvent, error) {
	const verb = "tag-builds"
	log := w.log.With("command_id", cmd.GetCommandId(), "tag", c.GetTag())
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
	// back every build tagged so far (N^2/1000 builds over a batch). A
	// redelivery keeps the first intent: its time bounds the tasks looked
	// for, and those of the first delivery must be among them.
	intent, hadIntent, err := w.results.GetIntent(ctx, cmd.GetCommandId())
	if err != nil {
		return nil, err
	}
	if hadIntent {
		if todo, err = w.tagProgress(ctx, c, intent, todo, out); err != nil {
			return failed(verb, err), nil
		}
		if len(todo) == 0 {
			return ev, nil
		}
	} else if intent, err = w.writeIntent(ctx, cmd, delivery, nil); err != nil {
		return nil, err
	}
	for round := 1; ; round++ {
		res, err := w.hub.TagBuilds(ctx, c.GetTag(), todo)
		if err == nil {
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
		if !mayHaveRun(err) || round > lostAnswerRounds {
			return failed(verb, err), nil
		}
		// The hub may have made the tagging tasks though the answer was
		// lost: send again only what is neither tagged nor being tagged.
		log.Warn("tagging answer lost; looking up what the hub did", "builds", len(todo), "error", err)
		rest, lerr := w.tagProgress(ctx, c, intent, todo, out)
		if lerr != nil {
			log.Error("looking up the tagging after a lost answer failed", "error", lerr)
			return failed(verb, err), nil
		}
		log.Info("tagging looked up after a lost answer", "done_or_running", len(todo)-len(rest), "to_send_again", len(rest))
		if todo = rest; len(todo) == 0 {
			return ev, nil
		}
	}
}

// tagProgress sorts nvrs by what the hub did for them in c's tag: tagged
// already (into out.AlreadyTagged), or being tagged by a tagBuild task of
// mine made since the intent (into out.Tasks). It returns the rest.
// listTagged is read before listTasks, so a task that ends in between is
// still seen.
func (w *Worker) tagProgress(ctx context.Context, c *ebsv1.TagBuilds, intent *ebsv1.CommandIntent, nvrs []string, out *ebsv1.BuildsTagged) ([]string, error) {
	tagged, err := w.hub.ListTagged(ctx, c.GetTag())
	if err != nil {
		return nil, err
	}
	in := map[string]bool{}
	for _, n := range tagged {
		in[n] = true
	}
	me, err := w.me(ctx)
	if err != nil {
		return nil, err
	}
	tasks, err := w.hub.ListTasks(ctx, "tagBuild", me.ID, intent.GetAt().AsTime().Add(-intentSlack))
	if err != nil {
		return nil, err
	}
	pending, err := w.tagTasks(ctx, me, c, tasks)
	if err != nil {
		return nil, err
	}
	var rest []string
	for _, n := range nvrs {
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
	return rest, nil
}

// tagTasks maps NVRs to the tagBuild tasks among tasks that tag them into
// c's tag and have not failed or been cancelled. Koji's tagBuild request is
// [tag_id, build_id, ...]: the tag is matched by its id (looked up among my
// side tags, the only tags ebs tags into) and the build ids are turned into
// NVRs, from the command's build ids or else by getBuild.
func (w *Worker) tagTasks(ctx context.Context, me kojibatch.User, c *ebsv1.TagBuilds, tasks []kojibatch.Task) (map[string]int64, error) {
	var live []kojibatch.Task
	for _, t := range tasks {
		if t.State != kojibatch.TaskFailed && t.State != kojibatch.TaskCanceled {
			live = append(live, t)
		}
	}
	if len(live) == 0 {
		return nil, nil
	}
	tagRefs := map[string]bool{c.GetTag(): true}
	sideTags, err := w.hub.ListSideTags(ctx, me.Name)
	if err != nil {
		return nil, err
	}
	for _, st := range sideTags {
		if st.Name == c.GetTag() {
			tagRefs[strconv.FormatInt(st.ID, 10)] = true
		}
	}
	nvrOf := map[string]string{}
	resolve := false // some of the command's builds come without an id
	for _, b := range c.GetBuilds() {
		nvrOf[b.GetNvr()] = b.GetNvr()
		if b.GetBuildId() != 0 {
			nvrOf[strconv.FormatInt(b.GetBuildId(), 10)] = b.GetNvr()
		} else {
			resolve = true
		}
	}
	var ids []int64
	if resolve {
		seen := map[int64]bool{}
		for _, t := range live {
			if _, known := nvrOf[t.BuildRef]; known || !tagRefs[t.Tag] {
				continue
			}
			if id, err := strconv.ParseInt(t.BuildRef, 10, 64); err == nil && !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	if len(ids) > 0 {
		builds, err := w.hub.GetBuilds(ctx, ids)
		if err != nil {
			return nil, err
		}
		for i, r := range builds {
			if r.Err == nil {
				nvrOf[strconv.FormatInt(ids[i], 10)] = r.Value.NVR
			}
		}
	}
	pending := map[string]int64{}
	for _, t := range live {
		n, ok := nvrOf[t.BuildRef]
		if !ok || !tagRefs[t.Tag] {
			continue
		}
		if id, dup := pending[n]; !dup || t.ID < id {
			pending[n] = t.ID
		}
	}
	return pending, nil
}

// --- remove-side-tag -------------------------------------------------------

func (w *Worker) removeSideTag(ctx context.Context, cmd *ebsv1.KojiCommand, c *ebsv1.RemoveSideTag) (*ebsv1.KojiEvent, error) {
	const verb = "remove-side-tag"
	log := w.log.With("command_id", cmd.GetCommandId(), "tag", c.GetTag())
	out := &ebsv1.SideTagRemoved{Tag: c.GetTag()}
	ev := &ebsv1.KojiEvent{Event: &ebsv1.KojiEvent_SideTagRemoved{SideTagRemoved: out}}
	for round := 1; ; round++ {
		err := w.hub.RemoveSideTag(ctx, c.GetTag())
		if err == nil {
			return ev, nil
		}
		if f := kojibatch.AsFault(err); f != nil && f.Code == koji.CodeGenericError &&
			(strings.Contains(f.Msg, "No such") || strings.Contains(f.Msg, "Not a sidetag")) {
			out.AlreadyGone = true
			return ev, nil
		}
		if !mayHaveRun(err) || round > lostAnswerRounds {
			return failed(verb, err), nil
		}
		// The hub may have removed it though the answer was lost.
		exists, lerr := w.sideTagExists(ctx, c.GetTag())
		if lerr != nil {
			log.Error("looking up the side tag after a lost answer failed", "error", lerr)
			return failed(verb, err), nil
		}
		if !exists {
			log.Info("side tag removed though the answer was lost", "error", err)
			return ev, nil
		}
		log.Warn("side tag still there after a lost answer; removing it again", "error", err)
	}
}

// sideTagExists reports whether tag is one of my side tags (ebs removes
// only side tags it made).
func (w *Worker) sideTagExists(ctx context.Context, tag string) (bool, error) {
	me, err := w.me(ctx)
	if err != nil {
		return false, err
	}
	tags, err := w.hub.ListSideTags(ctx, me.Name)
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(tags, func(t kojibatch.SideTag) bool { return t.Name == tag }), nil
}

// --- cancel-tasks ----------------------------------------------------------

func (w *Worker) cancelTasks(ctx context.Context, cmd *ebsv1.KojiCommand, c *ebsv1.CancelTasks) (*ebsv1.KojiEvent, error) {
	out := &ebsv1.TasksCancelled{}
	if len(c.GetTaskIds()) > 0 {
		res, err := w.hub.CancelTasks(ctx, c.GetTaskIds())
		for round := 1; err != nil && mayHaveRun(err) && round <= lostAnswerRounds; round++ {
			// cancelTask of a cancelled or finished task does nothing:
			// after a lost answer the whole multicall is simply sent again.
			w.log.Warn("cancelling answer lost; cancelling again", "command_id", cmd.GetCommandId(), "tasks", len(c.GetTaskIds()), "error", err)
			res, err = w.hub.CancelTasks(ctx, c.GetTaskIds())
		}
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

func (w *Worker) promoteBuilds(ctx context.Context, cmd *ebsv1.KojiCommand, c *ebsv1.PromoteBuilds) (*ebsv1.KojiEvent, error) {
	out := &ebsv1.BuildsPromoted{Promoted: map[string]string{}}
	nvrs := c.GetNvrs()
	if len(nvrs) > 0 {
		res, err := w.hub.PromoteBuilds(ctx, nvrs)
		for round := 1; err != nil && mayHaveRun(err) && round <= lostAnswerRounds; round++ {
			// Promoting again is safe: a build promoted by the lost call
			// faults, and is recognised below as promoted.
			w.log.Warn("promotion answer lost; promoting again", "command_id", cmd.GetCommandId(), "builds", len(nvrs), "error", err)
			res, err = w.hub.PromoteBuilds(ctx, nvrs)
		}
		if err != nil {
			return failed("promote-builds", err), nil
		}
		var check []int // faulted draft builds an earlier call may have promoted
		for i, r := range res {
			nvr := nvrs[i]
			if r.Err == nil {
				out.Promoted[nvr] = r.Value
				continue
			}
			if f := kojibatch.AsFault(r.Err); f != nil && strings.Contains(f.Msg, "Not a draft build") {
				out.Promoted[nvr] = PromotedNVR(nvr)
				continue
			}
			if _, ok := draftBuildID(nvr); ok {
				check = append(check, i)
				continue
			}
			out.Failures = append(out.Failures, promoteFailure(nvr, r.Err))
		}
		if len(check) > 0 {
			w.checkPromoted(ctx, cmd, nvrs, res, check, out)
		}
	}
	return &ebsv1.KojiEvent{Event: &ebsv1.KojiEvent_BuildsPromoted{BuildsPromoted: out}}, nil
}

// checkPromoted looks up the draft builds at indexes check whose promotion
// faulted: promoteBuild of a promoted draft's NVR finds no build (the
// release lost ",draft_<id>"), so a build that is no longer a draft and has
// the promoted NVR was promoted by an earlier call (a redelivery, or a
// multicall whose answer was lost). The others are failures.
func (w *Worker) checkPromoted(ctx context.Context, cmd *ebsv1.KojiCommand, nvrs []string, res []kojibatch.Result[string], check []int, out *ebsv1.BuildsPromoted) {
	ids := make([]int64, len(check))
	for k, i := range check {
		ids[k], _ = draftBuildID(nvrs[i])
	}
	builds, err := w.hub.GetBuilds(ctx, ids)
	if err != nil {
		w.log.Warn("looking up draft builds whose promotion faulted failed", "command_id", cmd.GetCommandId(), "builds", len(ids), "error", err)
	}
	for k, i := range check {
		nvr := nvrs[i]
		if err == nil && k < len(builds) {
			if b := builds[k]; b.Err == nil && !b.Value.Draft && b.Value.NVR == PromotedNVR(nvr) {
				out.Promoted[nvr] = b.Value.NVR
				continue
			}
		}
		out.Failures = append(out.Failures, promoteFailure(nvr, res[i].Err))
	}
}

func promoteFailure(nvr string, err error) *ebsv1.PromoteFailure {
	pf := &ebsv1.PromoteFailure{Nvr: nvr, Error: err.Error()}
	if f := kojibatch.AsFault(err); f != nil {
		pf.FaultCode, pf.Error = int32(f.Code), f.Msg
	}
	return pf
}

// draftBuildID is the build id in a draft build's NVR ("<release>,draft_<id>").
func draftBuildID(nvr string) (int64, bool) {
	i := strings.LastIndex(nvr, ",draft_")
	if i < 0 {
		return 0, false
	}
	id, err := strconv.ParseInt(nvr[i+len(",draft_"):], 10, 64)
	return id, err == nil && id > 0
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
