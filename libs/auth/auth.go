package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// Errors callers map to 401 / 403 (gRPC Unauthenticated / PermissionDenied).
var (
	// ErrUnauthenticated: no credential, or one that is unknown or expired.
	ErrUnauthenticated = errors.New("auth: authentication required")
	// ErrForbidden: the caller is known but in none of the admin groups.
	ErrForbidden = errors.New("auth: not in an admin group")
	// ErrNoSession is returned by a SessionStore for an unknown or expired session.
	ErrNoSession = errors.New("auth: no such session")
)

// SessionTTL is how long a login lasts.
const SessionTTL = 24 * time.Hour

// CookieName is the session cookie.
const CookieName = "ebs_session"

// Session is one logged-in user. ID is the secret handed to the browser or
// CLI; stores keep only IDHash(ID).
type Session struct {
	ID        string
	Username  string
	Groups    []string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// LoginState is one login in flight between /login and /oidc/callback.
type LoginState struct {
	State        string
	CodeVerifier string
	Nonce        string
	ReturnTo     string
	RedirectURI  string
	ExpiresAt    time.Time
}

// SessionStore keeps sessions and login states (PostgreSQL in ebs:
// libs/store implements it).
type SessionStore interface {
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns ErrNoSession for unknown or expired ids.
	GetSession(ctx context.Context, id string) (Session, error)
	DeleteSession(ctx context.Context, id string) error
	SaveLoginState(ctx context.Context, l LoginState) error
	// TakeLoginState returns and deletes the state (ErrNoSession when
	// unknown or expired), so a state is used once.
	TakeLoginState(ctx context.Context, state string) (LoginState, error)
}

// IDHash is how session ids are stored.
func IDHash(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

// NewSessionID returns 256 random bits as 64 hex characters.
func NewSessionID() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return hex.EncodeToString(b[:])
}

// Principal is the caller of a request.
type Principal struct {
	Username string
	Groups   []string
	Admin    bool
	// Via says how the caller was identified: "disabled", "session",
	// "cookie", "id-token", "access-token".
	Via string
}

// Config configures an Authenticator.
type Config struct {
	// Enabled is false for open_id_connect: false: everyone is an admin.
	Enabled bool
	// Issuer enables discovery and ID-token verification. When empty it is
	// derived from AuthURL by discovery (see discoverIssuer); when that (or
	// discovery at Issuer) fails the explicit endpoints are used and tokens
	// are checked only through the userinfo endpoint.
	Issuer       string
	AuthURL      string
	TokenURL     string
	UserinfoURL  string
	JWKSURL      string
	ClientID     string
	ClientSecret string
	Scopes       []string
	AdminGroups  []string
	// RedirectURL overrides <proto>://<Host>/oidc/callback.
	RedirectURL string
	// HTTPClient talks to the provider (custom CA, tests).
	HTTPClient *http.Client
	Logger     *slog.Logger
	Now        func() time.Time
}

// Authenticator identifies callers and serves the login flow.
type Authenticator struct {
	cfg      Config
	store    SessionStore
	provider *oidc.Provider
	verifier *oidc.IDTokenVerifier
	oauth    oauth2.Config
	log      *slog.Logger

	mu        sync.Mutex
	userinfos map[string]cachedUser // access-token hash -> user
	refused   map[string]time.Time  // token hash -> until when the provider's "no" is trusted
}

// Negative results of the userinfo endpoint are remembered briefly, so an
// unknown or expired bearer sent again and again (a script, a stale CLI
// login) costs the provider one request per refusedTTL, not one each; the
// map is bounded so random tokens cannot grow it.
const (
	refusedTTL = 30 * time.Second
	refusedMax = 4096
)

type cachedUser struct {
	p       Principal
	expires time.Time
}

// New builds an Authenticator. With cfg.Enabled it sets up the OIDC provider
// (discovery from Issuer when set, else the explicit endpoints).
func New(ctx context.Context, cfg Config, store SessionStore) (*Authenticator, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = http.DefaultClient
	}
	a := &Authenticator{cfg: cfg, store: store, log: cfg.Logger.With("component", "auth"), userinfos: map[string]cachedUser{},
		refused: map[string]time.Time{}}
	if !cfg.Enabled {
		a.log.Warn("authentication is DISABLED (open_id_connect: false): every caller may trigger rebuilds and pause batches")
		return a, nil
	}
	if store == nil {
		return nil, errors.New("auth: a session store is required")
	}
	if cfg.ClientID == "" {
		return nil, errors.New("auth: open_id_connect needs client_id")
	}
	pctx := oidc.ClientContext(ctx, cfg.HTTPClient)
	var err error
	if cfg.Issuer == "" && cfg.AuthURL != "" {
		// The YAML open_id_connect section names endpoints, not the issuer;
		// without one, ID tokens could not be verified (bearers and the
		// login's nonce check), so find it by discovery.
		if iss, p, derr := discoverIssuer(pctx, cfg.AuthURL); derr == nil {
			a.log.Info("OIDC issuer derived from open_id_connect.auth_url by discovery", "issuer", iss)
			a.provider, a.cfg.Issuer, cfg.Issuer = p, iss, iss
		} else {
			a.log.Warn("no OIDC issuer: ID-token bearers are refused and the login's ID token (nonce) is not checked; "+
				"set -oidc-issuer / EBS_OIDC_ISSUER", "auth_url", cfg.AuthURL, "error", derr)
		}
	}
	if cfg.Issuer != "" && a.provider == nil {
		a.provider, err = oidc.NewProvider(pctx, cfg.Issuer)
		if err != nil && cfg.AuthURL == "" {
			return nil, fmt.Errorf("auth: OIDC discovery at %s: %w", cfg.Issuer, err)
		}
		if err != nil {
			a.log.Warn("OIDC discovery failed; using the configured endpoints", "issuer", cfg.Issuer, "error", err)
		}
	}
	if a.provider == nil {
		if cfg.AuthURL == "" || cfg.TokenURL == "" {
			return nil, errors.New("auth: open_id_connect needs auth_url and token_endpoint (or an issuer)")
		}
		a.provider = (&oidc.ProviderConfig{IssuerURL: cfg.Issuer, AuthURL: cfg.AuthURL, TokenURL: cfg.TokenURL,
			UserInfoURL: cfg.UserinfoURL, JWKSURL: cfg.JWKSURL}).NewProvider(pctx)
	}
	if cfg.Issuer != "" && (a.provider.Endpoint().AuthURL != "" && a.jwksKnown()) {
		a.verifier = a.provider.VerifierContext(pctx, &oidc.Config{ClientID: cfg.ClientID})
	}
	ep := a.provider.Endpoint()
	if cfg.AuthURL != "" {
		ep.AuthURL = cfg.AuthURL
	}
	if cfg.TokenURL != "" {
		ep.TokenURL = cfg.TokenURL
	}
	ep.AuthStyle = oauth2.AuthStyleInHeader // client_secret_basic, as the original
	scopes := cfg.Scopes
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile"}
	}
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		scopes = append([]string{oidc.ScopeOpenID}, scopes...)
	}
	a.oauth = oauth2.Config{ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Endpoint: ep, Scopes: scopes}
	return a, nil
}

// discoveryTimeout bounds the search for an issuer at start-up.
const discoveryTimeout = 15 * time.Second

// loopback reports whether host names this machine.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// discoverIssuer tries OIDC discovery at each parent of the authorization
// endpoint's path, nearest first, up to its origin (Ipsilon:
// https://id.fedoraproject.org/openidc/Authorization has the issuer
// https://id.fedoraproject.org/openidc; Keycloak's .../realms/x/protocol/
// openid-connect/auth has .../realms/x). A candidate counts only when its
// document names itself as issuer (go-oidc checks) and authURL as its
// authorization endpoint, so a different provider on the same host is not
// picked by mistake; trust rests on the document being served over https by
// the authorization endpoint's own host. The discovered document's userinfo
// and JWKS endpoints are used (the configured auth and token endpoints stay).
func discoverIssuer(ctx context.Context, authURL string) (string, *oidc.Provider, error) {
	u, err := url.Parse(authURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", nil, fmt.Errorf("auth_url %q is not an absolute URL", authURL)
	}
	// The discovered document names the keys ID tokens are checked with:
	// never take it over plain HTTP, except from this machine (tests, demo).
	if u.Scheme != "https" && !loopback(u.Hostname()) {
		return "", nil, fmt.Errorf("auth_url %q is not https: the issuer is not discovered over plain HTTP", authURL)
	}
	ctx, cancel := context.WithTimeout(ctx, discoveryTimeout)
	defer cancel()
	var errs []error
	p := strings.TrimRight(u.Path, "/")
	for {
		i := strings.LastIndex(p, "/")
		if i < 0 {
			break
		}
		p = p[:i]
		cand := u.Scheme + "://" + u.Host + p
		prov, err := oidc.NewProvider(ctx, cand)
		if err == nil && strings.TrimRight(prov.Endpoint().AuthURL, "/") == strings.TrimRight(authURL, "/") {
			return cand, prov, nil
		}
		if err == nil {
			err = fmt.Errorf("%s: its authorization endpoint is %s", cand, prov.Endpoint().AuthURL)
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return "", nil, fmt.Errorf("no OIDC discovery document above %s: %w", authURL, errors.Join(errs...))
}

func (a *Authenticator) jwksKnown() bool {
	var c struct {
		JWKS string `json:"jwks_uri"`
	}
	_ = a.provider.Claims(&c)
	return c.JWKS != "" || a.cfg.JWKSURL != ""
}

// Enabled reports whether authentication is on.
func (a *Authenticator) Enabled() bool { return a.cfg.Enabled }

func (a *Authenticator) isAdmin(groups []string) bool {
	for _, g := range groups {
		if slices.Contains(a.cfg.AdminGroups, g) {
			return true
		}
	}
	return false
}

// Anonymous is the caller when auth is disabled.
var Anonymous = Principal{Username: "anonymous", Admin: true, Via: "disabled"}

// Authenticate identifies the holder of a bearer token: a session id, an
// OIDC ID token (verified against the issuer's keys) or an access token
// (checked at the userinfo endpoint; answers cached for a minute, refusals
// for refusedTTL). A token shaped like a session id that the store does not
// hold is refused without asking the provider.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (Principal, error) {
	if !a.cfg.Enabled {
		return Anonymous, nil
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return Principal{}, ErrUnauthenticated
	}
	if s, err := a.store.GetSession(ctx, token); err == nil {
		return a.principal(s.Username, s.Groups, "session"), nil
	} else if !errors.Is(err, ErrNoSession) {
		return Principal{}, fmt.Errorf("auth: session lookup: %w", err)
	}
	if sessionShaped(token) {
		// One of our session ids, unknown or expired: the provider cannot
		// know it either, so do not ask.
		return Principal{}, fmt.Errorf("%w: unknown or expired session", ErrUnauthenticated)
	}
	if strings.Count(token, ".") == 2 && a.verifier != nil {
		idt, err := a.verifier.Verify(oidc.ClientContext(ctx, a.cfg.HTTPClient), token)
		if err == nil {
			var c userClaims
			if err := idt.Claims(&c); err != nil {
				return Principal{}, fmt.Errorf("%w: ID token claims: %v", ErrUnauthenticated, err)
			}
			return a.principal(c.name(idt.Subject), c.Groups, "id-token"), nil
		}
		a.log.Debug("bearer is not a valid ID token; trying userinfo", "error", err)
	}
	return a.userinfo(ctx, token)
}

type userClaims struct {
	Sub               string   `json:"sub"`
	Nickname          string   `json:"nickname"`
	PreferredUsername string   `json:"preferred_username"`
	Groups            []string `json:"groups"`
}

func (c userClaims) name(sub string) string {
	switch {
	case c.Nickname != "":
		return c.Nickname
	case c.PreferredUsername != "":
		return c.PreferredUsername
	case c.Sub != "":
		return c.Sub
	}
	return sub
}

func (a *Authenticator) principal(user string, groups []string, via string) Principal {
	return Principal{Username: user, Groups: groups, Admin: a.isAdmin(groups), Via: via}
}

func (a *Authenticator) userinfo(ctx context.Context, token string) (Principal, error) {
	key := IDHash(token)
	now := a.cfg.Now()
	a.mu.Lock()
	if c, ok := a.userinfos[key]; ok && now.Before(c.expires) {
		a.mu.Unlock()
		return c.p, nil
	}
	if until, ok := a.refused[key]; ok && now.Before(until) {
		a.mu.Unlock()
		return Principal{}, fmt.Errorf("%w: token not accepted by the provider (remembered)", ErrUnauthenticated)
	}
	for k, c := range a.userinfos {
		if !now.Before(c.expires) {
			delete(a.userinfos, k)
		}
	}
	a.mu.Unlock()
	if a.provider.UserInfoEndpoint() == "" {
		return Principal{}, ErrUnauthenticated
	}
	ui, err := a.provider.UserInfo(oidc.ClientContext(ctx, a.cfg.HTTPClient), oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token, TokenType: "Bearer"}))
	if err != nil {
		if ctx.Err() != nil || !providerRefused(err) {
			// The caller gave up, or the provider is failing: not a verdict
			// on the token, so nothing is remembered.
			return Principal{}, fmt.Errorf("%w: the identity provider did not answer: %v", ErrUnauthenticated, err)
		}
		a.refuse(key, now)
		return Principal{}, fmt.Errorf("%w: token not accepted by the provider", ErrUnauthenticated)
	}
	var c userClaims
	if err := ui.Claims(&c); err != nil {
		return Principal{}, fmt.Errorf("%w: userinfo: %v", ErrUnauthenticated, err)
	}
	p := a.principal(c.name(ui.Subject), c.Groups, "access-token")
	a.mu.Lock()
	a.userinfos[key] = cachedUser{p: p, expires: now.Add(time.Minute)}
	a.mu.Unlock()
	return p, nil
}

// refuse remembers the provider's refusal of a token for refusedTTL. When
// the map is full, expired entries go first, then arbitrary ones.
func (a *Authenticator) refuse(key string, now time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.refused) >= refusedMax {
		for k, until := range a.refused {
			if !now.Before(until) {
				delete(a.refused, k)
			}
		}
		for k := range a.refused {
			if len(a.refused) < refusedMax {
				break
			}
			delete(a.refused, k)
		}
	}
	a.refused[key] = now.Add(refusedTTL)
}

// sessionShaped reports whether tok looks like a NewSessionID: 64
// lowercase hex characters.
func sessionShaped(tok string) bool {
	if len(tok) != 64 {
		return false
	}
	for i := 0; i < len(tok); i++ {
		if c := tok[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Authorize checks that p may mutate.
func Authorize(p Principal) error {
	if p.Admin {
		return nil
	}
	if p.Username == "" {
		return ErrUnauthenticated
	}
	return fmt.Errorf("%w: %s is in none of them", ErrForbidden, p.Username)
}

type principalKey struct{}

// WithPrincipal stores p in ctx.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the caller stored by the middleware or interceptor.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// BearerToken extracts the token of an "Authorization: Bearer x" value.
func BearerToken(header string) string {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// providerRefused reports whether a userinfo error is the provider's answer
// about the token (400, 401 or 403) rather than an outage. go-oidc reports a
// non-200 answer as "<HTTP status>: <body>".
func providerRefused(err error) bool {
	msg := err.Error()
	for _, code := range []string{"400 ", "401 ", "403 "} {
		if strings.HasPrefix(msg, code) {
			return true
		}
	}
	return false
}
