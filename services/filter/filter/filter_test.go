package filter

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/bodhi"
	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/contentresolver/crfixture"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	bodhisim "github.com/fedora-eln/ebs/libs/sim/bodhi"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// productionConfig is the production file, unchanged but for the trigger
// tag and the Content Resolver URL (pointed at the fixture server).
func productionConfig(t *testing.T, trigger, crURL string) *config.Config {
	t.Helper()
	b, err := os.ReadFile("testdata/distrobaker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(b), "trigger_tag: f45", "trigger_tag: "+trigger, 1)
	s = strings.Replace(s, "content_resolver: https://tiny.distro.builders", "content_resolver: "+crURL, 1)
	c, err := config.Parse("distrobaker.yaml", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// bodhiServer serves Bodhi's GET /releases/ with the real response shape.
func bodhiServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	page, err := os.ReadFile("testdata/bodhi-releases-pending.json")
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.URL.Path != "/releases/" || r.URL.Query().Get("state") != "pending" || r.Header.Get("Accept") != "application/json" {
			w.Header().Set("Content-Type", "text/html")
			http.Error(w, "<html>not found</html>", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(page)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func newTestFilter(t *testing.T, trigger string) *Filter {
	t.Helper()
	cr := crfixture.NewTest(t, crfixture.Sample()...)
	bsrv, _ := bodhiServer(t)
	f := New(Deps{Releases: resolver(t, bsrv.URL), Logger: lifecycle.Discard(),
		Now: func() time.Time { return time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC) }})
	if err := f.Apply(context.Background(), productionConfig(t, trigger, cr.URL)); err != nil {
		t.Fatal(err)
	}
	return f
}

func tagMessage(id, tag, name, version, release string, buildID int64, user string) *ebsv1.FedoraMessage {
	body := `{"base_url": "https://koji.fedoraproject.org", "tag": "` + tag + `", "name": "` + name + `", "version": "` + version +
		`", "release": "` + release + `", "user": "` + user + `", "owner": "someone", "tag_id": 30300, "build_id": ` +
		strconv.FormatInt(buildID, 10) + `, "instance": "primary"}`
	return &ebsv1.FedoraMessage{MessageId: id, Topic: "org.fedoraproject.prod.buildsys.tag", Body: []byte(body),
		SentAt: timestamppb.New(time.Date(2026, 6, 10, 11, 0, 0, 0, time.UTC))}
}

// Eligibility, overrides, excludes and ordering of trigger messages under the
// production configuration (trigger tag f45) and the sample lists.
func TestEvaluateProductionConfig(t *testing.T) {
	t.Parallel()
	for _, trigger := range []string{"f45", "rawhide"} {
		f := newTestFilter(t, trigger)
		if f.State().TriggerTag != "f45" {
			t.Fatalf("trigger %s resolved to %s", trigger, f.State().TriggerTag)
		}
		tests := []struct {
			tag, name string
			result    string
			reason    string
			eln       string
			view      ebsv1.ComponentView
			ordering  int32
		}{
			{"f45", "python-requests", "trigger", "", "python-requests", ebsv1.ComponentView_COMPONENT_VIEW_ELN, 1000},
			{"f45", "bash", "trigger", "", "bash", ebsv1.ComponentView_COMPONENT_VIEW_ELN, 1000},
			{"f45", "htop", "trigger", "", "htop", ebsv1.ComponentView_COMPONENT_VIEW_ELN_EXTRAS, 1000},
			{"f45", "help2man", "trigger", "", "help2man", ebsv1.ComponentView_COMPONENT_VIEW_ELN, 1000},
			// Renames: the Fedora name triggers the ELN component; ordering by the ELN name.
			{"f45", "freeipa", "trigger", "", "ipa", ebsv1.ComponentView_COMPONENT_VIEW_ELN, 1001},
			{"f45", "freeipa-healthcheck", "trigger", "", "ipa-healthcheck", ebsv1.ComponentView_COMPONENT_VIEW_ELN_EXTRAS, 1000},
			{"f45", "dump", "trigger", "", "restore", ebsv1.ComponentView_COMPONENT_VIEW_OVERRIDE, 1000},
			// Ordering (first match in YAML order).
			{"f45", "llvm", "trigger", "", "llvm", ebsv1.ComponentView_COMPONENT_VIEW_ELN, 0},
			{"f45", "clang", "trigger", "", "clang", ebsv1.ComponentView_COMPONENT_VIEW_ELN, 1},
			{"f45", "ocaml-srpm-macros", "trigger", "", "ocaml-srpm-macros", ebsv1.ComponentView_COMPONENT_VIEW_ELN, 0},
			{"f45", "ocaml", "trigger", "", "ocaml", ebsv1.ComponentView_COMPONENT_VIEW_ELN, 1},
			{"f45", "nettle", "trigger", "", "nettle", ebsv1.ComponentView_COMPONENT_VIEW_ELN, 500}, // skip_tag does not matter here
			{"f45", "gcc", "trigger", "", "gcc", ebsv1.ComponentView_COMPONENT_VIEW_ELN, 1000},
			// Excludes match the Fedora name.
			{"f45", "kernel", "ineligible", "excluded", "", 0, 0},
			{"f45", "fedora-release", "ineligible", "excluded", "", 0, 0},
			{"f45", "shim", "ineligible", "excluded", "", 0, 0},
			{"f45", "texlive-base", "ineligible", "excluded", "", 0, 0},
			{"f45", "linux-system-roles", "ineligible", "excluded", "", 0, 0}, // excluded although an override's upstream name
			// Not in the universe.
			{"f45", "firefox", "ineligible", "unlisted", "", 0, 0},
			// A name the lists carry under its ELN name stays eligible under it too
			// (the original's upstream map starts as a copy of the downstream one).
			{"f45", "ipa", "trigger", "", "ipa", ebsv1.ComponentView_COMPONENT_VIEW_ELN, 1001},
			{"f45", "restore", "ineligible", "unlisted", "", 0, 0},
			// Other tags.
			{"f44", "bash", "not_trigger", "", "", 0, 0},
			{"f45-signing-pending", "bash", "not_trigger", "", "", 0, 0},
			{"eln", "bash", "not_trigger", "", "", 0, 0},
			{"rawhide", "bash", "not_trigger", "", "", 0, 0}, // compared with the resolved tag
		}
		for _, tt := range tests {
			fm := tagMessage("id-"+tt.name, tt.tag, tt.name, "1.0", "1.fc45", 77, "bodhi")
			req, dec, err := f.Evaluate(fm)
			if err != nil {
				t.Fatal(err)
			}
			if dec.Result != tt.result || dec.Reason != tt.reason {
				t.Errorf("[%s] %s on %s: %+v, want %s/%s", trigger, tt.name, tt.tag, dec, tt.result, tt.reason)
				continue
			}
			if tt.result != "trigger" {
				if req != nil {
					t.Errorf("%s: request for a %s message", tt.name, tt.result)
				}
				continue
			}
			if req.GetComponent() != tt.eln || req.GetView() != tt.view || req.GetOrdering() != tt.ordering {
				t.Errorf("[%s] %s: component %s view %v ordering %d, want %s %v %d", trigger, tt.name,
					req.GetComponent(), req.GetView(), req.GetOrdering(), tt.eln, tt.view, tt.ordering)
			}
			if req.GetRequestId() != "trigger-id-"+tt.name || req.GetTriggerMessageId() != "id-"+tt.name || req.GetFedoraName() != tt.name ||
				req.GetNvr() != tt.name+"-1.0-1.fc45" || req.GetBuildId() != 77 || req.GetSourceTag() != "f45" ||
				req.GetReason() != ebsv1.RequestReason_REQUEST_REASON_TRIGGER || req.GetRequestedBy() != "bodhi" ||
				!req.GetRequestedAt().AsTime().Equal(time.Date(2026, 6, 10, 11, 0, 0, 0, time.UTC)) {
				t.Errorf("%s: request %v", tt.name, req)
			}
		}
	}
}

func TestEvaluateInvalidBodies(t *testing.T) {
	t.Parallel()
	f := newTestFilter(t, "f45")
	tests := []struct{ name, body string }{
		{"no build id", `{"tag": "f45", "name": "bash", "version": "1", "release": "1.fc45"}`},
		{"no release", `{"tag": "f45", "name": "bash", "version": "1", "build_id": 5}`},
		{"wrong type", `{"tag": "f45", "name": "bash", "version": "1", "release": "1", "build_id": "five"}`},
		{"array", `["f45"]`},
	}
	for _, tt := range tests {
		_, dec, err := f.Evaluate(&ebsv1.FedoraMessage{MessageId: "x", Body: []byte(tt.body)})
		if err != nil || dec.Result != "invalid" || dec.Reason == "" {
			t.Errorf("%s: %+v %v", tt.name, dec, err)
		}
	}
	// A non-trigger message without a build id is simply not a trigger.
	_, dec, _ := f.Evaluate(&ebsv1.FedoraMessage{MessageId: "x", Body: []byte(`{"tag": "f44", "name": "bash"}`)})
	if dec.Result != "not_trigger" {
		t.Errorf("non-trigger: %+v", dec)
	}
}

// rawhide is resolved through Bodhi's pending releases at each load, and a
// failed resolution keeps the previous state.
func TestRawhideResolution(t *testing.T) {
	t.Parallel()
	cr := crfixture.NewTest(t, crfixture.Sample()...)
	page, err := os.ReadFile("testdata/bodhi-releases-pending.json")
	if err != nil {
		t.Fatal(err)
	}
	var mode atomic.Value
	mode.Store("ok")
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		switch mode.Load().(string) {
		case "ok":
			_, _ = w.Write(page)
		case "branched-to-f46":
			_, _ = w.Write([]byte(strings.NewReplacer(`"stable_tag": "f45"`, `"stable_tag": "f46"`).Replace(string(page))))
		case "flaky":
			if calls.Load()%2 == 1 {
				http.Error(w, `{"status": "error", "errors": [{"location": "body", "name": "HTTPServiceUnavailable", "description": "down"}]}`, http.StatusServiceUnavailable)
				return
			}
			_, _ = w.Write(page)
		case "no-rawhide":
			_, _ = w.Write([]byte(strings.Replace(string(page), `"branch": "rawhide"`, `"branch": "f45"`, 1)))
		case "html":
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html><body>Bodhi</body></html>"))
		case "paged":
			// Page 1 without rawhide, page 2 with it.
			if r.URL.Query().Get("page") == "1" {
				_, _ = w.Write([]byte(`{"releases": [{"name": "F44", "branch": "f44", "stable_tag": "f44", "state": "pending"}], "page": 1, "pages": 2, "rows_per_page": 1, "total": 2}`))
				return
			}
			_, _ = w.Write([]byte(`{"releases": [{"name": "F46", "branch": "rawhide", "stable_tag": "f46", "state": "pending"}], "page": 2, "pages": 2, "rows_per_page": 1, "total": 2}`))
		}
	}))
	defer srv.Close()
	resolver := resolver(t, srv.URL)
	ctx := context.Background()
	tests := []struct {
		mode, want, err string
	}{
		{"ok", "f45", ""},
		{"flaky", "f45", ""},
		{"branched-to-f46", "f46", ""},
		{"paged", "f46", ""},
		{"no-rawhide", "", "no pending release with branch rawhide"},
		{"html", "", "bodhi"},
	}
	for _, tt := range tests {
		mode.Store(tt.mode)
		got, err := resolver.RawhideStableTag(ctx)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: got %q %v", tt.mode, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: got %q %v, want %s", tt.mode, got, err, tt.want)
		}
	}

	// Re-resolved at each configuration load; a failure keeps the old state.
	f := New(Deps{Releases: resolver, Logger: lifecycle.Discard()})
	c := productionConfig(t, "rawhide", cr.URL)
	mode.Store("ok")
	if err := f.Apply(ctx, c); err != nil || f.State().TriggerTag != "f45" {
		t.Fatalf("first load: %v", err)
	}
	mode.Store("branched-to-f46")
	if err := f.Apply(ctx, c); err != nil || f.State().TriggerTag != "f46" {
		t.Fatalf("after branching: %v %s", err, f.State().TriggerTag)
	}
	mode.Store("no-rawhide")
	if err := f.Apply(ctx, c); err == nil || f.State().TriggerTag != "f46" {
		t.Fatalf("failed resolution must keep f46: %v %s", err, f.State().TriggerTag)
	}
	// A fixed trigger tag never asks Bodhi.
	before := calls.Load()
	if err := f.Apply(ctx, productionConfig(t, "f45", cr.URL)); err != nil || f.State().TriggerTag != "f45" || calls.Load() != before {
		t.Fatalf("fixed tag: %v, Bodhi calls %d -> %d", err, before, calls.Load())
	}
}

// A Content Resolver failure rejects the candidate configuration.
func TestApplyKeepsStateWhenListsFail(t *testing.T) {
	t.Parallel()
	cr := crfixture.NewTest(t, crfixture.Sample()...)
	f := New(Deps{Logger: lifecycle.Discard()})
	c := productionConfig(t, "f45", cr.URL)
	if err := f.Apply(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	first := f.State()
	cr.Remove("source", "eln")
	if err := f.Apply(context.Background(), c); err == nil || !strings.Contains(err.Error(), "404") || f.State() != first {
		t.Fatalf("got %v", err)
	}
	// rawhide without a resolver is refused.
	if err := f.Apply(context.Background(), productionConfig(t, "rawhide", cr.URL)); err == nil || f.State() != first {
		t.Fatalf("rawhide without Bodhi: %v", err)
	}
}

// resolver is the production ReleaseResolver (libs/bodhi) with short retries.
func resolver(t *testing.T, url string) ReleaseResolver {
	t.Helper()
	c, err := bodhi.New(bodhi.Options{BaseURL: url, RetryFor: 5 * time.Second, MinBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
		RequestTimeout: 5 * time.Second, Logger: lifecycle.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Against the Bodhi simulator's /releases/ route, through the resolver
// Run builds: its requests show on the registry it is given.
func TestRawhideResolutionWithBodhiSimulator(t *testing.T) {
	t.Parallel()
	sim := bodhisim.Start(t, bodhisim.Options{})
	reg := prometheus.NewRegistry()
	rr, err := NewReleaseResolver(sim.URL(), 5*time.Second, 5*time.Second, nil, reg, lifecycle.Discard())
	if err != nil {
		t.Fatal(err)
	}
	tag, err := rr.RawhideStableTag(context.Background())
	if err != nil || tag != "f45" {
		t.Fatalf("%q %v", tag, err)
	}
	want := `
# HELP ebs_bodhi_client_requests_total HTTP requests to Bodhi by operation and status code ("error" when no answer came).
# TYPE ebs_bodhi_client_requests_total counter
ebs_bodhi_client_requests_total{code="200",op="list_releases"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "ebs_bodhi_client_requests_total", "ebs_bodhi_client_errors_total"); err != nil {
		t.Fatal(err)
	}
	rels := bodhisim.DefaultReleases()
	rels[0].StableTag, rels[0].DistTag = "f46", "f46"
	sim46 := bodhisim.Start(t, bodhisim.Options{Releases: rels})
	if tag, err := resolver(t, sim46.URL()).RawhideStableTag(context.Background()); err != nil || tag != "f46" {
		t.Fatalf("%q %v", tag, err)
	}
}
