// Command status runs the ebs status service.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/services/status/status"
)

func main() {
	var cfg status.Config
	fs := flag.NewFlagSet(status.Name, flag.ExitOnError)
	cfg.Flags(fs)
	fs.SetOutput(os.Stderr)
	lifecycle.Main(status.Name, fs, func(ctx context.Context, log *slog.Logger) error {
		return status.Run(ctx, cfg, log)
	})
}
