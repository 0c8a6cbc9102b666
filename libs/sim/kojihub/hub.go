package kojihub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/koji/wire"
)

// Version is what the simulator reports as Koji-Version and getKojiVersion.
const Version = "1.35.3"

// Options configure a Hub. The zero value is a usable hub with the default
// world (Rawhide f45 and ELN tags, no packages).
type Options struct {
	// Seed makes the world generator and scenario choices deterministic.
	Seed uint64
	// Packages, if > 0, generates that many packages with Rawhide builds
	// (see Generate).
	Packages int
	// ELNFraction of generated packages also get an ELN build (default 0.1).
	ELNFraction float64
	// Scenario scripts build outcomes and delays (default: every build
	// succeeds in 20 ms).
	Scenario *Scenario
	// Sink receives buildsys.* messages (nil: messages are dropped).
	Sink Sink
	// Lossy drops this fraction (0..1) of messages before the sink.
	Lossy float64
	// TopicPrefix of published messages (default org.fedoraproject.prod).
	TopicPrefix string
	// BotUser is created with ordinary permissions (default "eln-buildsync").
	BotUser string
	// LoginUser is who a plain-HTTP /ssllogin authenticates as when the
	// request names nobody (default BotUser). See RemoteUserHeader.
	LoginUser string
	// SideTagLimit is the per-user side tag quota (default 10; Fedora
	// caps side tags per user through the sidetag policy).
	SideTagLimit int
	// SessionLifetime before AuthExpired (default 24 h, as
	// SessionRenewalTimeout).
	SessionLifetime time.Duration
	// TLS serves HTTPS with certificates from PKI (NewTestPKI if nil);
	// /ssllogin then requires a client certificate signed by PKI's CA.
	TLS bool
	PKI *PKI
	// Kerberos enables GSSAPI login (see KerberosService).
	Kerberos *KerberosService
	// RawhideTag (default "f45") and the dist tags used to derive ELN NVRs.
	RawhideTag string
	FedoraDist string // default "fc45"
	ELNDist    string // default "eln150"
	// BaseTime is the creation time of generated builds (default 2026-11-01).
	BaseTime time.Time
	Logger   *slog.Logger
	// Builds are added after the generated packages, in order (AddBuild).
	Builds []BuildSpec

	extraUsers []UserSpec
}

// RemoteUserHeader, on a plain-HTTP /ssllogin, names the user to log in as:
// the simulator's stand-in for the REMOTE_USER that Apache sets in front of
// a real hub. Tests normally use Hub.NewClient instead.
const RemoteUserHeader = "X-Koji-Sim-Remote-User"

// Hub is a simulated Koji hub serving XML-RPC over HTTP(S).
type Hub struct {
	opts Options
	log  *slog.Logger

	mu    sync.Mutex
	w     *world
	rng   *rand.Rand
	scen  *Scenario
	runs  map[string]int // build attempts per package name
	repoQ map[int64]*repoRegen
	wait  map[int64][]func() // wait_repo waiters per build tag id

	faults   faultTable
	log_     callLog
	counters counters

	pub       *publisher
	krb       http.Handler
	server    *httptest.Server
	closed    chan struct{}
	timers    sync.WaitGroup
	closeOnce sync.Once
}

// New builds a hub (not yet listening). Serve it with Start, Listen, or as
// an http.Handler.
func New(opts Options) (*Hub, error) {
	if opts.TopicPrefix == "" {
		opts.TopicPrefix = "org.fedoraproject.prod"
	}
	if opts.BotUser == "" {
		opts.BotUser = "eln-buildsync"
	}
	if opts.LoginUser == "" {
		opts.LoginUser = opts.BotUser
	}
	if opts.SideTagLimit == 0 {
		opts.SideTagLimit = 10
	}
	if opts.SessionLifetime == 0 {
		opts.SessionLifetime = 24 * time.Hour
	}
	if opts.RawhideTag == "" {
		opts.RawhideTag = "f45"
	}
	if opts.FedoraDist == "" {
		opts.FedoraDist = "fc" + strings.TrimPrefix(opts.RawhideTag, "f")
	}
	if opts.ELNDist == "" {
		opts.ELNDist = "eln150"
	}
	if opts.ELNFraction == 0 {
		opts.ELNFraction = 0.1
	}
	if opts.BaseTime.IsZero() {
		opts.BaseTime = time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	scen := opts.Scenario
	if scen == nil {
		scen = &Scenario{}
	}
	h := &Hub{
		opts:   opts,
		log:    opts.Logger.With("component", "kojihub-sim"),
		w:      newWorld(opts.BaseTime),
		rng:    rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
		scen:   scen.withDefaults(),
		runs:   map[string]int{},
		repoQ:  map[int64]*repoRegen{},
		wait:   map[int64][]func(){},
		closed: make(chan struct{}),
	}
	if opts.Kerberos != nil {
		h.krb = h.kerberosHandler()
	}
	h.faults.rng = rand.New(rand.NewPCG(opts.Seed+1, 7))
	h.pub = newPublisher(opts.Sink, opts.TopicPrefix, opts.Lossy, opts.Seed, h.log)
	h.defaultWorld()
	for _, u := range opts.extraUsers {
		h.w.addUser(u.Name, u.Perms...)
	}
	if opts.Packages > 0 {
		if _, err := h.Generate(GenerateOptions{Packages: opts.Packages, ELNFraction: opts.ELNFraction}); err != nil {
			return nil, err
		}
	}
	for _, b := range opts.Builds {
		if _, err := h.AddBuild(b); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// Start serves a new hub for the duration of the test (plain HTTP unless
// opts.TLS) and closes it at cleanup. It fails the test on error.
func Start(t testing.TB, opts Options) *Hub {
	t.Helper()
	if opts.TLS && opts.PKI == nil {
		opts.PKI = NewTestPKI(t)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatalf("kojihub: %v", err)
	}
	h.serveTest()
	t.Cleanup(h.Close)
	return h
}

func (h *Hub) serveTest() {
	srv := httptest.NewUnstartedServer(h)
	if h.opts.TLS {
		srv.TLS = h.opts.PKI.ServerTLS()
		srv.StartTLS()
	} else {
		srv.Start()
	}
	h.server = srv
}

// Listen serves the hub on addr (e.g. "127.0.0.1:8080") until ctx ends.
func (h *Hub) Listen(ctx context.Context, addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	scheme := "http"
	if h.opts.TLS {
		if h.opts.PKI == nil {
			return "", errors.New("kojihub: TLS needs Options.PKI")
		}
		srv.TLSConfig = h.opts.PKI.ServerTLS()
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
		h.Close()
	}()
	return scheme + "://" + ln.Addr().String() + "/kojihub", nil
}

// URL is the hub endpoint, e.g. http://127.0.0.1:41234/kojihub.
func (h *Hub) URL() string {
	if h.server == nil {
		return ""
	}
	return h.server.URL + "/kojihub"
}

// Close stops timers, the server and the message publisher.
func (h *Hub) Close() {
	h.closeOnce.Do(func() {
		close(h.closed)
		if h.server != nil {
			h.server.Close()
		}
		h.pub.close()
	})
}

// ServeHTTP implements the hub's HTTP behaviour: POST only (405 with
// Allow: POST otherwise), faults as HTTP 200, 400 for unparsable bodies.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	if strings.HasPrefix(path, "/sim/") {
		h.serveSim(w, r)
		return
	}
	login := strings.HasSuffix(path, "/ssllogin")
	if !login && path != "/kojihub" && path != "" {
		http.NotFound(w, r)
		return
	}
	if login && h.krb != nil && r.Method == http.MethodPost && (r.TLS == nil || len(r.TLS.PeerCertificates) == 0) && r.Header.Get(RemoteUserHeader) == "" {
		h.counters.http.Add(1)
		h.krb.ServeHTTP(w, r)
		return
	}
	if _, ok := r.Context().Value(ctxKey{}).(*remoteIdentity); !ok {
		h.counters.http.Add(1)
	}
	h.serve(w, r, login)
}

func (h *Hub) serve(w http.ResponseWriter, r *http.Request, login bool) {
	w.Header().Set("Koji-Version", Version)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusMethodNotAllowed)
		io.WriteString(w, "Method Not Allowed\nThis is an XML-RPC server. Only POST requests are accepted.\n")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20+1))
	if err != nil {
		writePlain(w, http.StatusRequestTimeout, "Request Timeout\n")
		return
	}
	if len(body) > 4<<20 {
		writeXML(w, wire.EncodeFault(koji.CodeGenericError, "Request too long"))
		return
	}
	method, params, err := wire.DecodeCall(body)
	if err != nil {
		writePlain(w, http.StatusBadRequest, "Invalid request: "+err.Error()+"\n")
		return
	}
	// Fault injection happens before the hub sees the call (multicall
	// elements' faults are answered in their place by multiCall).
	picked := h.faults.pickRequest(method, params)
	inj := picked.req
	if inj != nil && !inj.AfterCall {
		if inj.Latency > 0 {
			select {
			case <-time.After(inj.Latency.D()):
			case <-r.Context().Done():
				return
			}
		}
		switch {
		case inj.HTTPStatus != 0:
			h.logCall(method, params, "", inj.HTTPStatus, 0, "injected")
			writePlain(w, inj.HTTPStatus, http.StatusText(inj.HTTPStatus)+"\n")
			return
		case inj.Fault != 0:
			msg := inj.Message
			if msg == "" {
				msg = defaultFaultMessage(inj.Fault)
			}
			h.logCall(method, params, "", 200, inj.Fault, "injected")
			writeXML(w, wire.EncodeFault(inj.Fault, msg))
			return
		case inj.ExpireSession:
			h.expireSessionOf(r)
		}
	}
	var remote *remoteIdentity
	if login {
		remote, err = h.identify(r)
		if err != nil {
			if errors.Is(err, errNegotiate) {
				w.Header().Set("WWW-Authenticate", "Negotiate")
				writePlain(w, http.StatusUnauthorized, "Unauthorized\n")
				return
			}
		}
	}
	resp := h.handle(r, method, params, remote, err, picked.elems)
	if inj != nil && inj.AfterCall && inj.HTTPStatus != 0 {
		writePlain(w, inj.HTTPStatus, http.StatusText(inj.HTTPStatus)+"\n")
		return
	}
	writeXML(w, resp)
}

func writePlain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(code)
	io.WriteString(w, msg)
}

func writeXML(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
}

func defaultFaultMessage(code int) string {
	switch code {
	case koji.CodeServerOffline:
		return "server is offline"
	case koji.CodeAuthExpired:
		return "session has expired"
	}
	return "injected " + koji.FaultName(code)
}

// call is one dispatched method with its bound arguments.
type call struct {
	h        *Hub
	method   string
	args     map[string]any
	user     *user
	sess     *session
	remote   *remoteIdentity
	now      time.Time
	msgs     []pendingMsg
	after    []func() // run after commit, with the lock released
	commit   bool     // a write happened (the session callnum is stored)
	inMulti  bool
	loginErr error
	// elemFaults are the injected faults of multicall elements, by index;
	// elems is what each element ended with, for the call log.
	elemFaults map[int]*FaultRule
	elems      []elemOutcome
}

// elemOutcome is how one multicall element ended.
type elemOutcome struct {
	code     int // fault code, 0 for a result
	injected bool
}

// handle runs a request under the world lock and publishes its messages
// after "commit".
func (h *Hub) handle(r *http.Request, method string, params []any, remote *remoteIdentity, loginErr error, elemFaults map[int]*FaultRule) []byte {
	h.mu.Lock()
	c := &call{h: h, method: method, remote: remote, now: time.Now(), loginErr: loginErr, elemFaults: elemFaults}
	var callnum *int64
	result, err := func() (any, error) {
		sess, cn, err := h.validateSession(r, method)
		if err != nil {
			return nil, err
		}
		callnum = cn
		c.sess = sess
		if sess != nil && !sess.Expired {
			c.user = h.w.users[sess.UserID]
		}
		if method == "multiCall" || method == "system.multicall" {
			return h.multiCall(c, params)
		}
		return h.dispatch(c, method, params)
	}()
	if err == nil && c.commit && c.sess != nil && callnum != nil {
		n := *callnum
		c.sess.LastCall = &n
	}
	var body []byte
	code := 0
	if err != nil {
		f := asFault(err)
		code = f.Code
		body = wire.EncodeFault(f.Code, f.Message)
		c.msgs = nil
		c.after = nil
	} else {
		b, encErr := wire.EncodeResponse(result)
		if encErr != nil {
			code = 1
			body = wire.EncodeFault(1, "<class 'TypeError'>: "+encErr.Error())
			c.msgs, c.after = nil, nil
		} else {
			body = b
		}
	}
	user := ""
	if c.user != nil {
		user = c.user.Name
	}
	h.logCall(method, params, user, 200, code, "", c.elems...)
	msgs, after := c.msgs, c.after
	h.mu.Unlock()
	h.pub.enqueue(msgs)
	for _, f := range after {
		f()
	}
	return body
}

func asFault(err error) *koji.Fault {
	var f *koji.Fault
	if errors.As(err, &f) {
		return f
	}
	return &koji.Fault{Code: 1, Message: fmt.Sprintf("<class 'Exception'>: %v", err)}
}

func fault(code int, format string, a ...any) *koji.Fault {
	return &koji.Fault{Code: code, Message: fmt.Sprintf(format, a...)}
}

// multiCall runs each call in its own "savepoint": a failing call's
// messages and deferred work are discarded, the others' kept.
func (h *Hub) multiCall(c *call, params []any) (any, error) {
	if c.inMulti {
		return nil, fault(koji.CodeGenericError, "multicall cannot be nested")
	}
	pos, kw := wire.SplitKwargs(params)
	if len(pos) != 1 || len(kw) > 0 {
		return nil, fault(koji.CodeParameterError, "multiCall() takes exactly one argument")
	}
	calls, ok := pos[0].([]any)
	if !ok {
		return nil, fault(koji.CodeParameterError, "multiCall() argument must be a list")
	}
	results := make([]any, 0, len(calls))
	for i, raw := range calls {
		m, _ := raw.(map[string]any)
		name, _ := m["methodName"].(string)
		ps, _ := m["params"].([]any)
		sub := &call{h: h, method: name, user: c.user, sess: c.sess, now: c.now, inMulti: true}
		inj := c.elemFaults[i]
		v, err := func() (any, error) {
			if inj != nil {
				// An injected fault stands in for the element: it never runs.
				msg := inj.Message
				if msg == "" {
					msg = defaultFaultMessage(inj.Fault)
				}
				return nil, fault(inj.Fault, "%s", msg)
			}
			if name == "" {
				return nil, fault(koji.CodeGenericError, "Invalid method: %v", m["methodName"])
			}
			if name == "multiCall" || name == "system.multicall" {
				return nil, fault(koji.CodeGenericError, "multicall cannot be nested")
			}
			return h.dispatch(sub, name, ps)
		}()
		h.counters.method(name)
		if err != nil {
			f := asFault(err)
			h.counters.fault(f.Code)
			results = append(results, wire.Struct{{Name: "faultCode", Value: f.Code}, {Name: "faultString", Value: f.Message}})
			c.elems = append(c.elems, elemOutcome{code: f.Code, injected: inj != nil})
			continue
		}
		c.elems = append(c.elems, elemOutcome{})
		c.msgs = append(c.msgs, sub.msgs...)
		c.after = append(c.after, sub.after...)
		c.commit = c.commit || sub.commit
		results = append(results, []any{v})
	}
	return results, nil
}

// emit queues a message for publication after commit.
func (c *call) emit(topic string, body any) {
	c.msgs = append(c.msgs, pendingMsg{topic: topic, body: body, at: c.now})
}

// Counters is what the hub counted, for tests and benchmarks.
type Counters struct {
	HTTPRequests int64
	Calls        map[string]int64 // per method; multicall elements under their own name
	Faults       map[int]int64
	Messages     int64 // published to the sink
	Dropped      int64 // dropped by the lossy switch
}

// Counters returns a snapshot.
func (h *Hub) Counters() Counters {
	c := Counters{HTTPRequests: h.counters.http.Load(), Calls: map[string]int64{}, Faults: map[int]int64{}}
	h.counters.mu.Lock()
	for k, v := range h.counters.calls {
		c.Calls[k] = v
	}
	for k, v := range h.counters.faults {
		c.Faults[k] = v
	}
	h.counters.mu.Unlock()
	c.Messages, c.Dropped = h.pub.stats()
	return c
}

// ResetCounters zeroes the counters and the call log.
func (h *Hub) ResetCounters() {
	h.counters.http.Store(0)
	h.counters.mu.Lock()
	h.counters.calls = map[string]int64{}
	h.counters.faults = map[int]int64{}
	h.counters.mu.Unlock()
	h.log_.mu.Lock()
	h.log_.entries = nil
	h.log_.mu.Unlock()
}

func (h *Hub) now() time.Time { return time.Now() }

// after runs f after d unless the hub closes first; f runs under the lock
// and its messages are published in order.
func (h *Hub) after(d time.Duration, f func(c *call)) {
	run := func() {
		select {
		case <-h.closed:
			return
		default:
		}
		h.mu.Lock()
		c := &call{h: h, now: time.Now()}
		f(c)
		msgs, after := c.msgs, c.after
		h.mu.Unlock()
		h.pub.enqueue(msgs)
		for _, a := range after {
			a()
		}
	}
	if d <= 0 {
		go run()
		return
	}
	time.AfterFunc(d, run)
}
