package auth_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/auth"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/oidctest"
	"github.com/fedora-eln/ebs/libs/store"
	"github.com/fedora-eln/ebs/libs/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// user is an account at the test provider.
type user struct {
	name   string
	groups []string
}

var (
	admin    = user{"alice", []string{"packager", "eln-admins"}}
	outsider = user{"mallory", []string{"packager"}}
)

type fixture struct {
	prov  *oidctest.Provider
	a     *auth.Authenticator
	st    *store.Store
	app   *httptest.Server
	calls int
}

func setup(t *testing.T, enabled bool) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, pgtest.URL(t), store.Options{Logger: lifecycle.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	f := &fixture{prov: oidctest.Start(t, oidctest.Options{}), st: st}
	for _, u := range []user{admin, outsider} {
		f.prov.AddUser(u.name, u.groups...)
	}
	f.a, err = auth.New(ctx, auth.Config{Enabled: enabled, Issuer: f.prov.Issuer(), ClientID: f.prov.ClientID(),
		ClientSecret: f.prov.ClientSecret(), Scopes: []string{"openid", "profile"}, AdminGroups: []string{"eln-admins"},
		Logger: lifecycle.Discard()}, st)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", f.a.Login)
	mux.HandleFunc("GET /oidc/callback", f.a.Callback)
	mux.HandleFunc("GET /logout", f.a.Logout)
	protected := f.a.RequireAdmin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.FromContext(r.Context())
		f.calls++
		fmt.Fprintf(w, "hello %s via %s", p.Username, p.Via)
	}))
	mux.Handle("/protected", protected)
	mux.Handle("GET /whoami", f.a.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.FromContext(r.Context())
		fmt.Fprintf(w, "%v %s", ok, p.Username)
	})))
	f.app = httptest.NewServer(mux)
	t.Cleanup(f.app.Close)
	return f
}

func noRedirect(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login runs the browser flow and returns the session cookie.
func (f *fixture) login(t *testing.T, u user) *http.Cookie {
	t.Helper()
	f.prov.LoginAs(u.name)
	jar, _ := cookiejar.New(nil)
	c := noRedirect(jar)
	resp, err := c.Get(f.app.URL + "/login?return_to=/status.html%3Fx=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("/login status %d", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if q.Get("state") == "" || q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" {
		t.Fatalf("authorization request lacks state/PKCE/nonce: %s", loc)
	}
	if q.Get("redirect_uri") != f.app.URL+"/oidc/callback" {
		t.Fatalf("redirect_uri %q", q.Get("redirect_uri"))
	}
	// The provider redirects back to the callback.
	resp, err = c.Get(loc.String())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cb := resp.Header.Get("Location")
	resp, err = c.Get(cb)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "/status.html?x=1" {
		t.Fatalf("callback: %d -> %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// The original authenticates to the token endpoint with client_secret_basic.
	if m := f.prov.LastTokenAuthMethod(); m != "client_secret_basic" {
		t.Fatalf("token request authenticated with %q, want client_secret_basic", m)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == auth.CookieName {
			if !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.MaxAge != 86400 || ck.Path != "/" || len(ck.Value) != 64 {
				t.Fatalf("session cookie attributes: %+v", ck)
			}
			return ck
		}
	}
	t.Fatal("no session cookie")
	return nil
}

func do(t *testing.T, method, u string, header http.Header, cookie *http.Cookie) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, u, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	if cookie != nil {
		req.AddCookie(cookie)
	}
	resp, err := noRedirect(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return resp.StatusCode, b.String(), resp.Header
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func TestLoginFlowAndProtectedRoutes(t *testing.T) {
	f := setup(t, true)
	ck := f.login(t, admin)
	outsiderCk := f.login(t, outsider)

	access, idToken := f.prov.Token(admin.name), f.prov.IDToken(admin.name, "", time.Hour)
	outAccess, outID := f.prov.Token(outsider.name), f.prov.IDToken(outsider.name, "", time.Hour)
	expiredID := f.prov.IDToken(admin.name, "", -time.Hour)
	revoked := f.prov.Token(admin.name)
	f.prov.Revoke(revoked)

	expired := auth.Session{ID: auth.NewSessionID(), Username: "alice", Groups: admin.groups,
		CreatedAt: time.Now().Add(-25 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)}
	if err := f.st.CreateSession(context.Background(), expired); err != nil {
		t.Fatal(err)
	}
	p := f.app.URL + "/protected"
	tests := []struct {
		name   string
		method string
		header http.Header
		cookie *http.Cookie
		want   int
		body   string
	}{
		{"GET without credentials redirects to login", "GET", nil, nil, 307, ""},
		{"POST without credentials", "POST", nil, nil, 401, ""},
		{"GET with admin cookie", "GET", nil, ck, 200, "hello alice via cookie"},
		{"POST with admin cookie only", "POST", nil, ck, 403, "cookie alone"},
		{"POST with admin session bearer", "POST", bearer(ck.Value), nil, 200, "hello alice via session"},
		{"POST with admin ID token", "POST", bearer(idToken), nil, 200, "hello alice via id-token"},
		{"POST with admin access token", "POST", bearer(access), nil, 200, "hello alice via access-token"},
		{"POST wrong group session", "POST", bearer(outsiderCk.Value), nil, 403, "mallory"},
		{"POST wrong group ID token", "POST", bearer(outID), nil, 403, "mallory"},
		{"POST wrong group access token", "POST", bearer(outAccess), nil, 403, "mallory"},
		{"GET wrong group cookie", "GET", nil, outsiderCk, 403, ""},
		{"POST expired session", "POST", bearer(expired.ID), nil, 401, ""},
		{"POST expired ID token", "POST", bearer(expiredID), nil, 401, ""},
		{"POST revoked access token", "POST", bearer(revoked), nil, 401, ""},
		{"POST garbage token", "POST", bearer("nonsense"), nil, 401, ""},
		{"GET expired session cookie", "GET", nil, &http.Cookie{Name: auth.CookieName, Value: expired.ID}, 307, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body, h := do(t, tt.method, p, tt.header, tt.cookie)
			if code != tt.want || !strings.Contains(body, tt.body) {
				t.Fatalf("%s: %d %q, want %d containing %q", tt.name, code, body, tt.want, tt.body)
			}
			if code == 307 && h.Get("Location") != "/login?return_to=%2Fprotected" {
				t.Fatalf("redirect to %q", h.Get("Location"))
			}
		})
	}
	// Logout removes the session.
	code, _, h := do(t, "GET", f.app.URL+"/logout?return_to=https://evil.example/", nil, ck)
	if code != 307 || h.Get("Location") != "/" {
		t.Fatalf("logout: %d %q", code, h.Get("Location"))
	}
	if code, _, _ := do(t, "POST", p, bearer(ck.Value), nil); code != 401 {
		t.Fatalf("session still valid after logout: %d", code)
	}
}

func TestCallbackErrors(t *testing.T) {
	f := setup(t, true)
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"error=access_denied", 401},
		{"state=abc", 400},
		{"code=abc", 400},
		{"code=abc&state=never-issued", 400},
	} {
		if code, body, _ := do(t, "GET", f.app.URL+"/oidc/callback?"+tt.query, nil, nil); code != tt.want {
			t.Errorf("callback?%s: %d %q, want %d", tt.query, code, body, tt.want)
		}
	}
}

func TestDisabledAuthIsAnonymousAdmin(t *testing.T) {
	f := setup(t, false)
	if code, body, _ := do(t, "POST", f.app.URL+"/protected", nil, nil); code != 200 || body != "hello anonymous via disabled" {
		t.Fatalf("disabled: %d %q", code, body)
	}
	if code, _, _ := do(t, "GET", f.app.URL+"/login", nil, nil); code != 404 {
		t.Fatalf("/login with auth disabled: %d, want 404", code)
	}
}

func TestSafeReturn(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"":                      "/d",
		"/status.html":          "/status.html",
		"/trigger?show_token=1": "/trigger?show_token=1",
		"//evil.example/":       "/d",
		"https://evil.example/": "/d",
		"/\\evil.example":       "/d",
		"relative":              "/d",
	} {
		if got := auth.SafeReturn(in, "/d"); got != want {
			t.Errorf("SafeReturn(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAuthorizeErrors(t *testing.T) {
	t.Parallel()
	if err := auth.Authorize(auth.Principal{}); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("nobody: %v", err)
	}
	if err := auth.Authorize(auth.Principal{Username: "x"}); !errors.Is(err, auth.ErrForbidden) {
		t.Errorf("non-admin: %v", err)
	}
	if err := auth.Authorize(auth.Principal{Username: "x", Admin: true}); err != nil {
		t.Errorf("admin: %v", err)
	}
}

// The YAML open_id_connect section names endpoints only (as production's
// does); the issuer is found by discovery above auth_url, so ID tokens are
// verified (bearers and the login's nonce) without -oidc-issuer.
func TestEndpointsOnlyConfigDerivesIssuer(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, pgtest.URL(t), store.Options{Logger: lifecycle.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	prov := oidctest.Start(t, oidctest.Options{})
	prov.AddUser(admin.name, admin.groups...)
	for _, tt := range []struct {
		name    string
		authURL string
		wantVia string // of an ID-token bearer; "" when refused
	}{
		{"auth_url under the issuer", prov.AuthURL(), "id-token"},
		{"auth_url with a trailing slash", prov.AuthURL() + "/", "id-token"},
		{"no discovery above auth_url", strings.Replace(prov.AuthURL(), "/openidc/", "/elsewhere/x/", 1), ""},
		// A document above auth_url that names another authorization
		// endpoint belongs to some other provider: not trusted.
		{"discovery names another endpoint", prov.Issuer() + "/Authorization/x", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			a, err := auth.New(ctx, auth.Config{Enabled: true, AuthURL: tt.authURL, TokenURL: prov.TokenURL(),
				UserinfoURL: prov.UserInfoURL(), ClientID: prov.ClientID(), ClientSecret: prov.ClientSecret(),
				AdminGroups: []string{"eln-admins"}, Logger: lifecycle.Discard()}, st)
			if err != nil {
				t.Fatal(err)
			}
			p, err := a.Authenticate(ctx, prov.IDToken(admin.name, "", time.Hour))
			if tt.wantVia == "" {
				if err == nil {
					t.Fatalf("ID token accepted via %s without a trusted issuer", p.Via)
				}
				return
			}
			if err != nil || p.Via != tt.wantVia || p.Username != admin.name || !p.Admin {
				t.Fatalf("ID token bearer: %+v %v, want %s via %s", p, err, admin.name, tt.wantVia)
			}
			// Verification is real: an expired ID token is refused.
			if _, err := a.Authenticate(ctx, prov.IDToken(admin.name, "", -time.Hour)); err == nil {
				t.Fatal("expired ID token accepted")
			}
		})
	}
}

// TestUnknownBearersSpareTheProvider counts the test provider's userinfo
// requests: a session-shaped token the store does not hold (unknown or
// expired) never reaches the provider; any other refused token reaches it
// once per 30 s, however often it is sent; accepted tokens still work.
func TestUnknownBearersSpareTheProvider(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, pgtest.URL(t), store.Options{Logger: lifecycle.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	prov := oidctest.Start(t, oidctest.Options{})
	prov.AddUser(admin.name, admin.groups...)
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	a, err := auth.New(ctx, auth.Config{Enabled: true, Issuer: prov.Issuer(), ClientID: prov.ClientID(), ClientSecret: prov.ClientSecret(),
		AdminGroups: []string{"eln-admins"}, Logger: lifecycle.Discard(), Now: clock}, st)
	if err != nil {
		t.Fatal(err)
	}
	expired := auth.Session{ID: auth.NewSessionID(), Username: admin.name, Groups: admin.groups,
		CreatedAt: time.Now().Add(-25 * time.Hour), ExpiresAt: time.Now().Add(-time.Hour)}
	if err := st.CreateSession(ctx, expired); err != nil {
		t.Fatal(err)
	}
	revoked := prov.Token(admin.name)
	prov.Revoke(revoked)
	outageToken := prov.Token(admin.name)
	steps := []struct {
		name      string
		token     string
		advance   time.Duration
		wantOK    bool
		userinfos int // requests the step adds
	}{
		{"unknown session id", auth.NewSessionID(), 0, false, 0},
		{"expired session id", expired.ID, 0, false, 0},
		{"garbage, first time", "not-a-token", 0, false, 1},
		{"garbage again", "not-a-token", 0, false, 0},
		{"garbage after 29 s", "not-a-token", 29 * time.Second, false, 0},
		{"revoked access token", revoked, 0, false, 1},
		{"revoked again", revoked, 0, false, 0},
		{"garbage after 30 s more", "not-a-token", 30 * time.Second, false, 1},
		{"upper-case hex is not ours", strings.ToUpper(auth.NewSessionID()), 0, false, 1},
		{"valid access token", prov.Token(admin.name), 0, true, 1},
		// A provider outage is no verdict on a token: refused while it
		// lasts, accepted at once after it (not remembered as refused).
		{"outage", outageToken, 0, false, 1},
		{"outage, again", outageToken, 0, false, 1},
		{"after the outage", outageToken, 0, true, 1},
	}
	for _, s := range steps {
		advance(s.advance)
		prov.UserInfoOutage(0)
		if strings.HasPrefix(s.name, "outage") {
			prov.UserInfoOutage(http.StatusServiceUnavailable)
		}
		before := prov.Count("userinfo")
		p, err := a.Authenticate(ctx, s.token)
		if s.wantOK != (err == nil) || (err != nil && !errors.Is(err, auth.ErrUnauthenticated)) {
			t.Errorf("%s: %+v %v, want ok=%v", s.name, p, err, s.wantOK)
		}
		if got := prov.Count("userinfo") - before; got != s.userinfos {
			t.Errorf("%s: %d userinfo requests, want %d", s.name, got, s.userinfos)
		}
	}
}
