// Command bridge runs the ebs bridge service.
package main

import (
	"context"
	"flag"
	"log/slog"
	"os"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/services/bridge/bridge"
)

func main() {
	var cfg bridge.Config
	fs := flag.NewFlagSet(bridge.Name, flag.ExitOnError)
	cfg.Flags(fs)
	fs.SetOutput(os.Stderr)
	lifecycle.Main(bridge.Name, fs, func(ctx context.Context, log *slog.Logger) error {
		return bridge.Run(ctx, cfg, log)
	})
}
