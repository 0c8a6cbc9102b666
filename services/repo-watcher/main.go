// Command repo-watcher runs the ebs repo-watcher service.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/services/repo-watcher/repowatcher"
)

func main() {
	var cfg repowatcher.Config
	fs := flag.NewFlagSet(repowatcher.Name, flag.ExitOnError)
	cfg.Flags(fs)
	fs.SetOutput(os.Stderr)
	lifecycle.Main(repowatcher.Name, fs, func(ctx context.Context, log *slog.Logger) error {
		return repowatcher.Run(ctx, cfg, log)
	})
}
