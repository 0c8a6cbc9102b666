package allinone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/services/batcher/batcher"
	"github.com/fedora-eln/ebs/services/bodhi-publisher/bodhipublisher"
	"github.com/fedora-eln/ebs/services/bridge/bridge"
	"github.com/fedora-eln/ebs/services/filter/filter"
	"github.com/fedora-eln/ebs/services/koji-worker/kojiworker"
	"github.com/fedora-eln/ebs/services/repo-watcher/repowatcher"
	"github.com/fedora-eln/ebs/services/status/status"
)

// Service runs one service until ctx ends.
type Service func(ctx context.Context, common lifecycle.Common, log *slog.Logger) error

// Services maps service names to their runners. Each runs with the shared
// Common settings; its admin server is disabled (the process has one).
var Services = map[string]Service{
	bridge.Name: func(ctx context.Context, c lifecycle.Common, log *slog.Logger) error {
		return bridge.Run(ctx, bridge.Config{Common: c}, log)
	},
	filter.Name: func(ctx context.Context, c lifecycle.Common, log *slog.Logger) error {
		return filter.Run(ctx, filter.Config{Common: c}, log)
	},
	batcher.Name: func(ctx context.Context, c lifecycle.Common, log *slog.Logger) error {
		return batcher.Run(ctx, batcher.Config{Common: c}, log)
	},
	kojiworker.Name: func(ctx context.Context, c lifecycle.Common, log *slog.Logger) error {
		return kojiworker.Run(ctx, kojiworker.Config{Common: c}, log)
	},
	repowatcher.Name: func(ctx context.Context, c lifecycle.Common, log *slog.Logger) error {
		return repowatcher.Run(ctx, repowatcher.Config{Common: c}, log)
	},
	bodhipublisher.Name: func(ctx context.Context, c lifecycle.Common, log *slog.Logger) error {
		return bodhipublisher.Run(ctx, bodhipublisher.Config{Common: c}, log)
	},
	status.Name: func(ctx context.Context, c lifecycle.Common, log *slog.Logger) error {
		return status.Run(ctx, status.Config{Common: c}, log)
	},
}

// Names lists the known services, sorted.
func Names() []string {
	var out []string
	for n := range Services {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// RunServices runs the named services ("all" for every one) in this process
// until ctx ends or one fails; a failure stops the others.
func RunServices(ctx context.Context, names []string, common lifecycle.Common, log *slog.Logger) error {
	if len(names) == 1 && names[0] == "all" {
		names = Names()
	}
	if len(names) == 0 {
		return fmt.Errorf("name at least one service: %s, or all", strings.Join(Names(), ", "))
	}
	for _, n := range names {
		if Services[n] == nil {
			return fmt.Errorf("unknown service %q (known: %s)", n, strings.Join(Names(), ", "))
		}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		c := common
		c.AdminAddr = "off"
		wg.Go(func() {
			err := Services[n](ctx, c, log.With("service", n))
			if err != nil && !errors.Is(err, context.Canceled) {
				errs[i] = fmt.Errorf("%s: %w", n, err)
				cancel(errs[i])
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
