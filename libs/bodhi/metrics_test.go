package bodhi_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/fedora-eln/ebs/libs/bodhi"
	bodhisim "github.com/fedora-eln/ebs/libs/sim/bodhi"
)

// scrape returns the text exposition of reg, as Prometheus reads it.
func scrape(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMetricsCountRequestsAndErrors: every HTTP exchange is counted by
// operation and status (retries included, "error" without an answer);
// calls that fail for the caller are counted once, and a retried call that
// succeeds in the end is no error.
func TestMetricsCountRequestsAndErrors(t *testing.T) {
	t.Parallel()
	var releases atomic.Int32
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/releases/" && releases.Add(1) == 1:
			w.WriteHeader(http.StatusServiceUnavailable) // transient: retried
			io.WriteString(w, `{"status":"error","errors":[{"location":"body","name":"x","description":"busy"}]}`)
		case r.URL.Path == "/releases/":
			io.WriteString(w, `{"releases":[{"name":"F45","branch":"rawhide","stable_tag":"f45","id_prefix":"FEDORA"}],"page":1,"pages":1}`)
		default:
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"status":"error","errors":[{"location":"url","name":"id","description":"Invalid update id"}]}`)
		}
	}))
	defer fake.Close()
	// Nothing listens here: no answer at all.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()

	reg := prometheus.NewRegistry()
	m, err := bodhi.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	client := func(base string) *bodhi.Client {
		c, err := bodhi.New(bodhi.Options{BaseURL: base, Metrics: m, RetryFor: 200 * time.Millisecond,
			MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c, down := client(fake.URL), client(dead)
	ctx := ctxT(t)
	if tag, err := c.RawhideStableTag(ctx); err != nil || tag != "f45" {
		t.Fatalf("rawhide: %q %v", tag, err)
	}
	if _, err := c.Update(ctx, "FEDORA-2026-0000000000"); !bodhi.IsNotFound(err) {
		t.Fatalf("unknown update: %v", err)
	}
	if _, err := down.Update(ctx, "FEDORA-2026-0000000001"); err == nil {
		t.Fatal("update from a dead Bodhi succeeded")
	}
	// A second registration on the same registry is refused, as for Koji.
	if _, err := bodhi.NewMetrics(reg); err == nil {
		t.Error("NewMetrics registered twice on one registry")
	}

	text := scrape(t, reg)
	for _, want := range []string{
		`ebs_bodhi_client_requests_total{code="503",op="list_releases"} 1`,
		`ebs_bodhi_client_requests_total{code="200",op="list_releases"} 1`,
		`ebs_bodhi_client_requests_total{code="404",op="get_update"} 1`,
		`ebs_bodhi_client_errors_total{op="get_update"} 2`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("scrape lacks %s:\n%s", want, text)
		}
	}
	if !strings.Contains(text, `ebs_bodhi_client_requests_total{code="error",op="get_update"} `) {
		t.Errorf("no request without an answer counted:\n%s", text)
	}
	if strings.Contains(text, `ebs_bodhi_client_errors_total{op="list_releases"}`) {
		t.Errorf("a call that succeeded after a retry counted as an error:\n%s", text)
	}
}

// TestMetricsCreateUpdate: filing an update counts its sign-in, CSRF and
// POST; filing it again counts the look-up; the "side tag already in use" answer that CreateUpdate resolves by
// a look-up is a 400 on the wire but no error for the caller.
func TestMetricsCreateUpdate(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := bodhi.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	e := setup(t, func(_ *bodhisim.Options, o *bodhi.Options) { o.Metrics = m })
	ctx := ctxT(t)
	n := eln(e.SideTag(t, "bash-5.2.37-1.eln150"))
	n.ExpectedNVRs = []string{"bash-5.2.37-1.eln150"}
	for range 2 {
		if _, err := e.c.CreateUpdate(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	text := scrape(t, reg)
	for _, want := range []string{
		`ebs_bodhi_client_requests_total{code="202",op="login"} 1`, // Bodhi's /oidc/login-token answer
		`ebs_bodhi_client_requests_total{code="200",op="csrf"} 1`,
		`ebs_bodhi_client_requests_total{code="200",op="create_update"} 1`,
		`ebs_bodhi_client_requests_total{code="400",op="create_update"} 1`,
		`ebs_bodhi_client_requests_total{code="200",op="list_updates"} 1`, // the look-up of the existing update
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("scrape lacks %s:\n%s", want, text)
		}
	}
	if strings.Contains(text, `ebs_bodhi_client_errors_total{op="create_update"}`) {
		t.Errorf("the resolved duplicate counted as an error:\n%s", text)
	}
}
