// Command filter runs the ebs filter service.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/services/filter/filter"
)

func main() {
	var cfg filter.Config
	fs := flag.NewFlagSet(filter.Name, flag.ExitOnError)
	cfg.Flags(fs)
	fs.SetOutput(os.Stderr)
	lifecycle.Main(filter.Name, fs, func(ctx context.Context, log *slog.Logger) error {
		return filter.Run(ctx, cfg, log)
	})
}
