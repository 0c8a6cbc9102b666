package status

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-eln/ebs/libs/config"
)

func TestLoadSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	oidcFile, smtpFile, dbFile := write("oidc", "oidc-from-file\n"), write("smtp", "smtp-from-file\n"), write("db", "db-from-file\n")
	empty := write("empty", "")
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	tests := []struct {
		name string
		cfg  Config
		env  map[string]string
		want secrets
		err  string
	}{
		{"nothing", Config{}, nil, secrets{}, ""},
		{"environment, inline", Config{}, map[string]string{"EBS_OIDC_CLIENT_SECRET": "o", "EBS_SMTP_PASSWORD": "s", "EBS_DB_PASSWORD": "d"},
			secrets{"o", "s", "d"}, ""},
		{"environment, files", Config{}, map[string]string{"EBS_OIDC_CLIENT_SECRET_FILE": oidcFile, "EBS_SMTP_PASSWORD_FILE": smtpFile,
			"EBS_DB_PASSWORD_FILE": dbFile}, secrets{"oidc-from-file", "smtp-from-file", "db-from-file"}, ""},
		{"files named in Config", Config{OIDCClientSecretFile: oidcFile, SMTPPasswordFile: smtpFile}, nil,
			secrets{oidcClientSecret: "oidc-from-file", smtpPassword: "smtp-from-file"}, ""},
		{"the old chart's database variable", Config{}, map[string]string{"EBS_DATABASE_PASSWORD_FILE": dbFile},
			secrets{dbPassword: "db-from-file"}, ""},
		{"old and new database variables", Config{}, map[string]string{"EBS_DATABASE_PASSWORD_FILE": dbFile, "EBS_DB_PASSWORD": "d"},
			secrets{}, "give the database password once"},
		{"inline and file", Config{}, map[string]string{"EBS_OIDC_CLIENT_SECRET": "o", "EBS_OIDC_CLIENT_SECRET_FILE": oidcFile},
			secrets{}, "both EBS_OIDC_CLIENT_SECRET and EBS_OIDC_CLIENT_SECRET_FILE"},
		{"empty file in Config", Config{SMTPPasswordFile: empty}, nil, secrets{}, "SMTP password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := loadSecrets(tt.cfg, func(k string) (string, bool) { v, ok := tt.env[k]; return v, ok }, quiet)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
	if err := (secrets{}).requireFor(&config.Config{OIDC: &config.OIDC{ClientID: "ebs"}}); err == nil ||
		!strings.Contains(err.Error(), "EBS_OIDC_CLIENT_SECRET_FILE") {
		t.Errorf("OIDC on without a secret: %v", err)
	}
	if err := (secrets{}).requireFor(&config.Config{}); err != nil {
		t.Errorf("OIDC off: %v", err)
	}
}

func TestWithDBPassword(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		url, pw, want, err string
	}{
		{"postgres://postgres@127.0.0.1:5432/ebs", "", "postgres://postgres@127.0.0.1:5432/ebs", ""},
		{"postgres://ebs@db:5432/ebs?sslmode=require", "p@ss/word", "postgres://ebs:p%40ss%2Fword@db:5432/ebs?sslmode=require", ""},
		{"postgresql://db/ebs", "pw", "postgresql://:pw@db/ebs", ""},
		{"postgres://ebs:old@db/ebs", "pw", "", "give it once"},
		{"host=db user=ebs password=x", "pw", "", "postgres:// database URL"},
	} {
		got, err := withDBPassword(tt.url, tt.pw)
		if got != tt.want || (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("withDBPassword(%q) = %q, %v; want %q, %q", tt.url, got, err, tt.want, tt.err)
		}
		if err != nil && strings.Contains(err.Error(), "password=x") {
			t.Errorf("the error shows the connection string's password: %v", err)
		}
	}
}
