package kojihub_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

// A scenario file names builds the world needs (world.builds); they exist
// after the generated packages, tagged as the file says.
func TestScenarioFileBuilds(t *testing.T) {
	t.Parallel()
	f, err := kojihub.ParseScenarioFile([]byte(`
seed: 3
world:
  packages: 20
  builds:
    - {nvr: freeipa-4.12.5-3.fc45, owner: abbra, tags: [f45]}
    - {nvr: ipa-4.12.5-3.eln150, tags: [eln]}
    - {nvr: freeipa-4.12.5-4.fc45, source: "git+https://src.fedoraproject.org/rpms/freeipa.git#abc", tags: [f45-updates-candidate]}
scenario:
  default: {outcome: succeed, duration: 10ms}
`))
	if err != nil {
		t.Fatal(err)
	}
	hub, err := kojihub.New(f.Options())
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	if n := len(hub.Packages()); n < 22 {
		t.Fatalf("%d packages, want the 20 generated plus freeipa and ipa", n)
	}
	for nvr, tag := range map[string]string{"freeipa-4.12.5-3.fc45": "f45", "ipa-4.12.5-3.eln150": "eln", "freeipa-4.12.5-4.fc45": "f45-updates-candidate"} {
		b, ok := hub.Build(nvr)
		if !ok || b.State != koji.BuildComplete || b.TaskID == nil {
			t.Errorf("%s: %+v %v", nvr, b, ok)
		}
		if !slices.Contains(hub.Tagged(tag), nvr) {
			t.Errorf("%s not tagged in %s", nvr, tag)
		}
	}
	if b, _ := hub.Build("freeipa-4.12.5-4.fc45"); b.Source != "git+https://src.fedoraproject.org/rpms/freeipa.git#abc" {
		t.Errorf("source %q", b.Source)
	}
	if _, err := kojihub.ParseScenarioFile([]byte("world:\n  builds:\n    - {nvr: x-1-1.fc45, colour: red}\nscenario: {}\n")); err == nil {
		t.Error("an unknown key in a build was accepted")
	}
}

// An outcome's NVR may rename the package, as freeipa.spec builds ipa on
// ELN: the ELN build of the freeipa sources is named ipa.
func TestOutcomeNVRRenamesTheBuild(t *testing.T) {
	t.Parallel()
	hub := kojihub.Start(t, kojihub.Options{Scenario: &kojihub.Scenario{Packages: map[string]kojihub.Outcome{
		"freeipa": {Result: kojihub.ResultSucceed, NVR: "ipa-4.12.5-4.eln150"}}},
		Builds: []kojihub.BuildSpec{{NVR: "ipa-4.12.5-3.eln150", State: koji.BuildComplete, Tags: []string{"eln"}}}})
	if _, err := hub.NewRawhideBuild("freeipa-4.12.5-4.fc45", "abbra"); err != nil {
		t.Fatal(err)
	}
	fb, _ := hub.Build("freeipa-4.12.5-4.fc45")
	bot := hub.NewClient(t, "eln-buildsync")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	task, err := bot.Build(ctx, koji.BuildRequest{Source: fb.Source, Target: "eln"})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ti, err := bot.GetTaskInfo(ctx, task, false)
		if err != nil {
			t.Fatal(err)
		}
		if ti.State.Finished() {
			if ti.State != koji.TaskClosed {
				t.Fatalf("build task ended %v", ti.State)
			}
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	b, ok := hub.Build("ipa-4.12.5-4.eln150")
	if !ok || b.Name != "ipa" || b.Source != fb.Source {
		t.Fatalf("ELN build: %+v %v", b, ok)
	}
	if _, ok := hub.Build("freeipa-4.12.5-4.eln150"); ok {
		t.Fatal("a freeipa ELN build exists")
	}
	if n := hub.Attempts("freeipa"); n != 1 {
		t.Fatalf("attempts of freeipa %d (outcomes stay keyed by the repository)", n)
	}
}

// GET /sim/calls and /sim/counters show, read-only, what the hub received.
func TestIntrospection(t *testing.T) {
	t.Parallel()
	hub := kojihub.Start(t, kojihub.Options{})
	c := hub.NewClient(t, "")
	ctx := context.Background()
	if _, err := c.GetBuildTarget(ctx, "eln"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Multicall(ctx, []koji.Call{koji.NewCall("getTag", "eln"), koji.NewCall("getTag", "f45")}, 0); err != nil {
		t.Fatal(err)
	}
	base := strings.TrimSuffix(hub.URL(), "/kojihub")
	var calls []struct {
		Method      string `json:"method"`
		Params      []any  `json:"params"`
		InMulticall bool   `json:"in_multicall"`
	}
	get(t, base+"/sim/calls?method=getTag", &calls)
	if len(calls) != 2 || !calls[0].InMulticall || calls[1].Params[0] != "f45" {
		t.Fatalf("getTag calls %+v", calls)
	}
	get(t, base+"/sim/calls", &calls)
	if len(calls) != 4 { // getBuildTarget, multiCall and its two elements
		t.Fatalf("%d calls logged, want 4: %+v", len(calls), calls)
	}
	var counters kojihub.Counters
	get(t, base+"/sim/counters", &counters)
	if counters.Calls["getTag"] != 2 || counters.HTTPRequests < 2 {
		t.Fatalf("counters %+v", counters)
	}
	resp, err := http.Post(base+"/sim/calls", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST /sim/calls: %s", resp.Status)
	}
}

func get(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// The server certificate names extra hosts (a container's service name).
func TestPKIHosts(t *testing.T) {
	t.Parallel()
	p, err := kojihub.NewPKI("kojisim")
	if err != nil {
		t.Fatal(err)
	}
	leaf := p.ServerTLS().Certificates[0].Leaf
	if leaf == nil {
		leaf, err = x509.ParseCertificate(p.ServerTLS().Certificates[0].Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, h := range []string{"kojisim", "localhost", "127.0.0.1"} {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("%s: %v", h, err)
		}
	}
}
