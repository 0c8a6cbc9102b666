package status

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/lifecycle"
)

// TestProbesAndStatusJSONBeforeReady covers what a running server cannot
// show: the answers of /alive, /startup and /status.json before start-up
// completes, before the first status.json generation, and once a component
// has failed (§6 of the reference: /alive 500 once not alive, /startup 503
// until started, /status.json 503 with an empty body until the first run).
func TestProbesAndStatusJSONBeforeReady(t *testing.T) {
	t.Parallel()
	s := &Server{admin: lifecycle.NewAdmin(), log: slog.New(slog.DiscardHandler)}
	s.m = newMetrics(s.admin.Registry)
	h := s.routes(http.NotFoundHandler())
	get := func(path string) (int, string, http.Header) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		b, _ := io.ReadAll(rec.Result().Body)
		return rec.Code, string(b), rec.Result().Header
	}
	tests := []struct {
		name  string
		setup func()
		path  string
		code  int
		body  string // exact
	}{
		{"startup while starting", func() {}, "/startup", 503, "starting\n"},
		{"status.json before the first run", func() {}, "/status.json", 503, ""},
		{"alive while starting", func() {}, "/alive", 200, "alive"},
		{"startup once started", func() { s.ready.Store(true) }, "/startup", 200, "started"},
		{"status.json once generated", func() { s.json.set([]byte(`{"__updated":"x"}`), time.Now()) }, "/status.json", 200, `{"__updated":"x"}`},
		{"alive after a component failed", func() { s.admin.SetAlive(false) }, "/alive", 500, "not alive\n"},
	}
	for _, tt := range tests {
		tt.setup()
		code, body, hdr := get(tt.path)
		if code != tt.code || body != tt.body {
			t.Errorf("%s: GET %s = %d %q, want %d %q", tt.name, tt.path, code, body, tt.code, tt.body)
		}
		if hdr.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: Cache-Control %q", tt.name, hdr.Get("Cache-Control"))
		}
		if tt.path == "/status.json" && tt.code == 200 && hdr.Get("Content-Type") != "application/json" {
			t.Errorf("%s: Content-Type %q", tt.name, hdr.Get("Content-Type"))
		}
	}
}
