package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// LoginStateTTL bounds the time between /login and /oidc/callback.
const LoginStateTTL = 10 * time.Minute

// DefaultReturn is where a login without a (safe) return_to lands.
const DefaultReturn = "/status.html"

// SafeReturn accepts only same-origin relative paths.
func SafeReturn(v, def string) string {
	if v == "" || !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") || strings.HasPrefix(v, "/\\") {
		return def
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return def
	}
	return v
}

// IsHTTPS reports whether the browser talks https (directly or via a proxy).
func IsHTTPS(r *http.Request) bool {
	if p := r.Header.Get("X-Forwarded-Proto"); p != "" {
		return strings.EqualFold(strings.TrimSpace(strings.Split(p, ",")[0]), "https")
	}
	return r.TLS != nil
}

func (a *Authenticator) redirectURI(r *http.Request) string {
	if a.cfg.RedirectURL != "" {
		return a.cfg.RedirectURL
	}
	proto := "http"
	if IsHTTPS(r) {
		proto = "https"
	}
	return proto + "://" + r.Host + "/oidc/callback"
}

// Login serves /login: a state, nonce and PKCE verifier are stored and the
// browser is sent (307) to the provider. 404 when auth is disabled.
func (a *Authenticator) Login(w http.ResponseWriter, r *http.Request) {
	if !a.cfg.Enabled {
		http.NotFound(w, r)
		return
	}
	l := LoginState{
		State:        NewSessionID(),
		CodeVerifier: oauth2.GenerateVerifier(),
		Nonce:        NewSessionID(),
		ReturnTo:     SafeReturn(r.URL.Query().Get("return_to"), DefaultReturn),
		RedirectURI:  a.redirectURI(r),
		ExpiresAt:    a.cfg.Now().Add(LoginStateTTL),
	}
	if err := a.store.SaveLoginState(r.Context(), l); err != nil {
		a.log.Error("saving login state failed", "error", err)
		http.Error(w, "login unavailable", http.StatusServiceUnavailable)
		return
	}
	oc := a.oauth
	oc.RedirectURL = l.RedirectURI
	target := oc.AuthCodeURL(l.State, oidc.Nonce(l.Nonce), oauth2.S256ChallengeOption(l.CodeVerifier))
	http.Redirect(w, r, target, http.StatusTemporaryRedirect)
}

// Callback serves /oidc/callback: 401 for a provider error, 400 for a
// missing or unknown state or code; otherwise exchanges the code (with the
// PKCE verifier), verifies the ID token's nonce, reads userinfo, creates a
// session, sets the cookie and sends the browser back (307).
func (a *Authenticator) Callback(w http.ResponseWriter, r *http.Request) {
	if !a.cfg.Enabled {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	if e := q.Get("error"); e != "" {
		http.Error(w, "login failed: "+e+" "+q.Get("error_description"), http.StatusUnauthorized)
		return
	}
	code, state := q.Get("code"), q.Get("state")
	if code == "" || state == "" {
		http.Error(w, "missing code or state", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	l, err := a.store.TakeLoginState(ctx, state)
	if errors.Is(err, ErrNoSession) {
		http.Error(w, "unknown or expired login state", http.StatusBadRequest)
		return
	}
	if err != nil {
		a.log.Error("login state lookup failed", "error", err)
		http.Error(w, "login unavailable", http.StatusServiceUnavailable)
		return
	}
	oc := a.oauth
	oc.RedirectURL = l.RedirectURI
	pctx := oidc.ClientContext(ctx, a.cfg.HTTPClient)
	tok, err := oc.Exchange(pctx, code, oauth2.VerifierOption(l.CodeVerifier))
	if err != nil {
		a.log.Warn("code exchange failed", "error", err)
		http.Error(w, "login failed: the provider refused the code", http.StatusUnauthorized)
		return
	}
	var claims userClaims
	sub := ""
	if raw, ok := tok.Extra("id_token").(string); ok && raw != "" && a.verifier != nil {
		idt, err := a.verifier.Verify(pctx, raw)
		if err != nil {
			http.Error(w, "login failed: invalid ID token", http.StatusUnauthorized)
			return
		}
		if idt.Nonce != l.Nonce {
			http.Error(w, "login failed: nonce mismatch", http.StatusUnauthorized)
			return
		}
		_ = idt.Claims(&claims)
		sub = idt.Subject
	}
	if a.provider.UserInfoEndpoint() != "" {
		ui, err := a.provider.UserInfo(pctx, oauth2.StaticTokenSource(tok))
		if err != nil {
			a.log.Warn("userinfo failed", "error", err)
			http.Error(w, "login failed: userinfo", http.StatusUnauthorized)
			return
		}
		var uc userClaims
		if err := ui.Claims(&uc); err == nil {
			if uc.Nickname != "" || uc.PreferredUsername != "" {
				claims.Nickname, claims.PreferredUsername = uc.Nickname, uc.PreferredUsername
			}
			if uc.Groups != nil {
				claims.Groups = uc.Groups
			}
		}
		if sub == "" {
			sub = ui.Subject
		}
	}
	user := claims.name(sub)
	if user == "" {
		http.Error(w, "login failed: no user name", http.StatusUnauthorized)
		return
	}
	now := a.cfg.Now()
	s := Session{ID: NewSessionID(), Username: user, Groups: claims.Groups, CreatedAt: now, ExpiresAt: now.Add(SessionTTL)}
	if err := a.store.CreateSession(ctx, s); err != nil {
		a.log.Error("creating session failed", "error", err)
		http.Error(w, "login unavailable", http.StatusServiceUnavailable)
		return
	}
	a.log.Info("user logged in", "user", user, "groups", claims.Groups, "admin", a.isAdmin(claims.Groups))
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: s.ID, Path: "/", MaxAge: int(SessionTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: IsHTTPS(r)})
	http.Redirect(w, r, l.ReturnTo, http.StatusTemporaryRedirect)
}

// Logout serves /logout: deletes the session, clears the cookie, 307 to a
// safe return_to (default /).
func (a *Authenticator) Logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" && a.store != nil {
		if err := a.store.DeleteSession(r.Context(), c.Value); err != nil {
			a.log.Warn("deleting session failed", "error", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: IsHTTPS(r)})
	http.Redirect(w, r, SafeReturn(r.URL.Query().Get("return_to"), "/"), http.StatusTemporaryRedirect)
}

// Identify returns the caller of an HTTP request: the bearer token when
// there is one, else the session cookie (Via "cookie"). Anonymous-admin
// when auth is disabled; ErrUnauthenticated when there is no valid credential.
func (a *Authenticator) Identify(r *http.Request) (Principal, error) {
	if !a.cfg.Enabled {
		return Anonymous, nil
	}
	if tok := BearerToken(r.Header.Get("Authorization")); tok != "" {
		return a.Authenticate(r.Context(), tok)
	}
	if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
		s, err := a.store.GetSession(r.Context(), c.Value)
		if err == nil {
			p := a.principal(s.Username, s.Groups, "cookie")
			return p, nil
		}
		if !errors.Is(err, ErrNoSession) {
			return Principal{}, fmt.Errorf("auth: session lookup: %w", err)
		}
	}
	return Principal{}, ErrUnauthenticated
}

// Middleware puts the caller (if any) into the request context. It never
// refuses a request: RequireAdmin does.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, err := a.Identify(r); err == nil {
			r = r.WithContext(WithPrincipal(r.Context(), p))
		}
		next.ServeHTTP(w, r)
	})
}

// RequireAdmin protects a route the way the original did: an unauthenticated
// GET is sent (307) to /login?return_to=<path>, any other unauthenticated
// method gets 401; a caller outside admin_groups gets 403; and a mutating
// method must carry a bearer token (a cookie alone is not enough: 403), so a
// cross-site form cannot act for a logged-in browser.
func (a *Authenticator) RequireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := a.Identify(r)
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) {
				a.log.Error("cannot check the caller's credentials (session store or OIDC provider failed); answering 503", "path", r.URL.Path, "error", err)
				http.Error(w, "authentication unavailable", http.StatusServiceUnavailable)
				return
			}
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/login?return_to="+url.QueryEscape(r.URL.RequestURI()), http.StatusTemporaryRedirect)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="ebs"`)
			http.Error(w, "authentication required: send Authorization: Bearer <token>", http.StatusUnauthorized)
			return
		}
		if !p.Admin {
			http.Error(w, fmt.Sprintf("user %s is not in an admin group", p.Username), http.StatusForbidden)
			return
		}
		if a.cfg.Enabled && r.Method != http.MethodGet && r.Method != http.MethodHead && p.Via == "cookie" {
			http.Error(w, "mutations need Authorization: Bearer <token>; the session cookie alone is not enough", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}
