package cli

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/fedora-eln/ebs/libs/config"
)

func init() {
	register("config", "check configuration files (config check FILE...)", runConfig)
}

const configUsage = `usage: ebsctl config check [-q] FILE...

Loads and validates an ebs configuration without contacting anything (no
Bodhi, no Content Resolver, no git) and prints what it resolved. Several
files are layers merged in order, e.g. the split layout:
  ebsctl config check static.yaml elnbuildsync_dynamic.yaml
Exit status 0 when valid, 1 (with the errors) when not, 2 on bad usage.
`

func runConfig(_ context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, configUsage)
		return ExitUsage
	}
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quiet := fs.Bool("q", false, "print nothing when valid")
	fs.Usage = func() { fmt.Fprint(stderr, configUsage) }
	if err := fs.Parse(args[1:]); err != nil {
		return ExitUsage
	}
	if fs.NArg() == 0 {
		fmt.Fprint(stderr, configUsage)
		return ExitUsage
	}
	c, err := config.LoadFile(fs.Args()...)
	if err != nil {
		fmt.Fprintf(stderr, "ebsctl: invalid configuration\n%v\n", err)
		return ExitFailure
	}
	if !*quiet {
		c.Describe(stdout)
	}
	return ExitOK
}
