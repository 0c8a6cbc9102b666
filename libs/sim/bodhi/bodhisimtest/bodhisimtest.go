// Package bodhisimtest starts, for one test, the three parts a Bodhi test
// needs: the OIDC test provider (libs/oidctest), the Koji simulator
// (libs/sim/kojihub) and the Bodhi simulator wired to both, with a service
// account that may file side-tag updates.
//
//	env := bodhisimtest.Start(t, bodhisimtest.Options{})
//	tag := env.SideTag(t, "bash-5.3-1.eln150")       // a side tag owned by env.Account holding new ELN builds
//	c, _ := bodhi.New(bodhi.Options{BaseURL: env.Bodhi.URL(), Tokens: env.Tokens()})
//	created, _ := c.CreateUpdate(ctx, bodhi.NewUpdate{FromTag: tag, Notes: "...", Type: "unspecified"})
//
// The account ("eln-buildsync" by default, Koji's bot) is the same in the
// provider (group packager) and in Koji (it owns the side tags), as Bodhi's
// side-tag ACL requires. Bodhi's simulator acts in Koji as "bodhi".
package bodhisimtest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/fedora-eln/ebs/libs/bodhi"
	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/oidctest"
	bodhisim "github.com/fedora-eln/ebs/libs/sim/bodhi"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

// Options configure Start.
type Options struct {
	// Account is the service account ebs uses in the provider, Bodhi and
	// Koji (default "eln-buildsync").
	Account string
	// Groups of the account in the provider (default ["packager"]).
	Groups []string
	// Bodhi options; Koji and OIDC fields are filled in.
	Bodhi bodhisim.Options
	// Koji is an already running Koji simulator to use (default: a new one
	// started with KojiOptions).
	Koji        *kojihub.Hub
	KojiOptions kojihub.Options
}

// Env is a running provider, Koji simulator and Bodhi simulator.
type Env struct {
	Account string
	OIDC    *oidctest.Provider
	Koji    *kojihub.Hub
	Bodhi   *bodhisim.Server
	// KojiAccount is a Koji client logged in as Account.
	KojiAccount *koji.Client
}

// Start starts everything for t; all of it stops at cleanup.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	if o.Account == "" {
		o.Account = "eln-buildsync"
	}
	if o.Groups == nil {
		o.Groups = []string{"packager"}
	}
	p := oidctest.Start(t, oidctest.Options{ClientID: o.Account, ServiceGroups: o.Groups})
	p.AddClient("bodhi", oidctest.Client{Secret: "bodhi-oidc-secret"})
	hub := o.Koji
	if hub == nil {
		hub = kojihub.Start(t, o.KojiOptions)
	}
	hub.AddUser(o.Account)
	bodhiKoji, err := hub.Client("bodhi", koji.Options{})
	if err != nil {
		t.Fatalf("bodhisimtest: Koji client for bodhi: %v", err)
	}
	bo := o.Bodhi
	bo.Koji = bodhisim.KojiXMLRPC{Client: bodhiKoji}
	bo.OIDCIssuer, bo.OIDCClientID, bo.OIDCClientSecret = p.Issuer(), "bodhi", "bodhi-oidc-secret"
	sim := bodhisim.Start(t, bo)
	acct, err := hub.Client(o.Account, koji.Options{})
	if err != nil {
		t.Fatalf("bodhisimtest: Koji client for %s: %v", o.Account, err)
	}
	return &Env{Account: o.Account, OIDC: p, Koji: hub, Bodhi: sim, KojiAccount: acct}
}

// Tokens returns a client-credentials token source for the account (what
// bodhi-publisher uses in production).
func (e *Env) Tokens() bodhi.TokenSource {
	return &bodhi.ClientCredentials{Config: clientcredentials.Config{
		ClientID: e.OIDC.ClientID(), ClientSecret: e.OIDC.ClientSecret(), TokenURL: e.OIDC.TokenURL(), Scopes: oidctest.FedoraScopes}}
}

// SideTag creates a side tag of eln-build owned by the account (createSideTag
// over XML-RPC, as koji-worker does) holding nvrs (new COMPLETE builds, or
// existing ones tagged in), and returns its name.
func (e *Env) SideTag(t testing.TB, nvrs ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := e.KojiAccount.CreateSideTag(ctx, "eln-build")
	if err != nil {
		t.Fatalf("bodhisimtest: createSideTag: %v", err)
	}
	for _, nvr := range nvrs {
		if _, exists := e.Koji.Build(nvr); exists {
			if err := e.Koji.Tag(st.Name, nvr, e.Account); err != nil {
				t.Fatalf("bodhisimtest: %v", err)
			}
			continue
		}
		if _, err := e.Koji.AddBuild(kojihub.BuildSpec{NVR: nvr, State: koji.BuildComplete, Tags: []string{st.Name}, Owner: e.Account}); err != nil {
			t.Fatalf("bodhisimtest: %v", err)
		}
	}
	return st.Name
}

// Tag creates a plain (not side) tag holding new COMPLETE builds nvrs.
func (e *Env) Tag(t testing.TB, name string, nvrs ...string) {
	t.Helper()
	if _, err := e.Koji.AddTag(kojihub.TagSpec{Name: name}); err != nil {
		t.Fatalf("bodhisimtest: %v", err)
	}
	for _, nvr := range nvrs {
		if _, err := e.Koji.AddBuild(kojihub.BuildSpec{NVR: nvr, State: koji.BuildComplete, Tags: []string{name}}); err != nil {
			t.Fatalf("bodhisimtest: %v", err)
		}
	}
}

// WaitTagged waits until every nvr is tagged in tag (Koji tags in tasks).
func (e *Env) WaitTagged(t testing.TB, tag string, nvrs ...string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		have := map[string]bool{}
		for _, n := range e.Koji.Tagged(tag) {
			have[n] = true
		}
		missing := 0
		for _, n := range nvrs {
			if !have[n] {
				missing++
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("bodhisimtest: %d of %v not in %s: %v", missing, nvrs, tag, fmt.Sprint(e.Koji.Tagged(tag)))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
