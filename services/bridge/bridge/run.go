package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// Run runs the service until ctx ends: the inbound AMQP consumer (when an
// AMQP URL is set), the outbound completion publisher (when an outbound
// topic is set), and the admin server. With Replay set it imports the file
// and returns.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	cfg = cfg.withDefaults()
	log = log.With("component", Name)
	if cfg.OutboundTopic != "" && cfg.OutboundURL == "" {
		return errors.New("bridge: outbound (--outbound or --outbound-topic) needs --amqp-url or --outbound-amqp-url")
	}
	queue, why := "", ""
	if cfg.AMQPURL != "" && cfg.Replay == "" {
		var err error
		if queue, why, err = cfg.ResolveQueue(); err != nil {
			return err
		}
	}
	// The same start-up check as every service; the bridge itself needs
	// nothing from the configuration.
	if _, err := cfg.CheckConfig(ctx, Name, log); err != nil {
		return err
	}
	admin := cfg.NewAdmin()
	conn, err := cfg.ConnectNATS(ctx, Name, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	b := New(conn.JS, cfg, log, admin.Registry)

	if cfg.Replay != "" {
		st, err := b.ReplayFile(ctx, cfg.Replay)
		if err != nil {
			return err
		}
		log.Info("replay done", "file", cfg.Replay, "stored", st.Stored, "duplicates", st.Duplicates, "dead_lettered", st.DeadLettered)
		return nil
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	run := func(name string, f func(context.Context) error) {
		wg.Go(func() {
			if err := f(ctx); err != nil && ctx.Err() == nil {
				cancel(fmt.Errorf("%s: %w", name, err))
			}
		})
	}
	if cfg.AMQPURL != "" {
		if cfg.QueueTransient {
			log.Warn("transient queue: messages sent while the bridge is down are lost", "queue", queue, "named_by", why)
		} else {
			log.Info("durable queue", "queue", queue, "named_by", why)
		}
		run("inbound", func(ctx context.Context) error { return b.ConsumeAMQP(ctx, queue) })
	} else {
		log.Warn("no --amqp-url: the inbound consumer is off (use --replay or the fedmsg simulator to fill FEDMSG)")
	}
	if cfg.OutboundTopic != "" {
		run("outbound", b.PublishCompletions)
	}
	admin.Ready()
	log.Info("connected and provisioned", "inbound", cfg.AMQPURL != "", "outbound_topic", cfg.OutboundTopic)
	err = admin.Serve(ctx, cfg.AdminAddr, log, nil)
	cancel(nil)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	return err
}
