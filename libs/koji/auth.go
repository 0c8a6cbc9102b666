package koji

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	krbconfig "github.com/jcmturner/gokrb5/v8/config"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/fedora-eln/ebs/libs/koji/wire"
)

// Koji AUTHTYPES.
const (
	AuthTypeNormal   = 0
	AuthTypeKerberos = 1
	AuthTypeSSL      = 2
	AuthTypeGSSAPI   = 3
)

// Authenticator logs a client in. Both kinds call sslLogin on
// <hub>/ssllogin, as koji.ClientSession does; they differ in how the HTTP
// request proves who is calling.
type Authenticator interface {
	// PrepareLogin decorates the POST to <hub>/ssllogin.
	PrepareLogin(ctx context.Context, req *http.Request) error
	// AuthType is the Koji AUTHTYPE the hub records.
	AuthType() int
}

// SSLAuth logs in with the TLS client certificate configured on the
// client's HTTP transport (see TLSConfig).
type SSLAuth struct{}

// PrepareLogin implements Authenticator; the certificate does the work.
func (SSLAuth) PrepareLogin(context.Context, *http.Request) error { return nil }

// AuthType implements Authenticator.
func (SSLAuth) AuthType() int { return AuthTypeSSL }

// GSSAPIAuth logs in with Kerberos (SPNEGO "Negotiate") from a keytab, as
// Fedora's bots do.
type GSSAPIAuth struct {
	Principal  string // e.g. "eln-buildsync/ebs.example.org@FEDORAPROJECT.ORG"
	Keytab     string // path to the keytab
	Krb5Conf   string // path to krb5.conf; default /etc/krb5.conf or $KRB5_CONFIG
	ServiceSPN string // default "HTTP/<hub host>"

	once sync.Once
	cl   *krbclient.Client
	err  error
}

// AuthType implements Authenticator.
func (*GSSAPIAuth) AuthType() int { return AuthTypeGSSAPI }

// PrepareLogin adds a fresh SPNEGO token for the hub's HTTP service.
func (g *GSSAPIAuth) PrepareLogin(ctx context.Context, req *http.Request) error {
	g.once.Do(func() { g.cl, g.err = g.client() })
	if g.err != nil {
		return g.err
	}
	if err := g.cl.AffirmLogin(); err != nil {
		return &Fault{Code: CodeGSSAPIAuthError, Message: "unable to obtain a session: " + err.Error()}
	}
	spn := g.ServiceSPN
	if spn == "" {
		spn = "HTTP/" + req.URL.Hostname()
	}
	if err := spnego.SetSPNEGOHeader(g.cl, req, spn); err != nil {
		return &Fault{Code: CodeGSSAPIAuthError, Message: "unable to obtain a session: " + err.Error()}
	}
	return nil
}

func (g *GSSAPIAuth) client() (*krbclient.Client, error) {
	user, realm, ok := strings.Cut(g.Principal, "@")
	if !ok || user == "" || realm == "" {
		return nil, fmt.Errorf("koji: GSSAPI principal %q is not user@REALM", g.Principal)
	}
	kt, err := keytab.Load(g.Keytab)
	if err != nil {
		return nil, fmt.Errorf("koji: load keytab %s: %w", g.Keytab, err)
	}
	conf := g.Krb5Conf
	if conf == "" {
		conf = os.Getenv("KRB5_CONFIG")
	}
	if conf == "" {
		conf = "/etc/krb5.conf"
	}
	cfg, err := krbconfig.Load(conf)
	if err != nil {
		return nil, fmt.Errorf("koji: load %s: %w", conf, err)
	}
	return krbclient.NewWithKeytab(user, realm, kt, cfg, krbclient.DisablePAFXFAST(true)), nil
}

// TLSConfig builds a TLS configuration from Koji-style files: certFile may
// hold the certificate and the key together (Fedora's ~/.fedora.cert);
// keyFile may then be empty. caFile, if set, replaces the system roots.
func TLSConfig(certFile, keyFile, caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if certFile != "" {
		if keyFile == "" {
			keyFile = certFile
		}
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("koji: client certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("koji: server CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("koji: server CA %s holds no certificate", caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// HTTPClientFor returns an HTTP client using tlsConfig.
func HTTPClientFor(tlsConfig *tls.Config) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsConfig
	tr.MaxIdleConnsPerHost = 8
	return &http.Client{Transport: tr, Timeout: 5 * time.Minute}
}

// Login opens a session now (otherwise the first call does it).
func (c *Client) Login(ctx context.Context) error {
	if c.opts.Auth == nil {
		return ErrNotLoggedIn
	}
	if err := c.acquire(ctx, "sslLogin"); err != nil {
		return err
	}
	defer c.release()
	return c.loginLocked(ctx, false)
}

// Logout closes the session (best effort: the session is forgotten even if
// the hub call fails).
func (c *Client) Logout(ctx context.Context) error {
	if err := c.acquire(ctx, "logout"); err != nil {
		return err
	}
	defer c.release()
	if c.sess == nil {
		return nil
	}
	body, _ := wire.EncodeCall("logout")
	_, _, err := c.send(ctx, "logout", c.url, body, c.sess, c.nextCallnum(), nil)
	c.setSession(nil)
	return err
}

// nextCallnum takes the session's next callnum (callSlot held).
func (c *Client) nextCallnum() int64 {
	c.smu.Lock()
	defer c.smu.Unlock()
	n := c.sess.callnum
	c.sess.callnum++
	return n
}

// loginLocked (callSlot held) calls sslLogin at <hub>/ssllogin. With renew it sends the old
// session's headers and renew=True, so the hub keeps the session id.
func (c *Client) loginLocked(ctx context.Context, renew bool) error {
	var params []any
	var old *Session
	callnum := int64(-1)
	if renew && c.sess != nil {
		old = c.sess
		callnum = c.nextCallnum()
		params = []any{KW("proxyuser", nil, "renew", true, "exclusive", nil)}
	} else {
		params = []any{KW("proxyuser", nil)}
	}
	body, err := wire.EncodeCall("sslLogin", params...)
	if err != nil {
		return err
	}
	c.stats.call("sslLogin")
	decorate := func(r *http.Request) error { return c.opts.Auth.PrepareLogin(ctx, r) }
	v, _, err := c.send(ctx, "sslLogin", c.url+"/ssllogin", body, old, callnum, decorate)
	if err != nil {
		var f *Fault
		if errors.As(err, &f) {
			return err
		}
		var h *HTTPError
		if errors.As(err, &h) && h.StatusCode == http.StatusUnauthorized {
			return &Fault{Code: CodeAuthError, Method: "sslLogin", Message: "unable to obtain a session: " + h.Error()}
		}
		return fmt.Errorf("koji sslLogin: %w", err)
	}
	var s Session
	if err := wire.Into(v, &s); err != nil || s.Key == "" {
		return fmt.Errorf("koji sslLogin: unexpected answer %v: %v", v, err)
	}
	if c.sess != nil || renew {
		c.stats.relogin()
	}
	c.setSession(&s)
	c.log.InfoContext(ctx, "koji login", "session_id", s.ID, "renew", renew)
	return nil
}
