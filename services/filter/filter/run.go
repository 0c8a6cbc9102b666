package filter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/contentresolver"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// Run runs the service until ctx ends: it loads and validates the
// configuration (resolving rawhide and fetching the Content Resolver lists;
// an invalid one stops the start-up), keeps it refreshed, consumes
// fedmsg.buildsys.tag and ebs.rebuild.manual, and reconciles periodically.
// Without a configuration source it stays idle (not ready) and says so.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	cfg = cfg.withDefaults()
	log = log.With("component", Name)
	admin := cfg.NewAdmin()
	conn, err := cfg.ConnectNATS(ctx, Name, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	if cfg.Config == "" {
		log.Error("no configuration (--config or EBS_CONFIG): the filter cannot decide anything and stays idle")
		log.Info("connected and provisioned; idle")
		return admin.Serve(ctx, cfg.AdminAddr, log, nil)
	}
	httpClient := &http.Client{}
	kojiReader := cfg.Koji
	if kojiReader == nil {
		kc, err := NewKojiReader(cfg.KojiURL, httpClient, admin.Registry, log)
		if err != nil {
			return err
		}
		kojiReader = kc
	}
	releases := cfg.Releases
	if releases == nil {
		bc, err := NewReleaseResolver(cfg.BodhiURL, cfg.HTTPTimeout, cfg.HTTPRetry, nil, admin.Registry, log)
		if err != nil {
			return err
		}
		releases = bc
	}
	f := New(Deps{
		JS: conn.JS, Koji: kojiReader, Releases: releases, Logger: log, Registerer: admin.Registry,
		ContentResolver: &contentresolver.Client{HTTP: httpClient, Timeout: cfg.HTTPTimeout, RetryFor: cfg.HTTPRetry, Logger: log},
	})
	w, err := config.NewWatcher(ctx, cfg.Config, config.WatchOptions{
		Service: Name, Interval: cfg.ConfigRefresh, Logger: log, Registerer: admin.Registry, JetStream: conn.JS, Apply: f.Apply,
	})
	if err != nil {
		return fmt.Errorf("filter: start-up configuration check: %w", err)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	run := func(name string, fn func(context.Context) error) {
		wg.Go(func() {
			if err := fn(ctx); err != nil && ctx.Err() == nil {
				cancel(fmt.Errorf("%s: %w", name, err))
			}
		})
	}
	run("config", w.Run)
	run("tags", func(ctx context.Context) error {
		return natsx.Consume(ctx, conn.JS, natsx.StreamFedmsg, natsx.ConsumerFilter,
			func() *ebsv1.FedoraMessage { return new(ebsv1.FedoraMessage) }, f.HandleTag,
			natsx.ConsumeOptions{Service: Name, Logger: log, Batch: 16})
	})
	run("manual", func(ctx context.Context) error {
		return natsx.Consume(ctx, conn.JS, natsx.StreamEBS, natsx.ConsumerFilterManual,
			func() *ebsv1.ManualRebuild { return new(ebsv1.ManualRebuild) }, f.HandleManual,
			natsx.ConsumeOptions{Service: Name, Logger: log})
	})
	if cfg.ReconcileInterval > 0 {
		run("reconciler", func(ctx context.Context) error { return f.RunReconciler(ctx, cfg.ReconcileInterval) })
	}
	admin.Ready()
	st := f.State()
	log.Info("connected and provisioned", "trigger_tag", st.TriggerTag, "components", st.Universe.Len(),
		"reconcile_interval", cfg.ReconcileInterval)
	err = admin.Serve(ctx, cfg.AdminAddr, log, nil)
	cancel(nil)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}
