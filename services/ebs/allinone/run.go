package allinone

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"sort"
	"strings"
	"sync"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/services/batcher/batcher"
	"github.com/fedora-eln/ebs/services/bodhi-publisher/bodhipublisher"
	"github.com/fedora-eln/ebs/services/bridge/bridge"
	"github.com/fedora-eln/ebs/services/filter/filter"
	"github.com/fedora-eln/ebs/services/koji-worker/kojiworker"
	"github.com/fedora-eln/ebs/services/repo-watcher/repowatcher"
	"github.com/fedora-eln/ebs/services/status/status"
)

// Configs holds one configuration per service.
type Configs struct {
	Bridge         bridge.Config
	Filter         filter.Config
	Batcher        batcher.Config
	KojiWorker     kojiworker.Config
	RepoWatcher    repowatcher.Config
	BodhiPublisher bodhipublisher.Config
	Status         status.Config
	// Override replaces the runners of some services (the demo runs
	// koji-worker on a Koji client of its own). An override reports that
	// it has started with MarkReady.
	Override map[string]Service
	// Ready, when set, is called once every service Run started has
	// started: what each one's own /startup would report (connected to
	// NATS, streams and buckets provisioned, its start-up done).
	Ready func()
}

// FromEnv builds every service's configuration the way its own binary
// does from EBS_* environment variables (no command-line flags: the names
// overlap between services), then sets common on each, admin server off
// (the process has one).
func FromEnv(common lifecycle.Common) Configs {
	var c Configs
	parse := func(name string, register func(*flag.FlagSet)) {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		register(fs)
		_ = fs.Parse(nil)
	}
	parse(bridge.Name, c.Bridge.Flags)
	parse(filter.Name, c.Filter.Flags)
	parse(batcher.Name, c.Batcher.Flags)
	parse(kojiworker.Name, c.KojiWorker.Flags)
	parse(repowatcher.Name, c.RepoWatcher.Flags)
	parse(bodhipublisher.Name, c.BodhiPublisher.Flags)
	parse(status.Name, c.Status.Flags)
	c.SetCommon(common)
	return c
}

// SetCommon sets the shared settings on every service, admin server off.
func (c *Configs) SetCommon(common lifecycle.Common) {
	common.AdminAddr = "off"
	c.Bridge.Common = common
	c.Filter.Common = common
	c.Batcher.Common = common
	c.KojiWorker.Common = common
	c.RepoWatcher.Common = common
	c.BodhiPublisher.Common = common
	c.Status.Common = common
}

// Service runs one service until ctx ends.
type Service func(ctx context.Context, log *slog.Logger) error

// Services maps the service names to runners of their configuration.
func (c Configs) Services() map[string]Service {
	m := map[string]Service{
		bridge.Name:      func(ctx context.Context, log *slog.Logger) error { return bridge.Run(ctx, c.Bridge, log) },
		filter.Name:      func(ctx context.Context, log *slog.Logger) error { return filter.Run(ctx, c.Filter, log) },
		batcher.Name:     func(ctx context.Context, log *slog.Logger) error { return batcher.Run(ctx, c.Batcher, log) },
		kojiworker.Name:  func(ctx context.Context, log *slog.Logger) error { return kojiworker.Run(ctx, c.KojiWorker, log) },
		repowatcher.Name: func(ctx context.Context, log *slog.Logger) error { return repowatcher.Run(ctx, c.RepoWatcher, log) },
		bodhipublisher.Name: func(ctx context.Context, log *slog.Logger) error {
			return bodhipublisher.Run(ctx, c.BodhiPublisher, log)
		},
		status.Name: func(ctx context.Context, log *slog.Logger) error { return status.Run(ctx, c.Status, log) },
	}
	for name, run := range c.Override {
		m[name] = run
	}
	return m
}

// setOnReady makes service name's Admin call f when it is marked ready.
func (c *Configs) setOnReady(name string, f func()) {
	switch name {
	case bridge.Name:
		c.Bridge.OnReady = f
	case filter.Name:
		c.Filter.OnReady = f
	case batcher.Name:
		c.Batcher.OnReady = f
	case kojiworker.Name:
		c.KojiWorker.OnReady = f
	case repowatcher.Name:
		c.RepoWatcher.OnReady = f
	case bodhipublisher.Name:
		c.BodhiPublisher.OnReady = f
	case status.Name:
		c.Status.OnReady = f
	}
}

type readyKey struct{}

// MarkReady tells Run that the service running under ctx (an Override
// runner) has started. The real services report through their Admin.
func MarkReady(ctx context.Context) {
	if f, ok := ctx.Value(readyKey{}).(func()); ok {
		f()
	}
}

// Names lists the known services, sorted.
func Names() []string {
	var out []string
	for n := range (Configs{}).Services() {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// RunServices runs the named services ("all" for every one) in this process
// with configurations from the environment (FromEnv) until ctx ends or one
// fails; a failure stops the others.
func RunServices(ctx context.Context, names []string, common lifecycle.Common, log *slog.Logger) error {
	return Run(ctx, FromEnv(common), names, log)
}

// Run runs the named services of c ("all" for every one) until ctx ends or
// one fails; a failure stops the others.
func Run(ctx context.Context, c Configs, names []string, log *slog.Logger) error {
	if len(names) == 1 && names[0] == "all" {
		names = Names()
	}
	if len(names) == 0 {
		return fmt.Errorf("name at least one service: %s, or all", strings.Join(Names(), ", "))
	}
	known := c.Services()
	seen := map[string]bool{}
	for _, n := range names {
		if known[n] == nil {
			return fmt.Errorf("unknown service %q (known: %s)", n, strings.Join(Names(), ", "))
		}
		if seen[n] {
			return fmt.Errorf("service %q named twice", n)
		}
		seen[n] = true
	}
	// Each service reports its start once; the last one makes the process
	// ready.
	var mu sync.Mutex
	waiting := maps.Clone(seen)
	readyFor := map[string]func(){}
	for _, n := range names {
		var once sync.Once
		readyFor[n] = func() {
			once.Do(func() {
				mu.Lock()
				delete(waiting, n)
				left := len(waiting)
				mu.Unlock()
				log.Info("service started", "service", n, "waiting_for", left)
				if left == 0 && c.Ready != nil {
					c.Ready()
				}
			})
		}
		c.setOnReady(n, readyFor[n])
	}
	services := c.Services() // after setOnReady: the runners copy c
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Go(func() {
			sctx := context.WithValue(ctx, readyKey{}, readyFor[n])
			err := services[n](sctx, log.With("service", n))
			if err != nil && !errors.Is(err, context.Canceled) {
				errs[i] = fmt.Errorf("%s: %w", n, err)
				cancel(errs[i])
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
