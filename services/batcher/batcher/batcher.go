package batcher

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-eln/ebs/libs/commands"
	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/kojibatch"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// Name is the service name used in logs, metrics and dead letters.
const Name = "batcher"

// Defaults (the original's timers).
const (
	DefaultLull               = 60 * time.Second
	DefaultTagTimeout         = time.Hour
	DefaultStableTimeout      = time.Hour
	DefaultTaskTimeout        = 24 * time.Hour
	DefaultMaxSideTagAttempts = 5
	DefaultLockTTL            = 15 * time.Second
	DefaultBodhiNotes         = "Automatic update for ELN rebuild batch"
)

// Config is the batcher service's configuration.
type Config struct {
	lifecycle.Common
	Koji kojibatch.ClientFlags
	// Lull: a batch starts only after this long without a new request.
	Lull time.Duration
	// TagTimeout bounds waiting for seeds (and update builds) in a side tag.
	TagTimeout time.Duration
	// StableTimeout bounds waiting for the batch's builds in the stable tag.
	StableTimeout time.Duration
	// TaskTimeout: a build task running longer is cancelled and not retried.
	TaskTimeout time.Duration
	// MaxSideTagAttempts: side tags made for one purpose before the batch fails.
	MaxSideTagAttempts int
	// LockTTL of the batch lock lease.
	LockTTL time.Duration
	// Draft builds are submitted as Koji drafts and promoted before Bodhi.
	Draft bool
	// Holder names this replica in the lock (default host/pid).
	Holder string
	// ConfigRefresh is how often the configuration is re-read.
	ConfigRefresh time.Duration
	// Hook is for tests only (never set from flags): the saga calls it at
	// the entry of every step and after publishing every command. It may
	// block (the saga waits); an error it returns interrupts the saga as a
	// crash would, and the batch resumes from its checkpoint.
	Hook func(ctx context.Context, p HookPoint) error
}

// HookPoint tells Config.Hook where a batch's saga is.
type HookPoint struct {
	BatchID string
	// Step is the saga step (move, resolve, ... complete).
	Step string
	// CommandID and Subject are set after a command was published (empty
	// at a step's entry).
	CommandID, Subject string
}

// Flags registers the configuration as flags with EBS_* environment fallbacks.
func (c *Config) Flags(fs *flag.FlagSet) {
	c.Common.Flags(fs, "127.0.0.1:9103")
	c.Koji.Flags(fs)
	lifecycle.DurationVar(fs, &c.Lull, "lull", "EBS_LULL", DefaultLull, "quiet time without new requests before a batch starts")
	lifecycle.DurationVar(fs, &c.TagTimeout, "tag-timeout", "EBS_TAG_TIMEOUT", DefaultTagTimeout, "wait for builds tagged into a side tag (then a new side tag)")
	lifecycle.DurationVar(fs, &c.StableTimeout, "stable-timeout", "EBS_STABLE_TIMEOUT", DefaultStableTimeout, "wait for the batch's builds in the stable tag (logged and ignored after)")
	lifecycle.DurationVar(fs, &c.TaskTimeout, "task-timeout", "EBS_TASK_TIMEOUT", DefaultTaskTimeout, "build task timeout (cancelled, not retried)")
	lifecycle.IntVar(fs, &c.MaxSideTagAttempts, "max-side-tag-attempts", "EBS_MAX_SIDE_TAG_ATTEMPTS", DefaultMaxSideTagAttempts, "side tags tried per purpose before the batch fails")
	lifecycle.DurationVar(fs, &c.LockTTL, "lock-ttl", "EBS_LOCK_TTL", DefaultLockTTL, "batch lock lease TTL")
	lifecycle.BoolVar(fs, &c.Draft, "draft-builds", "EBS_DRAFT_BUILDS", false, "submit draft builds and promote them before Bodhi")
	lifecycle.StringVar(fs, &c.Holder, "holder", "EBS_HOLDER", "", "lock holder name (default host/pid)")
	lifecycle.DurationVar(fs, &c.ConfigRefresh, "config-refresh", "EBS_CONFIG_REFRESH", config.DefaultTimers().ConfigRefresh, "how often the configuration is re-read")
}

func (c Config) withDefaults() Config {
	if c.Lull <= 0 {
		c.Lull = DefaultLull
	}
	if c.TagTimeout <= 0 {
		c.TagTimeout = DefaultTagTimeout
	}
	if c.StableTimeout <= 0 {
		c.StableTimeout = DefaultStableTimeout
	}
	if c.TaskTimeout <= 0 {
		c.TaskTimeout = DefaultTaskTimeout
	}
	if c.MaxSideTagAttempts <= 0 {
		c.MaxSideTagAttempts = DefaultMaxSideTagAttempts
	}
	if c.LockTTL <= 0 {
		c.LockTTL = DefaultLockTTL
	}
	if c.Holder == "" {
		host, _ := os.Hostname()
		c.Holder = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), commands.NewBatchID(time.Now())[len("b-20060102T150405Z-"):])
	}
	return c
}

// Run runs the service until ctx ends. The configuration comes from
// --config (EBS_CONFIG: a file, an https:// URL or a git source) and is
// refreshed every ConfigRefresh; a running batch keeps the settings it
// started with.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	log = log.With("component", Name)
	if cfg.Common.Config == "" {
		return errors.New("batcher: --config (EBS_CONFIG) is required")
	}
	admin := cfg.NewAdmin()
	conn, err := cfg.ConnectNATS(ctx, Name, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	w, err := config.NewWatcher(ctx, cfg.Common.Config, config.WatchOptions{Service: Name, Interval: cfg.ConfigRefresh,
		Logger: log, Registerer: admin.Registry, JetStream: conn.JS})
	if err != nil {
		return fmt.Errorf("batcher: configuration: %w", err)
	}
	hub, err := cfg.Koji.Hub(ctx, log, admin.Registry)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 2)
	go func() { errc <- admin.Serve(ctx, cfg.AdminAddr, log, nil) }()
	go func() { errc <- w.Run(ctx) }()
	err = Serve(ctx, cfg, Deps{JS: conn.JS, Hub: hub, Settings: w.Current, Registerer: admin.Registry, Ready: admin.Ready}, log)
	cancel()
	for range 2 {
		if e := <-errc; err == nil && e != nil && !errors.Is(e, context.Canceled) {
			err = e
		}
	}
	return err
}

// Deps are what Serve needs from its environment.
type Deps struct {
	JS jetstream.JetStream
	// Hub is used for reads only (getBuild, getBuildTarget): every change
	// goes through koji-worker.
	Hub kojibatch.Hub
	// Settings returns the current ebs configuration (it may change between
	// calls; a batch captures what it needs when it starts).
	Settings func() *config.Config
	// Registerer receives the metrics (nil: not registered).
	Registerer prometheus.Registerer
	Ready      func()
}

// Serve runs the batcher on an already provisioned JetStream until ctx ends.
func Serve(ctx context.Context, cfg Config, d Deps, log *slog.Logger) error {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.Default()
	}
	if d.JS == nil || d.Hub == nil || d.Settings == nil {
		return errors.New("batcher: JetStream, Koji hub and settings are required")
	}
	b, err := newBatcher(ctx, cfg, d, log)
	if err != nil {
		return err
	}
	return b.run(ctx, d.Ready)
}

// Batcher is one batcher replica.
type Batcher struct {
	cfg      Config
	log      *slog.Logger
	js       jetstream.JetStream
	hub      kojibatch.Hub
	settings func() *config.Config
	results  *commands.Results
	pending  *natsx.ProtoKV[*ebsv1.PendingRequest]
	batches  jetstream.KeyValue
	lockKV   jetstream.KeyValue
	control  *natsx.ProtoKV[*ebsv1.ControlState]
	failed   *natsx.ProtoKV[*ebsv1.DenylistEntry]
	tasks    *natsx.ProtoKV[*ebsv1.TaskRecord]
	m        *metrics

	mu            sync.Mutex
	pendingKeys   map[string]bool
	lastAccepted  time.Time
	runtimePaused bool
	current       string
}

func newBatcher(ctx context.Context, cfg Config, d Deps, log *slog.Logger) (*Batcher, error) {
	open := func(name string) (jetstream.KeyValue, error) {
		kv, err := d.JS.KeyValue(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("batcher: open %s: %w", name, err)
		}
		return kv, nil
	}
	b := &Batcher{cfg: cfg, log: log.With("component", Name), js: d.JS, hub: d.Hub, settings: d.Settings,
		m: newMetrics(d.Registerer), pendingKeys: map[string]bool{}}
	var err error
	if b.results, err = commands.OpenResults(ctx, d.JS); err != nil {
		return nil, err
	}
	kvs := map[string]*jetstream.KeyValue{}
	var pending, control, failed, tasks jetstream.KeyValue
	kvs[natsx.BucketPending] = &pending
	kvs[natsx.BucketBatches] = &b.batches
	kvs[natsx.BucketLock] = &b.lockKV
	kvs[natsx.BucketControl] = &control
	kvs[natsx.BucketFailed] = &failed
	kvs[natsx.BucketTasks] = &tasks
	for name, p := range kvs {
		if *p, err = open(name); err != nil {
			return nil, err
		}
	}
	b.pending = natsx.NewProtoKV(pending, func() *ebsv1.PendingRequest { return new(ebsv1.PendingRequest) })
	b.control = natsx.NewProtoKV(control, func() *ebsv1.ControlState { return new(ebsv1.ControlState) })
	b.failed = natsx.NewProtoKV(failed, func() *ebsv1.DenylistEntry { return new(ebsv1.DenylistEntry) })
	b.tasks = natsx.NewProtoKV(tasks, func() *ebsv1.TaskRecord { return new(ebsv1.TaskRecord) })
	return b, nil
}

func (b *Batcher) run(ctx context.Context, ready func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 5)
	wg.Go(func() { errc <- rewatch(ctx, b.log, "pending", b.watchPending) })
	wg.Go(func() { errc <- rewatch(ctx, b.log, "control", b.watchControl) })
	wg.Go(func() { errc <- rewatch(ctx, b.log, "current", b.watchCurrent) })
	wg.Go(func() {
		errc <- natsx.Consume(ctx, b.js, natsx.StreamEBS, natsx.ConsumerBatcher,
			func() *ebsv1.RebuildRequest { return new(ebsv1.RebuildRequest) }, b.handleRequest,
			natsx.ConsumeOptions{Service: Name, Logger: b.log, Batch: 10})
	})
	wg.Go(func() { errc <- b.schedule(ctx) })
	if ready != nil {
		ready()
	}
	b.log.Info("batcher running", "lull", b.cfg.Lull, "holder", b.cfg.Holder)
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

// rewatch runs a KV watch again whenever it ends before ctx (a watch ends
// when its connection is lost for good or its consumer goes away).
func rewatch(ctx context.Context, log *slog.Logger, what string, watch func(context.Context) error) error {
	for {
		err := watch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("KV watch ended; watching again", "watch", what, "error", err)
		sleepCtx(ctx, time.Second)
	}
}

type metrics struct {
	requests *prometheus.CounterVec
	batches  *prometheus.CounterVec
	packages *prometheus.CounterVec
	pending  prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ebs_batcher_requests_total",
			Help: "Rebuild requests taken in, by outcome (pending, replaced, superseded, duplicate)."}, []string{"outcome"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ebs_batcher_batches_total",
			Help: "Batches completed, by result."}, []string{"result"}),
		packages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ebs_batcher_packages_total",
			Help: "Packages of completed batches, by final state."}, []string{"state"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ebs_batcher_pending",
			Help: "Components in the pending set."}),
	}
	if reg != nil {
		reg.MustRegister(m.requests, m.batches, m.packages, m.pending)
	}
	return m
}
