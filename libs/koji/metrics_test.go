package koji_test

import (
	"testing"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	"github.com/prometheus/client_golang/prometheus"
)

// scrape returns the value of the sample of family name whose labels are
// exactly labels (counters, and histograms' sample counts), or 0.
func scrape(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(labels) {
				continue
			}
			for _, l := range m.GetLabel() {
				if labels[l.GetName()] != l.GetValue() {
					continue next
				}
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// Metrics count calls and faults per method (multicall elements under their
// own method), HTTP answers per status and retries per reason.
func TestMetricsCountCallsAndErrorsPerMethod(t *testing.T) {
	t.Parallel()
	h := startHub(t, kojihub.Options{})
	reg := prometheus.NewRegistry()
	m, err := koji.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	// A second Metrics on the same registry shares its counters (two
	// clients of one service).
	m2, err := koji.NewMetrics(reg)
	if err != nil {
		t.Fatalf("second NewMetrics on one registry: %v", err)
	}
	c, err := h.Client("", koji.Options{Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	c2, err := h.Client("", koji.Options{Metrics: m2, RetryBudget: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	for range 2 {
		if _, err := c.GetAPIVersion(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c2.GetAPIVersion(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetBuild(ctx, "nosuch-1-1", true); err == nil {
		t.Fatal("strict getBuild of a missing build succeeded")
	}
	res, err := c.GetBuilds(ctx, []any{nvrRequests, "nosuch-1-1", "nosuch-2-1"}, true)
	if err != nil || res[0].Err != nil || res[1].Err == nil || res[2].Err == nil {
		t.Fatalf("getBuild multicall: %+v, %v", res, err)
	}
	remove := h.InjectFault(kojihub.FaultRule{Method: "getTag", HTTPStatus: 503, Count: 1})
	if _, err := c.GetTag(ctx, "eln", false); err != nil {
		t.Fatalf("getTag after one 503: %v", err)
	}
	remove()
	h.InjectFault(kojihub.FaultRule{Method: "getBuildTarget", HTTPStatus: 404})
	if _, err := c.GetBuildTarget(ctx, "eln"); err == nil {
		t.Fatal("getBuildTarget answered through a 404")
	}

	generic := "1000" // koji.CodeGenericError
	for _, tt := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ebs_koji_client_calls_total", map[string]string{"method": "getAPIVersion"}, 3},
		{"ebs_koji_client_call_duration_seconds", map[string]string{"method": "getAPIVersion"}, 3},
		// One plain getBuild, three multicall elements; the request itself
		// is a multiCall call.
		{"ebs_koji_client_calls_total", map[string]string{"method": "getBuild"}, 4},
		{"ebs_koji_client_calls_total", map[string]string{"method": "multiCall"}, 1},
		{"ebs_koji_client_faults_total", map[string]string{"method": "getBuild", "code": generic}, 3},
		{"ebs_koji_client_faults_total", map[string]string{"method": "getAPIVersion", "code": generic}, 0},
		{"ebs_koji_client_faults_total", map[string]string{"method": "multiCall", "code": generic}, 0},
		// A retried call is one call; its HTTP answers and the retry count.
		{"ebs_koji_client_calls_total", map[string]string{"method": "getTag"}, 1},
		{"ebs_koji_client_http_requests_total", map[string]string{"code": "503"}, 1},
		{"ebs_koji_client_retries_total", map[string]string{"reason": "http_503"}, 1},
		{"ebs_koji_client_calls_total", map[string]string{"method": "getBuildTarget"}, 1},
		{"ebs_koji_client_http_requests_total", map[string]string{"code": "404"}, 1},
		// getAPIVersion ×3, getBuild (a fault is HTTP 200), multiCall, getTag.
		{"ebs_koji_client_http_requests_total", map[string]string{"code": "200"}, 6},
	} {
		if got := scrape(t, reg, tt.name, tt.labels); got != tt.want {
			t.Errorf("%s%v = %v, want %v", tt.name, tt.labels, got, tt.want)
		}
	}
}
