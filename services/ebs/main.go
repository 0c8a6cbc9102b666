// Command ebs is the all-in-one binary: `ebs run SERVICE...` runs chosen
// services in one process against external NATS and PostgreSQL.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/services/ebs/allinone"
)

const usage = `usage: ebs <command> [flags] [args]

commands:
  run SERVICE... | all   run the named services in this process (external NATS)
  demo                   run the whole pipeline on embedded defaults (see README)

services: %s
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintf(os.Stderr, usage, strings.Join(allinone.Names(), ", "))
		os.Exit(2)
	}
	cmd := os.Args[1]
	os.Args = append(os.Args[:1], os.Args[2:]...)
	switch cmd {
	case "run":
		var common lifecycle.Common
		fs := flag.NewFlagSet("ebs run", flag.ExitOnError)
		common.Flags(fs, "127.0.0.1:9100")
		lifecycle.Main("ebs", fs, func(ctx context.Context, log *slog.Logger) error {
			admin := lifecycle.NewAdmin()
			errc := make(chan error, 1)
			go func() { errc <- admin.Serve(ctx, common.AdminAddr, log, nil) }()
			admin.Ready()
			if err := allinone.RunServices(ctx, fs.Args(), common, log); err != nil {
				return err
			}
			return <-errc
		})
	case "demo":
		fmt.Fprintln(os.Stderr, "ebs demo: not built yet (issue: Run it: make demo); see README.md")
		os.Exit(2)
	case "-h", "--help", "help":
		fmt.Printf(usage, strings.Join(allinone.Names(), ", "))
	default:
		fmt.Fprintf(os.Stderr, "ebs: unknown command %q\n"+usage, cmd, strings.Join(allinone.Names(), ", "))
		os.Exit(2)
	}
}
