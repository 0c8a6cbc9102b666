// Package lifecycle owns what every ebs process does the same way: the
// structured logger, the signal-aware context, graceful shutdown with a
// deadline, flags that fall back to EBS_* environment variables, and the small
// admin HTTP server each service exposes (/alive, /startup, /metrics,
// /loglevel).
// Main also gives every service a soft memory limit (MemoryLimit, by
// default DefaultMemoryLimit, 40 MiB) unless GOMEMLIMIT is set.
//
// The logger's level is LogLevel, a slog.LevelVar set from -log-level
// (EBS_LOG_LEVEL) and changed at run time through the admin port:
// `GET /loglevel` answers the level, `PUT /loglevel` with body debug, info,
// warn or error sets it (400 otherwise) and logs the change at INFO with the
// caller's address and the old and new levels. It is one per process, so
// the services `ebs run` and `ebs demo` run together share it. The admin
// port has no authentication: it must stay inside the pod's network (the
// chart publishes it in no Service; Prometheus scrapes the pod).
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
