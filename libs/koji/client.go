package koji

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fedora-eln/ebs/libs/koji/wire"
)

// Defaults.
const (
	DefaultRetryBudget = 60 * time.Second
	DefaultChunkSize   = 500
	DefaultUserAgent   = "koji/1"
	maxResponseBytes   = 256 << 20
)

// Options configure a Client.
type Options struct {
	// URL of the hub, e.g. https://koji.fedoraproject.org/kojihub.
	URL string
	// HTTPClient carries TLS settings (client certificate for SSLAuth, the
	// server CA). nil means a client with sane timeouts.
	HTTPClient *http.Client
	// Auth logs in (SSLAuth or GSSAPIAuth); nil means anonymous.
	Auth Authenticator
	// RetryBudget bounds the time spent retrying one call (transport errors,
	// HTTP 5xx/408/429, ServerOffline). 0 means 60 s; negative disables retries.
	RetryBudget time.Duration
	// RetryBase and RetryMax shape the exponential backoff (defaults 250 ms, 10 s).
	RetryBase, RetryMax time.Duration
	// ChunkSize is the default multicall chunk (500).
	ChunkSize int
	// UserAgent defaults to "koji/1", as the Python client sends.
	UserAgent string
	Logger    *slog.Logger
	// Metrics, if set, receives the client's Prometheus counters (one
	// Metrics may be shared by several clients).
	Metrics *Metrics
}

// Client talks to one Koji hub. It is safe for concurrent use. Calls made
// while logged in are serialised, because the hub checks that the session's
// callnum only grows (SequenceError otherwise); a call waiting for its turn
// gives up when its context ends. Anonymous calls run in parallel.
type Client struct {
	opts  Options
	url   string
	hc    *http.Client
	log   *slog.Logger
	stats *stats

	// callSlot is a lock held for a whole logged-in call, retries and
	// re-logins included; a 1-slot channel so that waiting for it honours
	// the caller's context.
	callSlot chan struct{}
	// smu guards sess and its callnum for readers that do not hold
	// callSlot (Session, LoggedIn); only callSlot's holder changes them.
	smu  sync.Mutex
	sess *Session
}

// Session is the hub's sinfo after a login.
type Session struct {
	ID         int64  `koji:"session-id"`
	Key        string `koji:"session-key"`
	HeaderAuth bool   `koji:"header-auth"`
	callnum    int64
}

// New returns a client for opts.URL. It does not contact the hub; call
// Login (or any method: a client with Auth logs in on first use).
func New(opts Options) (*Client, error) {
	if opts.URL == "" {
		return nil, errors.New("koji: Options.URL is empty")
	}
	if opts.RetryBudget == 0 {
		opts.RetryBudget = DefaultRetryBudget
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 250 * time.Millisecond
	}
	if opts.RetryMax <= 0 {
		opts.RetryMax = 10 * time.Second
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = DefaultChunkSize
	}
	if opts.UserAgent == "" {
		opts.UserAgent = DefaultUserAgent
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	hc := opts.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 5 * time.Minute}
	}
	return &Client{
		opts:     opts,
		url:      strings.TrimRight(opts.URL, "/"),
		hc:       hc,
		log:      opts.Logger.With("component", "koji"),
		stats:    newStats(),
		callSlot: make(chan struct{}, 1),
	}, nil
}

// acquire takes the logged-in call lock, or gives up when ctx ends.
func (c *Client) acquire(ctx context.Context, method string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("koji %s: %w", method, err)
	}
	select {
	case c.callSlot <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("koji %s: waiting for the session: %w", method, ctx.Err())
	}
}

func (c *Client) release() { <-c.callSlot }

// setSession replaces the session (callSlot held).
func (c *Client) setSession(s *Session) {
	c.smu.Lock()
	c.sess = s
	c.smu.Unlock()
}

// URL is the hub URL.
func (c *Client) URL() string { return c.url }

// LoggedIn reports whether the client holds a session.
func (c *Client) LoggedIn() bool {
	c.smu.Lock()
	defer c.smu.Unlock()
	return c.sess != nil
}

// Session returns a copy of the current session (nil when anonymous).
func (c *Client) Session() *Session {
	c.smu.Lock()
	defer c.smu.Unlock()
	if c.sess == nil {
		return nil
	}
	s := *c.sess
	return &s
}

// Call invokes method with params (use KW for keyword arguments) and
// decodes the result into out (a pointer, or nil to discard it).
func (c *Client) Call(ctx context.Context, out any, method string, params ...any) error {
	v, err := c.do(ctx, method, params, isReadOnly(method))
	if err != nil {
		return err
	}
	if out == nil {
		return nil
	}
	if err := wire.Into(v, out); err != nil {
		return fmt.Errorf("koji %s: decode result: %w", method, err)
	}
	return nil
}

// KW builds a keyword-argument struct (see wire.KW).
func KW(pairs ...any) wire.Struct { return wire.KW(pairs...) }

// do runs one XML-RPC request with retries, re-login and callnum handling.
func (c *Client) do(ctx context.Context, method string, params []any, readOnly bool) (any, error) {
	body, err := wire.EncodeCall(method, params...)
	if err != nil {
		return nil, fmt.Errorf("koji %s: %w", method, err)
	}
	start := time.Now()
	c.stats.call(method)
	v, err := c.doBody(ctx, method, body, readOnly)
	c.opts.Metrics.observe(method, time.Since(start), err)
	return v, err
}

func (c *Client) doBody(ctx context.Context, method string, body []byte, readOnly bool) (any, error) {
	if c.opts.Auth != nil {
		if err := c.acquire(ctx, method); err != nil {
			return nil, err
		}
		defer c.release()
		if c.sess == nil {
			if err := c.loginLocked(ctx, false); err != nil {
				return nil, err
			}
		}
	}
	relogged := false
	for replays := 0; ; replays++ {
		var callnum int64 = -1
		if c.sess != nil {
			callnum = c.nextCallnum()
		}
		v, attempts, err := c.send(ctx, method, c.url, body, c.sess, callnum, nil)
		if err == nil {
			return v, nil
		}
		var f *Fault
		if !errors.As(err, &f) || c.opts.Auth == nil || relogged {
			if f != nil && f.Code == CodeRetryError && attempts > 1 && readOnly && replays < 3 {
				// Our own transport retry replayed a read that had in fact
				// completed: reads may simply be asked again.
				continue
			}
			return nil, err
		}
		switch f.Code {
		case CodeAuthExpired:
			// Renew with the old session headers, as the Python client does.
			c.log.InfoContext(ctx, "koji session expired, renewing", "method", method)
			if err := c.loginLocked(ctx, true); err != nil {
				if err2 := c.loginLocked(ctx, false); err2 != nil {
					return nil, fmt.Errorf("koji %s: re-login after AuthExpired: %w", method, errors.Join(err, err2))
				}
			}
		case CodeAuthError, CodeSequenceError:
			// Invalid/closed session or a callnum out of order: the call was
			// rejected before it ran, so a fresh session may retry it.
			c.log.InfoContext(ctx, "koji session rejected, logging in again", "method", method, "fault", f.Message)
			if err := c.loginLocked(ctx, false); err != nil {
				return nil, fmt.Errorf("koji %s: re-login after %s: %w", method, f.Name(), err)
			}
		case CodeRetryError:
			if attempts > 1 && readOnly && replays < 3 {
				continue
			}
			return nil, err
		default:
			return nil, err
		}
		relogged = true
	}
}

// send POSTs body until it gets an answer that is not worth retrying, within
// the retry budget. It returns the number of HTTP attempts made.
func (c *Client) send(ctx context.Context, method, url string, body []byte, sess *Session, callnum int64, decorate func(*http.Request) error) (any, int, error) {
	deadline := time.Now().Add(c.opts.RetryBudget)
	backoff := c.opts.RetryBase
	attempts := 0
	for {
		attempts++
		v, err := c.post(ctx, method, url, body, sess, callnum, decorate)
		if err == nil {
			return v, attempts, nil
		}
		if ctx.Err() != nil {
			return nil, attempts, fmt.Errorf("koji %s: %w", method, ctx.Err())
		}
		reason, retry := retryable(err)
		if !retry || c.opts.RetryBudget < 0 {
			return nil, attempts, err
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		if time.Now().Add(wait).After(deadline) {
			return nil, attempts, fmt.Errorf("%w after %d attempts: %w", ErrRetryBudget, attempts, err)
		}
		c.stats.retry()
		c.opts.Metrics.retry(reason)
		c.log.DebugContext(ctx, "koji call failed, retrying", "method", method, "attempt", attempts, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, attempts, fmt.Errorf("koji %s: %w (last error: %v)", method, ctx.Err(), err)
		case <-t.C:
		}
		backoff = min(backoff*2, c.opts.RetryMax)
	}
}

func retryable(err error) (string, bool) {
	var f *Fault
	if errors.As(err, &f) {
		return "offline", f.Code == CodeServerOffline
	}
	var h *HTTPError
	if errors.As(err, &h) {
		return "http_" + strconv.Itoa(h.StatusCode), h.Temporary()
	}
	if errors.Is(err, wire.ErrMalformed) {
		// A truncated body from a proxy is transient; a hub never sends one.
		return "malformed", true
	}
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return "transport", true
	}
	return "transport", errors.As(err, new(*transportError))
}

type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

// post performs one HTTP request.
func (c *Client) post(ctx context.Context, method, url string, body []byte, sess *Session, callnum int64, decorate func(*http.Request) error) (any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("koji %s: %w", method, err)
	}
	req.Header.Set("Content-Type", "text/xml")
	req.Header.Set("User-Agent", c.opts.UserAgent)
	if sess != nil {
		req.Header.Set("Koji-Session-Id", strconv.FormatInt(sess.ID, 10))
		req.Header.Set("Koji-Session-Key", sess.Key)
		if callnum >= 0 {
			req.Header.Set("Koji-Session-Callnum", strconv.FormatInt(callnum, 10))
		}
	}
	if decorate != nil {
		if err := decorate(req); err != nil {
			return nil, fmt.Errorf("koji %s: %w", method, err)
		}
	}
	c.stats.httpRequest()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.opts.Metrics.http("error")
		return nil, &transportError{fmt.Errorf("koji %s: %w", method, err)}
	}
	defer resp.Body.Close()
	c.opts.Metrics.http(strconv.Itoa(resp.StatusCode))
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, &transportError{fmt.Errorf("koji %s: read response: %w", method, err)}
	}
	if resp.StatusCode != http.StatusOK {
		snippet := strings.TrimSpace(string(data))
		if len(snippet) > 200 {
			snippet = snippet[:200]
		}
		return nil, &HTTPError{Method: method, StatusCode: resp.StatusCode, Status: resp.Status, Body: snippet}
	}
	v, err := wire.DecodeResponse(data)
	if err != nil {
		var wf *wire.Fault
		if errors.As(err, &wf) {
			f := faultFromWire(method, wf)
			c.stats.fault(f)
			return nil, f
		}
		return nil, fmt.Errorf("koji %s: %w", method, err)
	}
	return v, nil
}

// isReadOnly reports methods that change nothing and may be replayed.
func isReadOnly(method string) bool {
	switch method {
	case "getAPIVersion", "getKojiVersion", "getLoggedInUser", "hello", "repoInfo", "taskFinished",
		"getLastEvent":
		return true
	}
	return strings.HasPrefix(method, "get") || strings.HasPrefix(method, "list") ||
		strings.HasPrefix(method, "query") || strings.HasPrefix(method, "has")
}
