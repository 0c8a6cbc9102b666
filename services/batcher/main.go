// Command batcher runs the ebs batcher service.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/services/batcher/batcher"
)

func main() {
	var cfg batcher.Config
	fs := flag.NewFlagSet(batcher.Name, flag.ExitOnError)
	cfg.Flags(fs)
	fs.SetOutput(os.Stderr)
	lifecycle.Main(batcher.Name, fs, func(ctx context.Context, log *slog.Logger) error {
		return batcher.Run(ctx, cfg, log)
	})
}
