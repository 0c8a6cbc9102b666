package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Admin is a service's small HTTP server: /alive (200 while the process
// works), /startup (200 once Ready was called, 503 before), /metrics, and
// /loglevel (GET: the level of the process's logger, LogLevel; PUT with
// body debug, info, warn or error: sets it, 400 for anything else).
type Admin struct {
	Registry *prometheus.Registry
	ready    atomic.Bool
	alive    atomic.Bool
	mux      *http.ServeMux
	// level is what /loglevel reads and sets: LogLevel.
	level *slog.LevelVar
	// log records /loglevel changes: Serve's logger, else slog.Default.
	log atomic.Pointer[slog.Logger]
	// onReady is Common.OnReady, called by the first Ready.
	onReady   func()
	readyOnce sync.Once
}

// NewAdmin returns an Admin with a fresh registry holding the Go and process
// collectors.
func NewAdmin() *Admin {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	a := &Admin{Registry: reg, mux: http.NewServeMux(), level: LogLevel}
	a.alive.Store(true)
	a.mux.HandleFunc("GET /alive", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		if !a.alive.Load() {
			http.Error(w, "not alive", http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, "alive")
	})
	a.mux.HandleFunc("GET /startup", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		if !a.ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, "started")
	})
	a.mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	a.mux.HandleFunc("GET /loglevel", a.getLogLevel)
	a.mux.HandleFunc("PUT /loglevel", a.putLogLevel)
	return a
}

// levelNames are the levels PUT /loglevel accepts, by name.
var levelNames = map[string]slog.Level{
	"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError,
}

func levelName(l slog.Level) string { return strings.ToLower(l.String()) }

func (a *Admin) getLogLevel(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	fmt.Fprintln(w, levelName(a.level.Level()))
}

// putLogLevel sets the level from the body: one of levelNames (any case,
// surrounding white space ignored: `echo debug | curl -T - ...` works).
func (a *Admin) putLogLevel(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64))
	if err != nil {
		http.Error(w, "body too long: want debug, info, warn or error", http.StatusBadRequest)
		return
	}
	name := strings.ToLower(strings.TrimSpace(string(body)))
	lv, ok := levelNames[name]
	if !ok {
		http.Error(w, fmt.Sprintf("log level %q: want debug, info, warn or error", name), http.StatusBadRequest)
		return
	}
	old := a.level.Level()
	a.level.Set(lv)
	// Recorded at INFO whatever the level in force, so a change to warn or
	// error (which drops INFO records) still leaves its trace: the record
	// goes to the handler without the logger's level check.
	log := a.log.Load()
	if log == nil {
		log = slog.Default()
	}
	rec := slog.NewRecord(time.Now(), slog.LevelInfo, "log level changed", 0)
	rec.AddAttrs(slog.String("remote_addr", r.RemoteAddr), slog.String("old", levelName(old)), slog.String("new", levelName(lv)))
	_ = log.Handler().Handle(r.Context(), rec)
	w.Header().Set("Cache-Control", "no-cache")
	fmt.Fprintln(w, levelName(lv))
}

// Ready marks start-up complete (and, the first time, tells the Common's
// OnReady the Admin came from).
func (a *Admin) Ready() {
	a.ready.Store(true)
	if a.onReady != nil {
		a.readyOnce.Do(a.onReady)
	}
}

// SetAlive flips /alive (false makes the orchestrator restart the pod).
func (a *Admin) SetAlive(ok bool) { a.alive.Store(ok) }

// Handle adds a route to the admin mux.
func (a *Admin) Handle(pattern string, h http.Handler) { a.mux.Handle(pattern, h) }

// Handler is the admin mux.
func (a *Admin) Handler() http.Handler { return a.mux }

// ServeBeside runs the admin server on addr for as long as run runs: when
// run returns (an error, or ctx ended) the admin server stops, and when the
// admin server fails (its port is taken) run's context is cancelled. So a
// service whose work fails exits instead of idling behind a healthy admin
// port. It returns the admin server's error if that stopped run, else run's.
func (a *Admin) ServeBeside(ctx context.Context, addr string, log *slog.Logger, run func(ctx context.Context) error) error {
	actx, stopAdmin := context.WithCancel(ctx)
	defer stopAdmin()
	rctx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	adminErr := make(chan error, 1)
	go func() {
		err := a.Serve(actx, addr, log, nil)
		if err != nil {
			stopRun()
		}
		adminErr <- err
	}()
	err := run(rctx)
	stopAdmin()
	if aerr := <-adminErr; aerr != nil {
		return aerr
	}
	return err
}

// Serve listens on addr ("" or "off" disables it) until ctx ends, then shuts
// down gracefully. It returns the bound address through bound when not nil.
func (a *Admin) Serve(ctx context.Context, addr string, log *slog.Logger, bound chan<- string) error {
	a.log.Store(log)
	if addr == "" || addr == "off" {
		if bound != nil {
			close(bound)
		}
		<-ctx.Done()
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("admin: listen %s: %w", addr, err)
	}
	// Logged before the address is handed out, so whoever waits on bound
	// sees the line already written.
	log.Info("admin server listening", "addr", ln.Addr().String())
	if bound != nil {
		bound <- ln.Addr().String()
		close(bound)
	}
	srv := &http.Server{Handler: a.mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("admin: serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin: shutdown: %w", err)
	}
	return nil
}
