package bodhisim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/bodhi"
)

// KojiHub is what the simulator needs from Koji: reading a side tag and its
// builds when an update is created, and the tagging Bodhi does when an
// update goes stable.
type KojiHub interface {
	// GetTag returns the tag, or nil and no error when it does not exist.
	GetTag(ctx context.Context, name string) (*Tag, error)
	// ListTagged returns the NVRs of listTagged(tag, latest=True).
	ListTagged(ctx context.Context, tag string) ([]string, error)
	// TagBuild tags nvr into tag (as Bodhi's Koji user).
	TagBuild(ctx context.Context, tag, nvr string) error
	// DeleteTag deletes the update side tag after stable (Bodhi, a Koji
	// admin, uses deleteTag).
	DeleteTag(ctx context.Context, tag string) error
}

// Tag is the part of Koji's getTag answer Bodhi reads.
type Tag struct {
	Name        string
	ID          int64
	SideTag     bool   // extra.sidetag
	SideTagUser string // extra.sidetag_user
}

// ReleaseSpec is a release the simulator serves, and how a build is matched
// to it: a build belongs to the release whose DistMarker appears in the
// release part of its NVR (".fc45", ".eln"), like Bodhi finding a release
// from a build's dist tag.
type ReleaseSpec struct {
	bodhi.Release
	DistMarker string
}

// DefaultReleases are Rawhide (F45) and ELN, both pending and not composed
// by Bodhi, as in Fedora.
func DefaultReleases() []ReleaseSpec {
	return []ReleaseSpec{
		{DistMarker: ".fc45", Release: bodhi.Release{
			Name: "F45", LongName: "Fedora 45", Version: "45", IDPrefix: "FEDORA", Branch: "rawhide",
			DistTag: "f45", StableTag: "f45", TestingTag: "f45-updates-testing", CandidateTag: "f45-updates-candidate",
			PendingSigningTag: "f45-signing-pending", PendingTestingTag: "f45-updates-testing-pending",
			PendingStableTag: "f45-updates-pending", OverrideTag: "f45-override", State: "pending",
			CreateAutomaticUpdates: true, PackageManager: "dnf", TestingRepository: "updates-testing",
			MailTemplate: "fedora_errata_template", Eol: "", SettingStatus: "pre_beta",
		}},
		{DistMarker: ".eln", Release: bodhi.Release{
			Name: "ELN", LongName: "Fedora ELN", Version: "eln", IDPrefix: "FEDORA-ELN", Branch: "eln",
			DistTag: "eln", StableTag: "eln", TestingTag: "eln-updates-testing", CandidateTag: "eln-updates-candidate",
			PendingSigningTag: "eln-signing-pending", PendingTestingTag: "eln-updates-testing-pending",
			PendingStableTag: "eln-updates-pending", OverrideTag: "eln-override", State: "pending",
			CreateAutomaticUpdates: true, PackageManager: "dnf", TestingRepository: "updates-testing",
			MailTemplate: "fedora_errata_template",
		}},
	}
}

// BodhiScopes are the scopes Bodhi requires on a login token.
var BodhiScopes = []string{
	"openid", "email", "profile",
	"https://id.fedoraproject.org/scope/groups",
	"https://id.fedoraproject.org/scope/agreements",
}

// Options configure a Server.
type Options struct {
	// Addr to listen on (default 127.0.0.1:0).
	Addr string
	// Koji is required to create updates and to push them stable.
	Koji KojiHub
	// OIDCIssuer is the provider Bodhi trusts; OIDCClientID/Secret are
	// Bodhi's own credentials there (for token introspection).
	OIDCIssuer       string
	OIDCClientID     string
	OIDCClientSecret string
	// RequiredScopes on login tokens (default BodhiScopes).
	RequiredScopes []string
	// PackagerGroups must all hold the user (mandatory_packager_groups,
	// default ["packager"]); AdminGroups may act on any side tag
	// (admin_packager_groups, default ["provenpackager", "releng"]).
	PackagerGroups []string
	AdminGroups    []string
	// Releases served (default DefaultReleases()).
	Releases []ReleaseSpec
	// TestingAfter and StableAfter drive the lifecycle (defaults 1 s each).
	// Hold (or Options.Held) stops it; Advance moves an update by hand.
	TestingAfter time.Duration
	StableAfter  time.Duration
	Held         bool
	// AuthTktLifetime is how long a sign-in lasts (default 24 h).
	AuthTktLifetime time.Duration
	// PublicURL is the base of update URLs (default the listener's URL).
	PublicURL string
	Logger    *slog.Logger
}

// Fault is an injected failure. A request matching Method (any when empty)
// and Path (a prefix; any when empty) waits Delay, then, if Status is set,
// is answered with Status and Errors in Bodhi's shape (or an HTML proxy page
// when HTML is set or Errors is empty and Status >= 500). Times is how many
// requests it hits (default 1; negative: until ClearFaults).
type Fault struct {
	Method string
	Path   string
	Delay  time.Duration
	Status int
	Errors []bodhi.ErrorDetail
	HTML   bool
	Times  int
}

type session struct {
	csrf string
}

type ticket struct {
	user    string
	expires time.Time
}

type account struct {
	name   string
	email  string
	groups []string
}

// record is an update plus what the simulator tracks about it.
type record struct {
	u       bodhi.Update
	seq     int
	changed time.Time // last status change
	release *ReleaseSpec
	pushing bool // a stable push is running
}

// Server is a running Bodhi simulator.
type Server struct {
	o        Options
	ln       net.Listener
	srv      *http.Server
	url      string
	log      *slog.Logger
	cancel   context.CancelFunc
	done     chan struct{}
	mu       sync.Mutex
	session  map[string]*session
	tickets  map[string]ticket
	users    map[string]account
	updates  []*record
	faults   []*Fault
	counts   map[string]int
	created  int
	held     bool
	onCreate []func(bodhi.Update)
	oidc     *oidcEndpoints
}

// Start starts a simulator for t and stops it at cleanup.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := New(o)
	if err != nil {
		t.Fatalf("bodhisim: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// New starts a simulator. Close stops it.
func New(o Options) (*Server, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if len(o.RequiredScopes) == 0 {
		o.RequiredScopes = BodhiScopes
	}
	if o.PackagerGroups == nil {
		o.PackagerGroups = []string{"packager"}
	}
	if o.AdminGroups == nil {
		o.AdminGroups = []string{"provenpackager", "releng"}
	}
	if len(o.Releases) == 0 {
		o.Releases = DefaultReleases()
	}
	if o.TestingAfter == 0 {
		o.TestingAfter = time.Second
	}
	if o.StableAfter == 0 {
		o.StableAfter = time.Second
	}
	if o.AuthTktLifetime == 0 {
		o.AuthTktLifetime = 24 * time.Hour
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", o.Addr, err)
	}
	s := &Server{
		o: o, ln: ln, url: "http://" + ln.Addr().String(),
		log:     o.Logger.With("component", "bodhisim"),
		session: map[string]*session{}, tickets: map[string]ticket{}, users: map[string]account{},
		counts: map[string]int{}, held: o.Held, done: make(chan struct{}),
	}
	if s.o.PublicURL == "" {
		s.o.PublicURL = s.url
	}
	s.o.PublicURL = strings.TrimRight(s.o.PublicURL, "/")
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go func() { _ = s.srv.Serve(ln) }()
	go s.lifecycle(ctx)
	return s, nil
}

// Close stops the server and the lifecycle.
func (s *Server) Close() {
	s.cancel()
	<-s.done
	_ = s.srv.Close()
}

// URL is the base URL for clients.
func (s *Server) URL() string { return s.url }

// InjectFault adds a failure (see Fault).
func (s *Server) InjectFault(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// RejectNextCreate makes the next POST /updates/ fail validation with
// description on body.builds (400), as Bodhi rejects an update.
func (s *Server) RejectNextCreate(description string) {
	s.InjectFault(Fault{Method: http.MethodPost, Path: "/updates/", Status: http.StatusBadRequest,
		Errors: []bodhi.ErrorDetail{{Location: "body", Name: "builds", Description: description}}})
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// ExpireSessions invalidates every auth_tkt: the next write is refused with
// 403 until the client signs in again.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tickets)
}

// RotateCSRF gives every session a new CSRF token: the next write with the
// old one is refused with 400 until the client fetches /csrf again.
func (s *Server) RotateCSRF() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.session {
		ss.csrf = randHex(20)
	}
}

// Hold stops (true) or resumes (false) the automatic lifecycle.
func (s *Server) Hold(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = on
}

// OnCreate registers f, called after each update is stored (before the
// answer is written).
func (s *Server) OnCreate(f func(bodhi.Update)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onCreate = append(s.onCreate, f)
}

// Count returns how many requests a route served: "login", "csrf",
// "create", "get", "list", "releases".
func (s *Server) Count(route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[route]
}

// Created is how many updates were created.
func (s *Server) Created() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.created
}

// Updates returns a snapshot of every update, oldest first.
func (s *Server) Updates() []bodhi.Update {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]bodhi.Update, len(s.updates))
	for i, r := range s.updates {
		out[i] = cloneUpdate(r.u)
	}
	return out
}

// Update returns a snapshot of one update.
func (s *Server) Update(alias string) (bodhi.Update, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.find(alias); r != nil {
		return cloneUpdate(r.u), true
	}
	return bodhi.Update{}, false
}

func (s *Server) find(alias string) *record {
	for _, r := range s.updates {
		if r.u.Alias == alias {
			return r
		}
	}
	return nil
}

func cloneUpdate(u bodhi.Update) bodhi.Update {
	u.Builds = slices.Clone(u.Builds)
	return u
}

func (s *Server) count(route string) {
	s.mu.Lock()
	s.counts[route]++
	s.mu.Unlock()
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

var errNoKoji = errors.New("bodhisim: no Koji configured")
