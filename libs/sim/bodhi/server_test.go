package bodhisim_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/bodhi"
	"github.com/fedora-eln/ebs/libs/fedmsg"
	bodhisim "github.com/fedora-eln/ebs/libs/sim/bodhi"
	"github.com/fedora-eln/ebs/libs/sim/bodhi/bodhisimtest"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

type env struct {
	*bodhisimtest.Env
	sim *bodhisim.Server
	c   *bodhi.Client
}

func setup(t *testing.T, o bodhisim.Options) *env {
	t.Helper()
	be := bodhisimtest.Start(t, bodhisimtest.Options{Bodhi: o})
	c, err := bodhi.New(bodhi.Options{BaseURL: be.Bodhi.URL(), Tokens: be.Tokens(),
		MinBackoff: time.Millisecond, RetryFor: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return &env{Env: be, sim: be.Bodhi, c: c}
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

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLifecycleTagsIntoStableAndRemovesSideTag(t *testing.T) {
	t.Parallel()
	sink := kojihub.NewChanSink(1000)
	be := bodhisimtest.Start(t, bodhisimtest.Options{KojiOptions: kojihub.Options{Sink: sink},
		Bodhi: bodhisim.Options{TestingAfter: 50 * time.Millisecond, StableAfter: 50 * time.Millisecond}})
	c, err := bodhi.New(bodhi.Options{BaseURL: be.Bodhi.URL(), Tokens: be.Tokens(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	nvrs := []string{"bash-5.2.37-1.eln150", "zsh-5.9-12.eln150"}
	tag := be.SideTag(t, nvrs...)
	got, err := c.CreateUpdate(ctx, bodhi.NewUpdate{FromTag: tag, Notes: "Automatic update for ELN rebuild batch", Type: "unspecified"})
	if err != nil {
		t.Fatal(err)
	}
	alias := got.Updates[0].Alias
	var seen []string
	waitFor(t, "stable", func() bool {
		u, err := c.Update(ctx, alias)
		if err != nil {
			t.Fatal(err)
		}
		if len(seen) == 0 || seen[len(seen)-1] != u.Status {
			seen = append(seen, u.Status)
		}
		return u.Status == bodhi.StatusStable
	})
	u, _ := be.Bodhi.Update(alias)
	if !u.Pushed || u.DateStable.IsZero() || u.DateTesting.IsZero() || !u.Builds[0].Signed {
		t.Fatalf("stable update %+v", u)
	}
	if seen[0] != bodhi.StatusPending || seen[len(seen)-1] != bodhi.StatusStable {
		t.Fatalf("statuses seen %v", seen)
	}
	be.WaitTagged(t, "eln", nvrs...)
	if be.Koji.TagExists(tag) {
		t.Fatal("the side tag was not deleted")
	}
	// Koji announced each build in the stable tag, tagged by bodhi: what
	// ebs waits for.
	want := map[string]bool{}
	for _, n := range nvrs {
		want[n] = true
	}
	deadline := time.After(20 * time.Second)
	for len(want) > 0 {
		select {
		case m := <-sink.C:
			if !strings.HasSuffix(m.Topic, ".buildsys.tag") {
				continue
			}
			var b fedmsg.TagBody
			if err := json.Unmarshal(m.Body, &b); err != nil {
				t.Fatal(err)
			}
			if b.Tag == "eln" && string(b.User) == "bodhi" {
				delete(want, b.NVR())
			}
		case <-deadline:
			t.Fatalf("no buildsys.tag into eln by bodhi for %v", want)
		}
	}
}

func TestHoldAdvanceAndSetStatus(t *testing.T) {
	t.Parallel()
	e := setup(t, bodhisim.Options{Held: true, TestingAfter: time.Millisecond, StableAfter: time.Millisecond})
	ctx := ctxT(t)
	tagSt1 := e.SideTag(t, "a-1-1.eln150")
	tagSt2 := e.SideTag(t, "b-1-1.eln150")
	u1, err := e.c.CreateUpdate(ctx, bodhi.NewUpdate{FromTag: tagSt1, Notes: "notes", Type: "unspecified"})
	if err != nil {
		t.Fatal(err)
	}
	u2, err := e.c.CreateUpdate(ctx, bodhi.NewUpdate{FromTag: tagSt2, Notes: "notes", Type: "unspecified"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if u, _ := e.sim.Update(u1.Updates[0].Alias); u.Status != bodhi.StatusPending {
		t.Fatalf("held update moved to %s", u.Status)
	}
	if err := e.sim.Advance(ctx, u1.Updates[0].Alias); err != nil {
		t.Fatal(err)
	}
	if u, _ := e.sim.Update(u1.Updates[0].Alias); u.Status != bodhi.StatusTesting {
		t.Fatalf("advanced to %s", u.Status)
	}
	if err := e.sim.SetStatus(ctx, u2.Updates[0].Alias, bodhi.StatusObsolete); err != nil {
		t.Fatal(err)
	}
	// An obsolete update keeps its NVR: a new update for it is refused.
	tagSt3 := e.SideTag(t, "b-1-1.eln150")
	_, err = e.c.CreateUpdate(ctx, bodhi.NewUpdate{FromTag: tagSt3, Notes: "notes", Type: "unspecified"})
	if be, ok := bodhi.AsError(err); !ok || !be.Has("builds", "Update for b-1-1.eln150 already exists") {
		t.Fatalf("duplicate NVR: %v", err)
	}
	// Unpushed frees it.
	if err := e.sim.SetStatus(ctx, u2.Updates[0].Alias, bodhi.StatusUnpushed); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.CreateUpdate(ctx, bodhi.NewUpdate{FromTag: tagSt3, Notes: "notes", Type: "unspecified"}); err != nil {
		t.Fatalf("after unpush: %v", err)
	}
}

func TestListFiltersAndPaging(t *testing.T) {
	t.Parallel()
	e := setup(t, bodhisim.Options{Held: true})
	ctx := ctxT(t)
	var aliases []string
	for i := range 5 {
		tag := e.SideTag(t, "pkg"+string(rune('a'+i))+"-1-1.eln150")
		got, err := e.c.CreateUpdate(ctx, bodhi.NewUpdate{FromTag: tag, Notes: "notes", Type: "unspecified"})
		if err != nil {
			t.Fatal(err)
		}
		aliases = append(aliases, got.Updates[0].Alias)
	}
	yes, no := true, false
	p, err := e.c.ListUpdates(ctx, bodhi.UpdateQuery{FromSideTag: &yes, RowsPerPage: 2, Page: 1})
	if err != nil || p.Total != 5 || p.Pages != 3 || len(p.Updates) != 2 || p.Updates[0].Alias != aliases[4] {
		t.Fatalf("page 1: %+v %v", p, err)
	}
	p, _ = e.c.ListUpdates(ctx, bodhi.UpdateQuery{FromSideTag: &yes, RowsPerPage: 2, Page: 3})
	if len(p.Updates) != 1 || p.Updates[0].Alias != aliases[0] {
		t.Fatalf("page 3: %+v", p)
	}
	p, _ = e.c.ListUpdates(ctx, bodhi.UpdateQuery{Builds: []string{"pkgc-1-1.eln150"}})
	if p.Total != 1 || p.Updates[0].Alias != aliases[2] {
		t.Fatalf("by build: %+v", p)
	}
	p, _ = e.c.ListUpdates(ctx, bodhi.UpdateQuery{FromSideTag: &no})
	if p.Total != 0 {
		t.Fatalf("from_side_tag=false: %+v", p)
	}
	p, _ = e.c.ListUpdates(ctx, bodhi.UpdateQuery{Users: []string{"nobody"}, Statuses: []string{"pending"}})
	if p.Total != 0 {
		t.Fatalf("other user: %+v", p)
	}
	p, _ = e.c.ListUpdates(ctx, bodhi.UpdateQuery{Users: []string{e.Account}, Statuses: []string{"pending"}, Releases: []string{"ELN"}, Aliases: aliases[1:2]})
	if p.Total != 1 {
		t.Fatalf("combined: %+v", p)
	}
	_, err = e.c.ListUpdates(ctx, bodhi.UpdateQuery{RowsPerPage: 1001})
	if be, ok := bodhi.AsError(err); !ok || !be.Has("rows_per_page", "greater than maximum value 1000") {
		t.Fatalf("rows_per_page 1001: %v", err)
	}
}

// formClient does the official client's dance by hand: form-encoded body.
func TestFormEncodedCreateAndCSRFBinding(t *testing.T) {
	t.Parallel()
	e := setup(t, bodhisim.Options{Held: true})
	tagElnBuildSide9 := e.SideTag(t, "a-1-1.eln150")
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	do := func(method, path string, form url.Values, hdr map[string]string) (*http.Response, map[string]any) {
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		req, _ := http.NewRequest(method, e.sim.URL()+path, body)
		req.Header.Set("Accept", "application/json")
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out := map[string]any{}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	form := url.Values{"from_tag": {tagElnBuildSide9}, "notes": {"Automatic update"}, "type": {"unspecified"}, "csrf_token": {"x"}}
	// Not signed in: 403 before anything else.
	if resp, out := do("POST", "/updates/", form, nil); resp.StatusCode != 403 || !strings.Contains(toJSON(out), "HTTPForbidden") {
		t.Fatalf("anonymous create: %d %v", resp.StatusCode, out)
	}
	if resp, _ := do("GET", "/oidc/login-token", nil, map[string]string{"Authorization": "Bearer not-a-token"}); resp.StatusCode != 401 {
		t.Fatalf("bad token login: %d", resp.StatusCode)
	}
	if resp, _ := do("GET", "/oidc/login-token", nil, map[string]string{"Authorization": "Bearer " + e.OIDC.Token(e.Account)}); resp.StatusCode != 202 {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	// A wrong CSRF token: 400 on body.csrf_token.
	resp, out := do("POST", "/updates/", form, nil)
	if resp.StatusCode != 400 || !strings.Contains(toJSON(out), "CSRF tokens do not match") || !strings.Contains(toJSON(out), `"name":"csrf_token"`) {
		t.Fatalf("wrong csrf: %d %v", resp.StatusCode, out)
	}
	_, out = do("GET", "/csrf", nil, nil)
	form.Set("csrf_token", out["csrf_token"].(string))
	resp, out = do("POST", "/updates/", form, nil)
	if resp.StatusCode != 200 || out["from_tag"] != tagElnBuildSide9 || out["status"] != "pending" || out["caveats"] == nil {
		t.Fatalf("form create: %d %v", resp.StatusCode, out)
	}
	// The token is bound to the session cookie: another session cannot use it.
	jar2, _ := cookiejar.New(nil)
	hc.Jar = jar2
	do("GET", "/oidc/login-token", nil, map[string]string{"Authorization": "Bearer " + e.OIDC.Token(e.Account)})
	tagElnBuildSide10 := e.SideTag(t, "b-1-1.eln150")
	form.Set("from_tag", tagElnBuildSide10)
	if resp, _ := do("POST", "/updates/", form, nil); resp.StatusCode != 400 {
		t.Fatalf("csrf token from another session accepted: %d", resp.StatusCode)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestSplitAcrossReleasesAndConcurrentCreate(t *testing.T) {
	t.Parallel()
	e := setup(t, bodhisim.Options{Held: true})
	ctx := ctxT(t)
	tagMixedSide := e.SideTag(t, "a-1-1.eln150", "b-1-1.fc45")
	got, err := e.c.CreateUpdate(ctx, bodhi.NewUpdate{FromTag: tagMixedSide, Notes: "notes", Type: "unspecified"})
	if err != nil || len(got.Updates) != 2 || len(got.Caveats) != 1 {
		t.Fatalf("split: %+v %v", got, err)
	}
	if got.Updates[0].Release.Name == got.Updates[1].Release.Name {
		t.Fatalf("split into one release: %+v", got.Updates)
	}

	// Many clients race for one side tag: exactly one update.
	tagRaceSide := e.SideTag(t, "c-1-1.eln150")
	var wg sync.WaitGroup
	aliases := make([]string, 6)
	for i := range aliases {
		wg.Go(func() {
			c, _ := bodhi.New(bodhi.Options{BaseURL: e.sim.URL(), Tokens: bodhi.StaticToken(e.OIDC.Token(e.Account)), Logger: slog.New(slog.DiscardHandler)})
			r, err := c.CreateUpdate(ctx, bodhi.NewUpdate{FromTag: tagRaceSide, Notes: "notes", Type: "unspecified", ExpectedNVRs: []string{"c-1-1.eln150"}})
			if err != nil {
				t.Error(err)
				return
			}
			aliases[i] = r.Updates[0].Alias
		})
	}
	wg.Wait()
	if aliases[0] == "" || slices.ContainsFunc(aliases, func(a string) bool { return a != aliases[0] }) {
		t.Fatalf("racing creates returned %v", aliases)
	}
	if e.sim.Created() != 3 {
		t.Fatalf("created %d, want 3", e.sim.Created())
	}
}
