package kojihub

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"

	"github.com/jcmturner/goidentity/v6"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/service"
	"github.com/jcmturner/gokrb5/v8/spnego"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/koji/wire"
)

// remoteIdentity is who the web server in front of the hub authenticated
// (REMOTE_USER for GSSAPI, the certificate CN for SSL).
type remoteIdentity struct {
	Name     string
	AuthType int
	Verify   string // SSL_CLIENT_VERIFY
}

var errNegotiate = errors.New("negotiate required")

// KerberosService lets /ssllogin accept SPNEGO (GSSAPI) logins, as Apache's
// mod_auth_gssapi does in front of Fedora's hub.
type KerberosService struct {
	Keytab    *keytab.Keytab // keys of the hub's HTTP service principal
	Principal string         // e.g. "HTTP/127.0.0.1" (default: from the keytab)
}

type ctxKey struct{}

// identify reads the certificate identity (TLS) or, on plain HTTP, the
// configured/remote-user identity. Kerberos is handled in ServeHTTP.
func (h *Hub) identify(r *http.Request) (*remoteIdentity, error) {
	if id, ok := r.Context().Value(ctxKey{}).(*remoteIdentity); ok {
		return id, nil
	}
	if r.TLS != nil {
		if len(r.TLS.VerifiedChains) == 0 || len(r.TLS.PeerCertificates) == 0 {
			return &remoteIdentity{Verify: "NONE"}, nil
		}
		cn := r.TLS.PeerCertificates[0].Subject.CommonName
		return &remoteIdentity{Name: cn, AuthType: koji.AuthTypeSSL, Verify: "SUCCESS"}, nil
	}
	if u := r.Header.Get(RemoteUserHeader); u != "" {
		return &remoteIdentity{Name: u, AuthType: koji.AuthTypeGSSAPI, Verify: "SUCCESS"}, nil
	}
	if h.opts.Kerberos != nil {
		return nil, errNegotiate
	}
	return &remoteIdentity{Name: h.opts.LoginUser, AuthType: koji.AuthTypeSSL, Verify: "SUCCESS"}, nil
}

// kerberosHandler wraps the login endpoint with SPNEGO.
func (h *Hub) kerberosHandler() http.Handler {
	ks := h.opts.Kerberos
	var settings []func(*service.Settings)
	if ks.Principal != "" {
		settings = append(settings, service.KeytabPrincipal(ks.Principal))
	}
	settings = append(settings, service.DecodePAC(false))
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := goidentity.FromHTTPRequestContext(r)
		if id == nil || !id.Authenticated() {
			writePlain(w, http.StatusUnauthorized, "Unauthorized\n")
			return
		}
		remote := &remoteIdentity{Name: id.UserName() + "@" + id.Domain(), AuthType: koji.AuthTypeGSSAPI, Verify: "SUCCESS"}
		h.serve(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, remote)), true)
	})
	return spnego.SPNEGOKRB5Authenticate(inner, ks.Keytab, settings...)
}

// validateSession checks the Koji-Session-* headers (or the legacy query
// string) like kojihub.auth.Session.
func (h *Hub) validateSession(r *http.Request, method string) (*session, *int64, error) {
	sid, key, cn := r.Header.Get("Koji-Session-Id"), r.Header.Get("Koji-Session-Key"), r.Header.Get("Koji-Session-Callnum")
	if sid == "" {
		q := r.URL.Query()
		sid, key, cn = q.Get("session-id"), q.Get("session-key"), q.Get("callnum")
	}
	if sid == "" {
		return nil, nil, nil
	}
	if key == "" {
		return nil, nil, fault(koji.CodeAuthError, "session-key not specified in session args")
	}
	id, err := strconv.ParseInt(sid, 10, 64)
	s := h.w.sessions[id]
	if err != nil || s == nil || s.Closed || s.Key != key {
		return nil, nil, fault(koji.CodeAuthError, "Invalid session or bad credentials")
	}
	if !s.Expired && h.now().Sub(s.Start) > h.opts.SessionLifetime {
		s.Expired = true
	}
	authMethod := method == "sslLogin" || method == "login" || method == "logout"
	if s.Expired && !authMethod {
		return nil, nil, fault(koji.CodeAuthExpired, "session \"%d\" has expired", s.ID)
	}
	var callnum *int64
	if cn != "" {
		n, err := strconv.ParseInt(cn, 10, 64)
		if err != nil {
			return nil, nil, fault(koji.CodeAuthError, "Invalid callnum: %q", cn)
		}
		if s.LastCall != nil {
			switch {
			case *s.LastCall > n:
				return nil, nil, fault(koji.CodeSequenceError, "%d > %d (session %d)", *s.LastCall, n, s.ID)
			case *s.LastCall == n:
				return nil, nil, fault(koji.CodeRetryError, "unable to retry call %d (method %s) for session %d", n, method, s.ID)
			}
		}
		callnum = &n
	}
	return s, callnum, nil
}

func (h *Hub) newSessionKey(userID int64) string {
	const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	var b strings.Builder
	fmt.Fprintf(&b, "%d-", userID)
	for i := 0; i < 19; i++ {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alnum))))
		b.WriteByte(alnum[n.Int64()])
	}
	return b.String()
}

func init() {
	register("sslLogin", "proxyuser=None, proxyauthtype=None, renew=False, exclusive=None", func(c *call) (any, error) {
		if c.remote == nil {
			// Called on /kojihub instead of /kojihub/ssllogin: no client
			// identity reaches the hub there.
			return nil, fault(koji.CodeAuthError, "could not verify client: None")
		}
		if c.user != nil && c.sess != nil && !c.sess.Expired {
			return nil, fault(koji.CodeAuthError, "Already logged in")
		}
		if c.remote.Verify != "SUCCESS" {
			return nil, fault(koji.CodeAuthError, "could not verify client: %s", c.remote.Verify)
		}
		if !c.isNil("proxyuser") {
			return nil, fault(koji.CodeAuthError, "%s is not authorized to login other users", c.remote.Name)
		}
		name := c.remote.Name
		if c.remote.AuthType == koji.AuthTypeGSSAPI {
			// user@REALM or service/host@REALM: Koji maps principals to users.
			name, _, _ = strings.Cut(name, "@")
			name, _, _ = strings.Cut(name, "/")
		}
		w := c.h.w
		u := w.userByName[name]
		if u == nil {
			u = w.addUser(name) // LoginCreatesUser
		}
		if c.remote.AuthType == koji.AuthTypeGSSAPI && strings.Contains(c.remote.Name, "@") {
			u.KrbPrincipal = c.remote.Name
		}
		if c.bool("renew") && c.sess != nil && c.sess.UserID == u.ID {
			c.sess.Key = c.h.newSessionKey(u.ID)
			c.sess.Expired = false
			c.sess.Start = c.now
			c.sess.LastCall = nil
			return sinfo(c.sess), nil
		}
		w.nextSession++
		s := &session{ID: w.nextSession, UserID: u.ID, AuthType: c.remote.AuthType, Start: c.now}
		s.Key = c.h.newSessionKey(u.ID)
		w.sessions[s.ID] = s
		return sinfo(s), nil
	})
	register("logout", "session_id=None", func(c *call) (any, error) {
		if c.sess == nil {
			return nil, fault(koji.CodeAuthError, "Not logged in")
		}
		c.sess.Closed = true
		return nil, nil
	})
	register("getLoggedInUser", "", func(c *call) (any, error) {
		if c.user == nil {
			return nil, nil
		}
		u := c.user
		var principals []any
		var principal any
		if u.KrbPrincipal != "" {
			principals = []any{u.KrbPrincipal}
			principal = u.KrbPrincipal
		} else {
			principals = []any{}
		}
		authtype := koji.AuthTypeSSL
		if c.sess != nil {
			authtype = c.sess.AuthType
		}
		return wire.Struct{{Name: "id", Value: u.ID}, {Name: "name", Value: u.Name}, {Name: "status", Value: 0},
			{Name: "usertype", Value: u.UserType}, {Name: "krb_principals", Value: principals},
			{Name: "authtype", Value: authtype}, {Name: "krb_principal", Value: principal}}, nil
	})
}

func sinfo(s *session) wire.Struct {
	return wire.Struct{{Name: "session-id", Value: s.ID}, {Name: "session-key", Value: s.Key}, {Name: "header-auth", Value: true}}
}

// ExpireSessions marks every session of user (all users if "") expired, so
// the next call faults with AuthExpired (1007).
func (h *Hub) ExpireSessions(userName string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, s := range h.w.sessions {
		if s.Closed || s.Expired {
			continue
		}
		if u := h.w.users[s.UserID]; userName == "" || (u != nil && u.Name == userName) {
			s.Expired = true
			n++
		}
	}
	return n
}

func (h *Hub) expireSessionOf(r *http.Request) {
	id, err := strconv.ParseInt(r.Header.Get("Koji-Session-Id"), 10, 64)
	if err != nil {
		return
	}
	h.mu.Lock()
	if s := h.w.sessions[id]; s != nil {
		s.Expired = true
	}
	h.mu.Unlock()
}
