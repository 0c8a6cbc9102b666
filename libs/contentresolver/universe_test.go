package contentresolver_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/contentresolver"
	"github.com/fedora-eln/ebs/libs/contentresolver/crfixture"
)

func production(t *testing.T, crURL string) *config.Config {
	t.Helper()
	c, err := config.LoadFile("testdata/distrobaker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c.Components.AutoPackageList.ContentResolver = crURL
	return c
}

// The universe of the production configuration over the sample lists:
// first-listed view and source win, overrides rename and add.
func TestUniverseFromSampleLists(t *testing.T) {
	t.Parallel()
	srv := crfixture.NewTest(t, crfixture.Sample()...)
	c := production(t, srv.URL)
	u, err := (&contentresolver.Client{}).Load(context.Background(), c.Components)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		upstream       bool
		found          bool
		eln, view, src string
	}{
		{"bash", false, true, "bash", "eln", "source"},                   // in eln source and eln buildroot-source: source wins
		{"help2man", false, true, "help2man", "eln", "buildroot-source"}, // in eln and eln-extras buildroot-source: eln wins
		{"python-requests", true, true, "python-requests", "eln", "source"},
		{"htop", true, true, "htop", "eln-extras", "source"},
		{"python-sphinx", true, true, "python-sphinx", "eln-extras", "buildroot-source"},
		{"ipa", false, true, "ipa", "eln", "source"},            // listed under its ELN name, updated by the override
		{"freeipa", true, true, "ipa", "eln", "source"},         // the Fedora name maps to it
		{"freeipa", false, false, "", "", ""},                   // not an ELN name
		{"dump", true, true, "restore", "override", "override"}, // only known from the override
		{"restore", false, true, "restore", "override", "override"},
		{"linux-system-roles", true, true, "rhel-system-roles", "eln-extras", "source"},
		{"firefox", true, false, "", "", ""},
	}
	for _, tt := range tests {
		look := u.Downstream
		if tt.upstream {
			look = u.Upstream
		}
		e, ok := look(tt.name)
		if ok != tt.found {
			t.Errorf("%s (upstream %v): found %v", tt.name, tt.upstream, ok)
			continue
		}
		if ok && (e.Downstream != tt.eln || e.View != tt.view || e.Source != tt.src) {
			t.Errorf("%s (upstream %v): %+v", tt.name, tt.upstream, e)
		}
	}
	if e, _ := u.Upstream("freeipa"); e.Upstream != "freeipa" {
		t.Errorf("freeipa upstream %q", e.Upstream)
	}
	if name, ok := u.ELNName("freeipa"); !ok || name != "ipa" {
		t.Errorf("ELNName(freeipa) = %q", name)
	}
	if name, ok := u.ELNName("bash"); !ok || name != "bash" {
		t.Errorf("ELNName(bash) = %q", name)
	}
	if _, ok := u.ELNName("firefox"); ok {
		t.Error("ELNName(firefox)")
	}
	if u.Len() != len(u.Components()) || u.Components()[0].Downstream != "autoconf" {
		t.Errorf("components %d", u.Len())
	}
	// Each list fetched exactly once.
	for _, v := range []string{"eln", "eln-extras"} {
		for _, s := range []string{"source", "buildroot-source"} {
			if n := srv.Hits(s, v); n != 1 {
				t.Errorf("%s/%s fetched %d times", s, v, n)
			}
		}
	}
}

// A name listed by the Content Resolver under its Fedora name keeps that
// name as its ELN name (ensure_downstream_name prefers a downstream match).
func TestOverrideOfListedNames(t *testing.T) {
	t.Parallel()
	apl := &config.AutoPackageList{Views: []string{"eln"}, Sources: []string{"source"}}
	lists := []contentresolver.List{{View: "eln", Source: "source", Names: []string{"freeipa", "ipa"}}}
	comps := config.Components{Overrides: map[string]config.Override{
		"ipa":   {UpstreamName: "freeipa", Extra: map[string]any{"view": "eln-extras", "note": "renamed"}},
		"newpk": {UpstreamName: "newpk"},
	}, OverrideOrder: []string{"ipa", "newpk"}}
	u, err := contentresolver.Build(apl, lists, comps)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := u.ELNName("freeipa"); n != "freeipa" {
		t.Errorf("ELNName(freeipa) = %q", n)
	}
	up, _ := u.Upstream("freeipa")
	if up.Downstream != "ipa" || up.View != "eln-extras" || up.Extra["note"] != "renamed" {
		t.Errorf("upstream freeipa %+v", up)
	}
	// The shared entry: upstream "ipa" is the updated downstream entry.
	if e, ok := u.Upstream("ipa"); !ok || e.Upstream != "freeipa" {
		t.Errorf("upstream ipa %+v", e)
	}
	if e, _ := u.Downstream("newpk"); e.View != "override" || e.Upstream != "newpk" {
		t.Errorf("newpk %+v", e)
	}
	if _, err := contentresolver.Build(apl, []contentresolver.List{{View: "eln", Source: "source"}}, config.Components{}); !errors.Is(err, contentresolver.ErrEmpty) {
		t.Errorf("empty: %v", err)
	}
}

func TestClientRetriesAndFailures(t *testing.T) {
	t.Parallel()
	srv := crfixture.NewTest(t, crfixture.Sample()...)
	c := production(t, srv.URL)
	cl := &contentresolver.Client{Timeout: 2 * time.Second, RetryFor: 10 * time.Second, Backoff: 10 * time.Millisecond}
	ctx := context.Background()
	srv.FailNext(http.StatusBadGateway, http.StatusServiceUnavailable)
	names, err := cl.FetchList(ctx, srv.URL, "source", "eln")
	if err != nil || len(names) != 25 || names[0] != "bash" {
		t.Fatalf("after retries: %d names, %v", len(names), err)
	}
	if srv.Hits("source", "eln") != 3 {
		t.Fatalf("hits %d", srv.Hits("source", "eln"))
	}
	srv.Remove("buildroot-source", "eln-extras")
	_, err = cl.Load(ctx, c.Components)
	if err == nil || !strings.Contains(err.Error(), "view-buildroot-source-package-name-list--view-eln-extras.txt") || !strings.Contains(err.Error(), "404") {
		t.Fatalf("missing list: %v", err)
	}
	if srv.Hits("buildroot-source", "eln-extras") != 1 {
		t.Fatal("a 404 must not be retried")
	}
	// A retry budget smaller than the backoff gives up after one attempt.
	srv.FailNext(http.StatusInternalServerError)
	_, err = (&contentresolver.Client{RetryFor: time.Millisecond}).FetchList(ctx, srv.URL, "source", "eln")
	if err == nil || !strings.Contains(err.Error(), "500") {
		t.Fatalf("budget: %v", err)
	}
}

func TestFixtureServerStart(t *testing.T) {
	t.Parallel()
	srv, err := crfixture.Start("127.0.0.1:0", crfixture.Sample()...)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.Set("source", "eln", "only-one")
	names, err := (&contentresolver.Client{}).FetchList(context.Background(), srv.URL, "source", "eln")
	if err != nil || len(names) != 1 || names[0] != "only-one" {
		t.Fatalf("%v %v", names, err)
	}
}
