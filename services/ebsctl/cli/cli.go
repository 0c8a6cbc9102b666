package cli

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
)

// Exit codes scripts can rely on.
const (
	ExitOK      = 0
	ExitFailure = 1 // the command ran and the answer is "no" (e.g. invalid config, API error)
	ExitUsage   = 2 // bad invocation
)

// command is one ebsctl sub-command. Each lives in its own file and adds
// itself to commands in an init function.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) int) {
	commands[name] = command{summary: summary, run: run}
}

func usage() string {
	var b strings.Builder
	b.WriteString("usage: ebsctl <command> [flags] [args]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-10s %s\n", n, commands[n].summary)
	}
	b.WriteString("  help       this text\n")
	b.WriteString("\nAPI commands take --server (env EBS_SERVER, default 127.0.0.1:9090), --token-file\n" +
		"(else env EBS_TOKEN), --tls, --timeout and --json.\n" +
		"exit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 not allowed (token), 5 server unavailable\n")
	return b.String()
}

// Main runs ebsctl with args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return ExitUsage
	}
	switch args[0] {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage())
		return ExitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "ebsctl: unknown command %q\n%s", args[0], usage())
		return ExitUsage
	}
	return c.run(ctx, args[1:], stdout, stderr)
}
