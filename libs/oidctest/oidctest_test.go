package oidctest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/fedora-eln/ebs/libs/oidctest"
)

func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

func TestCodeFlowWithPKCEAndGoOIDC(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p := oidctest.Start(t, oidctest.Options{})
	p.AddUser("jdoe", "packager", "eln-admins")
	p.LoginAs("jdoe")

	prov, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	cfg := oauth2.Config{ClientID: p.ClientID(), ClientSecret: p.ClientSecret(), Endpoint: prov.Endpoint(),
		RedirectURL: "http://127.0.0.1/callback", Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}
	verifier := oauth2.GenerateVerifier()
	authURL := cfg.AuthCodeURL("state-123", oauth2.S256ChallengeOption(verifier), oidc.Nonce("nonce-9"))

	hc := &http.Client{CheckRedirect: noRedirect}
	resp, err := hc.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("authorize: status %d", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if loc.Query().Get("state") != "state-123" || loc.Query().Get("code") == "" {
		t.Fatalf("redirect lacks state or code: %s", loc)
	}

	// A wrong PKCE verifier is refused, and the code is single-use.
	if _, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption("wrong-verifier-wrong-verifier-wrong-verifier")); err == nil {
		t.Fatal("exchange with a wrong verifier succeeded")
	}
	resp, _ = hc.Get(authURL)
	resp.Body.Close()
	loc, _ = url.Parse(resp.Header.Get("Location"))
	tok, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if _, err := cfg.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("a code was accepted twice")
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := prov.Verifier(&oidc.Config{ClientID: p.ClientID()}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify id token: %v", err)
	}
	var claims struct {
		Nickname string   `json:"nickname"`
		Groups   []string `json:"groups"`
		Nonce    string   `json:"nonce"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != "jdoe" || claims.Nickname != "jdoe" || claims.Nonce != "nonce-9" || !slices.Contains(claims.Groups, "eln-admins") {
		t.Fatalf("id token claims: sub=%s %+v", idt.Subject, claims)
	}
	if _, err := prov.Verifier(&oidc.Config{ClientID: "someone-else"}).Verify(ctx, raw); err == nil {
		t.Fatal("id token verified for another audience")
	}
	ui, err := prov.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Subject != "jdoe" || ui.Email != "jdoe@fedoraproject.org" {
		t.Fatalf("userinfo: %+v", ui)
	}
	if got := p.LastAuthorizeRequest().Get("code_challenge_method"); got != "S256" {
		t.Fatalf("code_challenge_method %q", got)
	}
	// Refresh works and yields a new live token.
	tok2, err := cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Hour)}).Token()
	if err != nil || tok2.AccessToken == tok.AccessToken {
		t.Fatalf("refresh: %v", err)
	}
}

func TestAuthorizeErrors(t *testing.T) {
	t.Parallel()
	p := oidctest.Start(t, oidctest.Options{})
	p.AddClient("public-cli", oidctest.Client{RedirectURIs: []string{"http://127.0.0.1/cb"}})
	p.AddUser("jdoe")
	hc := &http.Client{CheckRedirect: noRedirect}
	tests := []struct {
		name, query, wantErr string
		wantStatus           int
	}{
		{"unknown client", "client_id=nope&response_type=code&redirect_uri=http://127.0.0.1/cb", "", 400},
		{"unregistered redirect", "client_id=public-cli&response_type=code&redirect_uri=http://evil/cb", "", 400},
		{"public without PKCE", "client_id=public-cli&response_type=code&redirect_uri=http://127.0.0.1/cb&state=s&login_hint=jdoe", "invalid_request", 302},
		{"nobody logged in", "client_id=public-cli&response_type=code&redirect_uri=http://127.0.0.1/cb&state=s&code_challenge=abc", "access_denied", 302},
		{"implicit flow", "client_id=public-cli&response_type=token&redirect_uri=http://127.0.0.1/cb&state=s", "unsupported_response_type", 302},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := hc.Get(p.AuthURL() + "?" + tt.query)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if tt.wantErr != "" {
				loc, _ := url.Parse(resp.Header.Get("Location"))
				if loc.Query().Get("error") != tt.wantErr || loc.Query().Get("state") != "s" {
					t.Fatalf("redirect %s, want error %s with state", loc, tt.wantErr)
				}
			}
		})
	}
}

func introspect(t *testing.T, p *oidctest.Provider, clientID, secret, tok string) (int, map[string]any) {
	t.Helper()
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}, "client_id": {clientID}, "client_secret": {secret}}
	resp, err := http.PostForm(p.IntrospectionURL(), form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestClientCredentialsIntrospectionAndRevocation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := oidctest.Start(t, oidctest.Options{ClientID: "ebs-bot", ServiceGroups: []string{"packager"}})
	p.AddClient("bodhi", oidctest.Client{Secret: "bodhi-secret"})

	cc := clientcredentials.Config{ClientID: p.ClientID(), ClientSecret: p.ClientSecret(), TokenURL: p.TokenURL()}
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client credentials: %v", err)
	}
	bad := clientcredentials.Config{ClientID: p.ClientID(), ClientSecret: "wrong", TokenURL: p.TokenURL()}
	if _, err := bad.Token(ctx); err == nil {
		t.Fatal("a wrong client secret got a token")
	}

	status, info := introspect(t, p, "bodhi", "bodhi-secret", tok.AccessToken)
	if status != 200 || info["active"] != true || info["username"] != "ebs-bot" {
		t.Fatalf("introspection %d %v", status, info)
	}
	scope, _ := info["scope"].(string)
	for _, s := range oidctest.FedoraScopes {
		if !slices.Contains(strings.Fields(scope), s) {
			t.Fatalf("scope %q lacks %s", scope, s)
		}
	}
	if status, _ := introspect(t, p, "bodhi", "nope", tok.AccessToken); status != http.StatusUnauthorized {
		t.Fatalf("introspection with a bad client secret: %d", status)
	}

	req, _ := http.NewRequest("GET", p.UserInfoURL(), nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ui struct {
		Nickname string   `json:"nickname"`
		Groups   []string `json:"groups"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&ui)
	resp.Body.Close()
	if ui.Nickname != "ebs-bot" || !slices.Equal(ui.Groups, []string{"packager"}) {
		t.Fatalf("userinfo %+v", ui)
	}

	p.Revoke(tok.AccessToken)
	if _, info := introspect(t, p, "bodhi", "bodhi-secret", tok.AccessToken); info["active"] != false {
		t.Fatalf("revoked token still active: %v", info)
	}
	minted := p.Token("someone")
	if _, info := introspect(t, p, "bodhi", "bodhi-secret", minted); info["active"] != true || info["username"] != "someone" {
		t.Fatalf("minted token: %v", info)
	}
	p.RevokeAll()
	if _, info := introspect(t, p, "bodhi", "bodhi-secret", minted); info["active"] != false {
		t.Fatalf("RevokeAll left a token active: %v", info)
	}
	if p.Count("introspect") < 5 || p.Count("token") < 2 {
		t.Fatalf("counts: introspect %d token %d", p.Count("introspect"), p.Count("token"))
	}
}

func TestMintedIDTokens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	p := oidctest.Start(t, oidctest.Options{})
	p.AddUser("alice", "eln-admins")
	prov, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	v := prov.Verifier(&oidc.Config{ClientID: p.ClientID()})
	idt, err := v.Verify(ctx, p.IDToken("alice", "n-1", time.Hour))
	if err != nil {
		t.Fatalf("verify a minted ID token: %v", err)
	}
	var c struct {
		Nickname string   `json:"nickname"`
		Nonce    string   `json:"nonce"`
		Groups   []string `json:"groups"`
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != "alice" || c.Nickname != "alice" || c.Nonce != "n-1" || !slices.Contains(c.Groups, "eln-admins") {
		t.Fatalf("claims: sub=%s %+v", idt.Subject, c)
	}
	if _, err := v.Verify(ctx, p.IDToken("alice", "", -time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("an expired ID token: %v, want an expiry error", err)
	}
}
