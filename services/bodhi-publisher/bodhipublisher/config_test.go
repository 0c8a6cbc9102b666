package bodhipublisher

import (
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fedora-eln/ebs/libs/bodhi"
)

// The Bodhi client is configured by EBS_BODHI_CLIENT_ID and
// EBS_BODHI_CLIENT_SECRET[_FILE]; the EBS_OIDC_CLIENT_* names it used before
// (which also configure status's login client) still work as fallbacks and
// are reported as deprecated. Not parallel: it sets the environment.
func TestClientCredentialsFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	oldSecretFile := file("old", "old-secret\n")
	vars := []string{"EBS_BODHI_CLIENT_ID", "EBS_BODHI_CLIENT_SECRET", "EBS_BODHI_CLIENT_SECRET_FILE",
		"EBS_OIDC_CLIENT_ID", "EBS_OIDC_CLIENT_SECRET", "EBS_OIDC_CLIENT_SECRET_FILE", "EBS_BODHI_TOKEN_FILE"}
	tests := []struct {
		name             string
		env              map[string]string
		args             []string
		bodhiSecret      string // what config.Secrets read from the environment
		wantID, wantSecr string
		wantDeprecated   []string
		err              string
	}{
		{"current names", map[string]string{"EBS_BODHI_CLIENT_ID": "ebs-bot"}, nil, "bodhi-secret", "ebs-bot", "bodhi-secret", nil, ""},
		{"current names win over status's secret", map[string]string{"EBS_BODHI_CLIENT_ID": "ebs-bot", "EBS_OIDC_CLIENT_SECRET_FILE": oldSecretFile},
			nil, "bodhi-secret", "ebs-bot", "bodhi-secret", []string{"EBS_OIDC_CLIENT_SECRET_FILE (use EBS_BODHI_CLIENT_SECRET_FILE)"}, ""},
		{"old names", map[string]string{"EBS_OIDC_CLIENT_ID": "old-bot", "EBS_OIDC_CLIENT_SECRET_FILE": oldSecretFile}, nil, "",
			"old-bot", "old-secret", []string{"EBS_OIDC_CLIENT_ID (use EBS_BODHI_CLIENT_ID)", "EBS_OIDC_CLIENT_SECRET_FILE (use EBS_BODHI_CLIENT_SECRET_FILE)"}, ""},
		{"old inline secret", map[string]string{"EBS_BODHI_CLIENT_ID": "ebs-bot", "EBS_OIDC_CLIENT_SECRET": "inline"}, nil, "",
			"ebs-bot", "inline", []string{"EBS_OIDC_CLIENT_SECRET (use EBS_BODHI_CLIENT_SECRET)"}, ""},
		{"old flags", nil, []string{"-oidc-client-id", "flag-bot", "-oidc-client-secret-file", oldSecretFile}, "", "flag-bot", "old-secret", nil, ""},
		{"no secret", map[string]string{"EBS_BODHI_CLIENT_ID": "ebs-bot"}, nil, "", "", "", nil, "EBS_BODHI_CLIENT_SECRET_FILE or EBS_BODHI_CLIENT_SECRET"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, v := range vars {
				t.Setenv(v, "")
				os.Unsetenv(v)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var c Config
			fs := flag.NewFlagSet("bodhi-publisher", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			c.Flags(fs)
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			c.OIDCTokenURL = "http://127.0.0.1:1/token" // no discovery
			ts, err := c.tokens(context.Background(), tt.bodhiSecret)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			cc, ok := ts.(*bodhi.ClientCredentials)
			if !ok || cc.Config.ClientID != tt.wantID || cc.Config.ClientSecret != tt.wantSecr {
				t.Fatalf("token source %#v, want client %s with secret %s", ts, tt.wantID, tt.wantSecr)
			}
			if !slices.Equal(c.deprecated, tt.wantDeprecated) {
				t.Fatalf("deprecated %q, want %q", c.deprecated, tt.wantDeprecated)
			}
		})
	}
}
