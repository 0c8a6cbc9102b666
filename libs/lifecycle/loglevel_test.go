package lifecycle_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/fedora-eln/ebs/libs/lifecycle"
)

// syncBuffer is a bytes.Buffer safe for the admin server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// take returns the JSON records written since the last take.
func (s *syncBuffer) take(t *testing.T) []map[string]any {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	s.b.Reset()
	return out
}

// /loglevel on a real admin server changes the level of the process's
// logger (built as Main builds it): GET reports it, PUT sets it and records
// who changed it at INFO even when the new level drops INFO records, and
// anything but debug, info, warn or error is refused with the level
// unchanged. Not parallel: it changes the process's LogLevel.
func TestAdminLogLevel(t *testing.T) {
	prev := lifecycle.LogLevel.Level()
	t.Cleanup(func() { lifecycle.LogLevel.Set(prev) })
	var buf syncBuffer
	log, err := lifecycle.NewProcessLogger(&buf, "info", "json")
	if err != nil {
		t.Fatal(err)
	}
	a := lifecycle.NewAdmin()
	ctx, cancel := context.WithCancel(context.Background())
	bound := make(chan string, 1)
	errc := make(chan error, 1)
	go func() { errc <- a.Serve(ctx, "127.0.0.1:0", log, bound) }()
	addr := <-bound
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	})
	buf.take(t) // "admin server listening"

	steps := []struct {
		name, method, body string
		wantCode           int
		wantBody           string // the response body, when 200
		want               slog.Level
		changed            []string // old, new of the change record; nil: none
	}{
		{"initial level from the flag", http.MethodGet, "", 200, "info\n", slog.LevelInfo, nil},
		{"to debug", http.MethodPut, "debug", 200, "debug\n", slog.LevelDebug, []string{"info", "debug"}},
		{"get reports debug", http.MethodGet, "", 200, "debug\n", slog.LevelDebug, nil},
		{"to error, newline and case ignored", http.MethodPut, "ERROR\n", 200, "error\n", slog.LevelError, []string{"debug", "error"}},
		{"unknown name", http.MethodPut, "verbose", 400, "", slog.LevelError, nil},
		{"empty body", http.MethodPut, "", 400, "", slog.LevelError, nil},
		{"offset level", http.MethodPut, "debug+2", 400, "", slog.LevelError, nil},
		{"number", http.MethodPut, "-4", 400, "", slog.LevelError, nil},
		{"body too long", http.MethodPut, "debug" + strings.Repeat(" ", 100), 400, "", slog.LevelError, nil},
		{"to warn", http.MethodPut, "warn", 200, "warn\n", slog.LevelWarn, []string{"error", "warn"}},
		{"same level again", http.MethodPut, "warn", 200, "warn\n", slog.LevelWarn, []string{"warn", "warn"}},
		{"post not allowed", http.MethodPost, "debug", 405, "", slog.LevelWarn, nil},
		{"back to info", http.MethodPut, "info", 200, "info\n", slog.LevelInfo, []string{"warn", "info"}},
	}
	for _, st := range steps {
		req, err := http.NewRequest(st.method, "http://"+addr+"/loglevel", strings.NewReader(st.body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != st.wantCode || (st.wantCode == 200 && string(body) != st.wantBody) {
			t.Fatalf("%s: %s /loglevel %q = %d %q, want %d %q", st.name, st.method, st.body, resp.StatusCode, body, st.wantCode, st.wantBody)
		}
		if got := lifecycle.LogLevel.Level(); got != st.want {
			t.Fatalf("%s: LogLevel %v, want %v", st.name, got, st.want)
		}
		recs := buf.take(t)
		if st.changed == nil {
			if len(recs) != 0 {
				t.Fatalf("%s: logged %v, want nothing", st.name, recs)
			}
		} else {
			if len(recs) != 1 {
				t.Fatalf("%s: logged %v, want one change record", st.name, recs)
			}
			r := recs[0]
			if r["msg"] != "log level changed" || r["level"] != "INFO" || r["old"] != st.changed[0] || r["new"] != st.changed[1] ||
				!strings.HasPrefix(r["remote_addr"].(string), "127.0.0.1:") {
				t.Fatalf("%s: change record %v, want INFO old=%s new=%s remote_addr=127.0.0.1:*", st.name, r, st.changed[0], st.changed[1])
			}
		}
		// The logger follows the level: a record at the level is written,
		// one just below is not.
		log.Log(context.Background(), st.want, "at level")
		log.Log(context.Background(), st.want-1, "below level")
		recs = buf.take(t)
		if len(recs) != 1 || recs[0]["msg"] != "at level" {
			t.Fatalf("%s: at level %v the logger wrote %v, want only the record at the level", st.name, st.want, recs)
		}
	}
}
