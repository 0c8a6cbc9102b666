package pglocal_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/store/pglocal"
)

// A throwaway cluster from the system's binaries starts, serves and stops.
func TestThrowawayCluster(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, err := pglocal.StartThrowaway(ctx, "", lifecycle.Discard())
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = srv.Stop()
		}
	}()
	url, err := pglocal.EnsureDatabase(ctx, srv.URL, "ebs")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pglocal.EnsureDatabase(ctx, srv.URL, "ebs"); err != nil {
		t.Fatalf("EnsureDatabase is not idempotent: %v", err)
	}
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	var db string
	if err := c.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || db != "ebs" {
		t.Fatalf("db %q %v", db, err)
	}
	c.Close(ctx)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped = true
	if _, err := pgx.Connect(ctx, url); err == nil {
		t.Fatal("cluster still answers after Stop")
	}
}

func TestFindPrefersLocalServer(t *testing.T) {
	t.Setenv("EBS_DATABASE_URL", "")
	ctx := context.Background()
	srv, err := pglocal.Find(ctx, pglocal.Options{Logger: lifecycle.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	if srv.Origin != "local" {
		t.Fatalf("origin %s: the machine's PostgreSQL on 5432 should be used", srv.Origin)
	}
}

// Starting a throwaway cluster in a new temp dir leaves the system temp
// dir's mode alone (it once lost its sticky bit and world-write as root).
func TestThrowawayKeepsTempDirMode(t *testing.T) {
	before, err := os.Stat(os.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	srv, err := pglocal.StartThrowaway(ctx, "", lifecycle.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(os.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if before.Mode() != after.Mode() {
		t.Fatalf("%s mode changed from %v to %v", os.TempDir(), before.Mode(), after.Mode())
	}
}

// A cluster in a caller's private directory (t.TempDir is 0700 and, as
// root, not reachable by the postgres user) starts and serves.
func TestThrowawayInGivenDir(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "pg")
	srv, err := pglocal.StartThrowaway(ctx, dir, lifecycle.Discard())
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	c, err := pgx.Connect(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "PG_VERSION")); err != nil {
		t.Fatalf("cluster not in the given dir: %v", err)
	}
}
