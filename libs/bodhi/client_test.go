package bodhi_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/bodhi"
	"github.com/fedora-eln/ebs/libs/koji"
	bodhisim "github.com/fedora-eln/ebs/libs/sim/bodhi"
	"github.com/fedora-eln/ebs/libs/sim/bodhi/bodhisimtest"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

const notes = "Automatic update for ELN rebuild batch"

type env struct {
	*bodhisimtest.Env
	sim     *bodhisim.Server
	c       *bodhi.Client
	retries *atomic.Int32
}

// setup starts the OIDC provider, the Koji simulator and the Bodhi
// simulator (bodhisimtest) and a client signed in by client credentials as
// the account that owns the side tags.
func setup(t *testing.T, tweak func(*bodhisim.Options, *bodhi.Options)) *env {
	t.Helper()
	so := bodhisim.Options{Held: true}
	co := bodhi.Options{
		RetryFor: 10 * time.Second, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		RequestTimeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler),
	}
	co.Tokens = defaultTokens{}
	if tweak != nil {
		tweak(&so, &co)
	}
	be := bodhisimtest.Start(t, bodhisimtest.Options{Bodhi: so})
	if _, ok := co.Tokens.(defaultTokens); ok {
		co.Tokens = be.Tokens()
	}
	co.BaseURL = be.Bodhi.URL()
	retries := &atomic.Int32{}
	co.OnRetry = func(string, error) { retries.Add(1) }
	c, err := bodhi.New(co)
	if err != nil {
		t.Fatal(err)
	}
	return &env{Env: be, sim: be.Bodhi, c: c, retries: retries}
}

// defaultTokens marks "use the environment's client credentials".
type defaultTokens struct{ bodhi.TokenSource }

// otherSideTag is a side tag owned by someone else.
func (e *env) otherSideTag(t *testing.T, owner string, nvrs ...string) string {
	t.Helper()
	e.Koji.AddUser(owner)
	kc, err := e.Koji.Client(owner, koji.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := kc.CreateSideTag(context.Background(), "eln-build")
	if err != nil {
		t.Fatal(err)
	}
	for _, nvr := range nvrs {
		if _, err := e.Koji.AddBuild(kojihub.BuildSpec{NVR: nvr, State: koji.BuildComplete, Tags: []string{st.Name}}); err != nil {
			t.Fatal(err)
		}
	}
	return st.Name
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func eln(tag string) bodhi.NewUpdate {
	return bodhi.NewUpdate{FromTag: tag, Notes: notes, Type: bodhi.TypeUnspecified}
}

func TestCreateUpdateFromSideTag(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := ctxT(t)
	nvrs := []string{"bash-5.2.37-1.eln150", "zsh-5.9-12.eln150"}
	st100 := e.SideTag(t, nvrs...)

	got, err := e.c.CreateUpdate(ctx, eln(st100))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if got.Existing || len(got.Updates) != 1 {
		t.Fatalf("created %+v", got)
	}
	u := got.Updates[0]
	if !strings.HasPrefix(u.Alias, "FEDORA-ELN-") || u.Status != bodhi.StatusPending || u.FromTag != st100 ||
		u.Notes != notes || u.Type != "unspecified" || !slices.Equal(sorted(u.NVRs()), sorted(nvrs)) || u.Release.StableTag != "eln" ||
		u.User.Name != e.Account || u.Request != nil || !u.Autotime || u.StableDays != 0 {
		t.Fatalf("update %+v", u)
	}
	if u.URL != e.sim.URL()+"/updates/"+u.Alias || u.DateSubmitted.IsZero() {
		t.Fatalf("url %q submitted %v", u.URL, u.DateSubmitted)
	}
	read, err := e.c.Update(ctx, u.Alias)
	if err != nil || read.Alias != u.Alias || read.FromTag != u.FromTag || read.Status != bodhi.StatusPending {
		t.Fatalf("get %+v, %v", read, err)
	}
	if e.sim.Count("login") != 1 || e.sim.Count("csrf") != 1 || e.sim.Created() != 1 {
		t.Fatalf("login %d csrf %d created %d", e.sim.Count("login"), e.sim.Count("csrf"), e.sim.Created())
	}
	// The sign-in went through Bodhi's introspection of the token.
	if e.OIDC.Count("introspect") != 1 || e.OIDC.Count("userinfo") != 1 {
		t.Fatalf("introspect %d userinfo %d", e.OIDC.Count("introspect"), e.OIDC.Count("userinfo"))
	}
}

func TestCreateIsIdempotentPerSideTag(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		hint []string
	}{
		{"looked up by build", []string{"bash-5.2.37-1.eln150"}},
		{"looked up by paging side-tag updates", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, nil)
			ctx := ctxT(t)
			// Other side-tag updates exist, so the look-up must match from_tag.
			for i := range 3 {
				tag := e.SideTag(t, "pkg"+string(rune('a'+i))+"-1-1.eln150")
				if _, err := e.c.CreateUpdate(ctx, eln(tag)); err != nil {
					t.Fatal(err)
				}
			}
			st7 := e.SideTag(t, "bash-5.2.37-1.eln150")
			n := eln(st7)
			n.ExpectedNVRs = tt.hint
			first, err := e.c.CreateUpdate(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			again, err := e.c.CreateUpdate(ctx, n)
			if err != nil {
				t.Fatalf("re-create: %v", err)
			}
			if !again.Existing || again.Updates[0].Alias != first.Updates[0].Alias {
				t.Fatalf("re-create returned %+v, want the existing %s", again, first.Updates[0].Alias)
			}
			if e.sim.Created() != 4 {
				t.Fatalf("Bodhi holds %d updates, want 4", e.sim.Created())
			}
		})
	}
}

func TestForbiddenSignsInAgain(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := ctxT(t)
	st1 := e.SideTag(t, "a-1-1.eln150")
	st2 := e.SideTag(t, "b-1-1.eln150")
	if _, err := e.c.CreateUpdate(ctx, eln(st1)); err != nil {
		t.Fatal(err)
	}
	e.sim.ExpireSessions() // auth_tkt expired: Bodhi answers 403
	if _, err := e.c.CreateUpdate(ctx, eln(st2)); err != nil {
		t.Fatalf("create after session expiry: %v", err)
	}
	if e.sim.Count("login") != 2 || e.sim.Created() != 2 {
		t.Fatalf("login %d created %d", e.sim.Count("login"), e.sim.Created())
	}
}

func TestExpiredTokenIsRefreshed(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := ctxT(t)
	st1 := e.SideTag(t, "a-1-1.eln150")
	st2 := e.SideTag(t, "b-1-1.eln150")
	if _, err := e.c.CreateUpdate(ctx, eln(st1)); err != nil {
		t.Fatal(err)
	}
	tokens := e.OIDC.Count("token")
	e.OIDC.RevokeAll()     // the cached access token is dead
	e.sim.ExpireSessions() // and so is the session: sign-in gets 401, then a fresh token
	if _, err := e.c.CreateUpdate(ctx, eln(st2)); err != nil {
		t.Fatalf("create: %v", err)
	}
	if e.OIDC.Count("token") != tokens+1 || e.sim.Count("login") != 3 {
		t.Fatalf("token requests %d (before %d), logins %d", e.OIDC.Count("token"), tokens, e.sim.Count("login"))
	}
}

func TestCSRFMismatchFetchesNewToken(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := ctxT(t)
	st1 := e.SideTag(t, "a-1-1.eln150")
	st2 := e.SideTag(t, "b-1-1.eln150")
	if _, err := e.c.CreateUpdate(ctx, eln(st1)); err != nil {
		t.Fatal(err)
	}
	e.sim.RotateCSRF()
	if _, err := e.c.CreateUpdate(ctx, eln(st2)); err != nil {
		t.Fatalf("create after CSRF rotation: %v", err)
	}
	if e.sim.Count("csrf") != 2 || e.sim.Count("login") != 1 || e.sim.Created() != 2 {
		t.Fatalf("csrf %d login %d created %d", e.sim.Count("csrf"), e.sim.Count("login"), e.sim.Created())
	}
}

func TestTransientFailuresBackOff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault bodhisim.Fault
		opts  func(*bodhi.Options)
	}{
		{"503 JSON", bodhisim.Fault{Method: "POST", Path: "/updates/", Status: 503, Times: 3,
			Errors: []bodhi.ErrorDetail{{Location: "body", Name: "OperationalError", Description: "database is down"}}}, nil},
		{"502 HTML from the proxy", bodhisim.Fault{Method: "POST", Path: "/updates/", Status: 502, HTML: true, Times: 2}, nil},
		{"500 on sign-in", bodhisim.Fault{Path: "/oidc/login-token", Status: 500, Times: 2}, nil},
		{"Koji unreachable behind Bodhi", bodhisim.Fault{Method: "POST", Path: "/updates/", Status: 400, Times: 2,
			Errors: []bodhi.ErrorDetail{{Location: "body", Name: "builds", Description: "Koji error getting build: a-1-1.eln150"}}}, nil},
		{"slow answers time out", bodhisim.Fault{Method: "POST", Path: "/updates/", Delay: 2 * time.Second, Times: 2},
			func(o *bodhi.Options) { o.RequestTimeout = 200 * time.Millisecond }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, func(_ *bodhisim.Options, o *bodhi.Options) {
				if tt.opts != nil {
					tt.opts(o)
				}
			})
			ctx := ctxT(t)
			st1 := e.SideTag(t, "a-1-1.eln150")
			e.sim.InjectFault(tt.fault)
			got, err := e.c.CreateUpdate(ctx, eln(st1))
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if int(e.retries.Load()) != tt.fault.Times || e.sim.Created() != 1 || got.Existing {
				t.Fatalf("retries %d (want %d), created %d, existing %v", e.retries.Load(), tt.fault.Times, e.sim.Created(), got.Existing)
			}
		})
	}
}

func TestSlowAnswerAfterCreateIsNotDuplicated(t *testing.T) {
	t.Parallel()
	// Bodhi files the update but the answer never arrives: the retry is
	// refused with "already exists" and the client returns the same update.
	e := setup(t, func(_ *bodhisim.Options, o *bodhi.Options) { o.RequestTimeout = 300 * time.Millisecond })
	ctx := ctxT(t)
	st1 := e.SideTag(t, "a-1-1.eln150")
	var slow atomic.Bool
	slow.Store(true)
	e.sim.OnCreate(func(bodhi.Update) {
		if slow.CompareAndSwap(true, false) {
			time.Sleep(time.Second)
		}
	})
	got, err := e.c.CreateUpdate(ctx, eln(st1))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Existing || e.sim.Created() != 1 || got.Updates[0].FromTag != st1 {
		t.Fatalf("got %+v, created %d", got, e.sim.Created())
	}
}

func TestRetryBudgetIsBounded(t *testing.T) {
	t.Parallel()
	e := setup(t, func(_ *bodhisim.Options, o *bodhi.Options) { o.RetryFor = 300 * time.Millisecond })
	ctx := ctxT(t)
	st1 := e.SideTag(t, "a-1-1.eln150")
	e.sim.InjectFault(bodhisim.Fault{Method: "POST", Path: "/updates/", Status: 500, Times: -1})
	_, err := e.c.CreateUpdate(ctx, eln(st1))
	var re *bodhi.RetryError
	if !errors.As(err, &re) || re.Attempts < 2 || !bodhi.IsTransient(err) || !bodhi.IsStatus(err, 500) {
		t.Fatalf("want a RetryError over HTTP 500, got %v", err)
	}
	if e.sim.Created() != 0 {
		t.Fatal("an update was created through a permanent 500")
	}
}

// A caller's deadline that ends while the client is still retrying keeps
// Bodhi's last answer in the error: an operator reads "HTTP 503", not only
// "context deadline exceeded".
func TestCallerDeadlineKeepsLastAnswer(t *testing.T) {
	t.Parallel()
	e := setup(t, func(_ *bodhisim.Options, o *bodhi.Options) { o.RetryFor = time.Hour })
	st1 := e.SideTag(t, "a-1-1.eln150")
	e.sim.InjectFault(bodhisim.Fault{Method: "POST", Path: "/updates/", Status: 503, Times: -1})
	ctx, cancel := context.WithTimeout(ctxT(t), 1500*time.Millisecond)
	defer cancel()
	_, err := e.c.CreateUpdate(ctx, eln(st1))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want the caller's deadline, got %v", err)
	}
	if !bodhi.IsStatus(err, 503) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("the last answer (HTTP 503) is lost: %v", err)
	}
}

func TestErrorShape(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := ctxT(t)
	e.Tag(t, "f45-build-x", "x-1-1.fc45")
	stEmpty := e.SideTag(t)
	stOther := e.otherSideTag(t, "someone-else", "b-1-1.eln150")
	stOdd := e.SideTag(t, "c-1-1.el9")
	stOk := e.SideTag(t, "d-1-1.eln150")
	tests := []struct {
		name     string
		update   bodhi.NewUpdate
		reject   string
		status   int
		location string
		field    string
		desc     string
	}{
		{"missing tag", eln("no-such-tag"), "", 400, "body", "from_tag", "The supplied from_tag doesn't exist."},
		{"not a side tag", eln("f45-build-x"), "", 400, "body", "from_tag", "The supplied tag is not a side tag."},
		{"empty side tag", eln(stEmpty), "", 400, "body", "from_tag", "The supplied from_tag doesn't contain any builds."},
		{"someone else's side tag", eln(stOther), "", 403, "body", "builds", e.Account + " does not own " + stOther + " side-tag"},
		{"no release for the build", eln(stOdd), "", 400, "body", "builds", "Cannot find release associated with build: c-1-1.el9"},
		{"bad type", bodhi.NewUpdate{FromTag: stOk, Notes: notes, Type: "hotfix"}, "", 400, "body", "type", `"hotfix" is not one of`},
		{"notes too short", bodhi.NewUpdate{FromTag: stOk, Notes: "x", Type: "unspecified"}, "", 400, "body", "notes", "Shorter than minimum length 2"},
		{"security without severity", bodhi.NewUpdate{FromTag: stOk, Notes: notes, Type: "security"}, "", 400, "body", "severity", "Must specify severity for a security update"},
		{"rejected by Bodhi", eln(stOk), "Update for d-1-1.eln150 already exists", 400, "body", "builds", "Update for d-1-1.eln150 already exists"},
	}
	for _, tt := range tests {
		if tt.reject != "" {
			e.sim.RejectNextCreate(tt.reject)
		}
		_, err := e.c.CreateUpdate(ctx, tt.update)
		be, ok := bodhi.AsError(err)
		if !ok {
			t.Fatalf("%s: want *bodhi.Error, got %v", tt.name, err)
		}
		if be.Status != tt.status || len(be.Errors) == 0 || be.Errors[0].Location != tt.location ||
			be.Errors[0].Name != tt.field || !strings.Contains(be.Errors[0].Description, tt.desc) {
			t.Fatalf("%s: got %d %+v", tt.name, be.Status, be.Errors)
		}
		if bodhi.IsTransient(err) || bodhi.IsSideTagInUse(err) {
			t.Fatalf("%s: classified as transient or side tag in use", tt.name)
		}
		if !strings.Contains(err.Error(), tt.desc) {
			t.Fatalf("%s: message %q lacks %q", tt.name, err, tt.desc)
		}
	}
	if e.sim.Created() != 0 {
		t.Fatalf("%d updates created by invalid requests", e.sim.Created())
	}

	_, err := e.c.Update(ctx, "FEDORA-2025-0000000000")
	be, ok := bodhi.AsError(err)
	if !ok || !bodhi.IsNotFound(err) || be.Errors[0].Location != "url" || be.Errors[0].Name != "id" || be.Errors[0].Description != "Invalid update id" {
		t.Fatalf("unknown alias: %v", err)
	}
}

func TestNotAPackagerIsForbidden(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := ctxT(t)
	e.OIDC.AddUser(e.Account) // drop the packager group
	st1 := e.SideTag(t, "a-1-1.eln150")
	_, err := e.c.CreateUpdate(ctx, eln(st1))
	be, ok := bodhi.AsError(err)
	if !ok || be.Status != 403 || !be.Has("HTTPForbidden", "failed permission check") {
		t.Fatalf("want 403 HTTPForbidden, got %v", err)
	}
	// One re-login was tried before giving up.
	if e.sim.Count("login") != 2 {
		t.Fatalf("logins %d", e.sim.Count("login"))
	}
}

func TestWritesNeedCredentials(t *testing.T) {
	t.Parallel()
	e := setup(t, func(_ *bodhisim.Options, o *bodhi.Options) { o.Tokens = nil })
	if _, err := e.c.CreateUpdate(ctxT(t), eln("x")); err == nil || !strings.Contains(err.Error(), "credentials") {
		t.Fatalf("create without credentials: %v", err)
	}
}

func TestTokenFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "token")
	e := setup(t, func(_ *bodhisim.Options, o *bodhi.Options) { o.Tokens = bodhi.TokenFile(path) })
	if err := os.WriteFile(path, []byte(e.OIDC.Token(e.Account)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	st1 := e.SideTag(t, "a-1-1.eln150")
	if _, err := e.c.CreateUpdate(ctxT(t), eln(st1)); err != nil {
		t.Fatalf("create with a token file: %v", err)
	}
	if e.OIDC.Count("token") != 0 {
		t.Fatal("the token file was not used")
	}
}

func TestInsufficientScopeIsRefused(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	tok := e.OIDC.Token(e.Account, "openid")
	c, err := bodhi.New(bodhi.Options{BaseURL: e.sim.URL(), Tokens: bodhi.StaticToken(tok), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Login(ctxT(t))
	if be, ok := bodhi.AsError(err); !ok || be.Status != 403 || !be.Has("InsufficientScopeError", "") {
		t.Fatalf("login with too few scopes: %v", err)
	}
}

func TestReleasesAndRawhideResolution(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	ctx := ctxT(t)
	tag, err := e.c.RawhideStableTag(ctx)
	if err != nil || tag != "f45" {
		t.Fatalf("rawhide stable tag %q, %v", tag, err)
	}
	rels, err := e.c.PendingReleases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(rels, func(r bodhi.Release) bool { return r.Name == "ELN" })
	if len(rels) != 2 || i < 0 || rels[i].StableTag != "eln" || rels[i].ComposedByBodhi {
		t.Fatalf("pending releases %+v", rels)
	}
	cur, err := e.c.Releases(ctx, "current")
	if err != nil || len(cur) != 0 {
		t.Fatalf("current releases %v, %v", cur, err)
	}
	// Several rawhide releases: the RPM one wins.
	got, err := bodhi.RawhideStableTag([]bodhi.Release{
		{Name: "F45F", Branch: "rawhide", IDPrefix: "FEDORA-FLATPAK", StableTag: "f45-flatpak-updates"},
		{Name: "F45", Branch: "rawhide", IDPrefix: "FEDORA", StableTag: "f45"},
	})
	if err != nil || got != "f45" {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := bodhi.RawhideStableTag(nil); !errors.Is(err, bodhi.ErrNotFound) {
		t.Fatalf("no rawhide: %v", err)
	}
}

func TestAcceptJSONIsSent(t *testing.T) {
	t.Parallel()
	e := setup(t, nil)
	// Without Accept: application/json Bodhi answers errors as HTML pages.
	resp, err := http.Get(e.sim.URL() + "/updates/FEDORA-2025-0000000000")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || resp.StatusCode != 404 {
		t.Fatalf("plain GET: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	_, err = e.c.Update(ctxT(t), "FEDORA-2025-0000000000")
	if be, ok := bodhi.AsError(err); !ok || len(be.Errors) != 1 || be.Body != "" {
		t.Fatalf("client did not get JSON errors: %v", err)
	}
}
