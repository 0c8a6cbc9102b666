package cli

import (
	"context"
	"fmt"
	"io"
)

// Exit codes scripts can rely on.
const (
	ExitOK      = 0
	ExitFailure = 1 // the command ran and the answer is "no" (e.g. invalid config)
	ExitUsage   = 2 // bad invocation
)

const usage = `usage: ebsctl <command> [flags] [args]

commands:
  help        this text
`

// Main runs ebsctl with args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return ExitUsage
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return ExitOK
	default:
		fmt.Fprintf(stderr, "ebsctl: unknown command %q\n%s", args[0], usage)
		return ExitUsage
	}
}
