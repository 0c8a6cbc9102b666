// Package enginetest runs the batch engine in-process for tests: the
// batcher, koji-worker, repo-watcher and bodhi-publisher services, each in
// its own goroutine with its own NATS connection and Koji client, against a
// real embedded JetStream (natstest), the Koji simulator (libs/sim/kojihub)
// over real XML-RPC, and the Bodhi simulator (libs/sim/bodhi) trusting an
// in-process OIDC provider. Any service can be killed and started again
// mid-batch. The demo and end-to-end helpers can wire the services the same
// way (see Engine.Start).
package enginetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/bodhi"
	"github.com/fedora-eln/ebs/libs/commands"
	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/kojibatch"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	"github.com/fedora-eln/ebs/libs/oidctest"
	bodhisim "github.com/fedora-eln/ebs/libs/sim/bodhi"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/batcher/batcher"
	"github.com/fedora-eln/ebs/services/bodhi-publisher/bodhipublisher"
	"github.com/fedora-eln/ebs/services/koji-worker/kojiworker"
	"github.com/fedora-eln/ebs/services/repo-watcher/repowatcher"
)

const (
	botUser   = "eln-buildsync"
	bodhiUser = "bodhi"
)

// jsSink publishes the simulator's messages to FEDMSG, as the bridge would.
type jsSink struct{ js jetstream.JetStream }

func (s jsSink) Publish(ctx context.Context, m fedmsg.Message) error {
	_, err := natsx.Publish(ctx, s.js, natsx.FedmsgSubject(m.Topic, fedmsg.PrefixProd), m.ID, m.ToProto(time.Now()))
	return err
}

// logBuf collects the services' logs; printed when a test fails.
type logBuf struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// Options shape an Engine.
type Options struct {
	// Scenario scripts the Koji simulator's builds (default: all succeed).
	Scenario *kojihub.Scenario
	// Lossy drops this fraction of the simulator's messages.
	Lossy float64
	// Settings adjusts the ebs configuration (defaults: target eln, stable
	// tag eln, fail_fast, wait_repo).
	Settings func(*config.Config)
	// Batcher, Worker and Watcher adjust the services' configurations
	// (defaults: short lull, polls and timeouts).
	Batcher func(*batcher.Config)
	Worker  func(*kojiworker.Config)
	Watcher func(*repowatcher.Config)
	// NoStart leaves every service stopped.
	NoStart bool
	// StableDelay: how long updates take to go stable in the Bodhi
	// simulator (pending -> testing -> stable; default 200 ms).
	StableDelay time.Duration
	// RetryBudget of the services' Koji clients (0: the simulator's
	// default; negative: no retries).
	RetryBudget time.Duration
	// AckWait, when set, replaces every durable consumer's AckWait, so that
	// a message held by a killed service is redelivered soon (production
	// waits 30 s to 2 min). Keep it above the longest handler.
	AckWait time.Duration
	// BodhiDryRun runs bodhi-publisher in dry-run mode (nothing filed).
	BodhiDryRun bool
}

// Engine is the batch engine running in-process for one test.
type Engine struct {
	t     *testing.T
	srv   *natstest.Server
	admin *koji.Client
	// Conn is the test's own NATS connection; Hub the Koji simulator;
	// Results KV ebs_results; Settings the configuration the batcher reads.
	Conn        *natsx.Conn
	Hub         *kojihub.Hub
	Bodhi       *bodhisim.Server
	Results     *commands.Results
	Settings    atomic.Pointer[config.Config]
	bcfg        batcher.Config
	kcfg        kojiworker.Config
	rcfg        repowatcher.Config
	logs        *logBuf
	log         *slog.Logger
	budget      time.Duration
	stableDelay time.Duration
	bodhiURL    string
	bodhiToken  string
	bodhiDryRun bool

	mu       sync.Mutex
	services map[string]*service
	retired  sync.WaitGroup
	seq      atomic.Int64
}

type service struct {
	cancel context.CancelFunc
	done   chan error
	conn   *natsx.Conn
}

func New(t *testing.T, o Options) *Engine {
	t.Helper()
	e := &Engine{t: t, srv: natstest.Start(t), services: map[string]*service{}, logs: &logBuf{}, budget: o.RetryBudget,
		stableDelay: o.StableDelay, bodhiDryRun: o.BodhiDryRun}
	if e.stableDelay == 0 {
		e.stableDelay = 200 * time.Millisecond
	}
	e.log = slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e.Conn = e.srv.Provisioned(t)
	if o.AckWait > 0 {
		e.setAckWait(o.AckWait)
	}
	sc := o.Scenario
	if sc == nil {
		sc = &kojihub.Scenario{}
	}
	e.Hub = kojihub.Start(t, kojihub.Options{Scenario: sc, Sink: jsSink{js: e.Conn.JS}, Lossy: o.Lossy, Logger: e.log})
	e.Hub.AddUser(bodhiUser, "admin")
	e.admin = e.client(bodhiUser)
	var err error
	if e.Results, err = commands.OpenResults(context.Background(), e.Conn.JS); err != nil {
		t.Fatal(err)
	}
	// Bodhi: the simulator, trusting an in-process OIDC provider, reading
	// and tagging through the Koji simulator.
	idp := oidctest.Start(t, oidctest.Options{ClientID: botUser, ServiceGroups: []string{"packager"}})
	idp.AddClient("bodhi", oidctest.Client{Secret: "bodhi-secret"})
	bs := bodhisim.Start(t, bodhisim.Options{Koji: simKoji{hub: e.Hub, admin: e.admin}, OIDCIssuer: idp.Issuer(),
		OIDCClientID: "bodhi", OIDCClientSecret: "bodhi-secret", TestingAfter: e.stableDelay / 2, StableAfter: e.stableDelay / 2,
		Logger: e.log.With("svc", "bodhi-sim")})
	e.Bodhi, e.bodhiURL, e.bodhiToken = bs, bs.URL(), idp.Token(botUser)
	s := &config.Config{
		Koji:    config.Koji{BuildTarget: "eln", StableTag: "eln", FailFast: true, WaitRepo: true, Username: botUser},
		Control: config.Control{TriggerTag: "f45"},
	}
	if o.Settings != nil {
		o.Settings(s)
	}
	e.Settings.Store(s)
	e.bcfg = batcher.Config{Lull: 300 * time.Millisecond, TagTimeout: 20 * time.Second, StableTimeout: 20 * time.Second,
		TaskTimeout: time.Minute, LockTTL: 3 * time.Second}
	e.kcfg = kojiworker.Config{PollInterval: 500 * time.Millisecond, DeadlineCheck: 100 * time.Millisecond}
	e.rcfg = repowatcher.Config{PollInterval: 500 * time.Millisecond, DeadlineCheck: 100 * time.Millisecond}
	if o.Batcher != nil {
		o.Batcher(&e.bcfg)
	}
	if o.Worker != nil {
		o.Worker(&e.kcfg)
	}
	if o.Watcher != nil {
		o.Watcher(&e.rcfg)
	}
	t.Cleanup(func() {
		e.stopAll()
		if t.Failed() {
			e.logs.mu.Lock()
			t.Logf("service logs:\n%s", e.logs.buf.String())
			e.logs.mu.Unlock()
		}
	})
	if !o.NoStart {
		e.Start("koji-worker")
		e.Start("repo-watcher")
		e.Start("bodhi-publisher")
		e.Start("batcher")
	}
	return e
}

// setAckWait changes every durable consumer's AckWait on the server.
func (e *Engine) setAckWait(d time.Duration) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, def := range natsx.Consumers {
		c, err := e.Conn.JS.Consumer(ctx, def.Stream, def.Durable)
		if err != nil {
			e.t.Fatalf("consumer %s/%s: %v", def.Stream, def.Durable, err)
		}
		cfg := c.CachedInfo().Config
		cfg.AckWait = d
		if _, err := e.Conn.JS.UpdateConsumer(ctx, def.Stream, cfg); err != nil {
			e.t.Fatalf("AckWait of %s/%s: %v", def.Stream, def.Durable, err)
		}
	}
}

func (e *Engine) client(user string) *koji.Client {
	e.t.Helper()
	c, err := e.Hub.Client(user, koji.Options{RetryBudget: e.budget})
	if err != nil {
		e.t.Fatalf("koji client: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if user == "" {
		return c
	}
	if err := c.Login(ctx); err != nil {
		e.t.Fatalf("koji login as %s: %v", user, err)
	}
	return c
}

// Start runs a service: "batcher" (or "batcher-<n>" for more replicas),
// "koji-worker", "repo-watcher" or "bodhi-publisher".
func (e *Engine) Start(name string) {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.services[name]; ok {
		e.t.Fatalf("%s already running", name)
	}
	ctx, cancel := context.WithCancel(context.Background())
	// Not e.srv.Connect: its cleanup would close the connection before the
	// engine's own cleanup stops the service.
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	conn, err := natsx.Connect(cctx, natsx.ConnectOptions{URL: e.srv.URL(), Name: name, Logger: e.log})
	ccancel()
	if err != nil {
		cancel()
		e.t.Fatalf("connect %s: %v", name, err)
	}
	s := &service{cancel: cancel, done: make(chan error, 1), conn: conn}
	log := e.log.With("svc", name)
	var run func() error
	switch {
	case strings.HasPrefix(name, "batcher"):
		cfg := e.bcfg
		cfg.Holder = name
		hub := kojibatch.New(e.client(""))
		run = func() error {
			return batcher.Serve(ctx, cfg, batcher.Deps{JS: conn.JS, Hub: hub, Settings: func() *config.Config { return e.Settings.Load() }}, log)
		}
	case name == "koji-worker" || strings.HasPrefix(name, "koji-worker-"):
		hub := kojibatch.New(e.client(botUser))
		run = func() error { return kojiworker.Serve(ctx, e.kcfg, kojiworker.Deps{JS: conn.JS, Hub: hub}, log) }
	case name == "repo-watcher":
		hub := kojibatch.New(e.client(""))
		run = func() error { return repowatcher.Serve(ctx, e.rcfg, repowatcher.Deps{JS: conn.JS, Hub: hub}, log) }
	case name == "bodhi-publisher":
		bc, err := bodhi.New(bodhi.Options{BaseURL: e.bodhiURL, Tokens: bodhi.StaticToken(e.bodhiToken),
			MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, RetryFor: 10 * time.Second,
			RequestTimeout: 10 * time.Second, Logger: log})
		if err != nil {
			e.t.Fatal(err)
		}
		pub, err := bodhipublisher.New(ctx, bodhipublisher.Options{JS: conn.JS, Bodhi: bc, DryRun: e.bodhiDryRun,
			FollowInterval: 100 * time.Millisecond, Logger: log, Registerer: prometheus.NewRegistry()})
		if err != nil {
			e.t.Fatal(err)
		}
		run = func() error { return pub.Run(ctx) }
	default:
		e.t.Fatalf("unknown service %s", name)
	}
	go func() { s.done <- run() }()
	e.services[name] = s
}

// Stop kills a service: its NATS connection drops at once (as a killed
// process's would: nothing is released or acked), then its context is
// cancelled and it is waited for.
func (e *Engine) Stop(name string) { e.halt(name, false) }

// StopGracefully cancels a service's context first (it releases the batch
// lock, naks in-flight messages) and closes its connection after.
func (e *Engine) StopGracefully(name string) { e.halt(name, true) }

func (e *Engine) halt(name string, graceful bool) {
	e.t.Helper()
	e.mu.Lock()
	s, ok := e.services[name]
	delete(e.services, name)
	e.mu.Unlock()
	if !ok {
		return
	}
	if !graceful {
		s.conn.NC.Close()
	}
	s.cancel()
	// The instance winds down in the background; with a graceful stop its
	// connection stays up until it returns, so that messages handed to it
	// meanwhile are nak'd (redelivered at once) rather than stranded until
	// their AckWait. Its successor may start at once.
	e.retired.Add(1)
	go func() {
		defer e.retired.Done()
		defer s.conn.NC.Close()
		select {
		case err := <-s.done:
			// A killed process returns nothing: what an instance does
			// once its connection is gone (fail to start, say) is moot.
			if err != nil && !errors.Is(err, context.Canceled) && graceful {
				e.t.Errorf("%s returned %v", name, err)
			}
		case <-time.After(30 * time.Second):
			e.t.Errorf("%s did not stop within 30 s", name)
		}
	}()
}

func (e *Engine) Restart(name string) {
	e.Stop(name)
	e.Start(name)
}

func (e *Engine) stopAll() {
	e.mu.Lock()
	var names []string
	for n := range e.services {
		names = append(names, n)
	}
	e.mu.Unlock()
	for _, n := range names {
		e.StopGracefully(n)
	}
	e.retired.Wait()
}

// Request makes a new Rawhide build of pkg in the simulator and publishes
// the RebuildRequest filter would publish for it.
func (e *Engine) Request(pkg, version string) *ebsv1.RebuildRequest {
	e.t.Helper()
	r := NewRebuildRequest(e.t, e, pkg, version)
	if _, err := natsx.Publish(context.Background(), e.Conn.JS, natsx.SubjectRebuildRequested, r.GetRequestId(), r); err != nil {
		e.t.Fatal(err)
	}
	return r
}

// NewRebuildRequest makes a new Rawhide build of pkg in the simulator and
// returns the RebuildRequest filter would publish for it (not published).
func NewRebuildRequest(t *testing.T, e *Engine, pkg, version string) *ebsv1.RebuildRequest {
	t.Helper()
	nvr := fmt.Sprintf("%s-%s-1.fc45", pkg, version)
	id, err := e.Hub.NewRawhideBuild(nvr, "packager")
	if err != nil {
		t.Fatalf("NewRawhideBuild(%s): %v", nvr, err)
	}
	ordering := int32(config.DefaultOrdering)
	if s := e.Settings.Load(); s != nil {
		ordering = int32(s.Control.OrderingOf(pkg))
	}
	return &ebsv1.RebuildRequest{RequestId: fmt.Sprintf("trigger-%s-%d", nvr, e.seq.Add(1)), Component: pkg, FedoraName: pkg,
		BuildId: id, Nvr: nvr, SourceTag: "f45", View: ebsv1.ComponentView_COMPONENT_VIEW_ELN,
		Ordering: ordering, Reason: ebsv1.RequestReason_REQUEST_REASON_TRIGGER,
		RequestedAt: timestamppb.Now(), BuildCreatedAt: timestamppb.Now()}
}

// Requests publishes a request for version 1.0 of each package, all for
// one batch: batches are held (config pause) until every request is in the
// pending set, so a slow machine taking longer than the lull between two
// requests does not split them into two batches. A running batch goes on.
func (e *Engine) Requests(pkgs ...string) {
	e.t.Helper()
	prev := e.Settings.Load()
	held := *prev
	held.Control.Pause = true
	e.Settings.Store(&held)
	defer e.Settings.Store(prev)
	var rs []*ebsv1.RebuildRequest
	for _, p := range pkgs {
		rs = append(rs, e.Request(p, "1.0"))
	}
	e.mu.Lock()
	batcherUp := false
	for n := range e.services {
		batcherUp = batcherUp || strings.HasPrefix(n, "batcher")
	}
	e.mu.Unlock()
	if batcherUp {
		e.waitPending(rs)
	}
}

// waitPending waits until each request is the pending one of its component.
func (e *Engine) waitPending(rs []*ebsv1.RebuildRequest) {
	e.t.Helper()
	ctx := context.Background()
	kv, err := e.Conn.JS.KeyValue(ctx, natsx.BucketPending)
	if err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(BatchWait)
	for _, r := range rs {
		for {
			var pr ebsv1.PendingRequest
			if ent, err := kv.Get(ctx, natsx.EscapeKey(r.GetComponent())); err == nil && proto.Unmarshal(ent.Value(), &pr) == nil &&
				pr.GetRequest().GetRequestId() == r.GetRequestId() {
				break
			}
			if time.Now().After(deadline) {
				e.t.Fatalf("request %s not pending within %s", r.GetRequestId(), BatchWait)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Events reads every message of subject from the EBS stream.
func Events[T proto.Message](e *Engine, subject string, newT func() T) []T {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := e.Conn.JS.Stream(ctx, natsx.StreamEBS)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		e.t.Fatal(err)
	}
	n := int(info.State.Subjects[subject])
	var out []T
	if n == 0 {
		return out
	}
	c, err := e.Conn.JS.OrderedConsumer(ctx, natsx.StreamEBS, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		e.t.Fatal(err)
	}
	for len(out) < n {
		m, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			e.t.Fatalf("reading %s: %v", subject, err)
		}
		v := newT()
		if err := proto.Unmarshal(m.Data(), v); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

// CompletedEvents returns every ebs.batch.completed so far.
func (e *Engine) CompletedEvents() []*ebsv1.BatchCompleted {
	return Events(e, natsx.SubjectBatchCompleted, func() *ebsv1.BatchCompleted { return new(ebsv1.BatchCompleted) })
}

// WaitCompleted waits until n batches completed and returns them.
func (e *Engine) WaitCompleted(n int, within time.Duration) []*ebsv1.BatchCompleted {
	e.t.Helper()
	deadline := time.Now().Add(within)
	for {
		evs := e.CompletedEvents()
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d of %d batches completed within %s", len(evs), n, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Outcomes indexes a completed batch's outcomes by component.
func Outcomes(c *ebsv1.BatchCompleted) map[string]*ebsv1.PackageOutcome {
	out := map[string]*ebsv1.PackageOutcome{}
	for _, o := range c.GetOutcomes() {
		out[o.GetComponent()] = o
	}
	return out
}

// BuildCalls returns the build() calls the hub received, by SCM URL
// package name, with their ebs attempt.
type BuildCall struct {
	Pkg, Attempt, Target string
	Opts                 map[string]any
}

func (e *Engine) BuildCalls() []BuildCall {
	var out []BuildCall
	for _, r := range e.Hub.CallsTo("build") {
		if r.FaultCode != 0 || r.HTTPStatus >= 400 || len(r.Params) < 3 {
			continue
		}
		src, _ := r.Params[0].(string)
		target, _ := r.Params[1].(string)
		opts, _ := r.Params[2].(map[string]any)
		c := BuildCall{Pkg: pkgOfSCM(src), Target: target, Opts: opts}
		if m, ok := opts["custom_user_metadata"].(map[string]any); ok {
			c.Attempt, _ = m["ebs_attempt"].(string)
		}
		out = append(out, c)
	}
	return out
}

// Multicall is one multiCall the hub received: how it was answered (the
// HTTP status; an injected 500 never reached the hub) and the methods it
// carried.
type Multicall struct {
	HTTPStatus int
	Injected   bool
	Methods    []string
}

// Multicalls lists the multiCalls the hub received, in order.
func (e *Engine) Multicalls() []Multicall {
	var out []Multicall
	for _, r := range e.Hub.CallLog() {
		switch {
		case r.Method == "multiCall" && !r.InMulticall:
			out = append(out, Multicall{HTTPStatus: r.HTTPStatus, Injected: r.Injected})
		case r.InMulticall && len(out) > 0:
			last := &out[len(out)-1]
			last.Methods = append(last.Methods, r.Method)
		}
	}
	return out
}

// Has reports whether the multicall carried a call to method.
func (m Multicall) Has(method string) bool {
	for _, x := range m.Methods {
		if x == method {
			return true
		}
	}
	return false
}

// Submissions counts build() calls per package.
func (e *Engine) Submissions() map[string]int {
	out := map[string]int{}
	for _, c := range e.BuildCalls() {
		out[c.Pkg]++
	}
	return out
}

func pkgOfSCM(u string) string {
	u = u[strings.LastIndex(u, "/")+1:]
	if i := strings.Index(u, ".git"); i >= 0 {
		u = u[:i]
	}
	return u
}

// SideTagsLeft lists live side tags.
func (e *Engine) SideTagsLeft() []string {
	var out []string
	for _, s := range e.Hub.SideTags() {
		out = append(out, s.Name)
	}
	sort.Strings(out)
	return out
}

// ListSideTags asks the hub over XML-RPC (listSideTags, as an operator
// would) for every live side tag.
func (e *Engine) ListSideTags() []string {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ts, err := e.admin.ListSideTags(ctx, "", "")
	if err != nil {
		e.t.Fatalf("listSideTags: %v", err)
	}
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	sort.Strings(out)
	return out
}

// WaitNoSideTags fails the test unless every side tag is gone soon (the
// hub's state and listSideTags both empty).
func (e *Engine) WaitNoSideTags() {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(e.SideTagsLeft()) > 0 || len(e.ListSideTags()) > 0 {
		if time.Now().After(deadline) {
			e.t.Fatalf("side tags left behind: %v (listSideTags: %v)", e.SideTagsLeft(), e.ListSideTags())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// PendingLeft lists components still in KV ebs_pending.
func (e *Engine) PendingLeft() []string {
	kv, err := e.Conn.JS.KeyValue(context.Background(), natsx.BucketPending)
	if err != nil {
		e.t.Fatal(err)
	}
	keys, err := kv.Keys(context.Background())
	if err != nil && !errors.Is(err, jetstream.ErrNoKeysFound) {
		e.t.Fatal(err)
	}
	return keys
}

// simKoji is the Bodhi simulator's view of the Koji simulator, as Bodhi
// (a Koji admin) sees Koji: getTag, listTagged(latest), tagging into the
// stable tag when an update goes stable, deleting the side tag after.
type simKoji struct {
	hub   *kojihub.Hub
	admin *koji.Client
}

func (k simKoji) GetTag(ctx context.Context, name string) (*bodhisim.Tag, error) {
	t, err := k.admin.GetTag(ctx, name, false)
	if err != nil || t == nil {
		return nil, err
	}
	return &bodhisim.Tag{Name: t.Name, ID: t.ID, SideTag: t.IsSideTag(), SideTagUser: t.SideTagUser()}, nil
}

func (k simKoji) ListTagged(ctx context.Context, tag string) ([]string, error) {
	bs, err := k.admin.ListTagged(ctx, tag, koji.ListTaggedOpts{Latest: true})
	if err != nil {
		return nil, err
	}
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.NVR
	}
	return out, nil
}

func (k simKoji) TagBuild(_ context.Context, tag, nvr string) error {
	if err := k.hub.Tag(tag, nvr, bodhiUser); err != nil && !strings.Contains(err.Error(), "already tagged") {
		return err
	}
	return nil
}

func (k simKoji) DeleteTag(ctx context.Context, tag string) error {
	return k.admin.DeleteTag(ctx, tag)
}

const BatchWait = 60 * time.Second

// MustPattern compiles a configuration pattern.
func MustPattern(t *testing.T, src string) config.Pattern {
	t.Helper()
	p, err := config.CompilePattern(src)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// WantState checks a package's final state in a completed batch.
func WantState(t *testing.T, c *ebsv1.BatchCompleted, comp string, st ebsv1.PackageState) *ebsv1.PackageOutcome {
	t.Helper()
	o := Outcomes(c)[comp]
	if o == nil {
		t.Fatalf("batch %s has no outcome for %s", c.GetBatchId(), comp)
	}
	if o.GetState() != st {
		t.Fatalf("%s: state %s (reason %q), want %s", comp, o.GetState(), o.GetReason(), st)
	}
	return o
}

// WantSubmissions checks how many build() calls each package got.
func WantSubmissions(t *testing.T, e *Engine, want map[string]int) {
	t.Helper()
	got := e.Submissions()
	for p, n := range want {
		if got[p] != n {
			t.Errorf("%s submitted %d times, want %d (all: %v)", p, got[p], n, got)
		}
	}
}

// every batch closes every request: no pending key left, one outcome each.
func WantClosed(t *testing.T, e *Engine, c *ebsv1.BatchCompleted, comps ...string) {
	t.Helper()
	for _, comp := range comps {
		if Outcomes(c)[comp] == nil {
			t.Errorf("request for %s not closed by batch %s", comp, c.GetBatchId())
		}
	}
	if left := e.PendingLeft(); len(left) > 0 {
		t.Errorf("pending set not empty after the batch: %v", left)
	}
}

// CountOnStream counts the EBS stream's messages matching filter.
func CountOnStream(e *Engine, filter string) int {
	st, err := e.Conn.JS.Stream(context.Background(), natsx.StreamEBS)
	if err != nil {
		e.t.Fatal(err)
	}
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(filter))
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n
}

// WaitCheckpointDone waits until the batch is no longer current, then checks
// that only its small header is left in KV ebs_batches, marked done.
func (e *Engine) WaitCheckpointDone(c *ebsv1.BatchCompleted) {
	e.t.Helper()
	ctx := context.Background()
	kv, err := e.Conn.JS.KeyValue(ctx, natsx.BucketBatches)
	if err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := kv.Get(ctx, natsx.KeyCurrent); err != nil {
			break
		}
		if time.Now().After(deadline) {
			e.t.Fatal("the batch is still current after completing")
		}
		time.Sleep(20 * time.Millisecond)
	}
	keys, err := kv.Keys(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, k := range keys {
		if strings.HasPrefix(k, c.GetBatchId()+".") {
			e.t.Errorf("checkpoint key %s left after the batch", k)
		}
	}
	ent, err := kv.Get(ctx, c.GetBatchId())
	if err != nil {
		e.t.Fatal(err)
	}
	var h ebsv1.BatchCheckpoint
	if err := proto.Unmarshal(ent.Value(), &h); err != nil || h.GetStep() != "done" || h.GetResult() != c.GetResult() {
		e.t.Fatalf("final header %v (%v)", &h, err)
	}
}

// FaultOnSubmission makes the fault hit koji-worker's build submission: it
// stops koji-worker while the seeds are awaited (its tagging multicall is
// done), and once the submission is issued (the seed wait, whose checks
// are multicalls too, is over) injects the fault and starts it again.
func (e *Engine) FaultOnSubmission(r kojihub.FaultRule) (remove func()) {
	e.t.Helper()
	e.WaitHeader("seeds awaited", func(h *ebsv1.BatchCheckpoint) bool {
		return h.GetStep() == "seed" && h.GetBuildSideTag().GetStep() == "wait"
	})
	e.StopGracefully("koji-worker")
	e.WaitHeader("build", func(h *ebsv1.BatchCheckpoint) bool { return h.GetStep() == "build" })
	remove = e.Hub.InjectFault(r)
	e.Start("koji-worker")
	return remove
}

// WaitStep waits until the running batch's checkpoint reaches step, then
// calls f (from the test goroutine).
func (e *Engine) WaitStep(step string, f func()) {
	e.t.Helper()
	e.WaitHeader(step, func(h *ebsv1.BatchCheckpoint) bool { return h.GetStep() == step })
	f()
}

// WaitHeader waits until the running batch's header satisfies ok.
func (e *Engine) WaitHeader(what string, ok func(*ebsv1.BatchCheckpoint) bool) {
	e.t.Helper()
	deadline := time.Now().Add(BatchWait)
	kv, err := e.Conn.JS.KeyValue(context.Background(), natsx.BucketBatches)
	if err != nil {
		e.t.Fatal(err)
	}
	for time.Now().Before(deadline) {
		if hdr := e.CurrentHeader(kv); hdr != nil && ok(hdr) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	e.t.Fatalf("no batch reached %s", what)
}

// CurrentHeader returns the running batch's checkpoint header, or nil.
func (e *Engine) CurrentHeader(kv jetstream.KeyValue) *ebsv1.BatchCheckpoint {
	ent, err := kv.Get(context.Background(), natsx.KeyCurrent)
	if err != nil {
		return nil
	}
	var cur ebsv1.CurrentBatch
	if proto.Unmarshal(ent.Value(), &cur) != nil {
		return nil
	}
	h, err := kv.Get(context.Background(), cur.GetBatchId())
	if err != nil {
		return nil
	}
	var hdr ebsv1.BatchCheckpoint
	if proto.Unmarshal(h.Value(), &hdr) != nil {
		return nil
	}
	return &hdr
}

// SetRuntimePause sets the runtime pause in KV ebs_control.
func (e *Engine) SetRuntimePause(p bool) {
	e.t.Helper()
	kv, err := e.Conn.JS.KeyValue(context.Background(), natsx.BucketControl)
	if err != nil {
		e.t.Fatal(err)
	}
	b, _ := proto.Marshal(&ebsv1.ControlState{Paused: p, Reason: "test"})
	if _, err := kv.Put(context.Background(), natsx.KeyPause, b); err != nil {
		e.t.Fatal(err)
	}
}

// Progress is a signature of where a batch is: every checkpointed step and
// sub-step changes it.
func Progress(h *ebsv1.BatchCheckpoint) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s/%d|%d", h.GetStep(), h.GetBuildSideTag().GetStep(), h.GetBuildSideTag().GetAttempt(), h.GetCurrentSlice())
	for _, s := range h.GetSlices() {
		fmt.Fprintf(&b, "|%s/%d", s.GetState(), s.GetAttempts())
	}
	for _, c := range h.GetChunks() {
		fmt.Fprintf(&b, "|%s/%s", c.GetStep(), c.GetSideTag().GetStep())
	}
	return b.String()
}
