package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Source is where a configuration lives. Fetch returns its documents (one,
// or several layers merged in order) without validating them.
type Source interface {
	Fetch(ctx context.Context) ([]Document, error)
	String() string
}

// ParseSource reads a source string, the value of --config / EBS_CONFIG:
//
//	/etc/ebs/distrobaker.yaml            a file (also file:///...)
//	https://host/path/distrobaker.yaml   an HTTPS URL (http:// only to loopback)
//	git+<repository>#<ref>:<path>        a file in a git repository at ref
//	                                     (ref defaults to main, path to distrobaker.yaml)
//
// Several sources separated by commas are layers merged in order, e.g. the
// split layout: "/etc/ebs/static.yaml,git+https://host/cfg.git#main:elnbuildsync_dynamic.yaml".
func ParseSource(s string) (Source, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("config: no configuration source (set --config or EBS_CONFIG)")
	}
	if strings.Contains(s, ",") {
		var layers Layers
		for _, part := range strings.Split(s, ",") {
			if strings.TrimSpace(part) == "" {
				continue
			}
			src, err := ParseSource(part)
			if err != nil {
				return nil, err
			}
			layers = append(layers, src)
		}
		return layers, nil
	}
	switch {
	case strings.HasPrefix(s, "git+"):
		return ParseGitSource(s)
	case strings.HasPrefix(s, "https://"):
		return &HTTPSource{URL: s}, nil
	case strings.HasPrefix(s, "http://"):
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("config: source %q: %w", s, err)
		}
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("config: source %q: plain http is only allowed to a loopback address; use https", s)
		}
		return &HTTPSource{URL: s}, nil
	case strings.HasPrefix(s, "file://"):
		return FileSource(strings.TrimPrefix(s, "file://")), nil
	case strings.Contains(s, "://"):
		return nil, fmt.Errorf("config: source %q: want a file path, an https:// URL or git+<repository>#<ref>:<path>", s)
	}
	return FileSource(s), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Load fetches source (see ParseSource) and validates it. Every service calls
// it at start-up (through a Watcher), and `ebsctl config check` calls
// LoadFile, so both apply the same rules.
func Load(ctx context.Context, source string) (*Config, error) {
	src, err := ParseSource(source)
	if err != nil {
		return nil, err
	}
	return LoadSource(ctx, src)
}

// LoadSource fetches src and validates its documents.
func LoadSource(ctx context.Context, src Source) (*Config, error) {
	docs, err := src.Fetch(ctx)
	if err != nil {
		return nil, err
	}
	c, err := ParseDocuments(docs...)
	if err != nil {
		return nil, err
	}
	c.Source = src.String()
	return c, nil
}

// FileSource is a local file.
type FileSource string

// Fetch reads the file.
func (f FileSource) Fetch(context.Context) ([]Document, error) {
	b, err := os.ReadFile(string(f))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return []Document{{Name: string(f), Data: b}}, nil
}

func (f FileSource) String() string { return string(f) }

// Layers are sources merged in order (static then dynamic).
type Layers []Source

// Fetch fetches every layer.
func (l Layers) Fetch(ctx context.Context) ([]Document, error) {
	var out []Document
	for _, s := range l {
		docs, err := s.Fetch(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, docs...)
	}
	return out, nil
}

func (l Layers) String() string {
	parts := make([]string, len(l))
	for i, s := range l {
		parts[i] = s.String()
	}
	return strings.Join(parts, ",")
}

// MaxDocumentSize bounds what a source may return (the production file is 6 KiB).
const MaxDocumentSize = 4 << 20

// HTTPSource is a configuration served over HTTPS.
type HTTPSource struct {
	URL string
	// Client defaults to one with a 30 s timeout.
	Client *http.Client
	// Attempts (default 3) and Backoff (default 1 s, doubling) for transient
	// failures: network errors, 5xx, 408 and 429.
	Attempts int
	Backoff  time.Duration
}

func (h *HTTPSource) String() string { return h.URL }

// Fetch GETs the URL.
func (h *HTTPSource) Fetch(ctx context.Context) ([]Document, error) {
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	var body []byte
	err := retry(ctx, h.Attempts, h.Backoff, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.URL, nil)
		if err != nil {
			return false, err
		}
		req.Header.Set("Accept", "application/yaml, text/yaml, text/plain, */*")
		resp, err := client.Do(req)
		if err != nil {
			return true, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			retryable := resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests
			return retryable, fmt.Errorf("HTTP %s", resp.Status)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, MaxDocumentSize+1))
		if err != nil {
			return true, err
		}
		if len(b) > MaxDocumentSize {
			return false, fmt.Errorf("larger than %d bytes", MaxDocumentSize)
		}
		body = b
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("config: fetch %s: %w", h.URL, err)
	}
	return []Document{{Name: h.URL, Data: body}}, nil
}

// GitSource is a file in a git repository at a ref. Every Fetch clones
// afresh into a new temporary directory (so a broken earlier clone cannot
// poison the next), by shelling out to git.
type GitSource struct {
	// Repo is anything git can fetch from: https://..., file://..., a path.
	Repo string
	// Ref is a branch, tag or commit (default main).
	Ref string
	// Path inside the repository (default distrobaker.yaml).
	Path string
	// Git is the git binary (default "git" on PATH).
	Git string
	// Attempts (default 3) and Backoff (default 1 s, doubling).
	Attempts int
	Backoff  time.Duration
	// Timeout bounds one attempt (default 2 min).
	Timeout time.Duration
	// TempDir holds the clones (default os.TempDir()); each is removed after use.
	TempDir string
}

// Git source defaults, as in the original (which cloned ref main and read
// distrobaker.yaml).
const (
	DefaultGitRef  = "main"
	DefaultGitPath = "distrobaker.yaml"
)

// ParseGitSource parses git+<repository>#<ref>:<path> (ref and path optional).
func ParseGitSource(s string) (*GitSource, error) {
	rest, ok := strings.CutPrefix(s, "git+")
	if !ok {
		return nil, fmt.Errorf("config: git source %q: want git+<repository>#<ref>:<path>", s)
	}
	g := &GitSource{Ref: DefaultGitRef, Path: DefaultGitPath}
	repo, frag, hasFrag := strings.Cut(rest, "#")
	g.Repo = repo
	if hasFrag {
		ref, path, hasPath := strings.Cut(frag, ":")
		if ref != "" {
			g.Ref = ref
		}
		if hasPath && path != "" {
			g.Path = strings.TrimPrefix(path, "/")
		}
	}
	if g.Repo == "" {
		return nil, fmt.Errorf("config: git source %q: no repository", s)
	}
	if strings.HasPrefix(g.Ref, "-") || strings.HasPrefix(g.Repo, "-") {
		return nil, fmt.Errorf("config: git source %q: repository and ref must not start with '-'", s)
	}
	if strings.Contains(g.Path, "..") {
		return nil, fmt.Errorf("config: git source %q: path must stay inside the repository", s)
	}
	return g, nil
}

func (g *GitSource) String() string {
	return fmt.Sprintf("git+%s#%s:%s", g.Repo, g.Ref, g.Path)
}

// Fetch clones the ref (shallow) and reads the file at it.
func (g *GitSource) Fetch(ctx context.Context) ([]Document, error) {
	var doc Document
	err := retry(ctx, g.Attempts, g.Backoff, func() (bool, error) {
		d, err := g.fetchOnce(ctx)
		if err != nil {
			return true, err
		}
		doc = d
		return false, nil
	})
	if err != nil {
		return nil, fmt.Errorf("config: fetch %s: %w", g, err)
	}
	return []Document{doc}, nil
}

func (g *GitSource) fetchOnce(ctx context.Context) (Document, error) {
	timeout := g.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dir, err := os.MkdirTemp(g.TempDir, "ebs-config-")
	if err != nil {
		return Document{}, err
	}
	defer os.RemoveAll(dir)
	if _, err := g.run(ctx, dir, "init", "--quiet", dir); err != nil {
		return Document{}, err
	}
	if _, err := g.run(ctx, dir, "fetch", "--quiet", "--depth", "1", "--no-tags", "--", g.Repo, g.Ref); err != nil {
		return Document{}, err
	}
	rev, err := g.run(ctx, dir, "rev-parse", "FETCH_HEAD")
	if err != nil {
		return Document{}, err
	}
	data, err := g.run(ctx, dir, "show", "FETCH_HEAD:"+g.Path)
	if err != nil {
		return Document{}, fmt.Errorf("%s not found at %s: %w", g.Path, g.Ref, err)
	}
	commit := strings.TrimSpace(string(rev))
	return Document{Name: fmt.Sprintf("%s@%.12s:%s", g.Repo, commit, g.Path), Data: data, Revision: commit}, nil
}

func (g *GitSource) run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	bin := g.Git
	if bin == "" {
		bin = "git"
	}
	cmd := exec.CommandContext(ctx, bin, append([]string{"-C", dir}, args...)...)
	// Never prompt for credentials, never read the user's global config.
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null", "GIT_ASKPASS=/bin/false")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return nil, fmt.Errorf("git %s: %s", args[0], msg)
	}
	return stdout.Bytes(), nil
}

// retry runs f up to attempts times (default 3) while it reports a retryable
// error, sleeping backoff (default 1 s) doubling between tries.
func retry(ctx context.Context, attempts int, backoff time.Duration, f func() (retryable bool, err error)) error {
	if attempts <= 0 {
		attempts = 3
	}
	if backoff <= 0 {
		backoff = time.Second
	}
	var err error
	tries := 0
	for tries < attempts {
		tries++
		var again bool
		again, err = f()
		if err == nil || !again || tries == attempts {
			break
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff *= 2
	}
	if err != nil && tries > 1 {
		return fmt.Errorf("%w (%d attempts)", err, tries)
	}
	return err
}
