package filter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/contentresolver"
	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// State is what the filter decides with: a configuration, its resolved
// trigger tag and the component universe, swapped in as a whole.
type State struct {
	Config *config.Config
	// TriggerTag is control.trigger_tag with rawhide resolved through Bodhi.
	TriggerTag string
	Universe   *contentresolver.Universe
	LoadedAt   time.Time

	destMu   sync.Mutex
	destTags map[string]string // build target -> dest tag, for this state
}

// Deps are the filter's collaborators.
type Deps struct {
	JS jetstream.JetStream
	// Koji reads builds for manual and reconciler rebuilds.
	Koji KojiReader
	// Releases resolves rawhide (needed only when the trigger tag is rawhide).
	Releases ReleaseResolver
	// ContentResolver fetches the lists (default: a Client with the
	// configuration's HTTP timeouts).
	ContentResolver *contentresolver.Client
	Logger          *slog.Logger
	// Registerer receives the ebs_filter_* metrics (nil: none).
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Metrics are the filter's metrics.
type Metrics struct {
	// Messages counts buildsys.tag messages by result: trigger, not_trigger,
	// ineligible, invalid.
	Messages *prometheus.CounterVec
	// Ineligible counts trigger-tag messages that were not requested, by
	// reason: unlisted, excluded.
	Ineligible *prometheus.CounterVec
	// Requests counts RebuildRequests emitted, by reason.
	Requests *prometheus.CounterVec
	// Rejected counts RequestRejected emitted, by reason: unknown, excluded, no_build.
	Rejected *prometheus.CounterVec
	// Components is the size of the component universe in force.
	Components prometheus.Gauge
	// ReconcileMissing is how many listed components the last reconcile
	// found missing from the stable tag.
	ReconcileMissing prometheus.Gauge
	// ReconcileNoBuild counts components a reconcile could not request
	// because neither Rawhide nor ELN has a build of them (reported in one
	// log line per run, not as a RequestRejected each).
	ReconcileNoBuild prometheus.Counter
	// ReconcileRuns counts reconcile rounds this replica ran.
	ReconcileRuns prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ebs_filter_messages_total",
			Help: "buildsys.tag messages by result (trigger, not_trigger, ineligible, invalid)."}, []string{"result"}),
		Ineligible: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ebs_filter_ineligible_total",
			Help: "Trigger-tag messages not requested, by reason (unlisted, excluded)."}, []string{"reason"}),
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ebs_filter_requests_total",
			Help: "RebuildRequests emitted, by reason (trigger, manual, reconcile)."}, []string{"reason"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ebs_filter_rejected_total",
			Help: "Named components refused, by reason (unknown, excluded, no_build)."}, []string{"reason"}),
		Components: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ebs_filter_components",
			Help: "ELN components in the universe in force (Content Resolver lists plus overrides)."}),
		ReconcileMissing: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ebs_filter_reconcile_missing",
			Help: "Listed components the last reconcile found missing from the stable tag."}),
		ReconcileNoBuild: prometheus.NewCounter(prometheus.CounterOpts{Name: "ebs_filter_reconcile_no_build_total",
			Help: "Missing components a reconcile could not request: no build in Rawhide nor in ELN."}),
		ReconcileRuns: prometheus.NewCounter(prometheus.CounterOpts{Name: "ebs_filter_reconcile_runs_total",
			Help: "Reconcile rounds run by this replica (one replica runs each round)."}),
	}
	for _, r := range []string{"trigger", "not_trigger", "ineligible", "invalid"} {
		m.Messages.WithLabelValues(r)
	}
	for _, r := range []string{"unlisted", "excluded"} {
		m.Ineligible.WithLabelValues(r)
	}
	for _, r := range []string{"trigger", "manual", "reconcile"} {
		m.Requests.WithLabelValues(r)
	}
	for _, r := range []string{"unknown", "excluded", "no_build"} {
		m.Rejected.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.Messages, m.Ineligible, m.Requests, m.Rejected, m.Components, m.ReconcileMissing, m.ReconcileNoBuild, m.ReconcileRuns)
	}
	return m
}

// Filter turns Fedora messages, manual rebuilds and reconciler findings
// into RebuildRequests.
type Filter struct {
	d       Deps
	log     *slog.Logger
	metrics *Metrics
	st      atomic.Pointer[State]
}

// New returns a Filter; Apply must succeed once before it handles anything.
func New(d Deps) *Filter {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Filter{d: d, log: d.Logger.With("component", Name), metrics: newMetrics(d.Registerer)}
}

// Metrics returns the filter's metrics.
func (f *Filter) Metrics() *Metrics { return f.metrics }

// State returns the state in force (nil before the first Apply).
func (f *Filter) State() *State { return f.st.Load() }

// Apply resolves a candidate configuration — rawhide through Bodhi, the
// Content Resolver lists — and swaps it in; on any error the previous state
// stays. It is the config Watcher's Apply hook, so it runs at every load.
func (f *Filter) Apply(ctx context.Context, c *config.Config) error {
	trigger := c.Control.TriggerTag
	if trigger == config.RawhideTriggerTag {
		if f.d.Releases == nil {
			return errors.New("trigger tag is rawhide but no Bodhi is configured to resolve it")
		}
		tag, err := f.d.Releases.RawhideStableTag(ctx)
		if err != nil {
			return fmt.Errorf("resolving trigger tag rawhide: %w", err)
		}
		trigger = tag
	}
	cr := f.d.ContentResolver
	if cr == nil {
		cr = &contentresolver.Client{Timeout: c.Timers.HTTPTimeout, RetryFor: c.Timers.HTTPRetry, Logger: f.log}
	}
	u, err := cr.Load(ctx, c.Components)
	if err != nil {
		return err
	}
	st := &State{Config: c, TriggerTag: trigger, Universe: u, LoadedAt: f.d.Now(), destTags: map[string]string{}}
	prev := f.st.Swap(st)
	f.metrics.Components.Set(float64(u.Len()))
	if prev == nil || prev.TriggerTag != trigger || prev.Universe.Len() != u.Len() {
		f.log.Info("filter state loaded", "trigger_tag", trigger, "configured_trigger_tag", c.Control.TriggerTag,
			"components", u.Len(), "upstream_names", u.UpstreamLen())
	}
	return nil
}

// Decision explains what the filter did with a tag message.
type Decision struct {
	// Result is trigger, not_trigger, ineligible or invalid.
	Result string
	// Reason details ineligible and invalid results.
	Reason string
	// Detail is the exclude pattern that matched, for excluded messages.
	Detail string
}

// Evaluate decides on one buildsys.tag message: the RebuildRequest to emit,
// or nil with the reason. It has no side effects.
func (f *Filter) Evaluate(fm *ebsv1.FedoraMessage) (*ebsv1.RebuildRequest, Decision, error) {
	st := f.st.Load()
	if st == nil {
		return nil, Decision{}, errors.New("filter: no configuration applied yet")
	}
	var body fedmsg.TagBody
	if err := fedmsg.Decode(fm.GetBody(), &body); err != nil {
		return nil, Decision{Result: "invalid", Reason: err.Error()}, nil
	}
	if body.Tag != st.TriggerTag {
		return nil, Decision{Result: "not_trigger"}, nil
	}
	if err := body.Validate(); err != nil {
		return nil, Decision{Result: "invalid", Reason: err.Error()}, nil
	}
	// is_eligible(name, is_downstream=False): the Fedora name must be known,
	// and no exclude pattern may match it.
	entry, ok := st.Universe.Upstream(body.Name)
	if !ok {
		return nil, Decision{Result: "ineligible", Reason: "unlisted"}, nil
	}
	if p := st.Config.Control.ExcludedBy(body.Name); p != nil {
		return nil, Decision{Result: "ineligible", Reason: "excluded", Detail: p.Source}, nil
	}
	eln, _ := st.Universe.ELNName(body.Name)
	requestedAt := fm.GetSentAt()
	if requestedAt == nil {
		requestedAt = fm.GetReceivedAt()
	}
	if requestedAt == nil {
		requestedAt = timestamppb.New(f.d.Now())
	}
	req := &ebsv1.RebuildRequest{
		RequestId:        "trigger-" + fm.GetMessageId(),
		Component:        eln,
		FedoraName:       body.Name,
		BuildId:          body.BuildID,
		Nvr:              body.NVR(),
		SourceTag:        body.Tag,
		View:             viewOf(entry.View),
		Ordering:         int32(st.Config.Control.OrderingOf(eln)),
		Reason:           ebsv1.RequestReason_REQUEST_REASON_TRIGGER,
		TriggerMessageId: fm.GetMessageId(),
		RequestedBy:      string(body.User),
		RequestedAt:      requestedAt,
	}
	if eln != body.Name {
		req.Note = fmt.Sprintf("Fedora %s is ELN %s", body.Name, eln)
	}
	return req, Decision{Result: "trigger"}, nil
}

func viewOf(v string) ebsv1.ComponentView {
	switch v {
	case contentresolver.ViewELN:
		return ebsv1.ComponentView_COMPONENT_VIEW_ELN
	case contentresolver.ViewELNExtras:
		return ebsv1.ComponentView_COMPONENT_VIEW_ELN_EXTRAS
	case contentresolver.ViewOverride:
		return ebsv1.ComponentView_COMPONENT_VIEW_OVERRIDE
	}
	return ebsv1.ComponentView_COMPONENT_VIEW_UNSPECIFIED
}

// HandleTag is the handler of the fedmsg.buildsys.tag consumer.
func (f *Filter) HandleTag(ctx context.Context, d *natsx.Delivery[*ebsv1.FedoraMessage]) error {
	req, dec, err := f.Evaluate(d.Msg)
	if err != nil {
		return err
	}
	f.metrics.Messages.WithLabelValues(dec.Result).Inc()
	switch dec.Result {
	case "invalid":
		return natsx.Reject(fmt.Errorf("buildsys.tag message %s: %s", d.Msg.GetMessageId(), dec.Reason))
	case "not_trigger":
		return nil
	case "ineligible":
		f.metrics.Ineligible.WithLabelValues(dec.Reason).Inc()
		f.log.Debug("trigger ignored: not eligible", "message_id", d.Msg.GetMessageId(), "reason", dec.Reason, "pattern", dec.Detail)
		return nil
	}
	if _, err := natsx.Publish(ctx, f.d.JS, natsx.SubjectRebuildRequested, req.GetRequestId(), req); err != nil {
		return err
	}
	f.metrics.Requests.WithLabelValues("trigger").Inc()
	f.log.Info("rebuild requested", "request_id", req.GetRequestId(), "eln_component", req.GetComponent(),
		"nvr", req.GetNvr(), "ordering", req.GetOrdering(), "view", req.GetView().String(), "requested_by", req.GetRequestedBy())
	return nil
}

// Resolution is the outcome of resolving component names into requests.
type Resolution struct {
	Requests []*ebsv1.RebuildRequest
	Rejected []*ebsv1.RequestRejected
	// Skipped are excluded components a reconcile passed over silently.
	Skipped []string
	// NoBuild are components a reconcile could not request (no build in
	// Rawhide nor ELN): expected for hundreds of listed components, so
	// counted and logged once per run instead of a RequestRejected each.
	NoBuild []string
}

// resolveOptions describe one manual or reconciler resolution.
type resolveOptions struct {
	reason      ebsv1.RequestReason
	idPrefix    string // request ids are idPrefix + "-" + component
	manualID    string
	requestedBy string
	requestedAt time.Time
	// quiet reports excluded components in Skipped and components without
	// a build in NoBuild instead of a RequestRejected each (the reconciler:
	// both are expected, every run).
	quiet bool
}

// destTag returns getBuildTarget(target).dest_tag_name, cached per state.
func (f *Filter) destTag(ctx context.Context, st *State, target string) (string, error) {
	st.destMu.Lock()
	defer st.destMu.Unlock()
	if t, ok := st.destTags[target]; ok {
		return t, nil
	}
	t, err := f.d.Koji.BuildTargetDestTag(ctx, target)
	if err != nil {
		return "", fmt.Errorf("getBuildTarget(%s): %w", target, err)
	}
	st.destTags[target] = t
	return t, nil
}

// resolve picks a source build for each ELN name, as the original's
// rebuild_from_components did: eligibility on the downstream name, the
// latest Rawhide build (listTagged(trigger tag, latest, inherit)) of its
// Fedora name against the latest ELN build (listTagged(dest tag of the build
// target, latest, inherit)) of its ELN name, see Pick.
func (f *Filter) resolve(ctx context.Context, st *State, names []string, o resolveOptions) (Resolution, error) {
	var res Resolution
	seen := map[string]bool{}
	type want struct {
		name  string
		entry contentresolver.Entry
	}
	var wanted []want
	reject := func(name, reason, text string) {
		f.metrics.Rejected.WithLabelValues(reason).Inc()
		res.Rejected = append(res.Rejected, &ebsv1.RequestRejected{
			Component: name, ManualId: o.manualID, Reason: text, RequestedBy: o.requestedBy, At: timestamppb.New(f.d.Now()),
		})
	}
	for _, name := range names {
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		entry, ok := st.Universe.Downstream(name)
		if !ok {
			reject(name, "unknown", fmt.Sprintf("%s is not an ELN component (not in the Content Resolver lists or the overrides)", name))
			continue
		}
		if p := st.Config.Control.ExcludedBy(name); p != nil {
			if o.quiet {
				res.Skipped = append(res.Skipped, name)
				continue
			}
			reject(name, "excluded", fmt.Sprintf("%s is excluded by %s", name, p.Source))
			continue
		}
		wanted = append(wanted, want{name, entry})
	}
	if len(wanted) == 0 {
		return res, nil
	}
	if f.d.Koji == nil {
		return res, errors.New("filter: no Koji reader configured")
	}
	rawhide, err := f.d.Koji.ListTaggedLatest(ctx, st.TriggerTag, true)
	if err != nil {
		return res, fmt.Errorf("listTagged(%s): %w", st.TriggerTag, err)
	}
	dest, err := f.destTag(ctx, st, st.Config.Koji.BuildTarget)
	if err != nil {
		return res, err
	}
	eln, err := f.d.Koji.ListTaggedLatest(ctx, dest, true)
	if err != nil {
		return res, fmt.Errorf("listTagged(%s): %w", dest, err)
	}
	rawhideByName, elnByName := byName(rawhide), byName(eln)
	for _, w := range wanted {
		choice, ok := Pick(rawhideByName[w.entry.Upstream], elnByName[w.name])
		if !ok {
			if o.quiet {
				f.metrics.ReconcileNoBuild.Inc()
				res.NoBuild = append(res.NoBuild, w.name)
				continue
			}
			reject(w.name, "no_build", fmt.Sprintf("no build of %s in %s nor of %s in %s", w.entry.Upstream, st.TriggerTag, w.name, dest))
			continue
		}
		source := st.TriggerTag
		if choice.FromELN {
			source = dest
		}
		req := &ebsv1.RebuildRequest{
			RequestId:   o.idPrefix + "-" + w.name,
			Component:   w.name,
			FedoraName:  w.entry.Upstream,
			BuildId:     choice.Build.ID,
			Nvr:         choice.Build.NVR,
			SourceTag:   source,
			View:        viewOf(w.entry.View),
			Ordering:    int32(st.Config.Control.OrderingOf(w.name)),
			Reason:      o.reason,
			RequestedBy: o.requestedBy,
			RequestedAt: timestamppb.New(o.requestedAt),
			Note:        choice.Note,
		}
		if !choice.Build.CreationTime.IsZero() {
			req.BuildCreatedAt = timestamppb.New(choice.Build.CreationTime)
		}
		res.Requests = append(res.Requests, req)
	}
	return res, nil
}

func byName(bs []KojiBuild) map[string]*KojiBuild {
	m := make(map[string]*KojiBuild, len(bs))
	for i := range bs {
		// listTagged(latest=True) has one build per name; keep the first.
		if _, dup := m[bs[i].Name]; !dup {
			m[bs[i].Name] = &bs[i]
		}
	}
	return m
}

// publish emits a resolution: requests on ebs.rebuild.requested, refusals on
// ebs.rebuild.rejected, each with a deterministic id so a redelivered
// command republishes nothing new.
func (f *Filter) publish(ctx context.Context, res Resolution, reasonLabel string) error {
	for _, r := range res.Requests {
		if _, err := natsx.Publish(ctx, f.d.JS, natsx.SubjectRebuildRequested, r.GetRequestId(), r); err != nil {
			return err
		}
		f.metrics.Requests.WithLabelValues(reasonLabel).Inc()
		f.log.Info("rebuild requested", "request_id", r.GetRequestId(), "eln_component", r.GetComponent(), "nvr", r.GetNvr(),
			"source_tag", r.GetSourceTag(), "reason", r.GetReason().String(), "note", r.GetNote())
	}
	for _, r := range res.Rejected {
		id := "rejected-" + r.GetManualId() + "-" + r.GetComponent()
		if _, err := natsx.Publish(ctx, f.d.JS, natsx.SubjectRebuildRejected, id, r); err != nil {
			return err
		}
		f.log.Info("rebuild refused", "eln_component", r.GetComponent(), "manual_id", r.GetManualId(), "reason", r.GetReason())
	}
	return nil
}

// HandleManual is the handler of the ebs.rebuild.manual consumer: each
// named ELN component becomes a RebuildRequest (or a RequestRejected). A
// ManualRebuild with reason RECONCILE and no components runs the reconciler
// now.
func (f *Filter) HandleManual(ctx context.Context, d *natsx.Delivery[*ebsv1.ManualRebuild]) error {
	st := f.st.Load()
	if st == nil {
		return errors.New("filter: no configuration applied yet")
	}
	m := d.Msg
	if m.GetManualId() == "" {
		return natsx.Reject(errors.New("manual rebuild without manual_id"))
	}
	if m.GetReason() == ebsv1.RequestReason_REQUEST_REASON_RECONCILE && len(m.GetComponents()) == 0 {
		_, err := f.Reconcile(ctx, m.GetManualId())
		return err
	}
	if len(m.GetComponents()) == 0 {
		return natsx.Reject(fmt.Errorf("manual rebuild %s names no component", m.GetManualId()))
	}
	reason := m.GetReason()
	if reason == ebsv1.RequestReason_REQUEST_REASON_UNSPECIFIED || reason == ebsv1.RequestReason_REQUEST_REASON_TRIGGER {
		reason = ebsv1.RequestReason_REQUEST_REASON_MANUAL
	}
	by := m.GetRequestedBy()
	if by == "" {
		by = "anonymous"
	}
	at := f.d.Now()
	if m.GetRequestedAt() != nil {
		at = m.GetRequestedAt().AsTime()
	}
	res, err := f.resolve(ctx, st, m.GetComponents(), resolveOptions{
		reason: reason, idPrefix: "manual-" + m.GetManualId(), manualID: m.GetManualId(), requestedBy: by, requestedAt: at,
	})
	if err != nil {
		return err
	}
	return f.publish(ctx, res, "manual")
}

// Reconcile requests every listed, non-excluded ELN component that has no
// build in the stable tag (the original's 12-hourly cleanup), with request
// ids "reconcile-<runID>-<component>". Components with no build anywhere
// are counted (ebs_filter_reconcile_no_build_total) and named in the run's
// one summary log line, not published.
func (f *Filter) Reconcile(ctx context.Context, runID string) (Resolution, error) {
	st := f.st.Load()
	if st == nil {
		return Resolution{}, errors.New("filter: no configuration applied yet")
	}
	if f.d.Koji == nil {
		return Resolution{}, errors.New("filter: no Koji reader configured")
	}
	stable := st.Config.Koji.StableTag
	tagged, err := f.d.Koji.ListTaggedLatest(ctx, stable, false)
	if err != nil {
		return Resolution{}, fmt.Errorf("listTagged(%s): %w", stable, err)
	}
	present := byName(tagged)
	var missing []string
	for _, e := range st.Universe.Components() {
		if present[e.Downstream] == nil {
			missing = append(missing, e.Downstream)
		}
	}
	sort.Strings(missing)
	f.metrics.ReconcileMissing.Set(float64(len(missing)))
	res, err := f.resolve(ctx, st, missing, resolveOptions{
		reason: ebsv1.RequestReason_REQUEST_REASON_RECONCILE, idPrefix: "reconcile-" + runID, manualID: "reconcile-" + runID,
		requestedBy: "reconciler", requestedAt: f.d.Now(), quiet: true,
	})
	if err != nil {
		return res, err
	}
	if err := f.publish(ctx, res, "reconcile"); err != nil {
		return res, err
	}
	f.metrics.ReconcileRuns.Inc()
	f.log.Info("reconcile done", "run", runID, "stable_tag", stable, "missing", len(missing),
		"requested", len(res.Requests), "excluded", len(res.Skipped), "no_build", len(res.NoBuild),
		"no_build_first", firstN(res.NoBuild, 20))
	return res, nil
}

// firstN returns at most n names, for a log line.
func firstN(names []string, n int) []string {
	if len(names) > n {
		return names[:n]
	}
	return names
}

// reconcileCheck is how often each replica looks whether a reconcile round
// is due: a twelfth of the interval (at most 5 minutes), so when the
// replica that ran the last round is gone another takes the next one in
// time.
func reconcileCheck(interval time.Duration) time.Duration {
	return max(min(interval/12, 5*time.Minute), 10*time.Millisecond)
}

// RunReconciler reconciles every interval until ctx ends, in rounds shared
// by every filter replica: a round is a key in KV ebs_lock
// (natsx.KeyReconcileRound), created by the one replica that runs the
// round, its value the round's run id. The key lives one interval less half
// a check (reconcileCheck), so the replica that created it finds it gone at
// its own check one interval on, not a check later. Every replica checks
// every reconcileCheck whether the key has expired; the first to create the
// next one runs that round and the others do not, so replicas started at
// different times neither multiply the reconciles nor emit different
// request ids for one round. Every round created is also recorded, without
// a TTL, in natsx.KeyReconcileLast, so that a starting replica tells a
// deployment that has had rounds from a fresh one (reconcileStartup): a
// restart neither delays nor repeats a round, and a fresh deployment
// reconciles first one interval after it starts, as the original did.
func (f *Filter) RunReconciler(ctx context.Context, interval time.Duration) error {
	if f.d.JS == nil {
		return errors.New("filter: the reconciler needs JetStream")
	}
	round, err := natsx.NewRound(ctx, f.d.JS, natsx.KeyReconcileRound, "", f.log)
	if err != nil {
		return err
	}
	check := reconcileCheck(interval)
	ttl := interval - check/2
	f.reconcileStartup(ctx, round, ttl)
	t := time.NewTicker(check)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		f.reconcileRound(ctx, round, ttl)
	}
}

// reconcileStartup is a replica's first look at the round, at once rather
// than a check later:
//   - a round is open (the key exists): nothing; its holder ran it, and the
//     checks take the next one when it expires;
//   - no round is open but there were rounds before (KeyReconcileLast
//     exists): the round is due (the key expired while this replica was
//     down or starting), so it claims and runs it now;
//   - no round was ever claimed: a fresh deployment opens a round without
//     running it (value "start-up <holder>"), so the first reconcile comes
//     one interval after the service first starts, like the original's
//     12-hourly cleanup, which did not run at start-up.
//
// Creating the round key decides every case, so replicas starting together
// open or run a round once.
func (f *Filter) reconcileStartup(ctx context.Context, round *natsx.Round, ttl time.Duration) {
	_, err := round.KV.Get(ctx, natsx.KeyReconcileLast)
	switch {
	case err == nil:
		f.reconcileRound(ctx, round, ttl)
	case errors.Is(err, jetstream.ErrKeyNotFound):
		mine, err := f.claimReconcileRound(ctx, round, "start-up "+round.Holder, ttl)
		if err != nil {
			f.log.Warn("could not open the first reconcile round; the first check will", "error", err)
		} else if mine {
			f.log.Info("first reconcile round opened: no round ran before, the first reconcile comes one interval from now",
				"holder", round.Holder, "first_reconcile_in", ttl)
		}
	default:
		// The first check claims the round when none is open, and runs it.
		f.log.Warn("could not read the last reconcile round; the first check decides", "error", err)
	}
}

// reconcileRound claims the round under a run id made of the time and, when
// this replica got it, runs it.
func (f *Filter) reconcileRound(ctx context.Context, round *natsx.Round, ttl time.Duration) {
	run := f.d.Now().UTC().Format("20060102T150405Z")
	mine, err := f.claimReconcileRound(ctx, round, run, ttl)
	switch {
	case err != nil:
		// Without NATS the requests could not be published anyway.
		f.log.Warn("could not claim the reconcile round; trying at the next check", "error", err)
		return
	case !mine:
		return
	}
	f.log.Info("reconcile round claimed", "run", run, "holder", round.Holder)
	if _, err := f.Reconcile(ctx, run); err != nil && ctx.Err() == nil {
		f.log.Error("reconcile failed; trying again next round", "run", run, "error", err)
	}
}

// claimReconcileRound creates the round key as value and, when it did,
// records value in KeyReconcileLast.
func (f *Filter) claimReconcileRound(ctx context.Context, round *natsx.Round, value string, ttl time.Duration) (bool, error) {
	mine, err := natsx.ClaimRound(ctx, round.KV, round.Key, value, ttl)
	if err != nil || !mine {
		return mine, err
	}
	if _, err := round.KV.Put(ctx, natsx.KeyReconcileLast, []byte(value)); err != nil {
		// Only a start-up after this round expired would take the
		// deployment for a fresh one and wait an interval.
		f.log.Warn("could not record the reconcile round", "value", value, "error", err)
	}
	return true, nil
}
