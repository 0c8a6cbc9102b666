package bodhisim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

type oidcEndpoints struct {
	introspect string
	userinfo   string
}

var oidcHTTP = &http.Client{Timeout: 30 * time.Second}

// endpoints discovers the provider once: Bodhi introspects at
// "<token_endpoint>Info" (Ipsilon's TokenInfo) and reads userinfo.
func (s *Server) endpoints(ctx context.Context) (*oidcEndpoints, error) {
	s.mu.Lock()
	e := s.oidc
	s.mu.Unlock()
	if e != nil {
		return e, nil
	}
	if s.o.OIDCIssuer == "" {
		return nil, fmt.Errorf("no OIDC provider configured")
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(s.o.OIDCIssuer, "/")+"/.well-known/openid-configuration", nil)
	resp, err := oidcHTTP.Do(req)
	if err != nil {
		return nil, fmt.Errorf("OIDC discovery: %w", err)
	}
	defer resp.Body.Close()
	var doc struct {
		TokenEndpoint    string `json:"token_endpoint"`
		UserinfoEndpoint string `json:"userinfo_endpoint"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&doc) != nil || doc.TokenEndpoint == "" {
		return nil, fmt.Errorf("OIDC discovery at %s failed (HTTP %d)", s.o.OIDCIssuer, resp.StatusCode)
	}
	e = &oidcEndpoints{introspect: doc.TokenEndpoint + "Info", userinfo: doc.UserinfoEndpoint}
	s.mu.Lock()
	s.oidc = e
	s.mu.Unlock()
	return e, nil
}

// checkToken validates a bearer token the way Bodhi's login_with_token does:
// introspection (active, not expired, every required scope), then userinfo
// for nickname, email and groups.
func (s *Server) checkToken(ctx context.Context, tok string) (account, *apiError) {
	invalid := func(why string) *apiError {
		s.log.Info("login token refused", "reason", why)
		return errorf(http.StatusUnauthorized, "body", "InvalidTokenError",
			"invalid_token: The access token provided is expired, revoked, malformed, or invalid for other reasons.")
	}
	e, err := s.endpoints(ctx)
	if err != nil {
		return account{}, errorf(http.StatusInternalServerError, "body", "ConnectionError", "%v", err)
	}
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"},
		"client_id": {s.o.OIDCClientID}, "client_secret": {s.o.OIDCClientSecret}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.introspect, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := oidcHTTP.Do(req)
	if err != nil {
		return account{}, errorf(http.StatusInternalServerError, "body", "ConnectionError", "introspection: %v", err)
	}
	var info struct {
		Active bool   `json:"active"`
		Scope  string `json:"scope"`
		Exp    int64  `json:"exp"`
	}
	derr := json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || derr != nil {
		// Bodhi's requests call raises for the status: an unhandled error.
		return account{}, errorf(http.StatusInternalServerError, "body", "HTTPError",
			"%d Client Error for url: %s", resp.StatusCode, e.introspect)
	}
	if !info.Active {
		return account{}, invalid("inactive")
	}
	if info.Exp != 0 && info.Exp < time.Now().Unix() {
		return account{}, invalid("expired")
	}
	have := strings.Fields(info.Scope)
	for _, want := range s.o.RequiredScopes {
		if !slices.Contains(have, want) {
			return account{}, errorf(http.StatusForbidden, "body", "InsufficientScopeError",
				"insufficient_scope: The request requires higher privileges than provided by the access token.")
		}
	}
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, e.userinfo, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err = oidcHTTP.Do(req)
	if err != nil {
		return account{}, errorf(http.StatusInternalServerError, "body", "ConnectionError", "userinfo: %v", err)
	}
	defer resp.Body.Close()
	var ui struct {
		Nickname string   `json:"nickname"`
		Email    string   `json:"email"`
		Groups   []string `json:"groups"`
		Error    string   `json:"error"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ui); err != nil || ui.Error != "" || ui.Nickname == "" {
		return account{}, invalid("userinfo: " + ui.Error)
	}
	return account{name: ui.Nickname, email: ui.Email, groups: ui.Groups}, nil
}
