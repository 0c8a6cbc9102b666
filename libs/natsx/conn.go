package natsx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConnectOptions configure Connect.
type ConnectOptions struct {
	// URL of the server(s), comma separated. Default nats.DefaultURL.
	URL string
	// Name is the connection name shown by the server (the service name).
	Name string
	// Logger receives connection state changes. Default slog.Default().
	Logger *slog.Logger
	// CredsFile is an optional NATS credentials file.
	CredsFile string
	// DrainTimeout bounds Close. Default 10 s.
	DrainTimeout time.Duration
}

// Conn is a NATS connection with its JetStream context.
type Conn struct {
	NC           *nats.Conn
	JS           jetstream.JetStream
	drainTimeout time.Duration
}

// Connect connects to NATS and waits for the first connection (or ctx). The
// connection reconnects forever with backoff: services ride out a NATS restart.
func Connect(ctx context.Context, o ConnectOptions) (*Conn, error) {
	if o.URL == "" {
		o.URL = nats.DefaultURL
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.DrainTimeout == 0 {
		o.DrainTimeout = 10 * time.Second
	}
	log := o.Logger.With("component", "nats")
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
		nats.ReconnectBufSize(-1), // fail publishes fast while disconnected; callers retry
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			d := time.Duration(attempts) * 250 * time.Millisecond
			return min(d, 5*time.Second)
		}),
		nats.DrainTimeout(o.DrainTimeout),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected from NATS", "error", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("reconnected to NATS", "url", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("NATS async error", "subject", subject, "error", err)
		}),
	}
	if o.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("natsx: connect %s: %w", o.URL, err)
	}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	warned := time.Now()
	for !nc.IsConnected() {
		select {
		case <-ctx.Done():
			nc.Close()
			return nil, fmt.Errorf("natsx: waiting for NATS at %s: %w", o.URL, ctx.Err())
		case <-t.C:
			if time.Since(warned) > 5*time.Second {
				log.Warn("still waiting for NATS", "url", o.URL)
				warned = time.Now()
			}
		}
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("natsx: jetstream: %w", err)
	}
	return &Conn{NC: nc, JS: js, drainTimeout: o.DrainTimeout}, nil
}

// Close drains the connection: subscriptions finish their in-flight
// messages, pending publishes are flushed, then the connection closes.
func (c *Conn) Close() error {
	if c == nil || c.NC == nil || c.NC.IsClosed() {
		return nil
	}
	closed := make(chan struct{})
	c.NC.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if err := c.NC.Drain(); err != nil {
		c.NC.Close()
		if errors.Is(err, nats.ErrConnectionClosed) {
			return nil
		}
		return fmt.Errorf("natsx: drain: %w", err)
	}
	select {
	case <-closed:
	case <-time.After(c.drainTimeout + time.Second):
		c.NC.Close()
	}
	return nil
}

// KV opens a provisioned bucket.
func (c *Conn) KV(ctx context.Context, bucket string) (jetstream.KeyValue, error) {
	kv, err := c.JS.KeyValue(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("natsx: open bucket %s: %w", bucket, err)
	}
	return kv, nil
}
