package world

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/fedora-eln/ebs/libs/contentresolver/crfixture"
	"github.com/fedora-eln/ebs/libs/lifecycle"
)

// ServeConfig configures Serve (`ebs world serve`, the compose world).
type ServeConfig struct {
	Options Options
	// Listen is where the Content Resolver lists are served.
	Listen string
	// AdminAddr serves /startup (ready once the lists are served) for
	// health checks ("off" disables).
	AdminAddr string
	// KojiURL is the Koji simulator to feed; "" serves the lists only.
	// On https, KojiCert (the tagger's certificate and key) logs in and
	// KojiCA verifies the hub; on plain HTTP the simulator's header does.
	KojiURL, KojiCert, KojiCA string
	// AMQPURL and WaitQueue: feed only once this queue exists (the
	// bridge's), so the simulator's buildsys.tag messages reach it.
	AMQPURL, WaitQueue string
	// Waves to feed (default 1), each after Interval.
	Waves    int
	Interval time.Duration
}

// Serve serves the world's Content Resolver lists and, once the bridge's
// queue exists, tags the first wave's new Rawhide builds into f45 through
// the Koji simulator (retrying until the hub answers). It runs until ctx ends.
func Serve(ctx context.Context, cfg ServeConfig, log *slog.Logger) error {
	w, err := New(cfg.Options)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("world: listen %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{Handler: crfixture.NewHandler(w.Lists...), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	log.Info("serving the Content Resolver lists", "addr", ln.Addr().String(), "packages", len(w.Lists[0].Names))
	admin := lifecycle.NewAdmin()
	admin.Ready()
	adminErr := make(chan error, 1)
	go func() { adminErr <- admin.Serve(ctx, cfg.AdminAddr, log, nil) }()

	if cfg.KojiURL != "" {
		waves := max(cfg.Waves, 1)
		go func() {
			if err := feedAll(ctx, w, cfg, waves, log); err != nil && ctx.Err() == nil {
				log.Error("feeding the Rawhide builds failed", "error", err)
			}
		}()
	}
	select {
	case <-ctx.Done():
		return nil
	case err := <-adminErr:
		return err
	}
}

func feedAll(ctx context.Context, w *World, cfg ServeConfig, waves int, log *slog.Logger) error {
	if cfg.AMQPURL != "" && cfg.WaitQueue != "" {
		log.Info("waiting for the bridge's queue", "queue", cfg.WaitQueue)
		if err := WaitQueue(ctx, cfg.AMQPURL, cfg.WaitQueue); err != nil {
			return err
		}
	}
	c, err := KojiClient(cfg.KojiURL, Tagger)
	if cfg.KojiCert != "" || cfg.KojiCA != "" {
		c, err = KojiTLSClient(cfg.KojiURL, cfg.KojiCert, cfg.KojiCA)
	}
	if err != nil {
		return err
	}
	for wave := 0; wave < waves && wave < w.Options.Waves; wave++ {
		if wave > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(cfg.Interval):
			}
		}
		for attempt := 1; ; attempt++ {
			n, err := Feed(ctx, c, w.Wave(wave))
			if err == nil {
				log.Info("tagged the new Rawhide builds into "+TriggerTag, "wave", wave+1, "builds", n)
				break
			}
			if ctx.Err() != nil {
				return errors.Join(err, ctx.Err())
			}
			log.Warn("feeding failed; retrying", "attempt", attempt, "error", err)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(2 * time.Second):
			}
		}
	}
	return nil
}
