package kojibatch

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/prometheus/client_golang/prometheus"
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

// Client builds the libs/koji client the flags describe: a TLS client
// certificate (sslLogin) or a Kerberos keytab (GSSAPI) when given, else an
// anonymous client (enough for the read-only batcher and repo-watcher).
// With reg (the service's admin registry) the client exports the
// ebs_koji_client_* metrics there; nil exports none.
func (c *ClientFlags) Client(log *slog.Logger, reg prometheus.Registerer) (*koji.Client, error) {
	if c.URL == "" {
		return nil, errors.New("kojibatch: --koji-url is required")
	}
	o := koji.Options{URL: c.URL, Logger: log}
	if reg != nil {
		m, err := koji.NewMetrics(reg)
		if err != nil {
			return nil, fmt.Errorf("kojibatch: %w", err)
		}
		o.Metrics = m
	}
	if c.CertFile != "" || c.CAFile != "" {
		tc, err := koji.TLSConfig(c.CertFile, c.KeyFile, c.CAFile)
		if err != nil {
			return nil, err
		}
		o.HTTPClient = koji.HTTPClientFor(tc)
	}
	switch {
	case c.Keytab != "":
		o.Auth = &koji.GSSAPIAuth{Principal: c.Principal, Keytab: c.Keytab}
	case c.CertFile != "":
		o.Auth = koji.SSLAuth{}
	}
	return koji.New(o)
}

// Hub connects to the hub described by the flags and logs in when
// credentials are given; reg is as for Client.
func (c *ClientFlags) Hub(ctx context.Context, log *slog.Logger, reg prometheus.Registerer) (Hub, error) {
	cl, err := c.Client(log, reg)
	if err != nil {
		return nil, err
	}
	if c.Keytab != "" || c.CertFile != "" {
		if err := cl.Login(ctx); err != nil {
			return nil, fmt.Errorf("kojibatch: koji login: %w", err)
		}
	}
	return New(cl), nil
}
