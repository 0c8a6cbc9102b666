// Command koji-worker runs the ebs koji-worker service.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/services/koji-worker/kojiworker"
)

func main() {
	var cfg kojiworker.Config
	fs := flag.NewFlagSet(kojiworker.Name, flag.ExitOnError)
	cfg.Flags(fs)
	fs.SetOutput(os.Stderr)
	lifecycle.Main(kojiworker.Name, fs, func(ctx context.Context, log *slog.Logger) error {
		return kojiworker.Run(ctx, cfg, log)
	})
}
