package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// EnvDatabaseURL names the variable holding the status database URL.
const EnvDatabaseURL = "EBS_DATABASE_URL"

// DefaultURL is the database used when none is configured (the local demo).
const DefaultURL = "postgres://postgres@127.0.0.1:5432/ebs?sslmode=disable"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// ErrNotFound is returned by lookups of a row that does not exist.
var ErrNotFound = errors.New("store: not found")

// Store is the status database.
type Store struct {
	Pool *pgxpool.Pool
	log  *slog.Logger
}

// Options configure Open.
type Options struct {
	Logger *slog.Logger
	// CreateDatabase creates the database named in the URL when it does not
	// exist (connecting to the server's "postgres" database to do so).
	CreateDatabase bool
	// SkipMigrations leaves the schema alone (tests of the migrations).
	SkipMigrations bool
}

// Open connects to url, optionally creates the database, and migrates the
// schema to the newest version.
func Open(ctx context.Context, dbURL string, o Options) (*Store, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.CreateDatabase {
		if err := EnsureDatabase(ctx, dbURL); err != nil {
			return nil, err
		}
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("store: pool: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect to %s: %w", Redact(dbURL), err)
	}
	s := &Store{Pool: pool, log: o.Logger}
	if !o.SkipMigrations {
		if _, err := s.Migrate(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close closes the pool.
func (s *Store) Close() { s.Pool.Close() }

// EnsureDatabase creates the database of dbURL when it is missing.
func EnsureDatabase(ctx context.Context, dbURL string) error {
	cfg, err := pgx.ParseConfig(dbURL)
	if err != nil {
		return fmt.Errorf("store: parse database URL: %w", err)
	}
	name := cfg.Database
	if name == "" || name == "postgres" {
		return nil
	}
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("store: connect to create database %s: %w", name, err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("store: look up database %s: %w", name, err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "42P04") { // created meanwhile
		return fmt.Errorf("store: create database %s: %w", name, err)
	}
	return nil
}

// Redact hides the password of a database URL for logs.
func Redact(dbURL string) string {
	u, err := url.Parse(dbURL)
	if err != nil || u.User == nil {
		return dbURL
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Migrations returns the embedded migration files (for tests and tools).
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err)
	}
	return sub
}

func (s *Store) provider() (*goose.Provider, func(), error) {
	db := stdlib.OpenDBFromPool(s.Pool)
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("store: migration lock: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, Migrations(),
		goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("store: migrations: %w", err)
	}
	return p, func() { _ = db.Close() }, nil
}

// Migrate applies every pending migration (under a PostgreSQL advisory lock,
// so replicas starting together migrate once) and returns the new version.
func (s *Store) Migrate(ctx context.Context) (int64, error) {
	p, done, err := s.provider()
	if err != nil {
		return 0, err
	}
	defer done()
	res, err := p.Up(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: migrate up: %w", err)
	}
	for _, r := range res {
		s.log.Info("applied migration", "version", r.Source.Version, "file", r.Source.Path, "duration", r.Duration)
	}
	v, err := p.GetDBVersion(ctx)
	if err != nil {
		return 0, fmt.Errorf("store: schema version: %w", err)
	}
	return v, nil
}

// MigrateDown rolls the schema back to version (0 drops everything).
func (s *Store) MigrateDown(ctx context.Context, version int64) error {
	p, done, err := s.provider()
	if err != nil {
		return err
	}
	defer done()
	if _, err := p.DownTo(ctx, version); err != nil {
		return fmt.Errorf("store: migrate down to %d: %w", version, err)
	}
	return nil
}

// Version returns the schema version.
func (s *Store) Version(ctx context.Context) (int64, error) {
	p, done, err := s.provider()
	if err != nil {
		return 0, err
	}
	defer done()
	return p.GetDBVersion(ctx)
}

// ProjectionTables lists the tables the projection writes, in an order safe
// for TRUNCATE (used by Reset before a replay).
var ProjectionTables = []string{
	"projected_events", "requests", "manual_rebuilds", "batches", "batch_phases",
	"batch_packages", "slices", "attempts", "tasks", "side_tags", "commands",
	"bodhi_updates", "dead_letters", "config_events", "package_history",
}

// Reset empties every projection table (sessions and mails stay), so the
// stream can be replayed from its start into a clean history.
func (s *Store) Reset(ctx context.Context) error {
	_, err := s.Pool.Exec(ctx, "TRUNCATE "+strings.Join(ProjectionTables, ", "))
	if err != nil {
		return fmt.Errorf("store: reset: %w", err)
	}
	return nil
}
