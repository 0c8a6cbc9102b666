package pglocal_test

import (
	"context"
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
