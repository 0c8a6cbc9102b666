package kojiworker

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-eln/ebs/libs/commands"
	"github.com/fedora-eln/ebs/libs/kojibatch"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// Name is the service name used in logs, metrics and dead letters.
const Name = "koji-worker"

// Defaults (the original's timers).
const (
	DefaultPollInterval  = 5 * time.Minute
	DefaultTaskTimeout   = 24 * time.Hour
	DefaultDeadlineCheck = 30 * time.Second
	DefaultWorkers       = 2
)

// Config is the koji-worker service's configuration.
type Config struct {
	lifecycle.Common
	Koji kojibatch.ClientFlags
	// PollInterval between getTaskInfo polls of every open task.
	PollInterval time.Duration
	// TaskTimeout applies to tasks whose command carries none.
	TaskTimeout time.Duration
	// DeadlineCheck is how often task deadlines are checked (no Koji call
	// unless one passed).
	DeadlineCheck time.Duration
	// Workers handle commands concurrently.
	Workers int
}

// Flags registers the configuration as flags with EBS_* environment fallbacks.
func (c *Config) Flags(fs *flag.FlagSet) {
	c.Common.Flags(fs, "127.0.0.1:9104")
	c.Koji.Flags(fs)
	lifecycle.DurationVar(fs, &c.PollInterval, "poll-interval", "EBS_POLL_INTERVAL", DefaultPollInterval, "getTaskInfo poll interval for open tasks")
	lifecycle.DurationVar(fs, &c.TaskTimeout, "task-timeout", "EBS_TASK_TIMEOUT", DefaultTaskTimeout, "build task timeout (cancel and report TIMED_OUT) when the command gives none")
	lifecycle.DurationVar(fs, &c.DeadlineCheck, "deadline-check", "EBS_DEADLINE_CHECK", DefaultDeadlineCheck, "how often task deadlines are checked")
	lifecycle.IntVar(fs, &c.Workers, "workers", "EBS_WORKERS", DefaultWorkers, "commands handled concurrently")
}

func (c Config) withDefaults() Config {
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.TaskTimeout <= 0 {
		c.TaskTimeout = DefaultTaskTimeout
	}
	if c.DeadlineCheck <= 0 {
		c.DeadlineCheck = DefaultDeadlineCheck
	}
	c.DeadlineCheck = min(c.DeadlineCheck, c.PollInterval)
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	return c
}

// Run runs the service until ctx ends: it connects to NATS and Koji from cfg
// and calls Serve.
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

// Deps are what Serve needs from its environment; tests and the all-in-one
// binary build them themselves.
type Deps struct {
	JS  jetstream.JetStream
	Hub kojibatch.Hub
	// Registerer receives the metrics (nil: not registered).
	Registerer prometheus.Registerer
	// Ready is called once the worker consumes (nil: ignored).
	Ready func()
}

// Serve runs koji-worker on an already provisioned JetStream until ctx ends.
func Serve(ctx context.Context, cfg Config, d Deps, log *slog.Logger) error {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.Default()
	}
	w, err := newWorker(ctx, cfg, d, log)
	if err != nil {
		return err
	}
	return w.run(ctx, d.Ready)
}

// Worker is one koji-worker replica.
type Worker struct {
	cfg     Config
	log     *slog.Logger
	js      jetstream.JetStream
	hub     kojibatch.Hub
	results *commands.Results
	tasks   *natsx.ProtoKV[*ebsv1.TaskRecord]
	m       *metrics
	// pollRound lets one replica poll Koji per interval.
	pollRound *natsx.Round

	userOnce sync.Mutex
	user     *kojibatch.User

	mu   sync.Mutex
	open map[int64]*tracked // open build tasks by Koji task id
	// early holds final states messages reported before their task was
	// tracked (see earlyFinishes).
	early earlyFinishes

	// stripes serialise deliveries of the same command within a replica
	// (a re-issued command racing its first delivery).
	stripes [64]sync.Mutex
}

func (w *Worker) stripe(id string) *sync.Mutex {
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return &w.stripes[h.Sum32()%uint32(len(w.stripes))]
}

// tracked is an open task record as this replica last saw it.
type tracked struct {
	key string
	rev uint64
	rec *ebsv1.TaskRecord
}

func newWorker(ctx context.Context, cfg Config, d Deps, log *slog.Logger) (*Worker, error) {
	if d.JS == nil || d.Hub == nil {
		return nil, errors.New("kojiworker: JetStream and Koji hub are required")
	}
	results, err := commands.OpenResults(ctx, d.JS)
	if err != nil {
		return nil, err
	}
	tkv, err := d.JS.KeyValue(ctx, natsx.BucketTasks)
	if err != nil {
		return nil, fmt.Errorf("kojiworker: open %s: %w", natsx.BucketTasks, err)
	}
	log = log.With("component", Name)
	round, err := natsx.NewRound(ctx, d.JS, natsx.KeyPollKojiTasks, "", log)
	if err != nil {
		return nil, err
	}
	return &Worker{
		cfg: cfg, log: log, js: d.JS, hub: d.Hub, results: results,
		tasks:     natsx.NewProtoKV(tkv, func() *ebsv1.TaskRecord { return new(ebsv1.TaskRecord) }),
		m:         newMetrics(d.Registerer),
		open:      map[int64]*tracked{},
		pollRound: round,
	}, nil
}

func (w *Worker) run(ctx context.Context, ready func()) error {
	if err := w.loadTasks(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	wg.Go(func() {
		for ctx.Err() == nil {
			if err := w.watchTasks(ctx); err != nil && ctx.Err() == nil {
				w.log.Warn("task watch ended; watching again", "error", err)
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	})
	wg.Go(func() { w.pollLoop(ctx) })
	wg.Go(func() {
		errc <- natsx.Consume(ctx, w.js, natsx.StreamEBS, natsx.ConsumerKojiWorkerCmd,
			func() *ebsv1.KojiCommand { return new(ebsv1.KojiCommand) }, w.handleCommand,
			natsx.ConsumeOptions{Service: Name, Logger: w.log, Workers: w.cfg.Workers, OnDeadLetter: w.failDeadLettered})
	})
	wg.Go(func() {
		errc <- natsx.Consume(ctx, w.js, natsx.StreamFedmsg, natsx.ConsumerKojiWorkerFed,
			func() *ebsv1.FedoraMessage { return new(ebsv1.FedoraMessage) }, w.handleFedmsg,
			// Finishing a task is two round trips (record, event): a mass
			// rebuild's 10,000 finishes go four at a time. Order does not
			// matter: only a final state finishes a task, once.
			natsx.ConsumeOptions{Service: Name, Logger: w.log, Batch: 20, Workers: 4})
	})
	if ready != nil {
		ready()
	}
	w.log.Info("koji-worker running", "poll_interval", w.cfg.PollInterval, "open_tasks", w.openCount())
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

// me is the Koji user koji-worker acts as (cached after the first call).
func (w *Worker) me(ctx context.Context) (kojibatch.User, error) {
	w.userOnce.Lock()
	defer w.userOnce.Unlock()
	if w.user != nil {
		return *w.user, nil
	}
	u, err := w.hub.LoggedInUser(ctx)
	if err != nil {
		return kojibatch.User{}, err
	}
	w.user = &u
	return u, nil
}

type metrics struct {
	commands *prometheus.CounterVec
	tasks    *prometheus.CounterVec
	polls    prometheus.Counter
	open     prometheus.GaugeFunc
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ebs_koji_worker_commands_total",
			Help: "Koji commands handled, by verb and outcome (done, recovered, failed, replayed)."}, []string{"verb", "outcome"}),
		tasks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ebs_koji_worker_tasks_finished_total",
			Help: "Build tasks finished, by outcome and how the finish was observed."}, []string{"outcome", "observed_by"}),
		polls: prometheus.NewCounter(prometheus.CounterOpts{Name: "ebs_koji_worker_polls_total",
			Help: "getTaskInfo polls of the open tasks."}),
	}
	if reg != nil {
		reg.MustRegister(m.commands, m.tasks, m.polls)
	}
	return m
}
