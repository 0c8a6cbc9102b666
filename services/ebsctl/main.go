// Command ebsctl is the ebs operator CLI.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fedora-eln/ebs/services/ebsctl/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
