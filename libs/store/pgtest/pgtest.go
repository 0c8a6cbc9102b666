// Package pgtest gives tests a real PostgreSQL database of their own. The
// server comes from EBS_TEST_DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres); each test package gets a fresh
// database, dropped when the package's tests end. An unreachable server
// fails the tests with a message saying what to start; nothing is skipped.
//
// Use it from TestMain:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// and get the package's database with pgtest.URL(t) or pgtest.Pool(t).
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// EnvURL names the server URL variable.
const EnvURL = "EBS_TEST_DATABASE_URL"

// DefaultURL is used when EnvURL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var (
	dbURL   string
	initErr error
)

// ServerURL is the admin URL of the test server.
func ServerURL() string {
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	return DefaultURL
}

// Main creates the package database, runs the tests and drops it.
func Main(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	name, err := Create(ctx, "ebs_test_"+sanitize(filepath.Base(os.Args[0])))
	cancel()
	if err != nil {
		initErr = err
	} else {
		dbURL = WithDatabase(ServerURL(), name)
	}
	code := m.Run()
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if derr := Drop(ctx, name); derr != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", derr)
		}
		cancel()
	}
	os.Exit(code)
}

// URL returns the package database's URL, failing t when there is none.
func URL(t testing.TB) string {
	t.Helper()
	if initErr != nil {
		t.Fatalf("pgtest: %v", initErr)
	}
	if dbURL == "" {
		t.Fatal("pgtest: call pgtest.Main(m) from TestMain")
	}
	return dbURL
}

// Pool returns a pool on the package database, closed at test cleanup.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	p, err := pgxpool.New(context.Background(), URL(t))
	if err != nil {
		t.Fatalf("pgtest: pool: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}

// NewDatabase creates a further database for one test (dropped at cleanup)
// and returns its URL: for tests that need an empty schema of their own.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name, err := Create(ctx, "ebs_test_"+sanitize(t.Name()))
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := Drop(ctx, name); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return WithDatabase(ServerURL(), name)
}

// Create makes a uniquely named database starting with prefix.
func Create(ctx context.Context, prefix string) (string, error) {
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return "", fmt.Errorf("cannot reach the test PostgreSQL at %s (set %s, or start it: "+
			"pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start): %w", redact(ServerURL()), EnvURL, err)
	}
	defer conn.Close(ctx)
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := prefix
	if len(name) > 50 {
		name = name[:50]
	}
	name += "_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return name, nil
}

// Drop removes a database, disconnecting its sessions.
func Drop(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, ServerURL())
	if err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// WithDatabase returns url with its database replaced by name.
func WithDatabase(url, name string) string {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return url
	}
	rest := ""
	if i := strings.Index(url, "?"); i >= 0 {
		rest = url[i:]
	}
	user := cfg.User
	if cfg.Password != "" {
		user += ":" + cfg.Password
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s%s", user, cfg.Host, cfg.Port, name, rest)
}

func redact(url string) string {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return "(unparsable URL)"
	}
	return fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
}

func sanitize(s string) string {
	s = strings.ToLower(strings.TrimSuffix(s, ".test"))
	var b strings.Builder
	for _, c := range s {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
