package filter

import (
	"flag"
	"os"
	"time"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/lifecycle"
)

// Name is the service name used in logs, metrics and dead letters.
const Name = "filter"

// Config is the filter service's configuration. A zero field beyond Common
// takes the value of its flag's environment variable, else the default.
type Config struct {
	lifecycle.Common

	// KojiURL is the hub's XML-RPC endpoint (default
	// https://koji.fedoraproject.org/kojihub). The filter only reads.
	KojiURL string
	// BodhiURL is Bodhi's base URL, used to resolve the trigger tag rawhide
	// (default https://bodhi.fedoraproject.org).
	BodhiURL string
	// ConfigRefresh is how often the configuration (and with it rawhide and
	// the Content Resolver lists) is reloaded (default 15 min).
	ConfigRefresh time.Duration
	// ReconcileInterval is how often listed components missing from the
	// stable tag are requested (default 12 h; negative disables).
	ReconcileInterval time.Duration
	// HTTPTimeout and HTTPRetry bound Content Resolver and Bodhi fetches
	// (defaults 15 s per request, 60 s of retries).
	HTTPTimeout, HTTPRetry time.Duration

	// Koji and Releases replace the HTTP clients built from KojiURL and
	// BodhiURL (in-process wiring and tests); nil builds them.
	Koji     KojiReader
	Releases ReleaseResolver
}

// DefaultKojiURL is Fedora's hub.
const DefaultKojiURL = "https://koji.fedoraproject.org/kojihub"

// Flags registers the configuration as flags with EBS_* environment fallbacks.
func (c *Config) Flags(fs *flag.FlagSet) {
	c.Common.Flags(fs, "127.0.0.1:9102")
	t := config.DefaultTimers()
	lifecycle.StringVar(fs, &c.KojiURL, "koji-url", "EBS_KOJI_URL", DefaultKojiURL, "Koji hub XML-RPC URL (read only)")
	lifecycle.StringVar(fs, &c.BodhiURL, "bodhi-url", "EBS_BODHI_URL", DefaultBodhiURL, "Bodhi base URL (resolves the trigger tag rawhide)")
	lifecycle.DurationVar(fs, &c.ConfigRefresh, "config-refresh", "EBS_CONFIG_REFRESH", t.ConfigRefresh, "configuration reload interval")
	lifecycle.DurationVar(fs, &c.ReconcileInterval, "reconcile-interval", "EBS_RECONCILE_INTERVAL", t.Reconcile, "reconciler interval (negative disables)")
	lifecycle.DurationVar(fs, &c.HTTPTimeout, "http-timeout", "EBS_HTTP_TIMEOUT", t.HTTPTimeout, "timeout of one Content Resolver or Bodhi request")
	lifecycle.DurationVar(fs, &c.HTTPRetry, "http-retry", "EBS_HTTP_RETRY", t.HTTPRetry, "retry budget of Content Resolver and Bodhi fetches")
}

// withDefaults fills zero fields from the environment variables of their
// flags (so services started in-process, e.g. by "ebs run", can be
// configured by env too), then from the defaults.
func (c Config) withDefaults() Config {
	t := config.DefaultTimers()
	for p, env := range map[*string]string{&c.KojiURL: "EBS_KOJI_URL", &c.BodhiURL: "EBS_BODHI_URL"} {
		if *p == "" {
			*p = os.Getenv(env)
		}
	}
	for p, env := range map[*time.Duration]string{&c.ConfigRefresh: "EBS_CONFIG_REFRESH", &c.ReconcileInterval: "EBS_RECONCILE_INTERVAL",
		&c.HTTPTimeout: "EBS_HTTP_TIMEOUT", &c.HTTPRetry: "EBS_HTTP_RETRY"} {
		if *p == 0 {
			*p, _ = time.ParseDuration(os.Getenv(env))
		}
	}
	if c.KojiURL == "" {
		c.KojiURL = DefaultKojiURL
	}
	if c.BodhiURL == "" {
		c.BodhiURL = DefaultBodhiURL
	}
	if c.ConfigRefresh <= 0 {
		c.ConfigRefresh = t.ConfigRefresh
	}
	if c.ReconcileInterval == 0 {
		c.ReconcileInterval = t.Reconcile
	}
	if c.HTTPTimeout <= 0 {
		c.HTTPTimeout = t.HTTPTimeout
	}
	if c.HTTPRetry <= 0 {
		c.HTTPRetry = t.HTTPRetry
	}
	return c
}
