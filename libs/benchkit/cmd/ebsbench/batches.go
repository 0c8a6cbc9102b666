package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/fedora-eln/ebs/libs/benchkit"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// events collects the batch events the harness follows on core NATS
// subscriptions (they see every publish, de-duplicated or not).
type events struct {
	mu        sync.Mutex
	phases    []*ebsv1.BatchPhaseChanged
	attempts  []*ebsv1.AttemptStarted
	completed chan *ebsv1.BatchCompleted
	subs      []*nats.Subscription
}

func follow(nc *nats.Conn) (*events, error) {
	ev := &events{completed: make(chan *ebsv1.BatchCompleted, 4)}
	sub := func(subject string, f func(data []byte)) error {
		s, err := nc.Subscribe(subject, func(m *nats.Msg) { f(m.Data) })
		if err != nil {
			return err
		}
		_ = s.SetPendingLimits(-1, -1)
		ev.subs = append(ev.subs, s)
		return nil
	}
	if err := sub(natsx.SubjectBatchPhase, func(b []byte) {
		var p ebsv1.BatchPhaseChanged
		if proto.Unmarshal(b, &p) == nil {
			ev.mu.Lock()
			ev.phases = append(ev.phases, &p)
			ev.mu.Unlock()
		}
	}); err != nil {
		return nil, err
	}
	if err := sub(natsx.SubjectAttemptStarted, func(b []byte) {
		var a ebsv1.AttemptStarted
		if proto.Unmarshal(b, &a) == nil {
			ev.mu.Lock()
			ev.attempts = append(ev.attempts, &a)
			ev.mu.Unlock()
		}
	}); err != nil {
		return nil, err
	}
	if err := sub(natsx.SubjectBatchCompleted, func(b []byte) {
		var c ebsv1.BatchCompleted
		if proto.Unmarshal(b, &c) == nil {
			ev.completed <- &c
		}
	}); err != nil {
		return nil, err
	}
	return ev, nc.Flush()
}

func (ev *events) stop() {
	for _, s := range ev.subs {
		_ = s.Unsubscribe()
	}
}

// feed makes a new Rawhide build of each package in Koji (tagged into f45
// with its buildsys.tag message, as a packager's build lands) and waits
// until the filter and the batcher put every request into the pending set.
func feed(ctx context.Context, s *System, pkgs []string, round int, timeout time.Duration) (time.Duration, error) {
	watch, err := s.WatchPending(ctx)
	if err != nil {
		return 0, err
	}
	defer watch.Stop()
	t0 := time.Now()
	for _, p := range pkgs {
		old := s.World.Rawhide[p]
		_, ver, _, err := splitNVR(old)
		if err != nil {
			return 0, err
		}
		nvr := fmt.Sprintf("%s-%s-%d.fc45", p, ver, 100+round)
		if _, err := s.Hub.NewRawhideBuild(nvr, "packager"); err != nil {
			return 0, fmt.Errorf("new Rawhide build %s: %w", nvr, err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	at, err := watch.Wait(wctx, len(pkgs))
	if err != nil {
		return 0, fmt.Errorf("feed: %w", err)
	}
	return at.Sub(t0), nil
}

func splitNVR(nvr string) (name, version, release string, err error) {
	i := strings.LastIndexByte(nvr, '-')
	j := -1
	if i > 0 {
		j = strings.LastIndexByte(nvr[:i], '-')
	}
	if j <= 0 {
		return "", "", "", fmt.Errorf("%q is not an NVR", nvr)
	}
	return nvr[:j], nvr[j+1 : i], nvr[i+1:], nil
}

// runBatch unpauses ebs and waits for the batch's ebs.batch.completed.
func runBatch(ctx context.Context, s *System, ev *events, timeout time.Duration) (*ebsv1.BatchCompleted, error) {
	if err := s.SetPause(ctx, false); err != nil {
		return nil, err
	}
	defer func() { _ = s.SetPause(context.Background(), true) }()
	select {
	case c := <-ev.completed:
		return c, nil
	case <-time.After(timeout):
		return nil, fmt.Errorf("no ebs.batch.completed within %s; crashes: %v", timeout, s.Crashes())
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// measureBatch is measurements 2 and 3 for one size: a batch of n
// packages with zero-time builds and repos.
func measureBatch(ctx context.Context, s *System, o Options, n, round int) (*benchkit.Batch, error) {
	if n > len(s.Listed) {
		return nil, fmt.Errorf("a batch of %d needs as many listed packages (have %d)", n, len(s.Listed))
	}
	pkgs := s.Listed[:n]
	s.log.Info("batch: feeding", "n", n)
	feedTime, err := feed(ctx, s, pkgs, round, o.PhaseTimeout)
	if err != nil {
		return nil, err
	}
	ev, err := follow(s.Conn.NC)
	if err != nil {
		return nil, err
	}
	defer ev.stop()
	before, _ := s.Procs["koji-worker"].Metrics()
	s.Hub.ResetCounters()
	s.log.Info("batch: running", "n", n)
	c, err := runBatch(ctx, s, ev, o.PhaseTimeout)
	if err != nil {
		return nil, err
	}
	log := s.Hub.CallLog()
	hubCounters := s.Hub.Counters()
	after, _ := s.Procs["koji-worker"].Metrics()
	b := &benchkit.Batch{N: n, BatchID: c.GetBatchId(), Result: strings.TrimPrefix(c.GetResult().String(), "BATCH_RESULT_"),
		FeedSeconds: feedTime.Seconds(), WallSeconds: c.GetCompletedAt().AsTime().Sub(c.GetStartedAt().AsTime()).Seconds(),
		Chunks: len(c.GetUpdates()), HubRequests: hubCounters.HTTPRequests}
	tags := benchkit.BatchTags{UpdateSideTags: c.GetUpdateSideTags(), StableTag: s.Config.Koji.StableTag}
	ev.mu.Lock()
	for _, p := range ev.phases {
		if p.GetBatchId() == c.GetBatchId() {
			tags.Timeline = append(tags.Timeline, benchkit.PhaseMark{At: p.GetAt().AsTime(),
				Phase: strings.TrimPrefix(p.GetPhase().String(), "BATCH_PHASE_")})
		}
	}
	ev.mu.Unlock()
	sort.Slice(tags.Timeline, func(i, j int) bool { return tags.Timeline[i].At.Before(tags.Timeline[j].At) })
	cls := benchkit.Classify(log, tags)
	b.EBS, b.Bodhi, b.Methods = cls.EBS, cls.Bodhi, cls.Methods

	orderings := map[int32]int{}
	shape := benchkit.BatchShape{Draft: true}
	for _, oc := range c.GetOutcomes() {
		switch oc.GetState() {
		case ebsv1.PackageState_PACKAGE_STATE_SKIPPED_DENYLISTED, ebsv1.PackageState_PACKAGE_STATE_SKIPPED_NO_SCM_URL:
			continue
		case ebsv1.PackageState_PACKAGE_STATE_BUILT:
			b.Built++
			shape.Succeeded++
		}
		shape.Packages++
		orderings[oc.GetOrdering()]++
		if !s.Config.Control.Skipped(oc.GetFedoraName()) {
			shape.Seeded++
		}
	}
	b.Slices = len(orderings)
	for _, u := range c.GetUpdates() {
		shape.Chunks = append(shape.Chunks, len(u.GetNvrs()))
	}
	ev.mu.Lock()
	for _, a := range ev.attempts {
		if a.GetBatchId() == c.GetBatchId() {
			shape.Attempts = append(shape.Attempts, len(a.GetComponents()))
		}
	}
	b.Phases = phaseSeconds(ev.phases, c)
	ev.mu.Unlock()
	shape.SeedWait = b.Phases["SEEDING"]
	shape.UpdateWait = b.Phases["PUBLISHING"] / float64(max(len(shape.Chunks), 1))
	shape.StableWait = b.Phases["WAITING_STABLE"]
	b.Original = benchkit.OriginalModel(shape)
	b.TasksBy = map[string]float64{}
	if before != nil && after != nil {
		a, bf := after.ByLabel("ebs_koji_worker_tasks_finished_total", "observed_by"),
			before.ByLabel("ebs_koji_worker_tasks_finished_total", "observed_by")
		for k, v := range a {
			if d := v - bf[k]; d > 0 {
				b.TasksBy[k] = d
			}
		}
	}
	if b.Built != n {
		return b, fmt.Errorf("batch of %d: %d built, result %s", n, b.Built, b.Result)
	}
	return b, nil
}

// phaseSeconds: how long each announced phase lasted (until the next
// announcement, the last until completion).
func phaseSeconds(phases []*ebsv1.BatchPhaseChanged, c *ebsv1.BatchCompleted) map[string]float64 {
	var mine []*ebsv1.BatchPhaseChanged
	for _, p := range phases {
		if p.GetBatchId() == c.GetBatchId() {
			mine = append(mine, p)
		}
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].GetAt().AsTime().Before(mine[j].GetAt().AsTime()) })
	out := map[string]float64{}
	start := c.GetStartedAt().AsTime()
	cur := "RESOLVING"
	for _, p := range mine {
		at := p.GetAt().AsTime()
		out[cur] += at.Sub(start).Seconds()
		start, cur = at, strings.TrimPrefix(p.GetPhase().String(), "BATCH_PHASE_")
	}
	out[cur] += c.GetCompletedAt().AsTime().Sub(start).Seconds()
	return out
}
