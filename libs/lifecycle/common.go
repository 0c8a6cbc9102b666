package lifecycle

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/natsx"
)

// Common holds the settings every service shares.
type Common struct {
	// NATSURL of the NATS server(s).
	NATSURL string
	// NATSCreds is an optional NATS credentials file.
	NATSCreds string
	// Replicas for streams and buckets when this service provisions them.
	Replicas int
	// AdminAddr is where /alive, /startup, /metrics and /loglevel listen
	// ("off" disables).
	AdminAddr string
	// Config is the ebs configuration source: a file path, an https:// URL, or
	// git+<repository>#<ref>:<path> (see libs/config).
	Config string
	// OnReady, when set, is called once the service has started: when the
	// Admin from NewAdmin is marked Ready, as /startup reports it. `ebs run`
	// uses it to report one /startup for several services. Not a flag.
	OnReady func()
}

// NewAdmin returns a new Admin (see the package's NewAdmin) whose Ready
// also calls c.OnReady. Services make their Admin with it.
func (c *Common) NewAdmin() *Admin {
	a := NewAdmin()
	a.onReady = c.OnReady
	return a
}

// Flags registers the common flags. adminAddr is the service's default admin address.
func (c *Common) Flags(fs *flag.FlagSet, adminAddr string) {
	StringVar(fs, &c.NATSURL, "nats-url", "EBS_NATS_URL", "nats://127.0.0.1:4222", "NATS server URL(s), comma separated")
	StringVar(fs, &c.NATSCreds, "nats-creds", "EBS_NATS_CREDS", "", "NATS credentials file")
	IntVar(fs, &c.Replicas, "nats-replicas", "EBS_NATS_REPLICAS", 1, "replicas for streams and KV buckets")
	StringVar(fs, &c.AdminAddr, "admin-addr", "EBS_ADMIN_ADDR", adminAddr, `admin HTTP address for /alive, /startup, /metrics, /loglevel ("off" to disable)`)
	StringVar(fs, &c.Config, "config", "EBS_CONFIG", "", "ebs configuration: file path, https:// URL, or git+<repo>#<ref>:<path>")
}

// CheckConfig is the start-up configuration check of a service that reads
// nothing from the configuration itself (bridge, koji-worker, repo-watcher,
// bodhi-publisher): when --config is given it is loaded and validated once,
// so a broken configuration stops the start-up with the error naming its
// file, line and key, exactly as in the services that use it (filter,
// batcher, status check it through config.NewWatcher). Without --config it
// returns nil, nil. Call it before ConnectNATS so a broken configuration
// fails at once instead of after NATS answers.
func (c *Common) CheckConfig(ctx context.Context, service string, log *slog.Logger) (*config.Config, error) {
	if c.Config == "" {
		return nil, nil
	}
	cfg, err := config.Load(ctx, c.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: start-up configuration check: %w", service, err)
	}
	digest := cfg.Digest
	if len(digest) > 12 {
		digest = digest[:12]
	}
	log.Info("configuration valid", "source", cfg.Source, "digest", digest, "revision", cfg.Revision)
	return cfg, nil
}

// ConnectNATS connects to NATS as service and provisions every stream, KV
// bucket and consumer (idempotently), retrying provisioning until ctx ends so
// that a service started before NATS waits for it.
func (c *Common) ConnectNATS(ctx context.Context, service string, log *slog.Logger) (*natsx.Conn, error) {
	conn, err := natsx.Connect(ctx, natsx.ConnectOptions{URL: c.NATSURL, Name: "ebs-" + service, CredsFile: c.NATSCreds, Logger: log})
	if err != nil {
		return nil, err
	}
	for attempt := 1; ; attempt++ {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = natsx.Provision(pctx, conn.JS, natsx.ProvisionOptions{Replicas: c.Replicas})
		cancel()
		if err == nil {
			return conn, nil
		}
		if ctx.Err() != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("provision NATS: %w", err)
		}
		log.Warn("provisioning NATS failed, retrying", "attempt", attempt, "error", err)
		select {
		case <-ctx.Done():
		case <-time.After(min(time.Duration(attempt)*time.Second, 10*time.Second)):
		}
	}
}
