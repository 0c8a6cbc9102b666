package kojiworker_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/lifecycle/lifecycletest"
	"github.com/fedora-eln/ebs/services/koji-worker/kojiworker"
)

// A broken --config stops the service at start-up, before it connects.
func TestStartupFailsOnBrokenConfig(t *testing.T) {
	t.Parallel()
	lifecycletest.BrokenConfigStopsStartup(t, func(ctx context.Context, c lifecycle.Common, log *slog.Logger) error {
		return kojiworker.Run(ctx, kojiworker.Config{Common: c}, log)
	})
}
