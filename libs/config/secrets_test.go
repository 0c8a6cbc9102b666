package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-eln/ebs/libs/config"
)

func TestSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pw := write("dbpw", "s3cret-db\nignored second line\n")
	keytab := write("keytab", "binary")
	empty := write("empty", "\n")
	env := func(m map[string]string) func(string) (string, bool) {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	s, err := config.LoadSecrets(env(map[string]string{
		"EBS_DB_PASSWORD_FILE":   pw,
		"EBS_SMTP_PASSWORD":      "smtp-inline",
		"EBS_OIDC_CLIENT_SECRET": "oidc",
		"EBS_KOJI_KEYTAB":        keytab,
	}))
	if err != nil {
		t.Fatal(err)
	}
	if s.DBPassword != "s3cret-db" || s.SMTPPassword != "smtp-inline" || s.OIDCClientSecret != "oidc" || s.KojiKeytab != keytab {
		t.Fatalf("%#v", s)
	}
	for _, shown := range []string{s.String(), s.GoString()} {
		if strings.Contains(shown, "s3cret") || strings.Contains(shown, "smtp-inline") {
			t.Fatalf("a secret leaked into %q", shown)
		}
	}
	tests := []struct {
		name string
		env  map[string]string
		msg  string
	}{
		{"both", map[string]string{"EBS_DB_PASSWORD": "a", "EBS_DB_PASSWORD_FILE": pw}, "both EBS_DB_PASSWORD and EBS_DB_PASSWORD_FILE"},
		{"missing file", map[string]string{"EBS_SMTP_PASSWORD_FILE": filepath.Join(dir, "nope")}, "EBS_SMTP_PASSWORD_FILE"},
		{"empty file", map[string]string{"EBS_OIDC_CLIENT_SECRET_FILE": empty}, "is empty"},
		{"missing keytab", map[string]string{"EBS_KOJI_KEYTAB": filepath.Join(dir, "nope")}, "EBS_KOJI_KEYTAB"},
		{"key without cert", map[string]string{"EBS_KOJI_KEY": keytab}, "without EBS_KOJI_CERT"},
	}
	for _, tt := range tests {
		if _, err := config.LoadSecrets(env(tt.env)); err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: got %v", tt.name, err)
		}
	}
	// OIDC enabled needs its client secret.
	c, err := config.LoadFile("testdata/split/static.yaml", "testdata/split/dynamic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := (config.Secrets{}).Require(c); err == nil || !strings.Contains(err.Error(), "EBS_OIDC_CLIENT_SECRET") {
		t.Errorf("Require without the OIDC secret: %v", err)
	}
	if err := s.Require(c); err != nil {
		t.Error(err)
	}
	if got := (config.Secrets{}).KojiPrincipalFor(config.Koji{Username: "eln-buildsync", Profile: "stg"}); got != "eln-buildsync@STG.FEDORAPROJECT.ORG" {
		t.Errorf("principal %q", got)
	}
	if got := (config.Secrets{}).KojiPrincipalFor(c.Koji); got != "eln-buildsync@FEDORAPROJECT.ORG" {
		t.Errorf("principal %q", got)
	}
}

func TestReadSecretFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tt := range []struct {
		content, want, err string
	}{
		{"s3cret\n", "s3cret", ""},
		{"s3cret\r\nsecond line\n", "s3cret", ""},
		{"no newline", "no newline", ""},
		{"\nsecond line\n", "", "is empty"},
		{"", "", "is empty"},
	} {
		p := filepath.Join(dir, "s")
		if err := os.WriteFile(p, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := config.ReadSecretFile(p)
		if got != tt.want || (tt.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ReadSecretFile(%q) = %q, %v; want %q, %q", tt.content, got, err, tt.want, tt.err)
		}
	}
	if _, err := config.ReadSecretFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("a missing file gave no error")
	}
}
