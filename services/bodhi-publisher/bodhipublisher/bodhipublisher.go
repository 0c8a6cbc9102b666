package bodhipublisher

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/fedora-eln/ebs/libs/bodhi"
	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/lifecycle"
)

// Name is the service name used in logs, metrics and dead letters.
const Name = "bodhi-publisher"

// Config is the bodhi-publisher service's configuration. Every field is a
// flag with an EBS_* environment fallback.
type Config struct {
	lifecycle.Common
	// BodhiURL is Bodhi's base URL.
	BodhiURL string
	// BodhiUser narrows the look-up of an existing update (optional).
	BodhiUser string
	// Credentials: a client-credentials grant (OIDCClientID, flag
	// -bodhi-client-id, with the secret from EBS_BODHI_CLIENT_SECRET[_FILE];
	// the token endpoint from OIDCTokenURL or OIDCIssuer's discovery), or an
	// access token read from TokenFile on every sign-in. OIDCClientSecret and
	// OIDCClientSecretFile are used when the environment gives no Bodhi
	// secret (in-process wiring, and the deprecated EBS_OIDC_CLIENT_SECRET*
	// variables, which status uses for its own login client).
	OIDCIssuer           string
	OIDCTokenURL         string
	OIDCClientID         string
	OIDCClientSecret     string
	OIDCClientSecretFile string
	OIDCScopes           string
	TokenFile            string
	// DryRun logs and reports what would be filed and files nothing.
	DryRun bool
	// RetryFor bounds the retries of one command (default 15 min).
	RetryFor time.Duration
	// FollowInterval is how often followed updates are polled.
	FollowInterval time.Duration
	// FollowTimeout applies to commands that carry none.
	FollowTimeout time.Duration
	// Workers handle commands concurrently.
	Workers int

	// deprecated lists the old environment variables Flags took values
	// from; Run logs them.
	deprecated []string
}

// Flags registers the configuration as flags with EBS_* environment fallbacks.
func (c *Config) Flags(fs *flag.FlagSet) {
	c.Common.Flags(fs, "127.0.0.1:9106")
	lifecycle.StringVar(fs, &c.BodhiURL, "bodhi-url", "EBS_BODHI_URL", "https://bodhi.fedoraproject.org/", "Bodhi base URL")
	lifecycle.StringVar(fs, &c.BodhiUser, "bodhi-user", "EBS_BODHI_USER", "", "Bodhi account ebs files as (narrows look-ups of existing updates)")
	lifecycle.StringVar(fs, &c.OIDCIssuer, "oidc-issuer", "EBS_OIDC_ISSUER", "https://id.fedoraproject.org/openidc", "OIDC provider (discovery of the token endpoint)")
	lifecycle.StringVar(fs, &c.OIDCTokenURL, "oidc-token-url", "EBS_OIDC_TOKEN_URL", "", "OIDC token endpoint (skips discovery)")
	lifecycle.StringVar(fs, &c.OIDCClientID, "bodhi-client-id", "EBS_BODHI_CLIENT_ID", "", "OIDC client id for the client-credentials grant (secret: EBS_BODHI_CLIENT_SECRET[_FILE])")
	// The names before EBS_BODHI_CLIENT_*: the same variables configure
	// status's login client, so they stay only as fallbacks.
	old := func(env, instead string, dst *string) {
		if v, ok := os.LookupEnv(env); ok && v != "" && *dst == "" {
			*dst = v // secrets and their files: environment only, never the command line
			c.deprecated = append(c.deprecated, env+" (use "+instead+")")
		}
	}
	old("EBS_OIDC_CLIENT_ID", "EBS_BODHI_CLIENT_ID", &c.OIDCClientID)
	old("EBS_OIDC_CLIENT_SECRET_FILE", config.EnvBodhiClientSecret+"_FILE", &c.OIDCClientSecretFile)
	old("EBS_OIDC_CLIENT_SECRET", config.EnvBodhiClientSecret, &c.OIDCClientSecret)
	fs.StringVar(&c.OIDCClientID, "oidc-client-id", c.OIDCClientID, "deprecated: use -bodhi-client-id")
	fs.StringVar(&c.OIDCClientSecretFile, "oidc-client-secret-file", c.OIDCClientSecretFile, "deprecated: set "+config.EnvBodhiClientSecret+"_FILE")
	lifecycle.StringVar(fs, &c.OIDCScopes, "oidc-scopes", "EBS_OIDC_SCOPES", strings.Join(bodhiScopes, " "), "scopes to request (space separated)")
	lifecycle.StringVar(fs, &c.TokenFile, "bodhi-token-file", "EBS_BODHI_TOKEN_FILE", "", "file holding an OIDC access token (instead of client credentials)")
	lifecycle.BoolVar(fs, &c.DryRun, "dry-run", "EBS_DRY_RUN", false, "log and report updates instead of filing them")
	lifecycle.DurationVar(fs, &c.RetryFor, "retry-for", "EBS_BODHI_RETRY_FOR", bodhi.DefaultRetryFor, "how long one command is retried before it is reported failed")
	lifecycle.DurationVar(fs, &c.FollowInterval, "follow-interval", "EBS_BODHI_FOLLOW_INTERVAL", time.Minute, "how often followed updates are polled")
	lifecycle.DurationVar(fs, &c.FollowTimeout, "follow-timeout", "EBS_BODHI_FOLLOW_TIMEOUT", 24*time.Hour, "how long an update is followed when its command sets no follow_timeout")
	lifecycle.IntVar(fs, &c.Workers, "workers", "EBS_BODHI_WORKERS", 4, "commands handled concurrently")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage of %s:\n", fs.Name())
		fs.PrintDefaults()
		fmt.Fprint(fs.Output(), secretsUsage)
	}
}

// secretsUsage ends --help: secrets never appear on the command line.
const secretsUsage = `
Secrets come only from the environment, inline (X) or as the first line of a
file (X_FILE, e.g. a mounted Kubernetes secret); setting both is an error:
  EBS_BODHI_CLIENT_SECRET[_FILE]  client secret of -bodhi-client-id
Deprecated fallbacks, used when no EBS_BODHI_CLIENT_* is set:
  EBS_OIDC_CLIENT_ID, EBS_OIDC_CLIENT_SECRET[_FILE]
`

// bodhiScopes are the scopes Bodhi requires on a login token.
var bodhiScopes = []string{
	"openid", "email", "profile",
	"https://id.fedoraproject.org/scope/groups",
	"https://id.fedoraproject.org/scope/agreements",
}

// tokens builds the token source from the configuration and the Bodhi
// client secret of the environment (nil: none configured).
func (c Config) tokens(ctx context.Context, bodhiSecret string) (bodhi.TokenSource, error) {
	switch {
	case c.TokenFile != "":
		return bodhi.TokenFile(c.TokenFile), nil
	case c.OIDCClientID != "":
		secret := bodhiSecret
		if secret == "" && c.OIDCClientSecretFile != "" {
			var err error
			if secret, err = config.ReadSecretFile(c.OIDCClientSecretFile); err != nil {
				return nil, fmt.Errorf("read OIDC client secret: %w", err)
			}
		}
		if secret == "" {
			secret = c.OIDCClientSecret
		}
		if secret == "" {
			return nil, fmt.Errorf("bodhi client id %q is set but no client secret (%s_FILE or %s)",
				c.OIDCClientID, config.EnvBodhiClientSecret, config.EnvBodhiClientSecret)
		}
		tokenURL := c.OIDCTokenURL
		if tokenURL == "" {
			var err error
			if tokenURL, err = bodhi.DiscoverTokenURL(ctx, nil, c.OIDCIssuer); err != nil {
				return nil, err
			}
		}
		return &bodhi.ClientCredentials{Config: clientcredentials.Config{
			ClientID: c.OIDCClientID, ClientSecret: secret, TokenURL: tokenURL, Scopes: strings.Fields(c.OIDCScopes)}}, nil
	}
	return nil, nil
}

// Run runs the service until ctx ends.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	log = log.With("component", Name)
	if cfg.BodhiURL == "" {
		cfg.BodhiURL = "https://bodhi.fedoraproject.org/"
	}
	// A broken --config stops the start-up like in every service, although
	// this one reads nothing from it.
	if _, err := cfg.CheckConfig(ctx, Name, log); err != nil {
		return err
	}
	admin := cfg.NewAdmin()
	conn, err := cfg.ConnectNATS(ctx, Name, log)
	if err != nil {
		return err
	}
	defer conn.Close()
	for _, d := range cfg.deprecated {
		log.Warn("deprecated environment variable", "variable", d)
	}
	sec, err := config.SecretsFromEnv()
	if err != nil {
		return fmt.Errorf("%s: secrets: %w", Name, err)
	}
	tokens, err := cfg.tokens(ctx, sec.BodhiClientSecret)
	if err != nil {
		return fmt.Errorf("%s: credentials: %w", Name, err)
	}
	if tokens == nil && !cfg.DryRun {
		log.Warn("no Bodhi credentials configured (-bodhi-client-id or -bodhi-token-file): every update will fail; use -dry-run to only report")
	}
	onRetry, err := NewRetryCounter(admin.Registry)
	if err != nil {
		return err
	}
	bodhiMetrics, err := bodhi.NewMetrics(admin.Registry)
	if err != nil {
		return fmt.Errorf("%s: bodhi metrics: %w", Name, err)
	}
	client, err := bodhi.New(bodhi.Options{BaseURL: cfg.BodhiURL, Tokens: tokens, RetryFor: cfg.RetryFor,
		Username: cfg.BodhiUser, Logger: log, OnRetry: onRetry, Metrics: bodhiMetrics})
	if err != nil {
		return err
	}
	pub, err := New(ctx, Options{JS: conn.JS, Bodhi: client, DryRun: cfg.DryRun, RetryFor: cfg.RetryFor,
		FollowInterval: cfg.FollowInterval, FollowTimeout: cfg.FollowTimeout, Workers: cfg.Workers,
		Logger: log, Registerer: admin.Registry})
	if err != nil {
		return err
	}
	log.Info("filing Bodhi updates", "bodhi_url", cfg.BodhiURL, "dry_run", cfg.DryRun, "retry_for", cfg.RetryFor)
	admin.Ready()
	return admin.ServeBeside(ctx, cfg.AdminAddr, log, pub.Run)
}
