package bodhi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultRetryFor       = 15 * time.Minute
	DefaultMinBackoff     = time.Second
	DefaultMaxBackoff     = time.Minute
	DefaultRequestTimeout = 2 * time.Minute
	DefaultUserAgent      = "ebs (+https://github.com/fedora-eln/ebs)"
)

// Options configure a Client.
type Options struct {
	// BaseURL of Bodhi, e.g. https://bodhi.fedoraproject.org/.
	BaseURL string
	// Tokens supplies OIDC access tokens; nil allows only reads.
	Tokens TokenSource
	// Transport for HTTP (default http.DefaultTransport). The client keeps
	// its own cookie jar.
	Transport http.RoundTripper
	// RetryFor bounds how long transient failures (5xx, timeouts, Koji
	// errors behind Bodhi) are retried per call (default 15 min).
	RetryFor time.Duration
	// MinBackoff and MaxBackoff bound the exponential backoff (1 s, 1 min).
	MinBackoff, MaxBackoff time.Duration
	// RequestTimeout bounds one HTTP exchange (default 2 min).
	RequestTimeout time.Duration
	// Username narrows the look-up of an existing update to the updates this
	// account submitted (optional).
	Username string
	// LookupPages bounds how many pages of side-tag updates the look-up
	// reads when it cannot search by build (default 10 x 100).
	LookupPages int
	UserAgent   string
	Logger      *slog.Logger
	// OnRetry, when set, is told about every retried failure (metrics).
	OnRetry func(op string, err error)
	// Metrics, when set, counts requests and failed calls (NewMetrics).
	Metrics *Metrics
}

// Client talks to one Bodhi instance. It is safe for concurrent use; writes
// are serialized because they share one session and CSRF token.
type Client struct {
	o    Options
	base *url.URL
	hc   *http.Client
	jar  *resettableJar
	log  *slog.Logger

	writeMu  sync.Mutex // one write at a time: session, CSRF token
	mu       sync.Mutex
	loggedIn bool
	csrf     string
}

// New returns a client for o.BaseURL.
func New(o Options) (*Client, error) {
	if o.BaseURL == "" {
		return nil, errors.New("bodhi: BaseURL is required")
	}
	base, err := url.Parse(strings.TrimRight(o.BaseURL, "/") + "/")
	if err != nil || base.Scheme == "" || base.Host == "" {
		return nil, fmt.Errorf("bodhi: bad BaseURL %q", o.BaseURL)
	}
	if o.RetryFor == 0 {
		o.RetryFor = DefaultRetryFor
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = DefaultMinBackoff
	}
	if o.MaxBackoff == 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.RequestTimeout == 0 {
		o.RequestTimeout = DefaultRequestTimeout
	}
	if o.LookupPages == 0 {
		o.LookupPages = 10
	}
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	c := &Client{o: o, base: base, log: o.Logger.With("component", "bodhi-client"), jar: newJar()}
	c.hc = &http.Client{Transport: o.Transport, Jar: c.jar, Timeout: o.RequestTimeout,
		// Bodhi answers the API without redirects; following one would
		// turn a POST into a GET.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return c, nil
}

// BaseURL is the Bodhi URL the client talks to.
func (c *Client) BaseURL() string { return c.base.String() }

// request is one API call.
type request struct {
	op     string // for logs and errors: "create update", ...
	method string
	path   string
	query  url.Values
	body   func(csrf string) map[string]any // nil for GET
	header http.Header
}

// exchange performs one HTTP round trip and decodes a 2xx JSON answer into out.
func (c *Client) exchange(ctx context.Context, r request, csrf string, out any) error {
	u := c.base.JoinPath(strings.TrimPrefix(r.path, "/"))
	if strings.HasSuffix(r.path, "/") && !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}
	var body io.Reader
	if r.body != nil {
		b, err := json.Marshal(r.body(csrf))
		if err != nil {
			return fmt.Errorf("bodhi: encode %s: %w", r.op, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return fmt.Errorf("bodhi: %s: %w", r.op, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.o.UserAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range r.header {
		req.Header[k] = v
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.o.Metrics.request(r.op, 0)
		return &transportError{err: err}
	}
	defer resp.Body.Close()
	c.o.Metrics.request(r.op, resp.StatusCode)
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &transportError{err: err}
	}
	if resp.StatusCode >= 300 {
		return decodeError(r.method, u.Path, resp.StatusCode, data)
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("bodhi: %s: decode answer: %w (body starts %q)", r.op, err, truncate(string(data), 200))
	}
	return nil
}

// transportError is a failure below HTTP (connection, timeout).
type transportError struct{ err error }

func (e *transportError) Error() string { return "bodhi: " + e.err.Error() }
func (e *transportError) Unwrap() error { return e.err }

func decodeError(method, path string, status int, data []byte) error {
	e := &Error{Method: method, Path: path, Status: status}
	var shape struct {
		Status string        `json:"status"`
		Errors []ErrorDetail `json:"errors"`
	}
	if json.Unmarshal(data, &shape) == nil && len(shape.Errors) > 0 {
		e.Errors = shape.Errors
	} else {
		e.Body = truncate(strings.TrimSpace(string(data)), 300)
	}
	return e
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func retryableStatus(s int) bool {
	return s >= 500 || s == http.StatusRequestTimeout || s == http.StatusTooManyRequests
}

// kojiTrouble reports a 400 that comes from Bodhi failing to reach Koji (it
// passes; the same request will be valid later).
func kojiTrouble(e *Error) bool {
	return e.Status == 400 && (e.Has("", "Koji error") || e.Has("", "Encountered error while requesting tagged builds from Koji"))
}

func (c *Client) transient(err error) bool {
	var te *transportError
	if errors.As(err, &te) {
		return true
	}
	if e, ok := AsError(err); ok {
		return retryableStatus(e.Status) || kojiTrouble(e)
	}
	return false
}

// call runs r with retries: transient failures back off within RetryFor;
// for writes a 403 signs in again (once) and a CSRF mismatch fetches a new
// token (twice).
func (c *Client) call(ctx context.Context, r request, out any) error {
	write := r.body != nil
	if write {
		if c.o.Tokens == nil {
			return fmt.Errorf("bodhi: %s needs credentials (Options.Tokens)", r.op)
		}
		c.writeMu.Lock()
		defer c.writeMu.Unlock()
	}
	start := time.Now()
	deadline := start.Add(c.o.RetryFor)
	delay := c.o.MinBackoff
	relogged, csrfRefreshes := false, 0
	var last error // the latest answer, kept when the context ends mid-request
	for attempt := 1; ; attempt++ {
		csrf := ""
		var err error
		if write {
			csrf, err = c.session(ctx, deadline)
		}
		if err == nil {
			err = c.exchange(ctx, r, csrf, out)
		}
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			if _, ok := AsError(err); ok {
				last = err // an answer that came as the context ended
			}
			return ended(ctx, r.op, last)
		}
		last = err
		switch {
		case write && needsLogin(err) && !relogged:
			// auth_tkt missing or expired: sign in again and fetch a new CSRF token.
			relogged = true
			c.log.Info("Bodhi refused the session, signing in again", "op", r.op, "error", err)
			c.dropSession()
			continue
		case write && IsCSRF(err) && csrfRefreshes < 2:
			csrfRefreshes++
			c.log.Info("CSRF token refused, fetching a new one", "op", r.op)
			c.mu.Lock()
			c.csrf = ""
			c.mu.Unlock()
			continue
		case c.transient(err):
			if err := c.backoff(ctx, r.op, attempt, start, deadline, &delay, err); err != nil {
				return err
			}
		default:
			return err
		}
	}
}

// needsLogin reports Bodhi refusing the session: 403 (no or expired
// auth_tkt) or "No ACLs for anonymous user".
func needsLogin(err error) bool {
	e, ok := AsError(err)
	return ok && (e.Status == http.StatusForbidden || e.Has("user", "No ACLs for anonymous user"))
}

func jitter(d time.Duration) time.Duration {
	// +-20 % so that replicas do not retry in step.
	return d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
}

func (c *Client) dropSession() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.loggedIn = false
	c.csrf = ""
	c.jar.reset()
}

// resettableJar is a cookie jar that can be emptied while in use.
type resettableJar struct {
	mu  sync.Mutex
	jar *cookiejar.Jar
}

func newJar() *resettableJar {
	j := &resettableJar{}
	j.reset()
	return j
}

func (j *resettableJar) reset() {
	jar, _ := cookiejar.New(nil)
	j.mu.Lock()
	j.jar = jar
	j.mu.Unlock()
}

func (j *resettableJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	j.mu.Lock()
	jar := j.jar
	j.mu.Unlock()
	jar.SetCookies(u, cookies)
}

func (j *resettableJar) Cookies(u *url.URL) []*http.Cookie {
	j.mu.Lock()
	jar := j.jar
	j.mu.Unlock()
	return jar.Cookies(u)
}

// session makes sure the client is signed in and holds a CSRF token, and
// returns the token. Transient failures retry until deadline.
func (c *Client) session(ctx context.Context, deadline time.Time) (string, error) {
	c.mu.Lock()
	loggedIn, csrf := c.loggedIn, c.csrf
	c.mu.Unlock()
	if !loggedIn {
		if err := c.login(ctx, deadline); err != nil {
			return "", err
		}
	}
	if csrf == "" {
		var out struct {
			CSRFToken string `json:"csrf_token"`
		}
		if err := c.retryRead(ctx, deadline, request{op: "csrf", method: http.MethodGet, path: "/csrf"}, &out); err != nil {
			return "", err
		}
		if out.CSRFToken == "" {
			return "", errors.New("bodhi: /csrf returned no csrf_token")
		}
		c.mu.Lock()
		c.csrf = out.CSRFToken
		c.mu.Unlock()
		csrf = out.CSRFToken
	}
	return csrf, nil
}

// Login exchanges an OIDC access token for Bodhi's auth_tkt and session
// cookies. Writes sign in by themselves; call it to check credentials early.
func (c *Client) Login(ctx context.Context) error {
	if c.o.Tokens == nil {
		return errors.New("bodhi: Login needs credentials (Options.Tokens)")
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.dropSession()
	err := c.login(ctx, time.Now().Add(c.o.RetryFor))
	c.o.Metrics.failed("login", err)
	return err
}

func (c *Client) login(ctx context.Context, deadline time.Time) error {
	fresh := false
	for try := 0; ; try++ {
		tok, err := c.o.Tokens.Token(ctx, fresh)
		if err != nil {
			return err
		}
		r := request{op: "login", method: http.MethodGet, path: "/oidc/login-token",
			header: http.Header{"Authorization": {"Bearer " + tok}}}
		err = c.retryRead(ctx, deadline, r, nil)
		if err == nil {
			c.mu.Lock()
			c.loggedIn = true
			c.csrf = "" // the CSRF token belongs to the session
			c.mu.Unlock()
			c.log.Debug("signed in to Bodhi")
			return nil
		}
		if IsStatus(err, http.StatusUnauthorized) && try == 0 {
			// Expired or revoked token: get a new one and try once more.
			fresh = true
			continue
		}
		return fmt.Errorf("bodhi: sign in: %w", err)
	}
}

// retryRead runs a request that changes nothing, retrying transient failures until deadline.
func (c *Client) retryRead(ctx context.Context, deadline time.Time, r request, out any) error {
	start := time.Now()
	delay := c.o.MinBackoff
	var last error
	for attempt := 1; ; attempt++ {
		err := c.exchange(ctx, r, "", out)
		if ctx.Err() != nil && err != nil {
			if _, ok := AsError(err); ok {
				last = err // an answer that came as the context ended
			}
			return ended(ctx, r.op, last)
		}
		if err == nil || !c.transient(err) {
			return err
		}
		last = err
		if err := c.backoff(ctx, r.op, attempt, start, deadline, &delay, err); err != nil {
			return err
		}
	}
}

// backoff waits before retrying op after its attempt-th transient failure
// err, doubling *delay up to MaxBackoff. It returns a *RetryError when the
// wait would pass deadline, or the context's error.
func (c *Client) backoff(ctx context.Context, op string, attempt int, start, deadline time.Time, delay *time.Duration, err error) error {
	if c.o.OnRetry != nil {
		c.o.OnRetry(op, err)
	}
	wait := jitter(*delay)
	if time.Now().Add(wait).After(deadline) {
		return &RetryError{Attempts: attempt, Elapsed: time.Since(start), Last: err}
	}
	c.log.Warn("Bodhi call failed, retrying", "op", op, "attempt", attempt, "delay", wait, "error", err)
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ended(ctx, op, err)
	case <-t.C:
	}
	*delay = min(*delay*2, c.o.MaxBackoff)
	return nil
}

// ended is the error of a call whose context ended while it was retrying:
// the context's error, and Bodhi's last answer when there was one, both
// wrapped, so callers see "HTTP 503" (and its *Error) rather than only
// "context deadline exceeded".
func ended(ctx context.Context, op string, last error) error {
	if last == nil {
		return fmt.Errorf("bodhi: %s: %w", op, ctx.Err())
	}
	return fmt.Errorf("bodhi: %s: %w (last answer: %w)", op, ctx.Err(), last)
}

// get is a read with the retry budget.
func (c *Client) get(ctx context.Context, op, path string, q url.Values, out any) error {
	err := c.retryRead(ctx, time.Now().Add(c.o.RetryFor), request{op: op, method: http.MethodGet, path: path, query: q}, out)
	c.o.Metrics.failed(op, err)
	return err
}
