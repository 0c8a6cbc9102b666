package status_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/fedora-eln/ebs/libs/auth"
	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/oidctest"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	ebsstatus "github.com/fedora-eln/ebs/services/status/status"
	"github.com/fedora-eln/ebs/services/status/status/statustest"
)

// oidcUser is an account at the test provider.
type oidcUser struct {
	name   string
	groups []string
}

var (
	adminUser = oidcUser{"alice", []string{"eln-admins"}}
	otherUser = oidcUser{"mallory", []string{"packager"}}
)

// authEnv starts status with OIDC on against the shared Ipsilon-like
// provider, on which adminUser is logged in.
func authEnv(t *testing.T) (*statustest.Env, *oidctest.Provider) {
	t.Helper()
	prov := oidctest.Start(t, oidctest.Options{})
	for _, u := range []oidcUser{adminUser, otherUser} {
		prov.AddUser(u.name, u.groups...)
	}
	prov.LoginAs(adminUser.name)
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(prov.ClientSecret()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := ebsstatus.Config{
		OIDCIssuer: prov.Issuer(), OIDCClientSecretFile: secret,
		Settings: &config.Config{OIDC: &config.OIDC{AuthURL: prov.AuthURL(), TokenEndpoint: prov.TokenURL(),
			UserinfoEndpoint: prov.UserInfoURL(), ClientID: prov.ClientID(), AdminGroups: []string{"eln-admins"},
			Scopes: []string{"openid", "profile", "https://id.fedoraproject.org/scope/groups"}}},
	}
	return statustest.Start(t, statustest.Options{Config: cfg}), prov
}

// session makes a session directly in the store (the browser flow is
// tested in libs/auth and below through /login).
func session(t *testing.T, env *statustest.Env, u oidcUser, ttl time.Duration) string {
	t.Helper()
	s := auth.Session{ID: auth.NewSessionID(), Username: u.name, Groups: u.groups, CreatedAt: time.Now().Add(-time.Minute), ExpiresAt: time.Now().Add(ttl)}
	if err := env.Server.Store.CreateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return s.ID
}

func TestAuthOnGRPC(t *testing.T) {
	t.Parallel()
	env, prov := authEnv(t)
	cc, err := grpc.NewClient("passthrough:///"+env.Server.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := ebsv1.NewStatusServiceClient(cc)
	admin := session(t, env, adminUser, time.Hour)
	other := session(t, env, otherUser, time.Hour)
	expired := session(t, env, adminUser, -time.Minute)
	idTok := prov.IDToken(adminUser.name, "", time.Hour)
	with := func(tok string) context.Context {
		if tok == "" {
			return context.Background()
		}
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
	}
	for _, tt := range []struct {
		name string
		tok  string
		want codes.Code
	}{
		{"no token", "", codes.Unauthenticated},
		{"wrong group", other, codes.PermissionDenied},
		{"expired session", expired, codes.Unauthenticated},
		{"garbage", "xyz", codes.Unauthenticated},
		{"valid admin session", admin, codes.OK},
		{"valid admin ID token", idTok, codes.OK},
	} {
		_, err := c.Pause(with(tt.tok), &ebsv1.PauseRequest{Reason: tt.name})
		if got := status.Code(err); got != tt.want {
			t.Errorf("Pause with %s: %v (%v), want %v", tt.name, got, err, tt.want)
		}
		_, err = c.TriggerRebuild(with(tt.tok), &ebsv1.TriggerRebuildRequest{Components: []string{"zlib"}})
		if got := status.Code(err); got != tt.want {
			t.Errorf("TriggerRebuild with %s: %v, want %v", tt.name, got, tt.want)
		}
		_, err = c.Resume(with(tt.tok), &ebsv1.ResumeRequest{})
		if got := status.Code(err); got != tt.want {
			t.Errorf("Resume with %s: %v, want %v", tt.name, got, tt.want)
		}
	}
	// Reads need no token.
	st, err := c.GetStatus(context.Background(), &ebsv1.GetStatusRequest{})
	if err != nil || !st.AuthEnabled {
		t.Fatalf("GetStatus without token: %v %v", st, err)
	}
	// The admin's pause was recorded with the admin's name.
	if _, err := c.Pause(with(admin), &ebsv1.PauseRequest{Reason: "by alice"}); err != nil {
		t.Fatal(err)
	}
	st, _ = c.GetStatus(context.Background(), &ebsv1.GetStatusRequest{})
	if st.Control.GetChangedBy() != "alice" || !st.Paused {
		t.Errorf("pause by %q paused %v", st.Control.GetChangedBy(), st.Paused)
	}
}

func TestAuthOnHTTPAndGateway(t *testing.T) {
	t.Parallel()
	env, prov := authEnv(t)
	base := env.HTTPURL()
	admin := session(t, env, adminUser, time.Hour)
	other := session(t, env, otherUser, time.Hour)
	expired := session(t, env, adminUser, -time.Minute)
	json := map[string]string{"Content-Type": "application/json"}
	bearer := func(tok string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "Authorization": "Bearer " + tok}
	}
	cookie := func(tok string) map[string]string {
		return map[string]string{"Content-Type": "application/json", "Cookie": auth.CookieName + "=" + tok}
	}
	for _, tt := range []struct {
		name, method, path, body string
		h                        map[string]string
		want                     int
		contains                 string
	}{
		{"trigger no token", "POST", "/trigger", `["zlib"]`, json, 401, ""},
		{"trigger wrong group", "POST", "/trigger", `["zlib"]`, bearer(other), 403, "mallory"},
		{"trigger expired session", "POST", "/trigger", `["zlib"]`, bearer(expired), 401, ""},
		{"trigger cookie only", "POST", "/trigger", `["zlib"]`, cookie(admin), 403, "cookie alone"},
		{"trigger admin", "POST", "/trigger", `["zlib"]`, bearer(admin), 200, "User alice requesting builds of:\nzlib"},
		{"trigger admin wrong type", "POST", "/trigger", `["zlib"]`, map[string]string{"Authorization": "Bearer " + admin, "Content-Type": "text/plain"}, 415, ""},
		{"trigger page unauthenticated", "GET", "/trigger", "", nil, 307, ""},
		{"trigger page shows token", "GET", "/trigger?show_token=1", "", cookie(admin), 200, admin},
		{"pause no token", "POST", "/control/pause", "", nil, 401, ""},
		{"pause wrong group", "POST", "/control/pause", "", bearer(other), 403, ""},
		{"pause admin", "POST", "/control/pause", "", bearer(admin), 200, "paused by alice"},
		{"pause admin access token", "POST", "/control/pause", "", bearer(prov.Token(adminUser.name)), 200, "paused by alice"},
		{"pause wrong group access token", "POST", "/control/pause", "", bearer(prov.Token(otherUser.name)), 403, "mallory"},
		{"pause admin ID token", "POST", "/control/pause", "", bearer(prov.IDToken(adminUser.name, "", time.Hour)), 200, "paused by alice"},
		{"pause expired ID token", "POST", "/control/pause", "", bearer(prov.IDToken(adminUser.name, "", -time.Hour)), 401, ""},
		{"gateway pause no token", "POST", "/v1/control/pause", `{}`, json, 401, "authentication required"},
		{"gateway pause wrong group", "POST", "/v1/control/pause", `{}`, bearer(other), 403, "admin group"},
		{"gateway pause cookie only", "POST", "/v1/control/pause", `{}`, cookie(admin), 403, "cookie alone"},
		{"gateway pause expired", "POST", "/v1/control/pause", `{}`, bearer(expired), 401, ""},
		{"gateway resume admin", "POST", "/v1/control/resume", `{}`, bearer(admin), 200, "alice"},
		{"gateway status public", "GET", "/v1/status", "", nil, 200, `"authEnabled":true`},
		{"page has no auth warning", "GET", "/status.html", "", cookie(admin), 200, "alice (admin)"},
		{"login redirects to provider", "GET", "/login", "", nil, 307, ""},
		{"callback without state", "GET", "/oidc/callback?code=x", "", nil, 400, ""},
	} {
		r := request(t, tt.method, base+tt.path, tt.body, tt.h)
		if r.code != tt.want || !strings.Contains(r.body, tt.contains) {
			t.Errorf("%s: %d %q; want %d containing %q", tt.name, r.code, trim(r.body), tt.want, tt.contains)
		}
		if tt.name == "page has no auth warning" && strings.Contains(r.body, "Authentication is disabled") {
			t.Error("auth warning shown with auth enabled")
		}
		if tt.name == "trigger page unauthenticated" && r.header.Get("Location") != "/login?return_to=%2Ftrigger" {
			t.Errorf("redirect to %q", r.header.Get("Location"))
		}
	}
	// The full browser login through the provider ends with a working cookie.
	jar := newJar(t)
	c := &http.Client{Jar: jar, Timeout: 20 * time.Second}
	resp, err := c.Get(base + "/login?return_to=/whoami")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"user":"alice"`) || !strings.Contains(string(body), `"admin":true`) {
		t.Fatalf("after login: %d %s", resp.StatusCode, body)
	}
	if q := prov.LastAuthorizeRequest(); q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" {
		t.Errorf("authorization request lacks state, nonce or S256 PKCE: %v", q)
	}
	if m := prov.LastTokenAuthMethod(); m != "client_secret_basic" {
		t.Errorf("token request authenticated with %q, want client_secret_basic", m)
	}
}

// TestIDTokenWithEndpointsOnlyConfig runs status as production would: the
// production distrobaker.yaml from --config with open_id_connect naming the
// endpoints only (the schema has no issuer) and no -oidc-issuer. An ID token
// bearer is still accepted: the issuer is found by discovery above auth_url.
func TestIDTokenWithEndpointsOnlyConfig(t *testing.T) {
	t.Parallel()
	prov := oidctest.Start(t, oidctest.Options{})
	prov.AddUser(adminUser.name, adminUser.groups...)
	raw, err := os.ReadFile("testdata/distrobaker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	oidcYAML := "open_id_connect:\n" +
		"    auth_url: " + prov.AuthURL() + "\n" +
		"    client_id: " + prov.ClientID() + "\n" +
		"    token_endpoint: " + prov.TokenURL() + "\n" +
		"    userinfo_endpoint: " + prov.UserInfoURL() + "\n" +
		"    admin_groups: [eln-admins]"
	withOIDC := strings.Replace(string(raw), "open_id_connect: false", oidcYAML, 1)
	dir := t.TempDir()
	path, secret := filepath.Join(dir, "distrobaker.yaml"), filepath.Join(dir, "secret")
	if err := os.WriteFile(path, []byte(withOIDC), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secret, []byte(prov.ClientSecret()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := ebsstatus.Config{OIDCClientSecretFile: secret}
	cfg.Config = path
	env := statustest.Start(t, statustest.Options{Config: cfg})
	idTok := prov.IDToken(adminUser.name, "", time.Hour)

	c := dial(t, env.Server.GRPCAddr)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+idTok)
	if _, err := c.Pause(ctx, &ebsv1.PauseRequest{Reason: "id token"}); err != nil {
		t.Fatalf("gRPC Pause with an ID token: %v", err)
	}
	st, err := c.GetStatus(context.Background(), &ebsv1.GetStatusRequest{})
	if err != nil || !st.AuthEnabled || st.Control.GetChangedBy() != adminUser.name {
		t.Fatalf("status after pause: auth %v by %q (%v)", st.GetAuthEnabled(), st.GetControl().GetChangedBy(), err)
	}
	r := request(t, "POST", env.HTTPURL()+"/control/unpause", "", map[string]string{"Authorization": "Bearer " + idTok})
	if r.code != 200 || !strings.Contains(r.body, "alice") {
		t.Fatalf("POST /control/unpause with an ID token: %d %q", r.code, trim(r.body))
	}
	// The userinfo endpoint never saw the ID token: it was verified locally.
	if n := prov.Count("userinfo"); n != 0 {
		t.Errorf("userinfo called %d times for ID-token bearers", n)
	}
}

// TestOIDCCallbackAndLogout covers the OIDC answers of the status server
// (reference §6.2): a provider error 401, an expired state 400 (like an
// unknown one), a code the provider refuses 401; the session cookie is
// Secure exactly when the browser talks https (directly or, here, through a
// proxy saying X-Forwarded-Proto: https), and /logout ends the session.
func TestOIDCCallbackAndLogout(t *testing.T) {
	t.Parallel()
	env, _ := authEnv(t)
	base := env.HTTPURL()
	ctx := context.Background()
	states := map[string]time.Time{"expired-state": time.Now().Add(-time.Minute), "fresh-state": time.Now().Add(5 * time.Minute)}
	for st, exp := range states {
		if err := env.Server.Store.SaveLoginState(ctx, auth.LoginState{State: st, CodeVerifier: "v", Nonce: "n",
			ReturnTo: "/status.html", RedirectURI: base + "/oidc/callback", ExpiresAt: exp}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range []struct {
		name, query string
		want        int
		contains    string
	}{
		{"provider error", "error=access_denied&error_description=no", 401, "login failed: access_denied"},
		{"expired state", "code=abc&state=expired-state", 400, "unknown or expired login state"},
		{"refused code", "code=never-issued&state=fresh-state", 401, "refused the code"},
		{"state used twice", "code=never-issued&state=fresh-state", 400, "unknown or expired login state"},
	} {
		r := request(t, "GET", base+"/oidc/callback?"+tt.query, "", nil)
		if r.code != tt.want || !strings.Contains(r.body, tt.contains) {
			t.Errorf("%s: %d %q, want %d containing %q", tt.name, r.code, trim(r.body), tt.want, tt.contains)
		}
	}

	noFollow := &http.Client{Timeout: 20 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string, h map[string]string, cookie *http.Cookie) *http.Response {
		t.Helper()
		req, err := http.NewRequest("GET", u, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
		if cookie != nil {
			req.AddCookie(cookie)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	sessionCookie := func(resp *http.Response) *http.Cookie {
		for _, c := range resp.Cookies() {
			if c.Name == auth.CookieName {
				return c
			}
		}
		return nil
	}
	for _, tt := range []struct {
		name   string
		header map[string]string
		proto  string
	}{
		{"plain http", nil, "http"},
		{"https behind a proxy", map[string]string{"X-Forwarded-Proto": "https"}, "https"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(base+"/login?return_to=/status.html", tt.header, nil)
			loc, err := url.Parse(resp.Header.Get("Location"))
			if resp.StatusCode != 307 || err != nil {
				t.Fatalf("/login: %d %v", resp.StatusCode, err)
			}
			wantRedirect := tt.proto + "://" + env.Server.HTTPAddr + "/oidc/callback"
			if got := loc.Query().Get("redirect_uri"); got != wantRedirect {
				t.Fatalf("redirect_uri %q, want %q", got, wantRedirect)
			}
			// The provider (user logged in) sends the browser back; the
			// proxy would terminate https, so call the server over http.
			resp = get(loc.String(), nil, nil)
			cb, err := url.Parse(resp.Header.Get("Location"))
			if err != nil || !strings.HasPrefix(cb.String(), wantRedirect) {
				t.Fatalf("provider sent the browser to %q (%v)", cb, err)
			}
			cb.Scheme = "http"
			resp = get(cb.String(), tt.header, nil)
			ck := sessionCookie(resp)
			if resp.StatusCode != 307 || resp.Header.Get("Location") != "/status.html" || ck == nil {
				t.Fatalf("callback: %d -> %q, cookie %v", resp.StatusCode, resp.Header.Get("Location"), ck)
			}
			if ck.Secure != (tt.proto == "https") || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.MaxAge != 86400 {
				t.Fatalf("session cookie %+v: want Secure=%v, HttpOnly, SameSite=Lax, 24 h", ck, tt.proto == "https")
			}
			if r := request(t, "GET", base+"/whoami", "", map[string]string{"Cookie": ck.Name + "=" + ck.Value}); !strings.Contains(r.body, `"user":"alice"`) {
				t.Fatalf("whoami with the new cookie: %s", r.body)
			}

			// /logout deletes the session, clears the cookie and goes to a
			// safe return_to.
			resp = get(base+"/logout?return_to=/status.html", tt.header, ck)
			cleared := sessionCookie(resp)
			if resp.StatusCode != 307 || resp.Header.Get("Location") != "/status.html" || cleared == nil ||
				cleared.Value != "" || cleared.MaxAge >= 0 || cleared.Secure != (tt.proto == "https") {
				t.Fatalf("logout: %d -> %q, cookie %+v", resp.StatusCode, resp.Header.Get("Location"), cleared)
			}
			if r := request(t, "POST", base+"/control/pause", "", map[string]string{"Authorization": "Bearer " + ck.Value}); r.code != 401 {
				t.Fatalf("session still valid after logout: %d", r.code)
			}
			if resp := get(base+"/logout?return_to=https://evil.example/", nil, nil); resp.Header.Get("Location") != "/" {
				t.Fatalf("logout to an unsafe return_to went to %q", resp.Header.Get("Location"))
			}
		})
	}
}
