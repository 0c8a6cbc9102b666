// Package lifecycle owns what every ebs process does the same way: the
// structured logger, the signal-aware context, graceful shutdown with a
// deadline, flags that fall back to EBS_* environment variables, and the small
// admin HTTP server each service exposes (/alive, /startup, /metrics).
// Main also gives every service a soft memory limit (MemoryLimit, by
// default DefaultMemoryLimit, 40 MiB) unless GOMEMLIMIT is set.
//
// Common holds the shared flags (-nats-url, -config, ...). Every service
// validates -config at start-up and exits 1 with the configuration error
// (file, line, key) when it is broken: filter, batcher and status through
// their config.Watcher, the services that read nothing from it (bridge,
// koji-worker, repo-watcher, bodhi-publisher) through Common.CheckConfig.
//
// A service's main is:
//
//	func main() {
//		var cfg batcher.Config
//		fs := flag.NewFlagSet("batcher", flag.ExitOnError)
//		cfg.Flags(fs)
//		lifecycle.Main("batcher", fs, func(ctx context.Context, log *slog.Logger) error {
//			return batcher.Run(ctx, cfg, log)
//		})
//	}
package lifecycle
