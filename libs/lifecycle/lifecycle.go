package lifecycle

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

// ShutdownTimeout bounds how long Run may take to return after a signal.
var ShutdownTimeout = 30 * time.Second

// Main parses fs from os.Args, builds the logger, runs run with a context
// cancelled on SIGINT/SIGTERM, and exits: 0 on a clean stop, 1 on error, 2 if
// run does not return within ShutdownTimeout of the signal.
//
// "healthcheck" as the only argument probes the running service's /startup on
// its admin address (EBS_ADMIN_ADDR) and exits 0 or 1: container health checks
// need no shell or curl in a distroless image.
func Main(name string, fs *flag.FlagSet, run func(ctx context.Context, log *slog.Logger) error) {
	if len(os.Args) == 2 && os.Args[1] == "healthcheck" {
		os.Exit(Healthcheck(os.Getenv("EBS_ADMIN_ADDR")))
	}
	var logLevel, logFormat string
	if fs.Lookup("log-level") == nil {
		StringVar(fs, &logLevel, "log-level", "EBS_LOG_LEVEL", "info", "log level: debug, info, warn, error")
	}
	if fs.Lookup("log-format") == nil {
		StringVar(fs, &logFormat, "log-format", "EBS_LOG_FORMAT", "text", "log format: text or json")
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	log, err := NewProcessLogger(os.Stderr, logLevel, logFormat)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	}
	log = log.With("service", name)
	slog.SetDefault(log)
	limit, byDefault := ApplyMemoryLimit(os.Getenv)
	log.Debug("soft memory limit", "bytes", limit, "default", byDefault)
	os.Exit(RunMain(context.Background(), log, run))
}

// DefaultMemoryLimit is the soft memory limit (runtime/debug.SetMemoryLimit)
// every service runs with unless GOMEMLIMIT is set: the garbage collector
// works harder as the heap nears it instead of letting the heap double, so
// a service's RSS stays near its Helm memory request. A batch of 10,000
// packages keeps about 30 MiB of state in the batcher; for much larger
// batches set GOMEMLIMIT (e.g. to 75% of the container's memory limit), or
// GOMEMLIMIT=off for none.
const DefaultMemoryLimit = 40 << 20

// MemoryLimit is the soft limit Main sets when GOMEMLIMIT is not set:
// DefaultMemoryLimit for one service; a binary running several services
// in one process raises it (0 sets none).
var MemoryLimit int64 = DefaultMemoryLimit

// ApplyMemoryLimit sets MemoryLimit unless getenv("GOMEMLIMIT") is set
// (the runtime has then applied it already) or MemoryLimit is 0. It
// returns the limit in force and whether it set it.
func ApplyMemoryLimit(getenv func(string) string) (int64, bool) {
	if getenv("GOMEMLIMIT") != "" || MemoryLimit <= 0 {
		return debug.SetMemoryLimit(-1), false
	}
	debug.SetMemoryLimit(MemoryLimit)
	return MemoryLimit, true
}

// RunMain is Main without flag parsing and os.Exit, for tests: it returns the
// exit code.
func RunMain(parent context.Context, log *slog.Logger, run func(ctx context.Context, log *slog.Logger) error) int {
	ctx, stop := signal.NotifyContext(parent, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, log) }()
	select {
	case err := <-errc:
		return exitCode(log, err)
	case <-ctx.Done():
		log.Info("shutting down", "deadline", ShutdownTimeout)
	}
	select {
	case err := <-errc:
		return exitCode(log, err)
	case <-time.After(ShutdownTimeout):
		log.Error("shutdown deadline passed; exiting anyway", "deadline", ShutdownTimeout)
		return 2
	}
}

func exitCode(log *slog.Logger, err error) int {
	if err == nil || errors.Is(err, context.Canceled) {
		log.Info("stopped")
		return 0
	}
	log.Error("exiting on error", "error", err)
	return 1
}

// LogLevel is the level of the process's logger: Main sets it from
// -log-level and builds its logger on it, and every Admin's /loglevel
// reads and changes it, so an operator can turn on debug logging without a
// restart. There is one per process: services sharing a process (`ebs run`,
// `ebs demo`) log through one logger and so share one level.
var LogLevel = new(slog.LevelVar)

// ParseLevel parses a log level: debug, info, warn or error (any case, as
// slog reads them, offsets such as "debug+2" included).
func ParseLevel(level string) (slog.Level, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return 0, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	return lv, nil
}

// NewLevelLogger builds a slog logger writing to w whose level is level,
// read at every record: changing level changes what the logger writes.
func NewLevelLogger(w io.Writer, level slog.Leveler, format string) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(format) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("log format %q: want text or json", format)
	}
}

// NewLogger builds a slog logger writing to w at a fixed level (not
// LogLevel: /loglevel does not change it).
func NewLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	lv, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	return NewLevelLogger(w, lv, format)
}

// NewProcessLogger sets LogLevel to level and builds the process's logger
// on it (what Main does; `ebs demo` builds its log file's logger with it).
func NewProcessLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	lv, err := ParseLevel(level)
	if err != nil {
		return nil, err
	}
	LogLevel.Set(lv)
	return NewLevelLogger(w, LogLevel, format)
}

// Discard is a logger that drops everything (tests).
func Discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// Healthcheck GETs http://<addr>/startup (addr like ":9100" or "host:port")
// and returns 0 when it answers 200, else 1.
func Healthcheck(addr string) int {
	if addr == "" {
		addr = "127.0.0.1:9100"
	}
	if strings.HasPrefix(addr, ":") {
		addr = "127.0.0.1" + addr
	}
	c := http.Client{Timeout: 3 * time.Second}
	resp, err := c.Get("http://" + addr + "/startup")
	if err != nil {
		fmt.Fprintln(os.Stderr, "healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(os.Stderr, "healthcheck: /startup answered", resp.Status)
		return 1
	}
	return 0
}
