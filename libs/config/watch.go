package config

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// WatchOptions configure a Watcher.
type WatchOptions struct {
	// Service names the watching service in events, logs and metrics.
	Service string
	// Interval between refreshes (default DefaultTimers().ConfigRefresh, 15 min).
	Interval time.Duration
	Logger   *slog.Logger
	// Registerer receives the ebs_config_* metrics (nil: not registered).
	Registerer prometheus.Registerer
	// JetStream, when set, receives a ConfigEvent on ebs.config.loaded for
	// each accepted configuration that differs from the previous one, and on
	// ebs.config.rejected for each rejected one.
	JetStream jetstream.JetStream
	// Apply, when set, is called with each candidate configuration before it
	// replaces the current one. It finishes validation with what the service
	// derives from it (the filter resolves rawhide and fetches Content
	// Resolver lists); an error rejects the candidate and keeps the previous
	// configuration. Apply is never called concurrently.
	Apply func(ctx context.Context, c *Config) error
}

// Watcher holds the current configuration of a service and refreshes it
// from its Source: a candidate replaces the current configuration only when
// it is valid as a whole (parsed, validated, and accepted by Apply); an
// invalid one is reported (log, metric, ConfigEvent) and the previous stays.
type Watcher struct {
	src     Source
	o       WatchOptions
	log     *slog.Logger
	cur     atomic.Pointer[Config]
	mu      sync.Mutex // serializes refreshes
	now     func() time.Time
	metrics *WatchMetrics
	subs    []chan *Config
}

// WatchMetrics are a Watcher's metrics (ebs_config_*, labelled by service).
type WatchMetrics struct {
	// Loads counts refreshes by result: accepted, unchanged, rejected.
	Loads        *prometheus.CounterVec
	LastAccepted prometheus.Gauge
	LastRejected prometheus.Gauge
	// Valid is 1 when the last refresh was accepted, 0 when it was rejected.
	Valid prometheus.Gauge
}

func newWatchMetrics(reg prometheus.Registerer, service string) *WatchMetrics {
	labels := prometheus.Labels{"service": service}
	m := &WatchMetrics{
		Loads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ebs_config_loads_total", Help: "Configuration loads by result (accepted, unchanged, rejected).", ConstLabels: labels,
		}, []string{"result"}),
		LastAccepted: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ebs_config_last_accepted_timestamp_seconds", Help: "When the current configuration was last (re)loaded successfully.", ConstLabels: labels,
		}),
		LastRejected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ebs_config_last_rejected_timestamp_seconds", Help: "When a candidate configuration was last rejected.", ConstLabels: labels,
		}),
		Valid: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ebs_config_last_load_valid", Help: "1 if the last refresh was accepted, 0 if it was rejected (the previous configuration is in use).", ConstLabels: labels,
		}),
	}
	for _, r := range []string{"accepted", "unchanged", "rejected"} {
		m.Loads.WithLabelValues(r)
	}
	if reg != nil {
		// A second watcher of the same service on one registry shares the
		// collectors already registered.
		m.Loads = register(reg, m.Loads)
		m.LastAccepted = register(reg, m.LastAccepted)
		m.LastRejected = register(reg, m.LastRejected)
		m.Valid = register(reg, m.Valid)
	}
	return m
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var already prometheus.AlreadyRegisteredError
		if errors.As(err, &already) {
			if existing, ok := already.ExistingCollector.(C); ok {
				return existing
			}
		}
		panic(err)
	}
	return c
}

// NewWatcher loads the configuration from source once (the start-up check):
// an invalid configuration is an error and the service must not start.
func NewWatcher(ctx context.Context, source string, o WatchOptions) (*Watcher, error) {
	src, err := ParseSource(source)
	if err != nil {
		return nil, err
	}
	return NewSourceWatcher(ctx, src, o)
}

// NewSourceWatcher is NewWatcher for a parsed Source.
func NewSourceWatcher(ctx context.Context, src Source, o WatchOptions) (*Watcher, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Interval <= 0 {
		o.Interval = DefaultTimers().ConfigRefresh
	}
	w := &Watcher{src: src, o: o, now: time.Now,
		log:     o.Logger.With("component", "config", "source", src.String()),
		metrics: newWatchMetrics(o.Registerer, o.Service)}
	if _, err := w.Refresh(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// Current returns the configuration in force (never nil after NewWatcher).
func (w *Watcher) Current() *Config { return w.cur.Load() }

// Metrics returns the watcher's metrics.
func (w *Watcher) Metrics() *WatchMetrics { return w.metrics }

// Source returns the watched source.
func (w *Watcher) Source() Source { return w.src }

// Subscribe returns a channel that receives each newly accepted
// configuration (the latest only, if the reader is slow). Call before Run.
func (w *Watcher) Subscribe() <-chan *Config {
	w.mu.Lock()
	defer w.mu.Unlock()
	ch := make(chan *Config, 1)
	w.subs = append(w.subs, ch)
	return ch
}

// Run refreshes every Interval until ctx ends. Failures are reported, never
// fatal: the previous configuration stays in force.
func (w *Watcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.o.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			_, _ = w.Refresh(ctx)
		}
	}
}

// Refresh loads the source now. It returns the configuration in force and
// the reason a candidate was rejected (the previous one then stays).
func (w *Watcher) Refresh(ctx context.Context) (*Config, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	prev := w.cur.Load()
	c, err := LoadSource(ctx, w.src)
	if err == nil && w.o.Apply != nil {
		if aerr := w.o.Apply(ctx, c); aerr != nil {
			err = fmt.Errorf("config %s: not applied: %w", w.src, aerr)
		}
	}
	if err != nil {
		if ctx.Err() != nil && prev != nil {
			return prev, err
		}
		w.metrics.Loads.WithLabelValues("rejected").Inc()
		w.metrics.LastRejected.Set(float64(w.now().Unix()))
		w.metrics.Valid.Set(0)
		if prev != nil {
			w.log.Error("configuration rejected; keeping the previous one", "error", err, "current_digest", short(prev.Digest))
		} else {
			w.log.Error("configuration rejected", "error", err)
		}
		w.publish(ctx, false, "", err)
		return prev, err
	}
	w.metrics.LastAccepted.Set(float64(w.now().Unix()))
	w.metrics.Valid.Set(1)
	if prev != nil && prev.Digest == c.Digest {
		// Same content: keep the configuration in force (callers may compare
		// pointers) and do not wake subscribers.
		w.metrics.Loads.WithLabelValues("unchanged").Inc()
		w.log.Debug("configuration reloaded, unchanged", "digest", short(c.Digest), "revision", c.Revision)
		return prev, nil
	}
	w.cur.Store(c)
	for _, warn := range c.Warnings {
		w.log.Debug("configuration warning", "warning", warn)
	}
	w.metrics.Loads.WithLabelValues("accepted").Inc()
	w.log.Info("configuration loaded", "digest", short(c.Digest), "revision", c.Revision,
		"trigger_tag", c.Control.TriggerTag, "pause", c.Control.Pause, "warnings", len(c.Warnings))
	w.publish(ctx, true, c.Digest, nil)
	for _, ch := range w.subs {
		select {
		case <-ch:
		default:
		}
		ch <- c
	}
	return c, nil
}

func short(d string) string {
	if len(d) > 12 {
		return d[:12]
	}
	return d
}

func (w *Watcher) publish(ctx context.Context, accepted bool, digest string, cause error) {
	if w.o.JetStream == nil {
		return
	}
	at := w.now()
	ev := &ebsv1.ConfigEvent{Service: w.o.Service, Source: w.src.String(), Accepted: accepted, Digest: digest, At: timestamppb.New(at)}
	subject, kind := natsx.SubjectConfigLoaded, "loaded"
	if !accepted {
		subject, kind = natsx.SubjectConfigRejected, "rejected"
		ev.Error = cause.Error()
	}
	// One event per service, outcome, content and moment.
	id := fmt.Sprintf("config-%s-%s-%s-%d", w.o.Service, kind, short(digest), at.UnixMilli())
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := natsx.Publish(pctx, w.o.JetStream, subject, id, ev); err != nil {
		w.log.Warn("could not publish the configuration event", "subject", subject, "error", err)
	}
}
