package status_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/oidctest"
	ebsstatus "github.com/fedora-eln/ebs/services/status/status"
	"github.com/fedora-eln/ebs/services/status/status/statustest"
	"os"
	"path/filepath"
)

// TestLoginAgainstIpsilonLikeProvider runs the browser login and an opaque
// access token (checked at userinfo) against the project's shared,
// Ipsilon-shaped test provider.
func TestLoginAgainstIpsilonLikeProvider(t *testing.T) {
	t.Parallel()
	p := oidctest.Start(t, oidctest.Options{})
	p.AddUser("alice", "packager", "eln-admins")
	p.AddUser("bob", "packager")
	p.LoginAs("alice")
	secret := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secret, []byte(p.ClientSecret()), 0o600); err != nil {
		t.Fatal(err)
	}
	env := statustest.Start(t, statustest.Options{Config: ebsstatus.Config{
		OIDCIssuer: p.Issuer(), OIDCClientSecretFile: secret,
		Settings: &config.Config{OIDC: &config.OIDC{AuthURL: p.AuthURL(), TokenEndpoint: p.TokenURL(),
			UserinfoEndpoint: p.UserInfoURL(), ClientID: p.ClientID(), AdminGroups: []string{"eln-admins"},
			Scopes: []string{"openid", "profile", "https://id.fedoraproject.org/scope/groups"}}},
	}})
	c := &http.Client{Jar: newJar(t), Timeout: 20 * time.Second}
	resp, err := c.Get(env.HTTPURL() + "/login?return_to=/whoami")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"user":"alice"`) || !strings.Contains(string(body), `"admin":true`) {
		t.Fatalf("login: %d %s", resp.StatusCode, body)
	}
	if q := p.LastAuthorizeRequest(); q.Get("code_challenge_method") != "S256" || q.Get("state") == "" || q.Get("nonce") == "" {
		t.Errorf("authorize request %v", q)
	}
	for _, tt := range []struct {
		user string
		want int
	}{{"alice", 200}, {"bob", 403}} {
		r := request(t, "POST", env.HTTPURL()+"/control/pause", "", map[string]string{"Authorization": "Bearer " + p.Token(tt.user)})
		if r.code != tt.want {
			t.Errorf("pause with %s's access token: %d %s, want %d", tt.user, r.code, r.body, tt.want)
		}
	}
}
