// Command bodhi-publisher runs the ebs bodhi-publisher service.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/services/bodhi-publisher/bodhipublisher"
)

func main() {
	var cfg bodhipublisher.Config
	fs := flag.NewFlagSet(bodhipublisher.Name, flag.ExitOnError)
	cfg.Flags(fs)
	fs.SetOutput(os.Stderr)
	lifecycle.Main(bodhipublisher.Name, fs, func(ctx context.Context, log *slog.Logger) error {
		return bodhipublisher.Run(ctx, cfg, log)
	})
}
