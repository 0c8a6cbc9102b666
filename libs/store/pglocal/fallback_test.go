package pglocal

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-eln/ebs/libs/lifecycle"
)

// closedURL is a PostgreSQL URL on a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", port)
}

// The fallback chain, each step hidden in turn: EBS_DATABASE_URL wins over
// the server on 127.0.0.1:5432 (which answers on this machine), a set but
// dead EBS_DATABASE_URL is an error rather than a silent fallback, and with
// no server and no binaries the error says what to install.
func TestFindFallbackChain(t *testing.T) {
	const envURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&application_name=pglocal-env"
	const optURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&application_name=pglocal-option"
	dead := closedURL(t)
	cases := []struct {
		name       string
		env        string // EBS_DATABASE_URL
		opt        string // Options.EnvURL
		noLocal    bool   // nothing answers where Find looks for a local server
		noBinaries bool   // no initdb/pg_ctl anywhere
		wantOrigin string
		wantURL    string
		wantErr    []string
		wantIs     error
	}{
		{name: "env wins over local", env: envURL, wantOrigin: "env", wantURL: envURL},
		{name: "option wins over env", env: envURL, opt: optURL, wantOrigin: "env", wantURL: optURL},
		{name: "local without env", wantOrigin: "local", wantURL: localURL},
		{name: "dead env is an error", env: dead, wantErr: []string{"EBS_DATABASE_URL does not answer"}},
		{name: "nothing at all", noLocal: true, noBinaries: true, wantIs: ErrNoBinaries,
			wantErr: []string{"initdb", "dnf install postgresql-server", "apt-get install postgresql", "EBS_DATABASE_URL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("EBS_DATABASE_URL", tc.env)
			if tc.noLocal {
				old := localURL
				localURL = dead
				t.Cleanup(func() { localURL = old })
			}
			if tc.noBinaries {
				old := binGlob
				binGlob = filepath.Join(t.TempDir(), "*", "bin")
				t.Cleanup(func() { binGlob = old })
				t.Setenv("PATH", t.TempDir())
			}
			srv, err := Find(context.Background(), Options{EnvURL: tc.opt, Dir: filepath.Join(t.TempDir(), "pg"), Logger: lifecycle.Discard()})
			if len(tc.wantErr) > 0 {
				if err == nil {
					_ = srv.Stop()
					t.Fatalf("found %s (%s), want an error", srv.URL, srv.Origin)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
					t.Errorf("error %v is not %v", err, tc.wantIs)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Stop()
			if srv.Origin != tc.wantOrigin || srv.URL != tc.wantURL {
				t.Fatalf("found %s (%s), want %s (%s)", srv.URL, srv.Origin, tc.wantURL, tc.wantOrigin)
			}
		})
	}
}
