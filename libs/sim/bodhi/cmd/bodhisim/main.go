// Command bodhisim runs the Bodhi simulator on its own (demo, manual tests).
//
//	bodhisim -listen 127.0.0.1:8090 -oidc-builtin -token-file /tmp/ebs-bodhi.token
//	bodhisim healthcheck [-url http://127.0.0.1:8090/releases/]   (exit 0 when it answers)
//
// With -oidc-builtin it also runs a test OIDC provider trusting the service
// account "eln-buildsync" (group packager) and prints its issuer and client
// credentials; -token-file writes an access token for that account. Koji is
// the Koji simulator (or a hub) at -koji-url, where Bodhi acts as -koji-user
// (named in the simulator's remote-user header on plain HTTP, or by the
// client certificate -koji-cert/-koji-key).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/oidctest"
	bodhisim "github.com/fedora-eln/ebs/libs/sim/bodhi"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

type config struct {
	listen, publicURL                     string
	kojiURL, kojiUser                     string
	kojiCert, kojiKey, kojiCA             string
	oidcIssuer, oidcClientID, oidcSecret  string
	oidcBuiltin                           bool
	oidcListen, tokenFile, serviceAccount string
	testingAfter, stableAfter             time.Duration
	held                                  bool
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck(os.Args[2:]))
	}
	var c config
	fs := flag.NewFlagSet("bodhisim", flag.ExitOnError)
	lifecycle.StringVar(fs, &c.listen, "listen", "BODHISIM_LISTEN", "127.0.0.1:8090", "address to serve Bodhi's API on")
	lifecycle.StringVar(fs, &c.publicURL, "public-url", "BODHISIM_PUBLIC_URL", "", "base of update URLs (default the listen URL)")
	lifecycle.StringVar(fs, &c.kojiURL, "koji-url", "BODHISIM_KOJI_URL", "", "Koji hub XML-RPC URL (the Koji simulator's, e.g. http://127.0.0.1:8080/kojihub)")
	lifecycle.StringVar(fs, &c.kojiUser, "koji-user", "BODHISIM_KOJI_USER", "bodhi", "Koji account Bodhi acts as (an admin)")
	lifecycle.StringVar(fs, &c.kojiCert, "koji-cert", "BODHISIM_KOJI_CERT", "", "client certificate for Koji's SSL login")
	lifecycle.StringVar(fs, &c.kojiKey, "koji-key", "BODHISIM_KOJI_KEY", "", "client key for Koji's SSL login")
	lifecycle.StringVar(fs, &c.kojiCA, "koji-ca", "BODHISIM_KOJI_CA", "", "CA of Koji's server certificate")
	lifecycle.StringVar(fs, &c.oidcIssuer, "oidc-issuer", "BODHISIM_OIDC_ISSUER", "", "OIDC provider Bodhi trusts")
	lifecycle.StringVar(fs, &c.oidcClientID, "oidc-client-id", "BODHISIM_OIDC_CLIENT_ID", "bodhi", "Bodhi's client id at the provider (introspection)")
	lifecycle.StringVar(fs, &c.oidcSecret, "oidc-client-secret", "BODHISIM_OIDC_CLIENT_SECRET", "", "Bodhi's client secret at the provider")
	lifecycle.BoolVar(fs, &c.oidcBuiltin, "oidc-builtin", "BODHISIM_OIDC_BUILTIN", false, "run a test OIDC provider in this process")
	lifecycle.StringVar(fs, &c.oidcListen, "oidc-listen", "BODHISIM_OIDC_LISTEN", "127.0.0.1:0", "address of the built-in OIDC provider")
	lifecycle.StringVar(fs, &c.serviceAccount, "service-account", "BODHISIM_SERVICE_ACCOUNT", "eln-buildsync", "built-in provider: the account ebs signs in as (group packager)")
	lifecycle.StringVar(fs, &c.tokenFile, "token-file", "BODHISIM_TOKEN_FILE", "", "built-in provider: write an access token for the service account here")
	lifecycle.DurationVar(fs, &c.testingAfter, "testing-after", "BODHISIM_TESTING_AFTER", 5*time.Second, "pending -> testing after")
	lifecycle.DurationVar(fs, &c.stableAfter, "stable-after", "BODHISIM_STABLE_AFTER", 5*time.Second, "testing -> stable after")
	lifecycle.BoolVar(fs, &c.held, "held", "BODHISIM_HELD", false, "do not move updates on by themselves")
	lifecycle.Main("bodhisim", fs, func(ctx context.Context, log *slog.Logger) error { return run(ctx, c, log) })
}

func run(ctx context.Context, c config, log *slog.Logger) error {
	o := bodhisim.Options{Addr: c.listen, PublicURL: c.publicURL, OIDCIssuer: c.oidcIssuer,
		OIDCClientID: c.oidcClientID, OIDCClientSecret: c.oidcSecret,
		TestingAfter: c.testingAfter, StableAfter: c.stableAfter, Held: c.held, Logger: log}
	if c.oidcBuiltin {
		p, err := oidctest.New(oidctest.Options{Addr: c.oidcListen, ClientID: c.serviceAccount, ServiceGroups: []string{"packager"},
			TokenTTL: 30 * 24 * time.Hour})
		if err != nil {
			return err
		}
		defer p.Close()
		if o.OIDCClientSecret == "" {
			o.OIDCClientSecret = "bodhisim-secret"
		}
		p.AddClient(o.OIDCClientID, oidctest.Client{Secret: o.OIDCClientSecret})
		o.OIDCIssuer = p.Issuer()
		if c.tokenFile != "" {
			if err := os.WriteFile(c.tokenFile, []byte(p.Token(c.serviceAccount)+"\n"), 0o600); err != nil {
				return err
			}
		}
		fmt.Printf("OIDC issuer %s\nclient id %s\nclient secret %s\n", p.Issuer(), p.ClientID(), p.ClientSecret())
	}
	kh, err := kojiHub(c)
	if err != nil {
		return err
	}
	o.Koji = kh
	s, err := bodhisim.New(o)
	if err != nil {
		return err
	}
	defer s.Close()
	log.Info("Bodhi simulator listening", "url", s.URL(), "oidc_issuer", o.OIDCIssuer, "koji", c.kojiURL)
	fmt.Printf("Bodhi %s\n", s.URL())
	<-ctx.Done()
	return nil
}

func kojiHub(c config) (bodhisim.KojiHub, error) {
	if c.kojiURL == "" {
		return nil, errors.New("-koji-url is required (run the Koji simulator: go run ./libs/sim/kojihub/cmd/kojisim)")
	}
	o := koji.Options{URL: c.kojiURL, Auth: koji.SSLAuth{}}
	if c.kojiCert != "" {
		tc, err := koji.TLSConfig(c.kojiCert, c.kojiKey, c.kojiCA)
		if err != nil {
			return nil, err
		}
		o.HTTPClient = koji.HTTPClientFor(tc)
	} else {
		o.HTTPClient = &http.Client{Timeout: time.Minute, Transport: remoteUser{user: c.kojiUser, base: http.DefaultTransport}}
	}
	cl, err := koji.New(o)
	if err != nil {
		return nil, err
	}
	return bodhisim.KojiXMLRPC{Client: cl}, nil
}

// remoteUser names the Koji account to the Koji simulator's plain-HTTP login.
type remoteUser struct {
	user string
	base http.RoundTripper
}

func (r remoteUser) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set(kojihub.RemoteUserHeader, r.user)
	return r.base.RoundTrip(req)
}

// healthcheck GETs a running simulator's /releases/ (container health
// checks: the image has no shell or curl) and exits 0 when it answers 200.
func healthcheck(args []string) int {
	fs := flag.NewFlagSet("bodhisim healthcheck", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8090/releases/", "URL to probe")
	if fs.Parse(args) != nil {
		return 2
	}
	hc := http.Client{Timeout: 3 * time.Second}
	resp, err := hc.Get(*url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bodhisim healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "bodhisim healthcheck:", resp.Status)
		return 1
	}
	return 0
}
