// Package authtest is an in-process OpenID Connect provider for tests: a
// real HTTP server with discovery, JWKS (RS256 keys signed with go-jose),
// an authorization endpoint that logs in a chosen user at once, a token
// endpoint checking client_secret_basic and the PKCE verifier, and userinfo.
// It can also mint ID and access tokens directly for bearer-token tests.
package authtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// User is who the provider logs in.
type User struct {
	Sub      string
	Nickname string
	Groups   []string
}

// Provider is the running provider.
type Provider struct {
	Server       *httptest.Server
	ClientID     string
	ClientSecret string

	key    *rsa.PrivateKey
	signer jose.Signer

	mu       sync.Mutex
	next     User
	codes    map[string]grant
	tokens   map[string]User // access token -> user
	Requests []string        // paths served, in order
}

type grant struct {
	user      User
	nonce     string
	challenge string
	redirect  string
}

// Start starts a provider for t (closed at cleanup). Logins are as user
// until SetUser changes it.
func Start(t testing.TB, user User) *Provider {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{ClientID: "ebs", ClientSecret: "s3cret", key: key, signer: signer, next: user,
		codes: map[string]grant{}, tokens: map[string]User{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.Requests = append(p.Requests, r.URL.Path)
		p.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Server.Close)
	return p
}

// Issuer is the provider's issuer URL.
func (p *Provider) Issuer() string { return p.Server.URL }

// AuthURL, TokenURL and UserinfoURL are the endpoints.
func (p *Provider) AuthURL() string     { return p.Server.URL + "/authorize" }
func (p *Provider) TokenURL() string    { return p.Server.URL + "/token" }
func (p *Provider) UserinfoURL() string { return p.Server.URL + "/userinfo" }

// SetUser changes who the next login is.
func (p *Provider) SetUser(u User) {
	p.mu.Lock()
	p.next = u
	p.mu.Unlock()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (p *Provider) discovery(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]any{
		"issuer":                                p.Issuer(),
		"authorization_endpoint":                p.AuthURL(),
		"token_endpoint":                        p.TokenURL(),
		"userinfo_endpoint":                     p.UserinfoURL(),
		"jwks_uri":                              p.Server.URL + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_basic"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
}

func random() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// authorize logs the current user in at once and redirects back with a code.
func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != p.ClientID || q.Get("response_type") != "code" {
		http.Error(w, "bad client or response_type", http.StatusBadRequest)
		return
	}
	if q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" {
		http.Error(w, "PKCE S256 required", http.StatusBadRequest)
		return
	}
	code := random()
	p.mu.Lock()
	p.codes[code] = grant{user: p.next, nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
	p.mu.Unlock()
	u, err := url.Parse(q.Get("redirect_uri"))
	if err != nil {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	v := u.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || id != p.ClientID || secret != p.ClientSecret {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]string{"error": "invalid_client"})
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "authorization_code" {
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]string{"error": "unsupported_grant_type"})
		return
	}
	p.mu.Lock()
	g, ok := p.codes[r.PostForm.Get("code")]
	delete(p.codes, r.PostForm.Get("code"))
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !ok || g.redirect != r.PostForm.Get("redirect_uri") || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]string{"error": "invalid_grant"})
		return
	}
	access, idToken := p.Mint(g.user, g.nonce, time.Hour)
	writeJSON(w, map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": 3600, "id_token": idToken})
}

// Mint issues an access token and a signed ID token for u valid for ttl
// (negative ttl gives expired tokens).
func (p *Provider) Mint(u User, nonce string, ttl time.Duration) (access, idToken string) {
	access = random()
	p.mu.Lock()
	if ttl > 0 {
		p.tokens[access] = u
	}
	p.mu.Unlock()
	now := time.Now()
	claims := map[string]any{
		"iss": p.Issuer(), "sub": u.Sub, "aud": p.ClientID, "iat": now.Add(min(ttl, 0) - time.Minute).Unix(),
		"exp": now.Add(ttl).Unix(), "nickname": u.Nickname, "groups": u.Groups,
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	tok, err := jwt.Signed(p.signer).Claims(claims).Serialize()
	if err != nil {
		panic(err)
	}
	return access, tok
}

func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(auth) <= len(prefix) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	p.mu.Lock()
	u, ok := p.tokens[auth[len(prefix):]]
	p.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusUnauthorized)
		writeJSON(w, map[string]string{"error": "invalid_token"})
		return
	}
	writeJSON(w, map[string]any{"sub": u.Sub, "nickname": u.Nickname, "groups": u.Groups})
}
