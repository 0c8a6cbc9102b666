package kojibatch

import (
	"context"
	"errors"
	"flag"
	"log/slog"

	"github.com/fedora-eln/ebs/libs/lifecycle"
)

// ClientFlags say how a service reaches the Koji hub.
type ClientFlags struct {
	// URL of the hub's XML-RPC endpoint, e.g. https://koji.fedoraproject.org/kojihub.
	URL string
	// CertFile/KeyFile: TLS client certificate login (sslLogin).
	CertFile string
	KeyFile  string
	// CAFile verifies the hub's certificate.
	CAFile string
	// Keytab and Principal: Kerberos (GSSAPI) login.
	Keytab    string
	Principal string
}

// Flags registers the Koji client flags.
func (c *ClientFlags) Flags(fs *flag.FlagSet) {
	lifecycle.StringVar(fs, &c.URL, "koji-url", "EBS_KOJI_URL", "https://koji.fedoraproject.org/kojihub", "Koji hub XML-RPC URL")
	lifecycle.StringVar(fs, &c.CertFile, "koji-cert", "EBS_KOJI_CERT", "", "TLS client certificate for Koji sslLogin")
	lifecycle.StringVar(fs, &c.KeyFile, "koji-key", "EBS_KOJI_KEY", "", "TLS client key for Koji sslLogin")
	lifecycle.StringVar(fs, &c.CAFile, "koji-ca", "EBS_KOJI_CA", "", "CA bundle for the Koji hub")
	lifecycle.StringVar(fs, &c.Keytab, "koji-keytab", "EBS_KOJI_KEYTAB", "", "Kerberos keytab for Koji GSSAPI login")
	lifecycle.StringVar(fs, &c.Principal, "koji-principal", "EBS_KOJI_PRINCIPAL", "", "Kerberos principal for the keytab")
}

// ErrNoClient is returned until libs/koji is wired in.
var ErrNoClient = errors.New("kojibatch: the Koji client (libs/koji) is not available in this build")

// Hub connects to the hub described by the flags.
func (c *ClientFlags) Hub(ctx context.Context, log *slog.Logger) (Hub, error) {
	return nil, ErrNoClient
}
