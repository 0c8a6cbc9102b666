package repowatcher

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/commands"
	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/kojibatch"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// Name is the service name used in logs, metrics and dead letters.
const Name = "repo-watcher"

// Defaults (the original's timers).
const (
	DefaultPollInterval  = 5 * time.Minute
	DefaultWaitTimeout   = time.Hour
	DefaultDeadlineCheck = 30 * time.Second
)

// Config is the repo-watcher service's configuration.
type Config struct {
	lifecycle.Common
	Koji kojibatch.ClientFlags
	// PollInterval between listTagged/getRepo polls of the open waits.
	PollInterval time.Duration
	// WaitTimeout applies to waits whose command carries none.
	WaitTimeout time.Duration
	// DeadlineCheck is how often wait deadlines are checked.
	DeadlineCheck time.Duration
}

// Flags registers the configuration as flags with EBS_* environment fallbacks.
func (c *Config) Flags(fs *flag.FlagSet) {
	c.Common.Flags(fs, "127.0.0.1:9105")
	c.Koji.Flags(fs)
	lifecycle.DurationVar(fs, &c.PollInterval, "poll-interval", "EBS_POLL_INTERVAL", DefaultPollInterval, "listTagged/getRepo poll interval for open waits")
	lifecycle.DurationVar(fs, &c.WaitTimeout, "wait-timeout", "EBS_WAIT_TIMEOUT", DefaultWaitTimeout, "wait timeout when the command gives none")
	lifecycle.DurationVar(fs, &c.DeadlineCheck, "deadline-check", "EBS_DEADLINE_CHECK", DefaultDeadlineCheck, "how often wait deadlines are checked")
}

func (c Config) withDefaults() Config {
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.WaitTimeout <= 0 {
		c.WaitTimeout = DefaultWaitTimeout
	}
	if c.DeadlineCheck <= 0 {
		c.DeadlineCheck = DefaultDeadlineCheck
	}
	c.DeadlineCheck = min(c.DeadlineCheck, c.PollInterval)
	return c
}

// Run runs the service until ctx ends.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	log = log.With("component", Name)
	// A broken --config stops the start-up like in every service, although
	// this one reads nothing from it.
	if _, err := cfg.CheckConfig(ctx, Name, log); err != nil {
		return err
	}
	admin := cfg.NewAdmin()
	conn, err := cfg.ConnectNATS(ctx, Name, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	hub, err := cfg.Koji.Hub(ctx, log, admin.Registry)
	if err != nil {
		return err
	}
	return admin.ServeBeside(ctx, cfg.AdminAddr, log, func(ctx context.Context) error {
		return Serve(ctx, cfg, Deps{JS: conn.JS, Hub: hub, Registerer: admin.Registry, Ready: admin.Ready}, log)
	})
}

// Deps are what Serve needs from its environment.
type Deps struct {
	JS         jetstream.JetStream
	Hub        kojibatch.Hub
	Registerer prometheus.Registerer
	Ready      func()
}

// Serve runs repo-watcher on an already provisioned JetStream until ctx ends.
func Serve(ctx context.Context, cfg Config, d Deps, log *slog.Logger) error {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.Default()
	}
	if d.JS == nil || d.Hub == nil {
		return errors.New("repowatcher: JetStream and Koji hub are required")
	}
	results, err := commands.OpenResults(ctx, d.JS)
	if err != nil {
		return err
	}
	kv, err := d.JS.KeyValue(ctx, natsx.BucketWaits)
	if err != nil {
		return fmt.Errorf("repowatcher: open %s: %w", natsx.BucketWaits, err)
	}
	log = log.With("component", Name)
	round, err := natsx.NewRound(ctx, d.JS, natsx.KeyPollWaits, "", log)
	if err != nil {
		return err
	}
	w := &Watcher{cfg: cfg, log: log, js: d.JS, hub: d.Hub, results: results,
		waits: natsx.NewProtoKV(kv, func() *ebsv1.WaitRecord { return new(ebsv1.WaitRecord) }),
		open:  map[string]*openWait{}, m: newMetrics(d.Registerer),
		pollRound: round}
	return w.run(ctx, d.Ready)
}

// Watcher is one repo-watcher replica.
type Watcher struct {
	// pollRound lets one replica poll Koji per interval.
	pollRound *natsx.Round
	cfg       Config
	log       *slog.Logger
	js        jetstream.JetStream
	hub       kojibatch.Hub
	results   *commands.Results
	waits     *natsx.ProtoKV[*ebsv1.WaitRecord]
	m         *metrics

	mu   sync.Mutex
	open map[string]*openWait // by command id (= key)
	// recent holds the tag messages of the last minutes (see recentTags).
	recent recentTags
}

// recentTags remembers the buildsys.tag messages of the last
// recentTagsFor, so that a wait stored after its builds' messages were
// consumed (the batcher asks to wait once its tagging commands returned;
// the tagging itself is often done by then) starts with those builds
// seen, instead of asking Koji about every one of them. Guarded by
// Watcher.mu, like the open waits, so a message is either matched against
// a wait or remembered for it.
type recentTags struct {
	at    map[string]time.Time // "<tag> <nvr>" -> when the message was handled
	order []string             // keys, oldest first
}

const (
	recentTagsFor = 2 * time.Minute
	recentTagsMax = 50000
)

func (r *recentTags) add(tag, nvr string, now time.Time) {
	if r.at == nil {
		r.at = map[string]time.Time{}
	}
	k := tag + " " + nvr
	if _, ok := r.at[k]; !ok {
		r.order = append(r.order, k)
	}
	r.at[k] = now
	for len(r.order) > 0 {
		old, ok := r.at[r.order[0]]
		if ok && len(r.at) <= recentTagsMax && now.Sub(old) < recentTagsFor {
			break
		}
		if ok {
			delete(r.at, r.order[0])
		}
		r.order = r.order[1:]
	}
}

func (r *recentTags) has(tag, nvr string, now time.Time) bool {
	at, ok := r.at[tag+" "+nvr]
	return ok && now.Sub(at) < recentTagsFor
}

type openWait struct {
	rec  *ebsv1.WaitRecord
	seen map[string]bool
	// want is the set of awaited NVRs, left how many of them are not seen
	// yet (a WaitTagged may name 10,000 builds: each message is matched in
	// constant time).
	want map[string]bool
	left int
}

// markSeen records nvr as tagged if it is awaited; it reports whether it
// was newly seen. The caller holds Watcher.mu.
func (ow *openWait) markSeen(nvr string) bool {
	if !ow.want[nvr] || ow.seen[nvr] {
		return false
	}
	ow.seen[nvr] = true
	ow.left--
	return true
}

func (ow *openWait) cmd() *ebsv1.WatchCommand { return ow.rec.GetCommand() }

func (w *Watcher) run(ctx context.Context, ready func()) error {
	entries, err := w.waits.List(ctx)
	if err != nil {
		return fmt.Errorf("repowatcher: load waits: %w", err)
	}
	for _, e := range entries {
		w.apply(e)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	wg.Go(func() {
		for ctx.Err() == nil {
			if err := w.watchWaits(ctx); err != nil && ctx.Err() == nil {
				w.log.Warn("wait watch ended; watching again", "error", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	})
	wg.Go(func() { w.pollLoop(ctx) })
	wg.Go(func() {
		errc <- natsx.Consume(ctx, w.js, natsx.StreamEBS, natsx.ConsumerRepoWatcherCmd,
			func() *ebsv1.WatchCommand { return new(ebsv1.WatchCommand) }, w.handleCommand,
			natsx.ConsumeOptions{Service: Name, Logger: w.log, Workers: 2, OnDeadLetter: w.failDeadLettered})
	})
	wg.Go(func() { w.followFedmsg(ctx) })
	if ready != nil {
		ready()
	}
	w.log.Info("repo-watcher running", "poll_interval", w.cfg.PollInterval, "open_waits", len(entries))
	var first error
	go func() { wg.Wait(); close(errc) }()
	for err := range errc {
		if err != nil && first == nil && ctx.Err() == nil {
			first = err
			cancel()
		}
	}
	return first
}

func (w *Watcher) watchWaits(ctx context.Context) error {
	ch, err := w.waits.Watch(ctx, nil, func(key string, err error) {
		w.log.Error("undecodable wait record", "key", key, "error", err)
	})
	if err != nil {
		return err
	}
	for e := range ch {
		w.apply(e)
	}
	return nil
}

func (w *Watcher) apply(e natsx.Entry[*ebsv1.WaitRecord]) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if e.Op != jetstream.KeyValuePut {
		delete(w.open, e.Key)
		return
	}
	if _, ok := w.open[e.Key]; ok {
		return
	}
	ow := &openWait{rec: e.Value, seen: map[string]bool{}, want: map[string]bool{}}
	for _, n := range e.Value.GetCommand().GetWaitTagged().GetNvrs() {
		ow.want[n] = true
	}
	ow.left = len(ow.want)
	for _, n := range e.Value.GetSeen() {
		ow.markSeen(n)
	}
	if wt := e.Value.GetCommand().GetWaitTagged(); wt != nil {
		now := time.Now()
		for n := range ow.want {
			if w.recent.has(wt.GetTag(), n, now) {
				ow.markSeen(n)
			}
		}
	}
	w.open[e.Key] = ow
}

func (w *Watcher) get(id string) (*openWait, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ow, ok := w.open[id]
	return ow, ok
}

func (w *Watcher) snapshot() []*openWait {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*openWait, 0, len(w.open))
	for _, ow := range w.open {
		out = append(out, ow)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].cmd().GetCommandId() < out[j].cmd().GetCommandId() })
	return out
}

// handleCommand stores a wait (then checks it once) or cancels one.
func (w *Watcher) handleCommand(ctx context.Context, d *natsx.Delivery[*ebsv1.WatchCommand]) error {
	cmd := d.Msg
	id := cmd.GetCommandId()
	if id == "" {
		return natsx.Reject(errors.New("watch command without command_id"))
	}
	if res, ok, err := w.results.Get(ctx, id); err != nil {
		return err
	} else if ok {
		return w.publish(ctx, id, res.GetWatch())
	}
	now := time.Now()
	var timeout time.Duration
	switch v := cmd.GetVerb().(type) {
	case *ebsv1.WatchCommand_WaitTagged:
		if v.WaitTagged.GetTag() == "" {
			return natsx.Reject(errors.New("wait-tagged without tag"))
		}
		timeout = v.WaitTagged.GetTimeout().AsDuration()
	case *ebsv1.WatchCommand_WaitRepo:
		if v.WaitRepo.GetTag() == "" {
			return natsx.Reject(errors.New("wait-repo without tag"))
		}
		timeout = v.WaitRepo.GetTimeout().AsDuration()
	case *ebsv1.WatchCommand_CancelWait:
		return w.cancel(ctx, cmd, v.CancelWait)
	default:
		return natsx.Reject(fmt.Errorf("watch command %s without a verb", id))
	}
	if timeout <= 0 {
		timeout = w.cfg.WaitTimeout
	}
	rec := &ebsv1.WaitRecord{Command: cmd, Deadline: timestamppb.New(now.Add(timeout))}
	if _, err := w.waits.Create(ctx, id, rec); err != nil && !errors.Is(err, jetstream.ErrKeyExists) {
		return err
	}
	cur, _, err := w.waits.Get(ctx, id)
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil // resolved meanwhile by another replica
		}
		return err
	}
	w.apply(natsx.Entry[*ebsv1.WaitRecord]{Key: id, Value: cur, Op: jetstream.KeyValuePut})
	w.log.Info("wait stored", "command_id", id, "batch_id", cmd.GetBatchId(), "deadline", cur.GetDeadline().AsTime())
	w.m.waits.WithLabelValues("stored").Inc()
	ow, ok := w.get(id)
	if !ok {
		return nil
	}
	// Builds whose messages came before the wait are seen already.
	if ow.cmd().GetWaitTagged() != nil {
		if err := w.maybeSatisfied(ctx, ow, ebsv1.Observation_OBSERVATION_MESSAGE); err != nil {
			return err
		}
		if _, open := w.get(id); !open {
			return nil
		}
	}
	// Often already true (a retry, or fast tagging): check the rest once now.
	if err := w.check(ctx, []*openWait{ow}); err != nil {
		w.log.Warn("first check of a wait failed; polling retries", "command_id", id, "error", err)
	}
	return nil
}

func (w *Watcher) cancel(ctx context.Context, cmd *ebsv1.WatchCommand, c *ebsv1.CancelWait) error {
	target := c.GetWaitCommandId()
	if ow, ok := w.get(target); ok {
		ev := &ebsv1.WatchEvent{Event: &ebsv1.WatchEvent_WaitCancelled{WaitCancelled: &ebsv1.WaitCancelled{WaitCommandId: target}}}
		if err := w.resolve(ctx, ow, ev); err != nil {
			return err
		}
	}
	ev := &ebsv1.WatchEvent{CommandId: cmd.GetCommandId(), BatchId: cmd.GetBatchId(), At: timestamppb.Now(),
		Event: &ebsv1.WatchEvent_WaitCancelled{WaitCancelled: &ebsv1.WaitCancelled{WaitCommandId: target}}}
	stored, _, err := w.results.Record(ctx, cmd.GetCommandId(), &ebsv1.CommandResult{Result: &ebsv1.CommandResult_Watch{Watch: ev}})
	if err != nil {
		return err
	}
	return w.publish(ctx, cmd.GetCommandId(), stored.GetWatch())
}

// failDeadLettered records a CommandFailed result for a watch command about
// to be dead-lettered, so the batcher waiting on it treats the wait as not
// satisfied instead of waiting forever.
func (w *Watcher) failDeadLettered(ctx context.Context, m proto.Message, reason string) error {
	cmd, _ := m.(*ebsv1.WatchCommand)
	if cmd == nil || !commands.ValidID(cmd.GetCommandId()) {
		return nil
	}
	if _, ok, err := w.results.Get(ctx, cmd.GetCommandId()); err != nil || ok {
		return err
	}
	verb, _ := natsx.OneofCase(cmd)
	w.log.Error("watch command dead-lettered; recording it as failed", "command_id", cmd.GetCommandId(), "batch_id", cmd.GetBatchId(), "reason", reason)
	ev := &ebsv1.WatchEvent{CommandId: cmd.GetCommandId(), BatchId: cmd.GetBatchId(), At: timestamppb.Now(),
		Event: &ebsv1.WatchEvent_CommandFailed{CommandFailed: &ebsv1.CommandFailed{Verb: verb, Error: commands.DeadLettered(reason).Error()}}}
	stored, _, err := w.results.Record(ctx, cmd.GetCommandId(), &ebsv1.CommandResult{Result: &ebsv1.CommandResult_Watch{Watch: ev}})
	if err != nil {
		return err
	}
	return w.publish(ctx, cmd.GetCommandId(), stored.GetWatch())
}

// resolve records a wait's outcome (first writer wins), publishes it and
// drops the wait record.
func (w *Watcher) resolve(ctx context.Context, ow *openWait, ev *ebsv1.WatchEvent) error {
	cmd := ow.cmd()
	id := cmd.GetCommandId()
	ev.CommandId, ev.BatchId, ev.At = id, cmd.GetBatchId(), timestamppb.Now()
	stored, created, err := w.results.Record(ctx, id, &ebsv1.CommandResult{Result: &ebsv1.CommandResult_Watch{Watch: ev}})
	if err != nil {
		return err
	}
	if created {
		kind, _ := natsx.OneofCase(ev)
		w.m.waits.WithLabelValues(kind).Inc()
		w.log.Info("wait resolved", "command_id", id, "batch_id", cmd.GetBatchId(), "outcome", kind)
	}
	if err := w.publish(ctx, id, stored.GetWatch()); err != nil {
		return err
	}
	if err := w.waits.Delete(ctx, id); err != nil {
		return err
	}
	w.mu.Lock()
	delete(w.open, id)
	w.mu.Unlock()
	return nil
}

func (w *Watcher) publish(ctx context.Context, id string, ev *ebsv1.WatchEvent) error {
	if ev == nil {
		return natsx.Reject(fmt.Errorf("result of %s is not a watch event", id))
	}
	subject, err := natsx.VerbSubject(natsx.SubjectWatchEvtPrefix, ev)
	if err != nil {
		return natsx.Reject(err)
	}
	_, err = natsx.Publish(ctx, w.js, subject, commands.EventMsgID(id), ev)
	return err
}

// pollLoop polls every open wait at start-up and every PollInterval, and
// times out waits past their deadline (after a last check).
func (w *Watcher) pollLoop(ctx context.Context) {
	// Every replica holds every open wait; one of them polls each round.
	w.pollRound.Loop(ctx, w.cfg.PollInterval, w.cfg.DeadlineCheck, func(ctx context.Context) {
		if err := w.check(ctx, w.snapshot()); err != nil && ctx.Err() == nil {
			w.log.Warn("poll failed; next poll retries", "error", err)
		}
	}, func(ctx context.Context) {
		if err := w.checkDeadlines(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("deadline check failed", "error", err)
		}
	})
}

func (w *Watcher) checkDeadlines(ctx context.Context) error {
	now := time.Now()
	var late []*openWait
	for _, ow := range w.snapshot() {
		if now.After(ow.rec.GetDeadline().AsTime()) {
			late = append(late, ow)
		}
	}
	if len(late) == 0 {
		return nil
	}
	if err := w.check(ctx, late); err != nil {
		w.log.Warn("last check before timing out failed", "error", err)
	}
	for _, ow := range late {
		if _, ok := w.get(ow.cmd().GetCommandId()); !ok {
			continue // satisfied by the last check
		}
		var ev *ebsv1.WatchEvent
		switch v := ow.cmd().GetVerb().(type) {
		case *ebsv1.WatchCommand_WaitTagged:
			to := &ebsv1.WaitTimedOut{Tag: v.WaitTagged.GetTag()}
			w.mu.Lock()
			for _, n := range v.WaitTagged.GetNvrs() {
				if ow.seen[n] {
					to.Present = append(to.Present, n)
				} else {
					to.Missing = append(to.Missing, n)
				}
			}
			w.mu.Unlock()
			ev = &ebsv1.WatchEvent{Event: &ebsv1.WatchEvent_WaitTimedOut{WaitTimedOut: to}}
		case *ebsv1.WatchCommand_WaitRepo:
			ev = &ebsv1.WatchEvent{Event: &ebsv1.WatchEvent_WaitTimedOut{WaitTimedOut: &ebsv1.WaitTimedOut{Tag: v.WaitRepo.GetTag()}}}
		default:
			continue
		}
		if err := w.resolve(ctx, ow, ev); err != nil {
			return err
		}
	}
	return nil
}

// check polls Koji for the given waits: per tag, listTagged of the
// packages whose NVRs are not seen yet (in multicalls), one getRepo per
// tag, and resolves what is satisfied.
func (w *Watcher) check(ctx context.Context, ows []*openWait) error {
	if len(ows) == 0 {
		return nil
	}
	w.m.polls.Inc()
	// The NVRs still awaited, per tag.
	unseen := map[string][]string{}
	w.mu.Lock()
	for _, ow := range ows {
		if wt := ow.cmd().GetWaitTagged(); wt != nil {
			for _, n := range wt.GetNvrs() {
				if !ow.seen[n] {
					unseen[wt.GetTag()] = append(unseen[wt.GetTag()], n)
				}
			}
		}
	}
	w.mu.Unlock()
	tagged := map[string]map[string]bool{}
	failed := map[string]bool{}
	repos := map[string]*kojibatch.Repo{}
	var firstErr error
	for _, ow := range ows {
		switch v := ow.cmd().GetVerb().(type) {
		case *ebsv1.WatchCommand_WaitTagged:
			tag := v.WaitTagged.GetTag()
			if failed[tag] {
				continue
			}
			set, ok := tagged[tag]
			if !ok {
				set = map[string]bool{}
				if len(unseen[tag]) > 0 {
					nvrs, err := w.hub.TaggedAmong(ctx, tag, unseen[tag])
					if err != nil {
						failed[tag] = true
						firstErr = cmpErr(firstErr, fmt.Errorf("listTagged(%s): %w", tag, err))
						continue
					}
					for _, n := range nvrs {
						set[n] = true
					}
				}
				tagged[tag] = set
			}
			w.mu.Lock()
			for n := range set {
				ow.markSeen(n)
			}
			w.mu.Unlock()
			if err := w.maybeSatisfied(ctx, ow, ebsv1.Observation_OBSERVATION_POLL); err != nil {
				firstErr = cmpErr(firstErr, err)
			}
		case *ebsv1.WatchCommand_WaitRepo:
			tag := v.WaitRepo.GetTag()
			repo, ok := repos[tag]
			if !ok {
				r, err := w.hub.GetRepo(ctx, tag)
				if err != nil {
					firstErr = cmpErr(firstErr, fmt.Errorf("getRepo(%s): %w", tag, err))
					continue
				}
				repos[tag], repo = r, r
			}
			if repo != nil && repo.CreateEvent > v.WaitRepo.GetAfterEvent() {
				ev := &ebsv1.WatchEvent{Event: &ebsv1.WatchEvent_WaitSatisfied{WaitSatisfied: &ebsv1.WaitSatisfied{
					Tag: tag, RepoId: repo.ID, ObservedBy: ebsv1.Observation_OBSERVATION_POLL}}}
				if err := w.resolve(ctx, ow, ev); err != nil {
					firstErr = cmpErr(firstErr, err)
				}
			}
		}
	}
	return firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// maybeSatisfied resolves a WaitTagged whose NVRs were all seen.
func (w *Watcher) maybeSatisfied(ctx context.Context, ow *openWait, obs ebsv1.Observation) error {
	wt := ow.cmd().GetWaitTagged()
	w.mu.Lock()
	all := ow.left == 0
	w.mu.Unlock()
	if !all {
		return nil
	}
	ev := &ebsv1.WatchEvent{Event: &ebsv1.WatchEvent_WaitSatisfied{WaitSatisfied: &ebsv1.WaitSatisfied{
		Tag: wt.GetTag(), Nvrs: wt.GetNvrs(), ObservedBy: obs}}}
	return w.resolve(ctx, ow, ev)
}

// followFedmsg reads buildsys.tag and buildsys.repo.done from FEDMSG with an
// ordered consumer of this replica's own, so that every replica sees every
// message: a shared durable consumer would split them between replicas, and
// a wait on several builds would then resolve only by polling. It starts at
// the oldest open wait (or a little before now), so a restarted replica
// replays what its waits may need; handling a message twice is harmless.
func (w *Watcher) followFedmsg(ctx context.Context) {
	start := time.Now().Add(-recentTagsFor)
	for _, ow := range w.snapshot() {
		if t := ow.cmd().GetIssuedAt(); t != nil && t.AsTime().Before(start) {
			start = t.AsTime()
		}
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{natsx.SubjectFedmsgTag, natsx.SubjectFedmsgRepoDone},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	}
	for ctx.Err() == nil {
		cons, err := w.js.OrderedConsumer(ctx, natsx.StreamFedmsg, cfg)
		if err != nil {
			w.log.Warn("cannot read Fedora messages; retrying (polling still resolves waits)", "error", err)
			sleepCtx(ctx, time.Second)
			continue
		}
		it, err := cons.Messages(jetstream.PullMaxMessages(200))
		if err != nil {
			w.log.Warn("cannot read Fedora messages; retrying (polling still resolves waits)", "error", err)
			sleepCtx(ctx, time.Second)
			continue
		}
		stop := context.AfterFunc(ctx, it.Stop)
		var last time.Time
		for {
			m, err := it.Next()
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, jetstream.ErrMsgIteratorClosed) {
					w.log.Warn("reading Fedora messages stopped; resuming", "error", err)
				}
				break
			}
			w.m.messages.Inc()
			if md, err := m.Metadata(); err == nil {
				last = md.Timestamp
			}
			fm := new(ebsv1.FedoraMessage)
			if err := proto.Unmarshal(m.Data(), fm); err != nil {
				w.log.Warn("skipping an undecodable Fedora message", "subject", m.Subject(), "error", err)
				continue
			}
			if err := w.handleFedmsg(ctx, m.Subject(), fm); err != nil && ctx.Err() == nil {
				// The message cannot be redelivered to an ordered consumer;
				// the wait is still resolved by the next poll.
				w.log.Warn("applying a Fedora message to the open waits failed; polling will catch up",
					"subject", m.Subject(), "message_id", fm.GetMessageId(), "error", err)
			}
		}
		stop()
		it.Stop()
		// Resume at the last message read (it is read again: harmless),
		// not at the original start.
		if !last.IsZero() {
			cfg.OptStartTime = &last
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// handleFedmsg applies buildsys.tag and buildsys.repo.done to the open waits.
func (w *Watcher) handleFedmsg(ctx context.Context, subject string, fm *ebsv1.FedoraMessage) error {
	switch subject {
	case natsx.SubjectFedmsgTag:
		var b fedmsg.TagBody
		if err := fedmsg.Decode(fm.GetBody(), &b); err != nil {
			w.log.Debug("skipping a tag message without a usable body", "message_id", fm.GetMessageId(), "error", err)
			return nil
		}
		nvr := b.NVR()
		w.mu.Lock()
		w.recent.add(b.Tag, nvr, time.Now())
		w.mu.Unlock()
		for _, ow := range w.snapshot() {
			wt := ow.cmd().GetWaitTagged()
			if wt == nil || wt.GetTag() != b.Tag {
				continue
			}
			w.mu.Lock()
			hit := ow.want[nvr] // seen before or now: a repeat retries the resolve
			ow.markSeen(nvr)
			w.mu.Unlock()
			if hit {
				if err := w.maybeSatisfied(ctx, ow, ebsv1.Observation_OBSERVATION_MESSAGE); err != nil {
					return err
				}
			}
		}
	case natsx.SubjectFedmsgRepoDone:
		var b fedmsg.RepoBody
		if err := fedmsg.Decode(fm.GetBody(), &b); err != nil {
			w.log.Debug("skipping a repo message without a usable body", "message_id", fm.GetMessageId(), "error", err)
			return nil
		}
		var mine []*openWait
		for _, ow := range w.snapshot() {
			if wr := ow.cmd().GetWaitRepo(); wr != nil && wr.GetTag() == b.Tag {
				mine = append(mine, ow)
			}
		}
		return w.check(ctx, mine)
	}
	return nil
}

type metrics struct {
	waits    *prometheus.CounterVec
	polls    prometheus.Counter
	messages prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		waits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ebs_repo_watcher_waits_total",
			Help: "Waits stored and resolved, by outcome (stored, wait-satisfied, wait-timed-out, wait-cancelled)."}, []string{"outcome"}),
		polls: prometheus.NewCounter(prometheus.CounterOpts{Name: "ebs_repo_watcher_polls_total",
			Help: "Koji polls (listTagged/getRepo rounds) of open waits."}),
		messages: prometheus.NewCounter(prometheus.CounterOpts{Name: "ebs_repo_watcher_fedmsg_total",
			Help: "Fedora messages (buildsys.tag, buildsys.repo.done) read by this replica."}),
	}
	if reg != nil {
		reg.MustRegister(m.waits, m.polls, m.messages)
	}
	return m
}
