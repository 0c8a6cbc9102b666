package status_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/contentresolver"
	"github.com/fedora-eln/ebs/libs/contentresolver/crfixture"
	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	"github.com/fedora-eln/ebs/services/status/status"
)

// TestStatusJSONAgainstKojiSimulator reads a real XML-RPC hub (the
// simulator) through libs/koji: listTagged, listBuilds(userID, queryOpts)
// and listTags travel the wire as the original's calls did.
func TestStatusJSONAgainstKojiSimulator(t *testing.T) {
	t.Parallel()
	hub := kojihub.Start(t, kojihub.Options{})
	hub.AddUser("eln-buildsync")
	if _, err := hub.AddTag(kojihub.TagSpec{Name: "eln-signing-pending"}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	add := func(nvr, owner string, state koji.BuildState, tags ...string) {
		t.Helper()
		n++ // each build starts later than the one before
		if _, err := hub.AddBuild(kojihub.BuildSpec{NVR: nvr, Owner: owner, State: state, Tags: tags, WithTask: true,
			CreationTime: t0.Add(time.Duration(n) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	add("zlib-1.3.1-2.eln150", "eln-buildsync", koji.BuildComplete, "eln")
	add("bash-5.3-1.eln150", "eln-buildsync", koji.BuildComplete, "eln")
	add("bash-5.3-2.eln150", "eln-buildsync", koji.BuildFailed)
	add("gcc-15.0-1.eln150", "eln-buildsync", koji.BuildComplete, "eln")
	add("gcc-15.1-1.eln150", "eln-buildsync", koji.BuildComplete, "eln-signing-pending") // newer, awaiting signing
	// Someone else's newer zlib build is not ours: status.json keeps ours.
	add("zlib-1.3.1-3.eln150", "jdoe", koji.BuildFailed)
	// rpm was never built by us: found through listBuilds(packageID="rpm").
	add("rpm-4.20-1.eln150", "jdoe", koji.BuildComplete, "eln")
	add("rpm-4.20-2.eln150", "jdoe", koji.BuildFailed)
	c, err := koji.New(koji.Options{URL: hub.URL()})
	if err != nil {
		t.Fatal(err)
	}
	comps := []status.Component{{Name: "zlib", View: "eln"}, {Name: "bash", View: "eln"}, {Name: "gcc", View: "eln-extras"},
		{Name: "rpm", View: "eln"}, {Name: "never-built", View: "eln"}}
	hub.ResetCounters()
	raw, err := status.StatusJSON(context.Background(), status.KojiClientReader{C: c}, comps, "eln", "eln-buildsync",
		"https://koji.example/koji", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The original's calls, in few requests: listTagged, listBuilds(userID),
	// one multicall of listBuilds(packageID) for rpm and never-built, and
	// listTags for gcc (complete, not the tagged build).
	cnt := hub.Counters()
	if cnt.Calls["listBuilds"] != 3 || cnt.Calls["multiCall"] != 1 || cnt.Calls["listTagged"] != 1 || cnt.HTTPRequests != 4 {
		t.Errorf("Koji traffic: %d HTTP requests, calls %v", cnt.HTTPRequests, cnt.Calls)
	}
	var doc map[string]map[string]any
	var top map[string]any
	_ = json.Unmarshal(raw, &top)
	delete(top, "__updated")
	b, _ := json.Marshal(top)
	_ = json.Unmarshal(b, &doc)
	for name, want := range map[string]string{"zlib": "SUCCESS", "bash": "FAILED", "gcc": "SIGNING", "rpm": "FAILED"} {
		if doc[name]["status"] != want {
			t.Errorf("%s: %v (%v), want %s; entry %v", name, doc[name]["status"], doc[name]["status_detail"], want, doc[name])
		}
	}
	if doc["zlib"]["nvr"] != "zlib-1.3.1-2.eln150" || doc["zlib"]["build_id"] == nil || doc["gcc"]["view"] != "eln-extras" {
		t.Errorf("entries lack Koji's build fields or took another user's build: %v", doc["zlib"])
	}
	// The last build of the package wins, whoever built it.
	if doc["rpm"]["nvr"] != "rpm-4.20-2.eln150" || doc["rpm"]["tagged"] != "rpm-4.20-1.eln150" {
		t.Errorf("rpm = %v", doc["rpm"])
	}
	if v, ok := top["never-built"]; !ok || v != nil {
		t.Errorf("never-built = %v (present %v), want null", v, ok)
	}
}

func TestContentResolverComponents(t *testing.T) {
	t.Parallel()
	srv := crfixture.NewTest(t, contentresolver.List{View: "eln", Source: "source", Names: []string{"zlib", "freeipa"}},
		contentresolver.List{View: "eln-extras", Source: "source", Names: []string{"rust-serde"}})
	comps := config.Components{
		AutoPackageList: &config.AutoPackageList{Views: []string{"eln", "eln-extras"}, Sources: []string{"source"}, ContentResolver: srv.URL},
		Overrides:       map[string]config.Override{"ipa": {UpstreamName: "freeipa"}},
	}
	got, err := status.ContentResolverComponents(&contentresolver.Client{}, comps)(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]status.Component{}
	for _, c := range got {
		byName[c.Name] = c
	}
	if byName["zlib"].View != "eln" || byName["rust-serde"].View != "eln-extras" || byName["ipa"].Upstream != "freeipa" {
		t.Fatalf("components = %+v", got)
	}
}
