// Package pglocal finds a PostgreSQL for local runs (`ebs demo`, end-to-end
// tests): the URL in EBS_DATABASE_URL, else a server answering on
// 127.0.0.1:5432, else a throwaway cluster made with the system's initdb and
// pg_ctl in a temporary directory (run as the postgres user when the process
// is root, since PostgreSQL refuses to run as root; the directories above the
// cluster then get o+x where they lack it, each change logged at WARN).
package pglocal

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server is a PostgreSQL ebs can use.
type Server struct {
	// URL of an admin database (postgres) on the server.
	URL string
	// Origin says where it came from: "env", "local" or "throwaway".
	Origin string
	stop   func() error
}

// Stop stops a throwaway cluster (a no-op otherwise).
func (s *Server) Stop() error {
	if s.stop == nil {
		return nil
	}
	return s.stop()
}

// Options configure Find.
type Options struct {
	// EnvURL overrides EBS_DATABASE_URL lookup when set.
	EnvURL string
	// Dir holds a throwaway cluster (default: a new temp dir, removed by Stop).
	Dir    string
	Logger *slog.Logger
}

// Find returns a usable server, starting a throwaway cluster if needed.
func Find(ctx context.Context, o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if u := o.EnvURL; u != "" || os.Getenv("EBS_DATABASE_URL") != "" {
		if u == "" {
			u = os.Getenv("EBS_DATABASE_URL")
		}
		if err := ping(ctx, u); err != nil {
			return nil, fmt.Errorf("pglocal: EBS_DATABASE_URL does not answer: %w", err)
		}
		return &Server{URL: u, Origin: "env"}, nil
	}
	if ping(ctx, localURL) == nil {
		return &Server{URL: localURL, Origin: "local"}, nil
	}
	o.Logger.Info("no PostgreSQL on 127.0.0.1:5432; starting a throwaway cluster")
	return StartThrowaway(ctx, o.Dir, o.Logger)
}

// localURL and binGlob are where Find and BinDir look; tests point them
// elsewhere to walk the fallback chain on a machine that has PostgreSQL.
var (
	localURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	binGlob  = "/usr/lib/postgresql/*/bin"
)

func ping(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	return c.Ping(ctx)
}

// ErrNoBinaries says how to get PostgreSQL.
var ErrNoBinaries = errors.New("pglocal: no PostgreSQL server binaries (initdb, pg_ctl) found; " +
	"install them (Fedora: dnf install postgresql-server; Debian/Ubuntu: apt-get install postgresql) or set EBS_DATABASE_URL")

// BinDir finds the newest /usr/lib/postgresql/*/bin with initdb and pg_ctl,
// or a directory on PATH holding both.
func BinDir() (string, error) {
	dirs, _ := filepath.Glob(binGlob)
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if exists(filepath.Join(d, "initdb")) && exists(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if exists(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func versionOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// StartThrowaway creates and starts a cluster in dir (a temp dir when empty).
// As root it runs the server as the postgres user and adds o+x to dir and
// every directory above it that lacks it (searchable), logging each change
// at WARN.
func StartThrowaway(ctx context.Context, dir string, log *slog.Logger) (*Server, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	removeDir := false
	if dir == "" {
		if dir, err = os.MkdirTemp("", "ebs-pg-"); err != nil {
			return nil, fmt.Errorf("pglocal: %w", err)
		}
		removeDir = true
	}
	data, run := filepath.Join(dir, "data"), filepath.Join(dir, "run")
	asPostgres := os.Geteuid() == 0
	var uid, gid int
	if asPostgres {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pglocal: running as root needs a postgres user to run the server: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	// dir is a wrapper the server only needs to traverse; data and run
	// belong to the user running the server.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("pglocal: %w", err)
	}
	for _, d := range []string{data, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("pglocal: %w", err)
		}
		if asPostgres {
			if err := os.Chown(d, uid, gid); err != nil {
				return nil, fmt.Errorf("pglocal: %w", err)
			}
		}
	}
	if asPostgres {
		if err := searchable(dir, log); err != nil {
			return nil, err
		}
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := func(name string, args ...string) *exec.Cmd {
		path := filepath.Join(bin, name)
		if asPostgres {
			return exec.CommandContext(ctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
		}
		return exec.CommandContext(ctx, path, args...)
	}
	if out, err := cmd("initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pglocal: initdb: %w\n%s", err, out)
	}
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c synchronous_commit=off -c full_page_writes=off", port, run)
	if out, err := cmd("pg_ctl", "-D", data, "-l", filepath.Join(run, "postgres.log"), "-w", "-o", opts, "start").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pglocal: pg_ctl start: %w\n%s", err, out)
	}
	url := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	log.Info("throwaway PostgreSQL started", "url", url, "dir", dir)
	stop := func() error {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		path := filepath.Join(bin, "pg_ctl")
		args := []string{"-D", data, "-m", "fast", "-w", "stop"}
		var c *exec.Cmd
		if asPostgres {
			c = exec.CommandContext(sctx, "runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
		} else {
			c = exec.CommandContext(sctx, path, args...)
		}
		out, err := c.CombinedOutput()
		if removeDir {
			_ = os.RemoveAll(dir)
		}
		if err != nil {
			return fmt.Errorf("pglocal: pg_ctl stop: %w\n%s", err, out)
		}
		return nil
	}
	return &Server{URL: url, Origin: "throwaway", stop: stop}, nil
}

// searchable lets other users (the postgres user) traverse dir and every
// directory above it, up to /, by adding o+x where it is missing: when the
// process runs as root the server runs as postgres, which must reach its
// cluster in dir. This changes directories outside dir — a cluster under
// /root makes /root 0700 -> 0701 — so each change is logged at WARN with the
// directory and its old and new mode (octal, special bits included); the
// changes stay after the cluster is gone. It never removes a bit: a shared
// parent such as /tmp keeps its sticky bit and its write permissions, and
// directories that are already searchable are not touched.
func searchable(dir string, log *slog.Logger) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("pglocal: %w", err)
	}
	for d := abs; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return fmt.Errorf("pglocal: %w", err)
		}
		if m := fi.Mode(); m&0o001 == 0 {
			// fi.Mode() carries setuid, setgid and sticky, which Chmod keeps.
			if err := os.Chmod(d, m|0o001); err != nil {
				return fmt.Errorf("pglocal: let the postgres user traverse %s: %w", d, err)
			}
			log.Warn("added o+x to a directory so the postgres user can reach the throwaway cluster",
				"dir", d, "old_mode", octalMode(m), "new_mode", octalMode(m|0o001), "cluster", abs)
		}
		if parent := filepath.Dir(d); parent == d {
			return nil
		}
	}
}

// octalMode is m as chmod(1) writes it: "0700", "1777", "2750".
func octalMode(m fs.FileMode) string {
	bits := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		bits |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		bits |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		bits |= 0o1000
	}
	return fmt.Sprintf("%04o", bits)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pglocal: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// EnsureDatabase creates database name on the server if it does not exist
// and returns its URL.
func EnsureDatabase(ctx context.Context, adminURL, name string) (string, error) {
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("pglocal: connect: %w", err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		return "", fmt.Errorf("pglocal: %w", err)
	}
	if n == 0 {
		if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", fmt.Errorf("pglocal: create database %s: %w", name, err)
		}
	}
	cfg, err := pgx.ParseConfig(adminURL)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable", cfg.User, cfg.Host, cfg.Port, name), nil
}
