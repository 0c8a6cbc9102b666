package status

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/store"
)

// Name is the service name used in logs, metrics and dead letters.
const Name = "status"

// Defaults of the zero Config (the all-in-one binary and tests rely on them).
const (
	DefaultHTTPAddr   = "127.0.0.1:8080"
	DefaultGRPCAddr   = "127.0.0.1:9090"
	DefaultKojiWebURL = "https://koji.fedoraproject.org/koji"
)

// Config is the status service's configuration. Every zero value is a
// working default.
type Config struct {
	lifecycle.Common

	// DatabaseURL of PostgreSQL (env EBS_DATABASE_URL; default store.DefaultURL).
	// The database is created when missing.
	DatabaseURL string
	// HTTPAddr serves the HTTP/JSON gateway, the page and the compatible
	// endpoints (default 127.0.0.1:8080; ":0" picks a port).
	HTTPAddr string
	// GRPCAddr serves the StatusService over gRPC (default 127.0.0.1:9090).
	GRPCAddr string
	// KojiWebURL is the base of task links (<url>/taskinfo?taskID=N).
	KojiWebURL string
	// KojiHubURL is where status.json reads Koji (listTagged, listBuilds, listTags).
	KojiHubURL string
	// OIDCIssuer is the OIDC provider's issuer, for ID-token verification
	// (bearers and the login's nonce). The YAML names endpoints only, so when
	// empty it is derived from open_id_connect.auth_url by discovery; if that
	// fails start-up warns that ID tokens are refused.
	OIDCIssuer string
	// OIDCClientSecretFile holds the OIDC client secret.
	OIDCClientSecretFile string
	// SMTPPasswordFile holds the SMTP password (login only when set).
	SMTPPasswordFile string
	// ReplayHistory empties the projected history and replays the EBS stream
	// from its start (sessions and sent mails stay): for a schema change or a
	// projection fix. Run one replica with it, once. It is refused
	// (ErrReplayIncomplete) when the EBS stream no longer starts at message 1:
	// the stream keeps 30 days, so a replay would lose older history.
	ReplayHistory bool
	// ReplayHistoryForce replays even then, keeping only what the stream holds.
	ReplayHistoryForce bool
	// ConfigRefresh is how often a configuration loaded from Common.Config
	// is re-read (default 15 min).
	ConfigRefresh time.Duration

	// Settings is the loaded ebs configuration; when nil it is loaded from
	// Common.Config (a file path), and without either the defaults apply:
	// auth disabled (with a warning), no mail, no Koji reads.
	Settings *config.Config
	// Koji answers status.json's reads; nil builds one from KojiHubURL when
	// a Koji client is available (see KojiReader).
	Koji KojiReader
	// Components lists the ELN components status.json reports; nil uses
	// every component the history knows.
	Components ComponentSource
	// OIDCHTTPClient talks to the OIDC provider (custom CA, tests).
	OIDCHTTPClient *http.Client
	// MailTLS configures STARTTLS to the SMTP server (custom CA, tests).
	MailTLS *tls.Config
}

// Flags registers the configuration as flags with EBS_* environment fallbacks.
func (c *Config) Flags(fs *flag.FlagSet) {
	c.Common.Flags(fs, "127.0.0.1:9107")
	lifecycle.StringVar(fs, &c.DatabaseURL, "database-url", store.EnvDatabaseURL, store.DefaultURL, "PostgreSQL URL of the status database")
	lifecycle.StringVar(fs, &c.HTTPAddr, "http-addr", "EBS_HTTP_ADDR", DefaultHTTPAddr, "HTTP address (gateway, status page, compatible endpoints)")
	lifecycle.StringVar(fs, &c.GRPCAddr, "grpc-addr", "EBS_GRPC_ADDR", DefaultGRPCAddr, "gRPC address of the StatusService")
	lifecycle.StringVar(fs, &c.KojiWebURL, "koji-web-url", "EBS_KOJI_WEB_URL", DefaultKojiWebURL, "Koji web UI base for task links")
	// EBS_KOJI_URL is the name every service uses; EBS_KOJI_HUB_URL and
	// -koji-hub-url are the status service's older spellings.
	lifecycle.StringVar(fs, &c.KojiHubURL, "koji-url", "EBS_KOJI_URL", os.Getenv("EBS_KOJI_HUB_URL"), "Koji hub XML-RPC URL for status.json (read only)")
	fs.StringVar(&c.KojiHubURL, "koji-hub-url", c.KojiHubURL, "deprecated: use -koji-url")
	lifecycle.StringVar(fs, &c.OIDCIssuer, "oidc-issuer", "EBS_OIDC_ISSUER", "", "OIDC issuer for ID-token verification (default: found by discovery above open_id_connect.auth_url)")
	lifecycle.StringVar(fs, &c.OIDCClientSecretFile, "oidc-client-secret-file", "EBS_OIDC_CLIENT_SECRET_FILE", "", "file holding the OIDC client secret")
	lifecycle.BoolVar(fs, &c.ReplayHistory, "replay-history", "EBS_REPLAY_HISTORY", false,
		"empty the history tables and replay the EBS stream from its start (refused once the stream has lost messages: it keeps 30 days)")
	lifecycle.BoolVar(fs, &c.ReplayHistoryForce, "replay-history-force", "EBS_REPLAY_HISTORY_FORCE", false,
		"with -replay-history: replay even though the stream no longer starts at message 1; history older than the stream is lost")
	lifecycle.DurationVar(fs, &c.ConfigRefresh, "config-refresh", "EBS_CONFIG_REFRESH", config.DefaultTimers().ConfigRefresh, "how often the configuration is re-read")
	lifecycle.StringVar(fs, &c.SMTPPasswordFile, "smtp-password-file", "EBS_SMTP_PASSWORD_FILE", "", "file holding the SMTP password")
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
  EBS_OIDC_CLIENT_SECRET[_FILE]  client secret for the OIDC login (required with open_id_connect)
  EBS_SMTP_PASSWORD[_FILE]       SMTP password (without it, mail is sent without login)
  EBS_DB_PASSWORD[_FILE]         PostgreSQL password, added to --database-url
`

func (c *Config) withDefaults() {
	if c.DatabaseURL == "" {
		c.DatabaseURL = os.Getenv(store.EnvDatabaseURL)
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = store.DefaultURL
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = DefaultHTTPAddr
	}
	if c.GRPCAddr == "" {
		c.GRPCAddr = DefaultGRPCAddr
	}
	if c.KojiWebURL == "" {
		c.KojiWebURL = DefaultKojiWebURL
	}
	c.KojiWebURL = strings.TrimRight(c.KojiWebURL, "/")
}
