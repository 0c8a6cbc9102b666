package bodhi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TokenSource supplies OIDC access tokens for /oidc/login-token.
type TokenSource interface {
	// Token returns an access token. fresh asks for a new one because Bodhi
	// refused the last (expired or revoked).
	Token(ctx context.Context, fresh bool) (string, error)
}

// StaticToken always returns tok.
type StaticToken string

// Token implements TokenSource.
func (s StaticToken) Token(context.Context, bool) (string, error) {
	if s == "" {
		return "", errors.New("bodhi: empty static token")
	}
	return string(s), nil
}

// TokenFile reads the access token from a file on every call, so a sidecar
// (or an operator) can rotate it: the first line, trimmed.
type TokenFile string

// Token implements TokenSource.
func (f TokenFile) Token(context.Context, bool) (string, error) {
	b, err := os.ReadFile(string(f))
	if err != nil {
		return "", fmt.Errorf("bodhi: read token file: %w", err)
	}
	tok, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", fmt.Errorf("bodhi: token file %s is empty", string(f))
	}
	return tok, nil
}

// ClientCredentials gets tokens with the OAuth2 client-credentials grant and
// caches each until shortly before it expires (or Bodhi refuses it).
type ClientCredentials struct {
	Config clientcredentials.Config
	// HTTPClient for the token endpoint (default http.DefaultClient).
	HTTPClient *http.Client

	mu  sync.Mutex
	tok *oauth2.Token
}

// Token implements TokenSource.
func (c *ClientCredentials) Token(ctx context.Context, fresh bool) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !fresh && c.tok != nil && c.tok.Valid() {
		return c.tok.AccessToken, nil
	}
	if c.HTTPClient != nil {
		ctx = context.WithValue(ctx, oauth2.HTTPClient, c.HTTPClient)
	}
	tok, err := c.Config.Token(ctx)
	if err != nil {
		return "", fmt.Errorf("bodhi: client credentials token: %w", err)
	}
	c.tok = tok
	return tok.AccessToken, nil
}

// DiscoverTokenURL reads the token endpoint from the provider's OpenID
// discovery document (issuer + "/.well-known/openid-configuration").
func DiscoverTokenURL(ctx context.Context, hc *http.Client, issuer string) (string, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("bodhi: OIDC discovery: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("bodhi: OIDC discovery at %s: HTTP %d", issuer, resp.StatusCode)
	}
	var doc struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || doc.TokenEndpoint == "" {
		return "", fmt.Errorf("bodhi: OIDC discovery at %s: no token_endpoint (%v)", issuer, err)
	}
	return doc.TokenEndpoint, nil
}
