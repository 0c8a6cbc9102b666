// Package crfixture serves Content Resolver package-name lists over HTTP,
// as tiny.distro.builders does (GET /view-<source>-package-name-list--view-<view>.txt,
// text/plain, one name per line), for tests and the demo. The lists can be
// changed while it runs, and it can fail requests on demand to exercise
// retries. Sample() is a small universe matching the production
// configuration (renames, excludes, skip_tag and ordering cases included).
package crfixture

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/contentresolver"
)

//go:embed lists/*.txt
var sampleFS embed.FS

var listFile = regexp.MustCompile(`^view-(.+)-package-name-list--view-(.+)\.txt$`)

// Sample returns the embedded sample lists (views eln and eln-extras,
// sources source and buildroot-source).
func Sample() []contentresolver.List {
	lists, err := LoadFS(sampleFS, "lists")
	if err != nil {
		panic(err) // embedded at build time
	}
	return lists
}

// LoadFS reads every view-*.txt list in dir of fsys.
func LoadFS(fsys fs.FS, dir string) ([]contentresolver.List, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("crfixture: %w", err)
	}
	var out []contentresolver.List
	for _, e := range entries {
		m := listFile.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("crfixture: %w", err)
		}
		out = append(out, contentresolver.List{Source: m[1], View: m[2], Names: contentresolver.ParseList(b)})
	}
	return out, nil
}

// Handler serves lists.
type Handler struct {
	mu       sync.Mutex
	lists    map[string][]string
	hits     map[string]int
	failures []int
}

// NewHandler serves lists.
func NewHandler(lists ...contentresolver.List) *Handler {
	h := &Handler{lists: map[string][]string{}, hits: map[string]int{}}
	for _, l := range lists {
		h.Set(l.Source, l.View, l.Names...)
	}
	return h
}

// Set replaces one list (creating it).
func (h *Handler) Set(source, view string, names ...string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lists[contentresolver.ListName(source, view)] = append([]string(nil), names...)
}

// Remove deletes one list (it then answers 404).
func (h *Handler) Remove(source, view string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.lists, contentresolver.ListName(source, view))
}

// FailNext makes the next len(statuses) requests answer these HTTP statuses.
func (h *Handler) FailNext(statuses ...int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failures = append(h.failures, statuses...)
}

// Hits returns how many requests a list received (failed ones included).
func (h *Handler) Hits(source, view string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits[contentresolver.ListName(source, view)]
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, "/")
	h.mu.Lock()
	h.hits[name]++
	var fail int
	if len(h.failures) > 0 {
		fail, h.failures = h.failures[0], h.failures[1:]
	}
	names, ok := h.lists[name]
	h.mu.Unlock()
	if fail != 0 {
		http.Error(w, http.StatusText(fail), fail)
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('\n')
	}
	_, _ = w.Write([]byte(b.String()))
}

// Server is a running fixture server.
type Server struct {
	*Handler
	// URL is the base URL to put in components.autopackagelist.content_resolver.
	URL   string
	close func()
}

// Close stops the server.
func (s *Server) Close() { s.close() }

// NewTest starts a server on a loopback port, closed when t ends.
func NewTest(t testing.TB, lists ...contentresolver.List) *Server {
	t.Helper()
	h := NewHandler(lists...)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &Server{Handler: h, URL: srv.URL, close: srv.Close}
}

// Start serves lists on addr (e.g. "127.0.0.1:0") until Close: for the demo.
func Start(addr string, lists ...contentresolver.List) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("crfixture: listen %s: %w", addr, err)
	}
	h := NewHandler(lists...)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			_ = err // the listener died; Close still works
		}
	}()
	return &Server{Handler: h, URL: "http://" + ln.Addr().String(), close: func() {
		_ = srv.Close()
		<-done
	}}, nil
}
