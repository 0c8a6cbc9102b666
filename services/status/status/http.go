package status

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fedora-eln/ebs/libs/auth"
)

//go:embed web
var webFiles embed.FS

// Version is shown on the status page.
var Version = "dev"

var pageTemplate = template.Must(template.ParseFS(webFiles, "web/status.html.tmpl", "web/trigger.html.tmpl"))

// routes builds the HTTP handler: the ELNBuildSync-compatible endpoints,
// the status page, auth, /metrics and the gateway under /v1/.
func (s *Server) routes(gw http.Handler) http.Handler {
	mux := http.NewServeMux()
	a := s.auth
	handle := func(pattern, route string, h http.Handler) {
		mux.Handle(pattern, s.observeHTTP(route, h))
	}
	handle("GET /{$}", "/", http.RedirectHandler("/status.html", http.StatusTemporaryRedirect))
	handle("GET /status", "/status", http.RedirectHandler("/status.html", http.StatusTemporaryRedirect))
	// /alive answers as the admin port's does: 200 "alive", or 500 once
	// the service is not alive (a component failed), as the original.
	handle("GET /alive", "/alive", s.admin.Handler())
	handle("GET /startup", "/startup", http.HandlerFunc(s.startup))
	handle("GET /status.html", "/status.html", http.HandlerFunc(s.page))
	static, _ := fs.Sub(webFiles, "web/static")
	handle("GET /static/", "/static", http.StripPrefix("/static/", http.FileServerFS(static)))
	handle("GET /status.json", "/status.json", http.HandlerFunc(s.statusJSONHandler))
	handle("GET /trigger", "/trigger", a.RequireAdmin(http.HandlerFunc(s.triggerPage)))
	handle("POST /trigger", "/trigger", a.RequireAdmin(http.HandlerFunc(s.triggerPost)))
	handle("/control/{action}", "/control", a.RequireAdmin(http.HandlerFunc(s.control)))
	handle("GET /login", "/login", http.HandlerFunc(a.Login))
	handle("GET /oidc/callback", "/oidc/callback", http.HandlerFunc(a.Callback))
	handle("GET /logout", "/logout", http.HandlerFunc(a.Logout))
	handle("GET /whoami", "/whoami", a.Middleware(http.HandlerFunc(s.whoami)))
	handle("GET /metrics", "/metrics", promhttp.HandlerFor(s.admin.Registry, promhttp.HandlerOpts{}))
	handle("/v1/", "/v1", gw)
	return noCache(mux)
}

// noCache marks every response Cache-Control: no-cache, as the original.
func noCache(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		h.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code  int
	wrote bool
}

// WriteHeader passes the first status only: a stream that fails after
// flushStreamHeaders sent its 200 reports the error in the body, and the
// 200 is what the client got.
func (r *statusRecorder) WriteHeader(c int) {
	if r.wrote {
		return
	}
	r.code, r.wrote = c, true
	r.ResponseWriter.WriteHeader(c)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// flushStreamHeaders is a gateway forward-response option. The gateway
// sends a server stream's HTTP headers with its first message, so a client
// of /v1/events would wait for the first event to learn that it is
// connected. Once WatchBatchEvents says it is subscribed (watchHeader; the
// gateway calls the options with a nil message before the first one), the
// 200 and the headers go out at once: the status page shows "live" then, and
// no event published afterwards is missed.
func flushStreamHeaders(ctx context.Context, w http.ResponseWriter, m proto.Message) error {
	if m != nil {
		return nil
	}
	md, ok := runtime.ServerMetadataFromContext(ctx)
	if !ok || len(md.HeaderMD.Get(watchHeader)) == 0 {
		return nil
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	if err := http.NewResponseController(w).Flush(); err != nil {
		return fmt.Errorf("flush stream headers: %w", err)
	}
	return nil
}

// observeHTTP logs and counts requests per route.
func (s *Server) observeHTTP(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, code: 200}
		start := time.Now()
		h.ServeHTTP(rec, r)
		s.m.httpRequests.WithLabelValues(route, fmt.Sprint(rec.code)).Inc()
		lvl := s.log.Debug
		if rec.code >= 500 {
			lvl = s.log.Warn
		}
		lvl("http request", "method", r.Method, "path", r.URL.Path, "code", rec.code, "duration", time.Since(start))
	})
}

// unaryObserve logs and counts gRPC calls (outermost, so auth refusals count too).
func (s *Server) unaryObserve(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	start := time.Now()
	resp, err := h(ctx, req)
	s.observeRPC(info.FullMethod, start, err)
	return resp, err
}

func (s *Server) streamObserve(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	start := time.Now()
	err := h(srv, ss)
	s.observeRPC(info.FullMethod, start, err)
	return err
}

func (s *Server) observeRPC(method string, start time.Time, err error) {
	c := status.Code(err)
	s.m.grpcRequests.WithLabelValues(method, c.String()).Inc()
	s.m.grpcDuration.WithLabelValues(method).Observe(time.Since(start).Seconds())
	switch c {
	case codes.Internal, codes.Unknown, codes.Unavailable, codes.DataLoss:
		// The server's fault, not the caller's: worth an operator's look.
		s.log.Error("StatusService call failed on the server side", "method", method, "code", c.String(), "error", err)
	default:
		s.log.Debug("grpc call", "method", method, "code", c.String(), "duration", time.Since(start))
	}
}

func (s *Server) startup(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "started")
}

type pageData struct {
	Version     string
	AuthEnabled bool
	KojiWebURL  string
	User        string
	Admin       bool
}

func (s *Server) pageData(r *http.Request) pageData {
	d := pageData{Version: Version, AuthEnabled: s.auth.Enabled(), KojiWebURL: s.cfg.KojiWebURL}
	if p, err := s.auth.Identify(r); err == nil {
		d.User, d.Admin = p.Username, p.Admin
	}
	return d
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	var b bytes.Buffer
	if err := pageTemplate.ExecuteTemplate(&b, "status.html.tmpl", s.pageData(r)); err != nil {
		s.log.Error("status page template failed", "error", err)
		http.Error(w, "status page unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b.Bytes())
}

// statusJSONHandler serves the cached ELNBuildSync status (503, empty,
// until the first generation).
func (s *Server) statusJSONHandler(w http.ResponseWriter, _ *http.Request) {
	body, _ := s.json.get()
	if body == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) {
	p, ok := auth.FromContext(r.Context())
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"authenticated": ok, "user": p.Username, "groups": p.Groups,
		"admin": p.Admin, "auth_enabled": s.auth.Enabled()})
}

// triggerPage is the original's GET /trigger help page (with the bearer
// token when ?show_token=1, so CLI users can copy their session id).
func (s *Server) triggerPage(w http.ResponseWriter, r *http.Request) {
	p, _ := auth.FromContext(r.Context())
	token := ""
	if r.URL.Query().Get("show_token") == "1" {
		if c, err := r.Cookie(auth.CookieName); err == nil {
			token = c.Value
		} else {
			token = auth.BearerToken(r.Header.Get("Authorization"))
		}
	}
	data := map[string]any{"User": p.Username, "Groups": strings.Join(p.Groups, ", "), "Token": token,
		"Host": r.Host, "AuthEnabled": s.auth.Enabled()}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pageTemplate.ExecuteTemplate(w, "trigger.html.tmpl", data); err != nil {
		s.log.Error("trigger page template failed", "error", err)
	}
}

// triggerPost is the original's POST /trigger: application/json (415
// otherwise), a JSON array of strings (400 otherwise), fire-and-forget.
func (s *Server) triggerPost(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "not started", http.StatusServiceUnavailable)
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		http.Error(w, "Content-Type must be application/json", http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	var raw any
	if err := json.Unmarshal(body, &raw); err != nil {
		http.Error(w, "body is not valid JSON", http.StatusBadRequest)
		return
	}
	list, ok := raw.([]any)
	if !ok {
		http.Error(w, "body must be a JSON array of component names", http.StatusBadRequest)
		return
	}
	names := make([]string, 0, len(list))
	for _, v := range list {
		n, ok := v.(string)
		if !ok {
			http.Error(w, "every entry must be a string", http.StatusBadRequest)
			return
		}
		names = append(names, n)
	}
	p, _ := auth.FromContext(r.Context())
	resp, err := s.svc.trigger(r.Context(), names, p.Username)
	if err != nil {
		http.Error(w, err.Error(), httpStatus(err))
		return
	}
	sorted := append([]string(nil), resp.Components...)
	sort.Strings(sorted)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "User %s requesting builds of:\n%s\n", p.Username, strings.Join(sorted, "\n"))
}

// control is /control/{pause|unpause}: GET explains, POST acts (persisted
// in KV ebs_control, unlike the original's in-memory override).
func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "not started", http.StatusServiceUnavailable)
		return
	}
	action := r.PathValue("action")
	if action != "pause" && action != "unpause" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		fmt.Fprintf(w, "POST /control/%s with Authorization: Bearer <token> to %s batch processing.\n"+
			"The runtime pause is persisted (KV ebs_control); config control.pause is separate.\n", action, action)
		return
	case http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p, _ := auth.FromContext(r.Context())
	reason := r.URL.Query().Get("reason")
	c, err := s.svc.setPause(r.Context(), action == "pause", reason, p.Username)
	if err != nil {
		http.Error(w, err.Error(), httpStatus(err))
		return
	}
	if c.GetPaused() {
		fmt.Fprintf(w, "Batch processing paused by %s. The pause is persisted and survives restarts; POST /control/unpause to resume.\n", p.Username)
	} else {
		fmt.Fprintf(w, "Runtime pause cleared by %s.\n", p.Username)
	}
	if s.svc.configPaused() {
		fmt.Fprintln(w, "Note: configuration control.pause is true, so batches stay paused until the configuration changes.")
	}
}
