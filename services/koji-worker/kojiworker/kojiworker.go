package kojiworker

import (
	"context"
	"flag"
	"log/slog"

	"github.com/fedora-eln/ebs/libs/lifecycle"
)

// Name is the service name used in logs, metrics and dead letters.
const Name = "koji-worker"

// Config is the koji-worker service's configuration.
type Config struct {
	lifecycle.Common
}

// Flags registers the configuration as flags with EBS_* environment fallbacks.
func (c *Config) Flags(fs *flag.FlagSet) {
	c.Common.Flags(fs, "127.0.0.1:9104")
}

// Run runs the service until ctx ends.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	log = log.With("component", Name)
	admin := lifecycle.NewAdmin()
	conn, err := cfg.ConnectNATS(ctx, Name, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	admin.Ready()
	log.Info("connected and provisioned; waiting (not implemented yet)")
	return admin.Serve(ctx, cfg.AdminAddr, log, nil)
}
