package batcher

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/commands"
	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// Saga steps, in order (BatchCheckpoint.step).
const (
	stepMove     = "move"     // delete the members' pending keys (revision-checked)
	stepResolve  = "resolve"  // SCM URLs (getBuild), denylist, skip_tag, slices
	stepSeed     = "seed"     // build side tag: create, tag seeds, wait (new tag on timeout)
	stepBuild    = "build"    // slices in ordering, attempts with the retry rule
	stepCollect  = "collect"  // denylist persistent failures, NVRs of successes
	stepPromote  = "promote"  // drafts only
	stepPublish  = "publish"  // per Bodhi chunk: update side tag, tag, wait, update
	stepStable   = "stable"   // wait for the stable tag (logged and ignored on timeout)
	stepCleanup  = "cleanup"  // remove the build side tag
	stepComplete = "complete" // ebs.batch.completed, clear "current"
	stepDone     = "done"
)

// initialPrevFailures starts the retry rule (the original's 10,000,000).
const initialPrevFailures = 10_000_000

// buildPriority is build()'s priority argument (relative, like --background).
const buildPriority = 5

// failure ends a batch early (BATCH_RESULT_FAILED); anything else a step
// returns is an interruption after which the step runs again.
type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

func failf(format string, a ...any) error { return &failure{msg: fmt.Sprintf(format, a...)} }

type saga struct {
	*state
	b        *Batcher
	log      *slog.Logger
	id       string
	settings *config.Config
}

// runSaga runs batch id from its checkpoint to the end.
func (b *Batcher) runSaga(ctx context.Context, id string) error {
	st, err := loadState(ctx, b.batches, id)
	if err != nil {
		return err
	}
	s := &saga{state: st, b: b, id: id, log: b.log.With("batch_id", id), settings: b.settings()}
	for {
		step := s.hdr.GetStep()
		if step != stepDone {
			if err := s.hook(ctx, "", ""); err != nil {
				return err
			}
		}
		var err error
		switch step {
		case stepMove:
			err = s.move(ctx)
		case stepResolve:
			err = s.resolve(ctx)
		case stepSeed:
			err = s.seed(ctx)
		case stepBuild:
			err = s.build(ctx)
		case stepCollect:
			err = s.collect(ctx)
		case stepPromote:
			err = s.promote(ctx)
		case stepPublish:
			err = s.publish(ctx)
		case stepStable:
			err = s.stable(ctx)
		case stepCleanup:
			err = s.cleanup(ctx)
		case stepComplete:
			err = s.complete(ctx)
		case stepDone:
			if err := purgeDetails(ctx, b.batches, id); err != nil {
				return err
			}
			return b.clearCurrent(ctx, id)
		default:
			return fmt.Errorf("batcher: batch %s has unknown step %q", id, step)
		}
		var f *failure
		if errors.As(err, &f) {
			s.log.Error("batch failed", "step", step, "error", f.msg)
			s.hdr.Result = ebsv1.BatchResult_BATCH_RESULT_FAILED
			s.hdr.Error = f.msg
			err = s.next(ctx, stepCleanup, ebsv1.BatchPhase_BATCH_PHASE_CLEANING_UP, "batch failed: "+f.msg)
		}
		if err != nil {
			return err
		}
	}
}

// next moves to step (and phase, announcing it when it changes) and saves.
func (s *saga) next(ctx context.Context, step string, phase ebsv1.BatchPhase, detail string) error {
	if phase != s.hdr.GetPhase() {
		if err := s.announce(ctx, phase, detail); err != nil {
			return err
		}
	}
	s.hdr.Step = step
	if err := s.savePages(ctx); err != nil {
		return err
	}
	return s.saveHeader(ctx)
}

// announce publishes ebs.batch.phase (deterministic id: a re-run after a
// crash publishes the same message) and records it in the header.
func (s *saga) announce(ctx context.Context, phase ebsv1.BatchPhase, detail string) error {
	n := s.hdr.GetPhaseEvents() + 1
	ev := &ebsv1.BatchPhaseChanged{BatchId: s.id, Phase: phase, At: timestamppb.Now(), Detail: detail,
		SideTag: s.hdr.GetBuildSideTag().GetTag()}
	if err := s.pub(ctx, natsx.SubjectBatchPhase, fmt.Sprintf("%s.phase.%d", s.id, n), ev); err != nil {
		return err
	}
	s.hdr.Phase, s.hdr.PhaseEvents = phase, n
	s.log.Info("batch phase", "phase", phase.String(), "detail", detail)
	return nil
}

// hook calls Config.Hook (tests only) at a step's entry (commandID empty)
// or after a command was published on subject.
func (s *saga) hook(ctx context.Context, commandID, subject string) error {
	if s.b.cfg.Hook == nil {
		return nil
	}
	return s.b.cfg.Hook(ctx, HookPoint{BatchID: s.id, Step: s.hdr.GetStep(), CommandID: commandID, Subject: subject})
}

func (s *saga) pub(ctx context.Context, subject, msgID string, m proto.Message) error {
	_, err := natsx.Publish(ctx, s.b.js, subject, msgID, m)
	return err
}

// --- commands --------------------------------------------------------------

// kojiAll issues Koji commands (filling ids) and waits for all their results.
func (s *saga) kojiAll(ctx context.Context, cmds []*ebsv1.KojiCommand) ([]*ebsv1.KojiEvent, error) {
	for _, c := range cmds {
		c.BatchId, c.IssuedAt = s.id, timestamppb.Now()
		subject, err := natsx.VerbSubject(natsx.SubjectKojiCmdPrefix, c)
		if err != nil {
			return nil, err
		}
		if err := s.b.results.Publish(ctx, s.b.js, subject, c.GetCommandId(), c); err != nil {
			return nil, err
		}
		if err := s.hook(ctx, c.GetCommandId(), subject); err != nil {
			return nil, err
		}
	}
	out := make([]*ebsv1.KojiEvent, len(cmds))
	for i, c := range cmds {
		res, err := s.b.results.Await(ctx, c.GetCommandId())
		if err != nil {
			return nil, err
		}
		if res.GetKoji() == nil {
			return nil, fmt.Errorf("batcher: result of %s is not a Koji event", c.GetCommandId())
		}
		out[i] = res.GetKoji()
	}
	return out, nil
}

func (s *saga) koji(ctx context.Context, c *ebsv1.KojiCommand) (*ebsv1.KojiEvent, error) {
	evs, err := s.kojiAll(ctx, []*ebsv1.KojiCommand{c})
	if err != nil {
		return nil, err
	}
	return evs[0], nil
}

func (s *saga) watch(ctx context.Context, c *ebsv1.WatchCommand) (*ebsv1.WatchEvent, error) {
	c.BatchId, c.IssuedAt = s.id, timestamppb.Now()
	subject, err := natsx.VerbSubject(natsx.SubjectWatchCmdPrefix, c)
	if err != nil {
		return nil, err
	}
	res, err := s.issue(ctx, subject, c.GetCommandId(), c)
	if err != nil {
		return nil, err
	}
	ev := res.GetWatch()
	if ev == nil {
		return nil, fmt.Errorf("batcher: result of %s is not a watch event", c.GetCommandId())
	}
	if f := ev.GetCommandFailed(); f != nil {
		// repo-watcher could not carry the wait out: it is not satisfied.
		// Every caller already handles a timed-out wait (abandon the side
		// tag, or log and go on for the stable tag), so report it as one.
		s.log.Error("wait failed; treating it as timed out", "command_id", c.GetCommandId(), "error", f.GetError())
		return &ebsv1.WatchEvent{CommandId: ev.GetCommandId(), BatchId: ev.GetBatchId(), At: ev.GetAt(),
			Event: &ebsv1.WatchEvent_WaitTimedOut{WaitTimedOut: &ebsv1.WaitTimedOut{
				Tag: c.GetWaitTagged().GetTag(), Missing: c.GetWaitTagged().GetNvrs()}}}, nil
	}
	return ev, nil
}

func (s *saga) bodhi(ctx context.Context, c *ebsv1.BodhiCommand) (*ebsv1.BodhiEvent, error) {
	c.BatchId, c.IssuedAt = s.id, timestamppb.Now()
	subject, err := natsx.VerbSubject(natsx.SubjectBodhiCmdPrefix, c)
	if err != nil {
		return nil, err
	}
	res, err := s.issue(ctx, subject, c.GetCommandId(), c)
	if err != nil {
		return nil, err
	}
	if res.GetBodhi() == nil {
		return nil, fmt.Errorf("batcher: result of %s is not a Bodhi event", c.GetCommandId())
	}
	return res.GetBodhi(), nil
}

// issue publishes a command (unless its result exists) and awaits its result.
func (s *saga) issue(ctx context.Context, subject, id string, c proto.Message) (*ebsv1.CommandResult, error) {
	if err := s.b.results.Publish(ctx, s.b.js, subject, id, c); err != nil {
		return nil, err
	}
	if err := s.hook(ctx, id, subject); err != nil {
		return nil, err
	}
	return s.b.results.Await(ctx, id)
}

func chunked[T any](xs []T, n int) [][]T {
	var out [][]T
	for len(xs) > n {
		out = append(out, xs[:n])
		xs = xs[n:]
	}
	if len(xs) > 0 {
		out = append(out, xs)
	}
	return out
}

// --- move ------------------------------------------------------------------

// moveParallel bounds the pending deletes in flight (each is one round
// trip; a mass rebuild moves 10,000 keys).
const moveParallel = 32

func (s *saga) move(ctx context.Context) error {
	ms := s.members()
	errs := make([]error, len(ms))
	sem := make(chan struct{}, moveParallel)
	var wg sync.WaitGroup
	for i, m := range ms {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			key := natsx.EscapeKey(m.GetPackage().GetComponent())
			err := s.b.pending.KV.Delete(ctx, key, jetstream.LastRevision(m.GetPendingRevision()))
			if err != nil && !isWrongLastSeq(err) && !errors.Is(err, jetstream.ErrKeyNotFound) {
				errs[i] = fmt.Errorf("batcher: remove pending %s: %w", key, err)
			}
			// A wrong revision means a newer request arrived: it stays pending.
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	s.hdr.MembersMoved = true
	return s.next(ctx, stepResolve, s.hdr.GetPhase(), "")
}

func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// --- resolve ---------------------------------------------------------------

func (s *saga) resolve(ctx context.Context) error {
	ms := s.members()
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = m.GetPackage().GetSourceBuildId()
	}
	builds, err := s.b.hub.GetBuilds(ctx, ids)
	if err != nil {
		return fmt.Errorf("batcher: getBuild: %w", err)
	}
	s.touchAll()
	// The denylist, read once (a Get per member is a round trip each).
	denied := map[string]*ebsv1.DenylistEntry{}
	entries, err := s.b.failed.List(ctx)
	if err != nil {
		return err
	}
	for _, e := range entries {
		denied[e.Key] = e.Value
	}
	orderings := map[int32]int32{}
	for i, m := range ms {
		r := builds[i]
		if r.Err != nil || r.Value.Source == "" {
			m.State = ebsv1.PackageState_PACKAGE_STATE_SKIPPED_NO_SCM_URL
			m.Reason = "SCM URL not available"
			if r.Err != nil {
				m.Reason += ": " + r.Err.Error()
			}
			continue
		}
		m.Package.ScmUrl = r.Value.Source
		name := r.Value.Name
		if name == "" {
			name = m.GetPackage().GetFedoraName()
		}
		m.Package.Seeded = !s.settings.Control.Skipped(name)
		if d, ok := denied[natsx.EscapeKey(r.Value.Source)]; ok {
			m.State = ebsv1.PackageState_PACKAGE_STATE_SKIPPED_DENYLISTED
			m.Reason = fmt.Sprintf("SCM URL denylisted by batch %s: %s", d.GetBatchId(), d.GetReason())
			m.Denylisted = true
			continue
		}
		orderings[m.GetPackage().GetOrdering()]++
	}
	var ords []int32
	for o := range orderings {
		ords = append(ords, o)
	}
	sort.Slice(ords, func(i, j int) bool { return ords[i] < ords[j] })
	s.hdr.Slices = nil
	for i, o := range ords {
		s.hdr.Slices = append(s.hdr.Slices, &ebsv1.SliceCheckpoint{Slice: int32(i), Ordering: o, Packages: orderings[o], State: "pending"})
	}
	started := &ebsv1.BatchStarted{BatchId: s.id, StartedAt: s.hdr.GetStartedAt(), Options: s.hdr.GetOptions()}
	for _, m := range ms {
		started.Packages = append(started.Packages, m.GetPackage())
	}
	if err := s.pub(ctx, natsx.SubjectBatchStarted, s.id+".started", started); err != nil {
		return err
	}
	s.hdr.StartedPublished = true
	if len(ords) == 0 {
		s.hdr.Result = ebsv1.BatchResult_BATCH_RESULT_EMPTY
		return s.next(ctx, stepComplete, ebsv1.BatchPhase_BATCH_PHASE_COMPLETED, "nothing to build")
	}
	return s.next(ctx, stepSeed, ebsv1.BatchPhase_BATCH_PHASE_SEEDING,
		fmt.Sprintf("%d packages in %d slices", len(ms), len(ords)))
}

// --- seed ------------------------------------------------------------------

func (s *saga) seed(ctx context.Context) error {
	var seeds []*ebsv1.BuildRef
	for _, m := range s.members() {
		if buildable(m) && m.GetPackage().GetSeeded() {
			seeds = append(seeds, &ebsv1.BuildRef{BuildId: m.GetPackage().GetSourceBuildId(), Nvr: m.GetPackage().GetSourceNvr()})
		}
	}
	if s.hdr.BuildSideTag == nil {
		s.hdr.BuildSideTag = &ebsv1.SideTagCheckpoint{}
	}
	if err := s.sideTag(ctx, s.hdr.BuildSideTag, s.id+".seed", ebsv1.SideTagPurpose_SIDE_TAG_PURPOSE_BUILD, seeds); err != nil {
		return err
	}
	return s.next(ctx, stepBuild, ebsv1.BatchPhase_BATCH_PHASE_BUILDING,
		fmt.Sprintf("side tag %s seeded with %d builds", s.hdr.GetBuildSideTag().GetTag(), len(seeds)))
}

// sideTag makes a side tag of the target's build tag and tags builds into it,
// waiting until they are there. On a wait timeout it cancels the tagging
// tasks, removes the tag and starts again with a new one, at most
// MaxSideTagAttempts times. Every sub-step is checkpointed in cp.
func (s *saga) sideTag(ctx context.Context, cp *ebsv1.SideTagCheckpoint, prefix string, purpose ebsv1.SideTagPurpose, builds []*ebsv1.BuildRef) error {
	if cp.GetAttempt() == 0 {
		cp.Attempt, cp.Step = 1, "create"
	}
	base := s.hdr.GetOptions().GetBuildTag()
	for {
		if cp.GetAttempt() > int32(s.b.cfg.MaxSideTagAttempts) {
			return failf("builds were not tagged into a side tag of %s within %s, %d times (side tags %v were removed)",
				base, s.b.cfg.TagTimeout, s.b.cfg.MaxSideTagAttempts, cp.GetAbandoned())
		}
		p := fmt.Sprintf("%s.%d", prefix, cp.GetAttempt())
		switch cp.GetStep() {
		case "create":
			ev, err := s.koji(ctx, &ebsv1.KojiCommand{CommandId: p + ".create",
				Verb: &ebsv1.KojiCommand_CreateSideTag{CreateSideTag: &ebsv1.CreateSideTag{BaseTag: base, Purpose: purpose}}})
			if err != nil {
				return err
			}
			if f := ev.GetCommandFailed(); f != nil {
				return failf("createSideTag(%s) failed: %s", base, f.GetError())
			}
			cp.Tag, cp.TagId = ev.GetSideTagCreated().GetTag(), ev.GetSideTagCreated().GetTagId()
			cp.Created = append(cp.Created, cp.Tag)
			s.hdr.SideTagsCreated++
			cp.Step = "tag"
			s.log.Info("side tag created", "tag", cp.Tag, "purpose", purpose.String(), "attempt", cp.GetAttempt())
			if purpose == ebsv1.SideTagPurpose_SIDE_TAG_PURPOSE_BUILD {
				if err := s.announce(ctx, ebsv1.BatchPhase_BATCH_PHASE_SEEDING,
					fmt.Sprintf("build side tag %s created (attempt %d); tagging %d builds", cp.Tag, cp.GetAttempt(), len(builds))); err != nil {
					return err
				}
			}
		case "tag":
			var cmds []*ebsv1.KojiCommand
			for k, chunk := range chunked(builds, 500) {
				cmds = append(cmds, &ebsv1.KojiCommand{CommandId: fmt.Sprintf("%s.tag.%d", p, k),
					Verb: &ebsv1.KojiCommand_TagBuilds{TagBuilds: &ebsv1.TagBuilds{Tag: cp.GetTag(), Builds: chunk}}})
			}
			evs, err := s.kojiAll(ctx, cmds)
			if err != nil {
				return err
			}
			cp.TagFailures = nil
			for _, ev := range evs {
				if f := ev.GetCommandFailed(); f != nil {
					return failf("tagging builds into %s failed: %s", cp.GetTag(), f.GetError())
				}
				cp.TagFailures = append(cp.TagFailures, ev.GetBuildsTagged().GetFailures()...)
			}
			for _, f := range cp.TagFailures {
				s.log.Warn("build could not be tagged; not waited for", "tag", cp.GetTag(), "nvr", f.GetNvr(), "error", f.GetError())
			}
			cp.TagChunks = int32(len(cmds))
			cp.Step = "wait"
		case "wait":
			failedNVR := map[string]bool{}
			for _, f := range cp.GetTagFailures() {
				failedNVR[f.GetNvr()] = true
			}
			var nvrs []string
			for _, b := range builds {
				if !failedNVR[b.GetNvr()] {
					nvrs = append(nvrs, b.GetNvr())
				}
			}
			if len(nvrs) == 0 {
				cp.Step = "done"
				break
			}
			ev, err := s.watch(ctx, &ebsv1.WatchCommand{CommandId: p + ".wait", Verb: &ebsv1.WatchCommand_WaitTagged{
				WaitTagged: &ebsv1.WaitTagged{Tag: cp.GetTag(), Nvrs: nvrs, Timeout: durationpb.New(s.b.cfg.TagTimeout)}}})
			if err != nil {
				return err
			}
			if to := ev.GetWaitTimedOut(); to != nil {
				s.log.Warn("builds not tagged in time; abandoning the side tag", "tag", cp.GetTag(), "missing", len(to.GetMissing()))
				cp.Step = "cancel"
			} else {
				cp.Step = "done"
			}
		case "cancel":
			var ids []int64
			for k := 0; k < int(cp.GetTagChunks()); k++ {
				res, ok, err := s.b.results.Get(ctx, fmt.Sprintf("%s.tag.%d", p, k))
				if err != nil {
					return err
				}
				if ok {
					for _, id := range res.GetKoji().GetBuildsTagged().GetTasks() {
						ids = append(ids, id)
					}
				}
			}
			sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
			if _, err := s.koji(ctx, &ebsv1.KojiCommand{CommandId: p + ".cancel",
				Verb: &ebsv1.KojiCommand_CancelTasks{CancelTasks: &ebsv1.CancelTasks{TaskIds: ids}}}); err != nil {
				return err
			}
			cp.Step = "remove"
		case "remove":
			ev, err := s.koji(ctx, &ebsv1.KojiCommand{CommandId: p + ".remove",
				Verb: &ebsv1.KojiCommand_RemoveSideTag{RemoveSideTag: &ebsv1.RemoveSideTag{Tag: cp.GetTag()}}})
			if err != nil {
				return err
			}
			if f := ev.GetCommandFailed(); f != nil {
				s.log.Error("removing an abandoned side tag failed; it is left behind", "tag", cp.GetTag(), "error", f.GetError())
			}
			cp.Abandoned = append(cp.Abandoned, cp.GetTag())
			cp.Tag, cp.TagId, cp.TagFailures, cp.TagChunks = "", 0, nil, 0
			cp.Attempt++
			cp.Step = "create"
		case "done":
			return nil
		default:
			return fmt.Errorf("batcher: side tag step %q", cp.GetStep())
		}
		if err := s.saveHeader(ctx); err != nil {
			return err
		}
	}
}

// --- build -----------------------------------------------------------------

func (s *saga) build(ctx context.Context) error {
	for int(s.hdr.GetCurrentSlice()) < len(s.hdr.GetSlices()) {
		sl := s.hdr.GetSlices()[s.hdr.GetCurrentSlice()]
		if err := s.runSlice(ctx, sl); err != nil {
			return err
		}
		s.hdr.CurrentSlice++
		if err := s.saveHeader(ctx); err != nil {
			return err
		}
	}
	return s.next(ctx, stepCollect, ebsv1.BatchPhase_BATCH_PHASE_COLLECTING, "slices done")
}

func (s *saga) sliceMembers(sl *ebsv1.SliceCheckpoint) []*ebsv1.BatchMember {
	var out []*ebsv1.BatchMember
	for _, m := range s.members() {
		if buildable(m) && m.GetPackage().GetOrdering() == sl.GetOrdering() {
			out = append(out, m)
		}
	}
	return out
}

func (s *saga) runSlice(ctx context.Context, sl *ebsv1.SliceCheckpoint) error {
	if sl.GetState() == "finished" {
		return nil
	}
	ms := s.sliceMembers(sl)
	if sl.GetState() == "pending" {
		ev := &ebsv1.SliceStarted{BatchId: s.id, Slice: sl.GetSlice(), Ordering: sl.GetOrdering(), At: timestamppb.Now()}
		for _, m := range ms {
			ev.Components = append(ev.Components, m.GetPackage().GetComponent())
		}
		if err := s.pub(ctx, natsx.SubjectSliceStarted, fmt.Sprintf("%s.slice.%d.started", s.id, sl.GetSlice()), ev); err != nil {
			return err
		}
		sl.State, sl.PrevFailures, sl.StartedAt = "running", initialPrevFailures, timestamppb.Now()
		if err := s.saveHeader(ctx); err != nil {
			return err
		}
	}
	for {
		if sl.GetAttempts() == 0 {
			var comps []string
			for _, m := range ms {
				comps = append(comps, m.GetPackage().GetComponent())
			}
			if err := s.startAttempt(ctx, sl, comps); err != nil {
				return err
			}
		}
		a, err := s.attempt(ctx, sl, sl.GetAttempts())
		if err != nil {
			return err
		}
		if err := s.runAttempt(ctx, sl, a); err != nil {
			return err
		}
		// The original retry rule: resubmit while the failure count
		// strictly decreases; timeouts are final and count down "prev".
		var retry []string
		n, timeouts := int64(0), int64(0)
		for _, tf := range a.cp.GetResults() {
			switch tf.GetOutcome() {
			case ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED:
			case ebsv1.TaskOutcome_TASK_OUTCOME_TIMED_OUT:
				n++
				timeouts++
			default:
				n++
				retry = append(retry, tf.GetComponent())
			}
		}
		for _, sf := range a.cp.GetSubmitFailures() {
			n++
			retry = append(retry, sf.GetComponent())
		}
		prev := sl.GetPrevFailures()
		if n > 0 && n < prev {
			prev = n - timeouts
			if prev > 0 && len(retry) > 0 {
				sl.PrevFailures = prev
				s.log.Info("resubmitting failures", "slice", sl.GetSlice(), "failures", n, "retry", len(retry), "attempt", sl.GetAttempts()+1)
				if err := s.startAttempt(ctx, sl, retry); err != nil {
					return err
				}
				continue
			}
		}
		return s.finishSlice(ctx, sl, ms)
	}
}

// startAttempt writes attempt sl.attempts+1 (or finds it written by a run
// that crashed before counting it), then counts it in the header.
func (s *saga) startAttempt(ctx context.Context, sl *ebsv1.SliceCheckpoint, comps []string) error {
	n := sl.GetAttempts() + 1
	id := attemptID(s.id, sl.GetSlice(), n)
	cp := &ebsv1.AttemptCheckpoint{AttemptId: id, Slice: sl.GetSlice(), Attempt: n, Components: comps, Step: "submit", StartedAt: timestamppb.Now()}
	a := &attemptState{cp: cp}
	if err := s.saveAttempt(ctx, a); err != nil {
		if !errors.Is(err, errStale) {
			return err
		}
		cp = new(ebsv1.AttemptCheckpoint)
		rev, gerr := getProto(ctx, s.kv, attemptKey(id), cp)
		if gerr != nil {
			return gerr
		}
		a = &attemptState{cp: cp, rev: rev}
	}
	s.attempts[id] = a
	sl.Attempts = n
	return s.saveHeader(ctx)
}

func (s *saga) attempt(ctx context.Context, sl *ebsv1.SliceCheckpoint, n int32) (*attemptState, error) {
	id := attemptID(s.id, sl.GetSlice(), n)
	if a, ok := s.attempts[id]; ok {
		return a, nil
	}
	cp := new(ebsv1.AttemptCheckpoint)
	rev, err := getProto(ctx, s.kv, attemptKey(id), cp)
	if err != nil {
		return nil, err
	}
	a := &attemptState{cp: cp, rev: rev}
	s.attempts[id] = a
	return a, nil
}

// runAttempt submits an attempt's builds (one SubmitBuilds per 500) and waits
// for every task record of the attempt to be final.
func (s *saga) runAttempt(ctx context.Context, sl *ebsv1.SliceCheckpoint, a *attemptState) error {
	cp := a.cp
	for {
		switch cp.GetStep() {
		case "submit":
			ev := &ebsv1.AttemptStarted{BatchId: s.id, Slice: sl.GetSlice(), Attempt: cp.GetAttempt(), AttemptId: cp.GetAttemptId(),
				Components: cp.GetComponents(), At: cp.GetStartedAt()}
			if err := s.pub(ctx, natsx.SubjectAttemptStarted, cp.GetAttemptId()+".started", ev); err != nil {
				return err
			}
			opts := s.hdr.GetOptions()
			var specs []*ebsv1.BuildSpec
			for _, c := range cp.GetComponents() {
				m := s.member(c)
				specs = append(specs, &ebsv1.BuildSpec{Component: c, ScmUrl: m.GetPackage().GetScmUrl()})
			}
			var cmds []*ebsv1.KojiCommand
			for k, chunk := range chunked(specs, 500) {
				cmds = append(cmds, &ebsv1.KojiCommand{CommandId: commands.ID(cp.GetAttemptId(), k),
					Verb: &ebsv1.KojiCommand_SubmitBuilds{SubmitBuilds: &ebsv1.SubmitBuilds{
						AttemptId: cp.GetAttemptId(), Target: s.hdr.GetBuildSideTag().GetTag(), Builds: chunk,
						Options:  &ebsv1.BuildOptions{Scratch: opts.GetScratch(), Draft: opts.GetDraft(), FailFast: opts.GetFailFast(), WaitRepo: opts.GetWaitRepo()},
						Priority: buildPriority, TaskTimeout: durationpb.New(s.b.cfg.TaskTimeout)}}})
			}
			evs, err := s.kojiAll(ctx, cmds)
			if err != nil {
				return err
			}
			cp.Tasks, cp.SubmitFailures = nil, nil
			for _, ev := range evs {
				if f := ev.GetCommandFailed(); f != nil {
					return failf("build submission for %s failed: %s", cp.GetAttemptId(), f.GetError())
				}
				cp.Tasks = append(cp.Tasks, ev.GetBuildsSubmitted().GetTasks()...)
				cp.SubmitFailures = append(cp.SubmitFailures, ev.GetBuildsSubmitted().GetFailures()...)
			}
			cp.SubmitChunks = int32(len(cmds))
			cp.Step = "wait"
			s.log.Info("attempt submitted", "attempt_id", cp.GetAttemptId(), "tasks", len(cp.Tasks), "submit_failures", len(cp.SubmitFailures))
		case "wait":
			results, err := s.awaitTasks(ctx, cp)
			if err != nil {
				return err
			}
			cp.Results = results
			cp.FinishedAt = timestamppb.Now()
			cp.Step = "done"
		case "done":
			return s.attemptDone(ctx, sl, a)
		default:
			return fmt.Errorf("batcher: attempt step %q", cp.GetStep())
		}
		if err := s.saveAttempt(ctx, a); err != nil {
			return err
		}
	}
}

// awaitTasks watches the attempt's task records in KV ebs_tasks until every
// submitted task has finished.
func (s *saga) awaitTasks(ctx context.Context, cp *ebsv1.AttemptCheckpoint) ([]*ebsv1.TaskFinished, error) {
	want := map[int64]bool{}
	for _, t := range cp.GetTasks() {
		want[t.GetTaskId()] = true
	}
	got := map[int64]*ebsv1.TaskFinished{}
	if len(want) > 0 {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel()
		ch, err := s.b.tasks.Watch(wctx, []string{cp.GetAttemptId() + ".*"}, nil)
		if err != nil {
			return nil, err
		}
		for e := range ch {
			if e.Op != jetstream.KeyValuePut || e.Value.GetFinished() == nil || !want[e.Value.GetTaskId()] {
				continue
			}
			got[e.Value.GetTaskId()] = e.Value.GetFinished()
			if len(got) == len(want) {
				break
			}
		}
		if len(got) < len(want) {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			return nil, fmt.Errorf("batcher: watch of %s tasks ended", cp.GetAttemptId())
		}
	}
	out := make([]*ebsv1.TaskFinished, 0, len(cp.GetTasks()))
	for _, t := range cp.GetTasks() {
		out = append(out, got[t.GetTaskId()])
	}
	return out, nil
}

// attemptDone applies an attempt's results to its members (idempotently)
// and announces it.
func (s *saga) attemptDone(ctx context.Context, sl *ebsv1.SliceCheckpoint, a *attemptState) error {
	cp := a.cp
	ev := &ebsv1.AttemptFinished{BatchId: s.id, Slice: sl.GetSlice(), Attempt: cp.GetAttempt(), AttemptId: cp.GetAttemptId(), At: cp.GetFinishedAt()}
	for _, tf := range cp.GetResults() {
		m := s.member(tf.GetComponent())
		if m == nil {
			continue
		}
		m.Attempts = cp.GetAttempt()
		if !containsID(m.GetTaskIds(), tf.GetTaskId()) {
			m.TaskIds = append(m.TaskIds, tf.GetTaskId())
		}
		m.LastTaskOutcome = tf.GetOutcome()
		switch tf.GetOutcome() {
		case ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED:
			m.State, m.Reason, m.Nvr, m.BuildId = ebsv1.PackageState_PACKAGE_STATE_BUILT, "", tf.GetNvr(), tf.GetBuildId()
			ev.Succeeded = append(ev.Succeeded, tf.GetComponent())
		case ebsv1.TaskOutcome_TASK_OUTCOME_TIMED_OUT:
			m.State, m.Reason = ebsv1.PackageState_PACKAGE_STATE_TIMED_OUT, tf.GetReason()
			ev.TimedOut = append(ev.TimedOut, tf.GetComponent())
		default:
			m.State, m.Reason = ebsv1.PackageState_PACKAGE_STATE_FAILED, tf.GetReason()
			ev.Failed = append(ev.Failed, tf.GetComponent())
		}
	}
	for _, sf := range cp.GetSubmitFailures() {
		m := s.member(sf.GetComponent())
		if m == nil {
			continue
		}
		m.Attempts = cp.GetAttempt()
		m.State, m.Reason = ebsv1.PackageState_PACKAGE_STATE_FAILED, "build() failed: "+sf.GetError()
		ev.Failed = append(ev.Failed, sf.GetComponent())
	}
	if err := s.savePages(ctx); err != nil {
		return err
	}
	return s.pub(ctx, natsx.SubjectAttemptFinished, cp.GetAttemptId()+".finished", ev)
}

func containsID(ids []int64, id int64) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

func (s *saga) finishSlice(ctx context.Context, sl *ebsv1.SliceCheckpoint, ms []*ebsv1.BatchMember) error {
	ev := &ebsv1.SliceFinished{BatchId: s.id, Slice: sl.GetSlice(), Ordering: sl.GetOrdering(), Attempts: sl.GetAttempts(), At: timestamppb.Now()}
	for _, m := range ms {
		c := m.GetPackage().GetComponent()
		switch m.GetState() {
		case ebsv1.PackageState_PACKAGE_STATE_BUILT:
			ev.Succeeded = append(ev.Succeeded, c)
		case ebsv1.PackageState_PACKAGE_STATE_TIMED_OUT:
			ev.TimedOut = append(ev.TimedOut, c)
		default:
			ev.Failed = append(ev.Failed, c)
		}
	}
	if err := s.pub(ctx, natsx.SubjectSliceFinished, fmt.Sprintf("%s.slice.%d.finished", s.id, sl.GetSlice()), ev); err != nil {
		return err
	}
	sl.State, sl.FinishedAt = "finished", timestamppb.Now()
	s.log.Info("slice finished", "slice", sl.GetSlice(), "ordering", sl.GetOrdering(), "succeeded", len(ev.Succeeded),
		"failed", len(ev.Failed), "timed_out", len(ev.TimedOut), "attempts", sl.GetAttempts())
	return s.saveHeader(ctx)
}

// --- collect ---------------------------------------------------------------

func (s *saga) collect(ctx context.Context) error {
	built := 0
	for _, m := range s.members() {
		switch m.GetState() {
		case ebsv1.PackageState_PACKAGE_STATE_BUILT:
			built++
		case ebsv1.PackageState_PACKAGE_STATE_FAILED:
			// Still failing after the retries: not built again until an
			// operator removes the SCM URL from the denylist.
			url := m.GetPackage().GetScmUrl()
			if url == "" || m.GetDenylisted() {
				continue
			}
			e := &ebsv1.DenylistEntry{ScmUrl: url, Component: m.GetPackage().GetComponent(), BatchId: s.id, Reason: m.GetReason(), At: timestamppb.Now()}
			if _, err := s.b.failed.Create(ctx, natsx.EscapeKey(url), e); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
				return err
			}
			s.member(m.GetPackage().GetComponent()).Denylisted = true
			s.log.Warn("persistent failure denylisted", "component_name", m.GetPackage().GetComponent(), "scm_url", url)
		}
	}
	switch {
	case s.hdr.GetOptions().GetScratch():
		return s.next(ctx, stepCleanup, ebsv1.BatchPhase_BATCH_PHASE_CLEANING_UP, "scratch builds: no promotion, no Bodhi")
	case built == 0:
		return s.next(ctx, stepCleanup, ebsv1.BatchPhase_BATCH_PHASE_CLEANING_UP, "nothing built: no Bodhi update")
	case s.hdr.GetOptions().GetDraft():
		return s.next(ctx, stepPromote, ebsv1.BatchPhase_BATCH_PHASE_PROMOTING, fmt.Sprintf("promoting %d draft builds", built))
	}
	return s.next(ctx, stepPublish, ebsv1.BatchPhase_BATCH_PHASE_PUBLISHING, fmt.Sprintf("%d builds to publish", built))
}

// --- promote ---------------------------------------------------------------

func (s *saga) promote(ctx context.Context) error {
	var nvrs []string
	for _, m := range s.members() {
		if m.GetState() == ebsv1.PackageState_PACKAGE_STATE_BUILT && m.GetNvr() != "" {
			nvrs = append(nvrs, m.GetNvr())
		}
	}
	var cmds []*ebsv1.KojiCommand
	for k, chunk := range chunked(nvrs, 500) {
		cmds = append(cmds, &ebsv1.KojiCommand{CommandId: fmt.Sprintf("%s.promote.%d", s.id, k),
			Verb: &ebsv1.KojiCommand_PromoteBuilds{PromoteBuilds: &ebsv1.PromoteBuilds{Nvrs: chunk}}})
	}
	evs, err := s.kojiAll(ctx, cmds)
	if err != nil {
		return err
	}
	byNVR := map[string]string{}
	for _, m := range s.members() {
		if m.GetNvr() != "" {
			byNVR[m.GetNvr()] = m.GetPackage().GetComponent()
		}
	}
	promoted := 0
	for _, ev := range evs {
		if f := ev.GetCommandFailed(); f != nil {
			return failf("promoting draft builds failed: %s", f.GetError())
		}
		for d, p := range ev.GetBuildsPromoted().GetPromoted() {
			if m := s.member(byNVR[d]); m != nil {
				m.PromotedNvr = p
				promoted++
			}
		}
		for _, f := range ev.GetBuildsPromoted().GetFailures() {
			s.log.Warn("draft build not promoted; left out of Bodhi", "nvr", f.GetNvr(), "error", f.GetError())
		}
	}
	return s.next(ctx, stepPublish, ebsv1.BatchPhase_BATCH_PHASE_PUBLISHING, fmt.Sprintf("%d builds promoted", promoted))
}

// published returns the members whose builds go to Bodhi, in member order,
// with the NVR that goes (the promoted one with drafts).
func (s *saga) published() ([]*ebsv1.BatchMember, []string) {
	var ms []*ebsv1.BatchMember
	var nvrs []string
	for _, m := range s.members() {
		if m.GetState() != ebsv1.PackageState_PACKAGE_STATE_BUILT || m.GetNvr() == "" {
			continue
		}
		nvr := m.GetNvr()
		if s.hdr.GetOptions().GetDraft() {
			if nvr = m.GetPromotedNvr(); nvr == "" {
				continue
			}
		}
		ms, nvrs = append(ms, m), append(nvrs, nvr)
	}
	return ms, nvrs
}

// chunkOf returns the NVRs of a Bodhi chunk.
func (s *saga) chunkOf(ch *ebsv1.ChunkCheckpoint) []string {
	_, nvrs := s.published()
	first, last := int(ch.GetFirst()), int(ch.GetFirst()+ch.GetCount())
	if first > len(nvrs) || last > len(nvrs) {
		return nil
	}
	return nvrs[first:last]
}

// chunkNVRs splits NVRs for Bodhi as config.Bodhi.ChunkSizes says: one
// chunk unless batch_size is set and the total exceeds
// max_single_batch_size (default batch_size).
func chunkNVRs(nvrs []string, batchSize, maxSingle int) [][]string {
	if maxSingle <= 0 {
		maxSingle = batchSize
	}
	var out [][]string
	for _, n := range (config.Bodhi{BatchSize: batchSize, MaxSingleBatchSize: maxSingle}).ChunkSizes(len(nvrs)) {
		out = append(out, nvrs[:n])
		nvrs = nvrs[n:]
	}
	return out
}

// --- publish ---------------------------------------------------------------

func (s *saga) publish(ctx context.Context) error {
	if len(s.hdr.GetChunks()) == 0 {
		_, nvrs := s.published()
		if len(nvrs) == 0 {
			return s.next(ctx, stepCleanup, ebsv1.BatchPhase_BATCH_PHASE_CLEANING_UP, "nothing to publish")
		}
		first := 0
		for i, c := range chunkNVRs(nvrs, s.settings.Bodhi.BatchSize, s.settings.Bodhi.MaxSingleBatchSize) {
			s.hdr.Chunks = append(s.hdr.Chunks, &ebsv1.ChunkCheckpoint{Chunk: int32(i), First: int32(first), Count: int32(len(c)),
				SideTag: &ebsv1.SideTagCheckpoint{}, Step: "side-tag"})
			first += len(c)
		}
		if err := s.saveHeader(ctx); err != nil {
			return err
		}
	}
	chunks := s.hdr.GetChunks()
	for _, ch := range chunks {
		nvrs := s.chunkOf(ch)
		if ch.GetStep() == "side-tag" {
			var refs []*ebsv1.BuildRef
			for _, n := range nvrs {
				refs = append(refs, &ebsv1.BuildRef{Nvr: n})
			}
			if err := s.sideTag(ctx, ch.SideTag, fmt.Sprintf("%s.update.%d", s.id, ch.GetChunk()), ebsv1.SideTagPurpose_SIDE_TAG_PURPOSE_UPDATE, refs); err != nil {
				return err
			}
			ch.Step = "bodhi"
			if err := s.announce(ctx, ebsv1.BatchPhase_BATCH_PHASE_PUBLISHING, fmt.Sprintf("chunk %d/%d: update side tag %s holds %d builds",
				ch.GetChunk()+1, len(chunks), ch.GetSideTag().GetTag(), len(nvrs))); err != nil {
				return err
			}
			if err := s.saveHeader(ctx); err != nil {
				return err
			}
		}
		if ch.GetStep() == "bodhi" {
			ev, err := s.bodhi(ctx, &ebsv1.BodhiCommand{CommandId: fmt.Sprintf("%s.bodhi.%d", s.id, ch.GetChunk()),
				Verb: &ebsv1.BodhiCommand_CreateUpdate{CreateUpdate: &ebsv1.CreateUpdate{
					FromTag: ch.GetSideTag().GetTag(), Notes: DefaultBodhiNotes, Type: "unspecified", Nvrs: nvrs,
					Chunk: ch.GetChunk(), Chunks: int32(len(chunks)), FollowTimeout: durationpb.New(s.b.cfg.StableTimeout)}}})
			if err != nil {
				return err
			}
			if f := ev.GetCommandFailed(); f != nil {
				ch.Error = f.GetError()
				return failf("Bodhi update for chunk %d (%s) failed: %s", ch.GetChunk(), ch.GetSideTag().GetTag(), f.GetError())
			}
			ch.Update = proto.Clone(ev.GetUpdateCreated()).(*ebsv1.UpdateCreated)
			ch.Update.Nvrs = nil // derived from the members; keeps the header small
			ch.Step = "done"
			if ch.GetUpdate().GetDryRun() {
				s.log.Info("dry run: no Bodhi update filed", "chunk", ch.GetChunk(), "from_tag", ch.GetSideTag().GetTag())
			} else {
				s.log.Info("Bodhi update filed", "chunk", ch.GetChunk(), "alias", ch.GetUpdate().GetAlias(), "from_tag", ch.GetSideTag().GetTag())
			}
			if err := s.saveHeader(ctx); err != nil {
				return err
			}
		}
	}
	filed := 0
	for _, ch := range chunks {
		if !ch.GetUpdate().GetDryRun() {
			filed++
		}
	}
	detail := fmt.Sprintf("%d Bodhi updates filed", filed)
	if filed < len(chunks) {
		detail += fmt.Sprintf(" (%d not filed: dry run)", len(chunks)-filed)
	}
	return s.next(ctx, stepStable, ebsv1.BatchPhase_BATCH_PHASE_WAITING_STABLE, detail)
}

// dryRunReason is a member's outcome reason when its Bodhi chunk was
// handled by bodhi-publisher in dry-run mode.
const dryRunReason = "dry run: no Bodhi update filed"

// inDryRunChunk reports, for each published member (as published()
// returns them), whether its chunk's update was a dry run.
func (s *saga) inDryRunChunk(n int) []bool {
	out := make([]bool, n)
	for _, ch := range s.hdr.GetChunks() {
		if !ch.GetUpdate().GetDryRun() {
			continue
		}
		for i := int(ch.GetFirst()); i < int(ch.GetFirst()+ch.GetCount()) && i < n; i++ {
			out[i] = true
		}
	}
	return out
}

// --- stable ----------------------------------------------------------------

func (s *saga) stable(ctx context.Context) error {
	var nvrs []string
	var ms []*ebsv1.BatchMember
	if len(s.hdr.GetChunks()) > 0 {
		// Builds of dry-run chunks went to no update: nothing brings them
		// to the stable tag, so they are not waited for.
		pms, pnvrs := s.published()
		dry := s.inDryRunChunk(len(pms))
		for i := range pms {
			if !dry[i] {
				ms, nvrs = append(ms, pms[i]), append(nvrs, pnvrs[i])
			}
		}
	}
	tag := s.hdr.GetOptions().GetStableTag()
	if len(nvrs) > 0 && tag != "" {
		ev, err := s.watch(ctx, &ebsv1.WatchCommand{CommandId: s.id + ".stable", Verb: &ebsv1.WatchCommand_WaitTagged{
			WaitTagged: &ebsv1.WaitTagged{Tag: tag, Nvrs: nvrs, Timeout: durationpb.New(s.b.cfg.StableTimeout)}}})
		if err != nil {
			return err
		}
		if to := ev.GetWaitTimedOut(); to != nil {
			// As the original: logged and ignored; the next batch may
			// start with a stale buildroot.
			missing := map[string]bool{}
			for _, n := range to.GetMissing() {
				missing[n] = true
			}
			for i, m := range ms {
				if missing[nvrs[i]] {
					s.member(m.GetPackage().GetComponent()).NotStable = true
				}
			}
			s.log.Warn("builds did not reach the stable tag in time; going on", "tag", tag, "missing", len(to.GetMissing()))
		}
		s.hdr.StableWaited = true
	}
	return s.next(ctx, stepCleanup, ebsv1.BatchPhase_BATCH_PHASE_CLEANING_UP, "removing the build side tag")
}

// --- cleanup ---------------------------------------------------------------

func (s *saga) cleanup(ctx context.Context) error {
	remove := func(id, tag string) (bool, error) {
		ev, err := s.koji(ctx, &ebsv1.KojiCommand{CommandId: id,
			Verb: &ebsv1.KojiCommand_RemoveSideTag{RemoveSideTag: &ebsv1.RemoveSideTag{Tag: tag}}})
		if err != nil {
			return false, err
		}
		if f := ev.GetCommandFailed(); f != nil {
			s.log.Error("removing a side tag failed; it is left behind", "tag", tag, "error", f.GetError())
			return false, nil
		}
		return true, nil
	}
	if tag := s.hdr.GetBuildSideTag().GetTag(); tag != "" && !s.hdr.GetBuildSideTagRemoved() {
		ok, err := remove(s.id+".cleanup.build", tag)
		if err != nil {
			return err
		}
		s.hdr.BuildSideTagRemoved = ok
	}
	// Update side tags that Bodhi never took (the batch failed first, or
	// bodhi-publisher ran dry and filed nothing).
	for _, ch := range s.hdr.GetChunks() {
		if tag := ch.GetSideTag().GetTag(); tag != "" && (ch.GetUpdate() == nil || ch.GetUpdate().GetDryRun()) {
			if _, err := remove(fmt.Sprintf("%s.cleanup.update.%d", s.id, ch.GetChunk()), tag); err != nil {
				return err
			}
		}
	}
	return s.next(ctx, stepComplete, ebsv1.BatchPhase_BATCH_PHASE_COMPLETED, "batch complete")
}

// --- complete --------------------------------------------------------------

func (s *saga) complete(ctx context.Context) error {
	ev := s.completedEvent()
	if err := s.pub(ctx, natsx.SubjectBatchCompleted, s.id+".completed", ev); err != nil {
		return err
	}
	s.b.m.batches.WithLabelValues(resultLabel(ev.GetResult())).Inc()
	for _, o := range ev.GetOutcomes() {
		s.b.m.packages.WithLabelValues(stateLabel(o.GetState())).Inc()
	}
	s.log.Info("batch completed", "result", ev.GetResult().String(), "packages", len(ev.GetOutcomes()), "error", ev.GetError())
	s.hdr.Result = ev.GetResult()
	s.hdr.CompletedAt = ev.GetCompletedAt()
	s.hdr.Step = stepDone
	return s.saveHeader(ctx)
}

func (s *saga) completedEvent() *ebsv1.BatchCompleted {
	h := s.hdr
	ev := &ebsv1.BatchCompleted{BatchId: s.id, StartedAt: h.GetStartedAt(), CompletedAt: timestamppb.Now(),
		Error: h.GetError(), Options: h.GetOptions(), BuildSideTag: h.GetBuildSideTag().GetTag(), SideTagsCreated: h.GetSideTagsCreated()}
	if ev.BuildSideTag == "" && len(h.GetBuildSideTag().GetCreated()) > 0 {
		c := h.GetBuildSideTag().GetCreated()
		ev.BuildSideTag = c[len(c)-1]
	}
	if h.GetCompletedAt() != nil {
		ev.CompletedAt = h.GetCompletedAt()
	}
	updateOf := map[string]*ebsv1.UpdateCreated{}
	dryRun := map[string]bool{}
	for _, ch := range h.GetChunks() {
		if t := ch.GetSideTag().GetTag(); t != "" {
			ev.UpdateSideTags = append(ev.UpdateSideTags, t)
		}
		if u := ch.GetUpdate(); u.GetDryRun() {
			for _, n := range s.chunkOf(ch) {
				dryRun[n] = true
			}
		}
		if u := ch.GetUpdate(); u != nil && !u.GetDryRun() {
			nvrs := s.chunkOf(ch)
			ev.Updates = append(ev.Updates, &ebsv1.BodhiUpdateRef{Alias: u.GetAlias(), Url: u.GetUrl(), FromTag: u.GetFromTag(), Nvrs: nvrs, Status: u.GetStatus()})
			for _, n := range nvrs {
				updateOf[n] = u
			}
		}
	}
	buildable, bad := 0, 0
	for _, m := range s.members() {
		p := m.GetPackage()
		o := &ebsv1.PackageOutcome{Component: p.GetComponent(), FedoraName: p.GetFedoraName(), RequestId: p.GetRequestId(),
			SourceNvr: p.GetSourceNvr(), ScmUrl: p.GetScmUrl(), Ordering: p.GetOrdering(), State: m.GetState(), Nvr: m.GetNvr(),
			BuildId: m.GetBuildId(), TaskIds: m.GetTaskIds(), Attempts: m.GetAttempts(), Reason: m.GetReason(),
			Denylisted: m.GetDenylisted(), LastTaskOutcome: m.GetLastTaskOutcome()}
		if n := len(m.GetTaskIds()); n > 0 {
			o.TaskId = m.GetTaskIds()[n-1]
		}
		if o.State == ebsv1.PackageState_PACKAGE_STATE_IN_PROGRESS || o.State == ebsv1.PackageState_PACKAGE_STATE_UNSPECIFIED {
			o.State = ebsv1.PackageState_PACKAGE_STATE_ABORTED
			o.Reason = "batch ended before this package was built"
			if h.GetError() != "" {
				o.Reason += ": " + h.GetError()
			}
		}
		if o.State == ebsv1.PackageState_PACKAGE_STATE_BUILT {
			if p := m.GetPromotedNvr(); p != "" {
				o.Nvr = p
			}
			if u := updateOf[o.Nvr]; u != nil {
				o.BodhiUpdateAlias, o.BodhiUpdateUrl = u.GetAlias(), u.GetUrl()
				o.ReachedStable = h.GetStableWaited() && !m.GetNotStable()
			}
			if dryRun[o.Nvr] {
				o.Reason = dryRunReason
			}
		}
		ev.Outcomes = append(ev.Outcomes, o)
		if buildable2(o.State) {
			buildable++
			if o.State != ebsv1.PackageState_PACKAGE_STATE_BUILT {
				bad++
			}
		}
	}
	switch {
	case h.GetResult() == ebsv1.BatchResult_BATCH_RESULT_FAILED:
		ev.Result = ebsv1.BatchResult_BATCH_RESULT_FAILED
	case buildable == 0:
		ev.Result = ebsv1.BatchResult_BATCH_RESULT_EMPTY
	case bad > 0:
		ev.Result = ebsv1.BatchResult_BATCH_RESULT_PARTIAL
	default:
		ev.Result = ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED
	}
	return ev
}

func buildable2(st ebsv1.PackageState) bool {
	switch st {
	case ebsv1.PackageState_PACKAGE_STATE_SKIPPED_DENYLISTED, ebsv1.PackageState_PACKAGE_STATE_SKIPPED_NO_SCM_URL:
		return false
	}
	return true
}

func resultLabel(r ebsv1.BatchResult) string { return trimLower(r.String(), "BATCH_RESULT_") }
func stateLabel(s ebsv1.PackageState) string { return trimLower(s.String(), "PACKAGE_STATE_") }
