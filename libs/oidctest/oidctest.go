package oidctest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// FedoraScopes are the scopes Bodhi requires on a token (bodhi.server.auth.constants.SCOPES).
var FedoraScopes = []string{
	"openid", "email", "profile",
	"https://id.fedoraproject.org/scope/groups",
	"https://id.fedoraproject.org/scope/agreements",
}

// Paths under the listener, Ipsilon style.
const (
	pathPrefix    = "/openidc"
	pathDiscovery = pathPrefix + "/.well-known/openid-configuration"
	pathJWKS      = pathPrefix + "/Jwks"
	pathAuthorize = pathPrefix + "/Authorization"
	pathToken     = pathPrefix + "/Token"
	pathTokenInfo = pathPrefix + "/TokenInfo" // "<token endpoint>Info", what Bodhi posts to
	pathUserInfo  = pathPrefix + "/UserInfo"
)

// Options configure a Provider. Zero values take the defaults.
type Options struct {
	// ClientID and ClientSecret of the default confidential client
	// (default "ebs" and a random secret).
	ClientID     string
	ClientSecret string
	// ServiceAccount is the account that the default client's
	// client-credentials tokens act as (default ClientID). It is added as a
	// user with ServiceGroups when not added otherwise.
	ServiceAccount string
	ServiceGroups  []string
	// Scopes granted to client-credentials tokens when the request names none
	// (default FedoraScopes).
	Scopes []string
	// TokenTTL is the lifetime of access and ID tokens (default 1 h).
	TokenTTL time.Duration
	// Addr to listen on (default 127.0.0.1:0).
	Addr string
}

// Client is a registered OAuth2 client.
type Client struct {
	Secret string // empty: a public client (PKCE required)
	// ServiceAccount is the account its client-credentials tokens act as
	// (default the client id). Empty Scopes grant FedoraScopes.
	ServiceAccount string
	Scopes         []string
	// RedirectURIs allowed in the code flow (empty: any).
	RedirectURIs []string
}

// User is an account known to the provider.
type User struct {
	Name   string
	Email  string
	Groups []string
}

type token struct {
	user     string
	clientID string
	scopes   []string
	issued   time.Time
	expires  time.Time
	revoked  bool
}

type authCode struct {
	clientID, redirectURI, user, nonce string
	challenge, method                  string
	scopes                             []string
	expires                            time.Time
}

// Provider is a running test OIDC provider.
type Provider struct {
	opts    Options
	srv     *http.Server
	ln      net.Listener
	issuer  string
	key     *rsa.PrivateKey
	keyID   string
	signer  jose.Signer
	mu      sync.Mutex
	users   map[string]User
	clients map[string]Client
	tokens  map[string]*token
	refresh map[string]*token
	codes   map[string]*authCode
	login   string
	counts  map[string]int
	// userinfoOutage, when not 0, is the status userinfo answers instead.
	userinfoOutage int
	lastAuth       url.Values
	// lastTokenAuth is how the last token request authenticated its client.
	lastTokenAuth string
}

// Start starts a provider for t and closes it at cleanup.
func Start(t testing.TB, o Options) *Provider {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// New starts a provider (outside tests). Close stops it.
func New(o Options) (*Provider, error) {
	if o.ClientID == "" {
		o.ClientID = "ebs"
	}
	if o.ClientSecret == "" {
		o.ClientSecret = randHex(16)
	}
	if o.ServiceAccount == "" {
		o.ServiceAccount = o.ClientID
	}
	if len(o.Scopes) == 0 {
		o.Scopes = FedoraScopes
	}
	if o.TokenTTL == 0 {
		o.TokenTTL = time.Hour
	}
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	p := &Provider{
		opts:    o,
		key:     key,
		keyID:   "k" + randHex(4),
		users:   map[string]User{},
		clients: map[string]Client{},
		tokens:  map[string]*token{},
		refresh: map[string]*token{},
		codes:   map[string]*authCode{},
		counts:  map[string]int{},
	}
	p.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", p.keyID))
	if err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	p.clients[o.ClientID] = Client{Secret: o.ClientSecret, ServiceAccount: o.ServiceAccount, Scopes: o.Scopes}
	p.users[o.ServiceAccount] = User{Name: o.ServiceAccount, Email: o.ServiceAccount + "@fedoraproject.org", Groups: o.ServiceGroups}

	p.ln, err = net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", o.Addr, err)
	}
	p.issuer = "http://" + p.ln.Addr().String() + pathPrefix
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+pathDiscovery, p.discovery)
	mux.HandleFunc("GET "+pathJWKS, p.jwks)
	mux.HandleFunc("GET "+pathAuthorize, p.authorize)
	mux.HandleFunc("POST "+pathToken, p.tokenEndpoint)
	mux.HandleFunc("POST "+pathTokenInfo, p.introspect)
	mux.HandleFunc("GET "+pathUserInfo, p.userinfo)
	mux.HandleFunc("POST "+pathUserInfo, p.userinfo)
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(p.ln) }()
	return p, nil
}

// Close stops the provider.
func (p *Provider) Close() { _ = p.srv.Close() }

// Issuer is the issuer URL (discovery at Issuer()+"/.well-known/openid-configuration").
func (p *Provider) Issuer() string { return p.issuer }

// ClientID and ClientSecret of the default confidential client.
func (p *Provider) ClientID() string     { return p.opts.ClientID }
func (p *Provider) ClientSecret() string { return p.opts.ClientSecret }

// Endpoint URLs.
func (p *Provider) TokenURL() string         { return p.issuer + "/Token" }
func (p *Provider) IntrospectionURL() string { return p.issuer + "/TokenInfo" }
func (p *Provider) AuthURL() string          { return p.issuer + "/Authorization" }
func (p *Provider) UserInfoURL() string      { return p.issuer + "/UserInfo" }
func (p *Provider) JWKSURL() string          { return p.issuer + "/Jwks" }

// AddUser adds or replaces an account and its groups.
func (p *Provider) AddUser(name string, groups ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[name] = User{Name: name, Email: name + "@fedoraproject.org", Groups: slices.Clone(groups)}
}

// AddClient registers another client (e.g. the resource server's own
// credentials for introspection, or a public client of a login flow).
func (p *Provider) AddClient(id string, c Client) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c.ServiceAccount == "" {
		c.ServiceAccount = id
	}
	if len(c.Scopes) == 0 {
		c.Scopes = FedoraScopes
	}
	p.clients[id] = c
	if _, ok := p.users[c.ServiceAccount]; !ok {
		p.users[c.ServiceAccount] = User{Name: c.ServiceAccount, Email: c.ServiceAccount + "@fedoraproject.org"}
	}
}

// LoginAs makes the authorization endpoint log name in without a form (the
// "browser" of a code-flow test). A login_hint parameter overrides it.
func (p *Provider) LoginAs(name string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.login = name
}

// Token mints an access token for user with scopes (default FedoraScopes),
// as if the default client had obtained it.
func (p *Provider) Token(user string, scopes ...string) string {
	if len(scopes) == 0 {
		scopes = FedoraScopes
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.users[user]; !ok {
		p.users[user] = User{Name: user, Email: user + "@fedoraproject.org"}
	}
	s, _ := p.newTokenLocked(user, p.opts.ClientID, scopes)
	return s
}

// IDToken mints an RS256 ID token for user (added without groups if
// unknown), issued to the default client, valid for ttl from now; a negative
// ttl gives a token that expired -ttl ago, for tests of expiry. nonce may be
// empty.
func (p *Provider) IDToken(user, nonce string, ttl time.Duration) string {
	p.mu.Lock()
	u, ok := p.users[user]
	if !ok {
		u = User{Name: user, Email: user + "@fedoraproject.org"}
		p.users[user] = u
	}
	p.mu.Unlock()
	s, err := p.idToken(u, p.opts.ClientID, nonce, ttl)
	if err != nil {
		panic("oidctest: sign ID token: " + err.Error()) // only on a broken key
	}
	return s
}

// Revoke makes an access token inactive.
func (p *Provider) Revoke(accessToken string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.tokens[accessToken]; ok {
		t.revoked = true
	}
}

// RevokeAll makes every access and refresh token issued so far inactive.
func (p *Provider) RevokeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range p.tokens {
		t.revoked = true
	}
	for _, t := range p.refresh {
		t.revoked = true
	}
}

// Count returns how many requests an endpoint served: "discovery", "jwks",
// "authorize", "token", "introspect" or "userinfo".
func (p *Provider) Count(endpoint string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts[endpoint]
}

// LastAuthorizeRequest returns the query of the last authorization request.
func (p *Provider) LastAuthorizeRequest() url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastAuth
}

// LastTokenAuthMethod returns how the client of the last token request
// authenticated: "client_secret_basic", "client_secret_post" or "none".
func (p *Provider) LastTokenAuthMethod() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastTokenAuth
}

func (p *Provider) count(endpoint string) {
	p.mu.Lock()
	p.counts[endpoint]++
	p.mu.Unlock()
}

func (p *Provider) newTokenLocked(user, clientID string, scopes []string) (access, refresh string) {
	now := time.Now()
	t := &token{user: user, clientID: clientID, scopes: slices.Clone(scopes), issued: now, expires: now.Add(p.opts.TokenTTL)}
	access = randHex(24)
	p.tokens[access] = t
	refresh = randHex(24)
	p.refresh[refresh] = &token{user: user, clientID: clientID, scopes: t.scopes, issued: now, expires: now.Add(30 * 24 * time.Hour)}
	return access, refresh
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	p.count("discovery")
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.issuer,
		"authorization_endpoint":                p.AuthURL(),
		"token_endpoint":                        p.TokenURL(),
		"userinfo_endpoint":                     p.UserInfoURL(),
		"introspection_endpoint":                p.IntrospectionURL(),
		"jwks_uri":                              p.JWKSURL(),
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query"},
		"grant_types_supported":                 []string{"authorization_code", "client_credentials", "refresh_token"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      FedoraScopes,
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic", "client_secret_post", "none"},
		"code_challenge_methods_supported":      []string{"S256", "plain"},
		"claims_supported":                      []string{"sub", "name", "nickname", "preferred_username", "email", "groups"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	p.count("jwks")
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: p.keyID, Algorithm: string(jose.RS256), Use: "sig"}}}
	writeJSON(w, http.StatusOK, set)
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	p.count("authorize")
	q := r.URL.Query()
	p.mu.Lock()
	p.lastAuth = q
	c, ok := p.clients[q.Get("client_id")]
	user := p.login
	p.mu.Unlock()
	if !ok {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	redirect := q.Get("redirect_uri")
	if redirect == "" || (len(c.RedirectURIs) > 0 && !slices.Contains(c.RedirectURIs, redirect)) {
		http.Error(w, "redirect_uri missing or not registered", http.StatusBadRequest)
		return
	}
	ru, err := url.Parse(redirect)
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	fail := func(code, desc string) {
		v := ru.Query()
		v.Set("error", code)
		v.Set("error_description", desc)
		if s := q.Get("state"); s != "" {
			v.Set("state", s)
		}
		ru.RawQuery = v.Encode()
		http.Redirect(w, r, ru.String(), http.StatusFound)
	}
	if q.Get("response_type") != "code" {
		fail("unsupported_response_type", "only the code flow is supported")
		return
	}
	method := q.Get("code_challenge_method")
	if q.Get("code_challenge") != "" && method == "" {
		method = "plain"
	}
	if method != "" && method != "S256" && method != "plain" {
		fail("invalid_request", "unsupported code_challenge_method")
		return
	}
	if c.Secret == "" && q.Get("code_challenge") == "" {
		fail("invalid_request", "public clients must use PKCE")
		return
	}
	if h := q.Get("login_hint"); h != "" {
		user = h
	}
	p.mu.Lock()
	_, known := p.users[user]
	p.mu.Unlock()
	if user == "" || !known {
		fail("access_denied", "no such user is logged in at the test provider (AddUser + LoginAs)")
		return
	}
	scopes := strings.Fields(q.Get("scope"))
	code := randHex(16)
	p.mu.Lock()
	p.codes[code] = &authCode{clientID: q.Get("client_id"), redirectURI: redirect, user: user, nonce: q.Get("nonce"),
		challenge: q.Get("code_challenge"), method: method, scopes: scopes, expires: time.Now().Add(time.Minute)}
	p.mu.Unlock()
	v := ru.Query()
	v.Set("code", code)
	if s := q.Get("state"); s != "" {
		v.Set("state", s)
	}
	v.Set("iss", p.issuer)
	ru.RawQuery = v.Encode()
	http.Redirect(w, r, ru.String(), http.StatusFound)
}

type oauthError struct {
	status int
	code   string
	desc   string
}

func (e *oauthError) Error() string { return e.code + ": " + e.desc }

func (p *Provider) authClient(r *http.Request) (string, Client, error) {
	id, secret, basic := r.BasicAuth()
	if basic {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	p.mu.Lock()
	c, ok := p.clients[id]
	p.mu.Unlock()
	if !ok || (c.Secret != "" && c.Secret != secret) {
		return "", Client{}, &oauthError{http.StatusUnauthorized, "invalid_client", "unknown client or bad secret"}
	}
	return id, c, nil
}

func (p *Provider) tokenEndpoint(w http.ResponseWriter, r *http.Request) {
	p.count("token")
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, &oauthError{http.StatusBadRequest, "invalid_request", err.Error()})
		return
	}
	id, c, err := p.authClient(r)
	if err != nil {
		writeOAuthError(w, err)
		return
	}
	method := "none"
	if _, _, basic := r.BasicAuth(); basic {
		method = "client_secret_basic"
	} else if r.PostForm.Get("client_secret") != "" {
		method = "client_secret_post"
	}
	p.mu.Lock()
	p.lastTokenAuth = method
	p.mu.Unlock()
	var (
		user, nonce string
		scopes      []string
	)
	switch gt := r.PostForm.Get("grant_type"); gt {
	case "client_credentials":
		if c.Secret == "" {
			writeOAuthError(w, &oauthError{http.StatusBadRequest, "unauthorized_client", "public clients cannot use client_credentials"})
			return
		}
		user = c.ServiceAccount
		scopes = c.Scopes
		if s := strings.Fields(r.PostForm.Get("scope")); len(s) > 0 {
			for _, sc := range s {
				if !slices.Contains(c.Scopes, sc) {
					writeOAuthError(w, &oauthError{http.StatusBadRequest, "invalid_scope", "scope not allowed for client: " + sc})
					return
				}
			}
			scopes = s
		}
	case "authorization_code":
		code := r.PostForm.Get("code")
		p.mu.Lock()
		ac, ok := p.codes[code]
		delete(p.codes, code) // single use
		p.mu.Unlock()
		switch {
		case !ok || time.Now().After(ac.expires):
			writeOAuthError(w, &oauthError{http.StatusBadRequest, "invalid_grant", "unknown, used or expired code"})
			return
		case ac.clientID != id:
			writeOAuthError(w, &oauthError{http.StatusBadRequest, "invalid_grant", "code was issued to another client"})
			return
		case ac.redirectURI != r.PostForm.Get("redirect_uri"):
			writeOAuthError(w, &oauthError{http.StatusBadRequest, "invalid_grant", "redirect_uri does not match the authorization request"})
			return
		}
		if ac.challenge != "" || r.PostForm.Get("code_verifier") != "" {
			if !pkceOK(ac.challenge, ac.method, r.PostForm.Get("code_verifier")) {
				writeOAuthError(w, &oauthError{http.StatusBadRequest, "invalid_grant", "PKCE code_verifier does not match"})
				return
			}
		}
		user, nonce, scopes = ac.user, ac.nonce, ac.scopes
	case "refresh_token":
		p.mu.Lock()
		rt, ok := p.refresh[r.PostForm.Get("refresh_token")]
		p.mu.Unlock()
		if !ok || rt.revoked || rt.clientID != id || time.Now().After(rt.expires) {
			writeOAuthError(w, &oauthError{http.StatusBadRequest, "invalid_grant", "unknown, revoked or expired refresh token"})
			return
		}
		user, scopes = rt.user, rt.scopes
	default:
		writeOAuthError(w, &oauthError{http.StatusBadRequest, "unsupported_grant_type", "unsupported grant_type " + strconvQuote(gt)})
		return
	}
	p.mu.Lock()
	access, refresh := p.newTokenLocked(user, id, scopes)
	u := p.users[user]
	p.mu.Unlock()
	resp := map[string]any{
		"access_token":  access,
		"token_type":    "Bearer",
		"expires_in":    int(p.opts.TokenTTL.Seconds()),
		"scope":         strings.Join(scopes, " "),
		"refresh_token": refresh,
	}
	if slices.Contains(scopes, "openid") {
		idt, err := p.idToken(u, id, nonce, p.opts.TokenTTL)
		if err != nil {
			writeOAuthError(w, &oauthError{http.StatusInternalServerError, "server_error", err.Error()})
			return
		}
		resp["id_token"] = idt
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, resp)
}

func (p *Provider) idToken(u User, aud, nonce string, ttl time.Duration) (string, error) {
	now := time.Now()
	issued := now
	if ttl < 0 {
		issued = now.Add(2 * ttl) // an expired token was also issued in the past
	}
	claims := jwt.Claims{
		Issuer:   p.issuer,
		Subject:  u.Name,
		Audience: jwt.Audience{aud},
		IssuedAt: jwt.NewNumericDate(issued),
		Expiry:   jwt.NewNumericDate(now.Add(ttl)),
	}
	extra := map[string]any{
		"nickname":           u.Name,
		"preferred_username": u.Name,
		"email":              u.Email,
		"groups":             nonNil(u.Groups),
		"auth_time":          issued.Unix(),
	}
	if nonce != "" {
		extra["nonce"] = nonce
	}
	return jwt.Signed(p.signer).Claims(claims).Claims(extra).Serialize()
}

// lookup returns the live token for an access token string.
func (p *Provider) lookup(access string) (*token, User, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, ok := p.tokens[access]
	if !ok || t.revoked || time.Now().After(t.expires) {
		return nil, User{}, false
	}
	return t, p.users[t.user], true
}

func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	p.count("introspect")
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, &oauthError{http.StatusBadRequest, "invalid_request", err.Error()})
		return
	}
	if _, _, err := p.authClient(r); err != nil {
		writeOAuthError(w, err)
		return
	}
	t, u, ok := p.lookup(r.PostForm.Get("token"))
	if !ok {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"active":     true,
		"scope":      strings.Join(t.scopes, " "),
		"client_id":  t.clientID,
		"username":   u.Name,
		"sub":        u.Name,
		"token_type": "Bearer",
		"exp":        t.expires.Unix(),
		"iat":        t.issued.Unix(),
		"iss":        p.issuer,
		"aud":        t.clientID,
	})
}

// UserInfoOutage makes the userinfo endpoint answer status (e.g. 503) to
// every request until it is called again with 0: a provider outage.
func (p *Provider) UserInfoOutage(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.userinfoOutage = status
}

func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	p.count("userinfo")
	p.mu.Lock()
	outage := p.userinfoOutage
	p.mu.Unlock()
	if outage != 0 {
		http.Error(w, "provider unavailable", outage)
		return
	}
	auth := r.Header.Get("Authorization")
	access, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_request"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_request", "error_description": "no bearer token"})
		return
	}
	_, u, live := p.lookup(access)
	if !live {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": "token inactive"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"sub":                u.Name,
		"nickname":           u.Name,
		"preferred_username": u.Name,
		"name":               u.Name,
		"email":              u.Email,
		"groups":             nonNil(u.Groups),
	})
}

func pkceOK(challenge, method, verifier string) bool {
	if challenge == "" || verifier == "" {
		return false
	}
	if method == "S256" {
		sum := sha256.Sum256([]byte(verifier))
		return base64.RawURLEncoding.EncodeToString(sum[:]) == challenge
	}
	return verifier == challenge
}

func writeOAuthError(w http.ResponseWriter, err error) {
	var oe *oauthError
	if !errors.As(err, &oe) {
		oe = &oauthError{http.StatusInternalServerError, "server_error", err.Error()}
	}
	if oe.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="oidctest"`)
	}
	writeJSON(w, oe.status, map[string]string{"error": oe.code, "error_description": oe.desc})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func strconvQuote(s string) string { return fmt.Sprintf("%q", s) }
