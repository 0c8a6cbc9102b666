package benchkit

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const exposition = `# HELP ebs_bridge_messages_total Fedora messages handled.
# TYPE ebs_bridge_messages_total counter
ebs_bridge_messages_total{outcome="stored",source="amqp"} 23631
ebs_bridge_messages_total{outcome="duplicate",source="amqp"} 1247
ebs_bridge_messages_total{outcome="stored",source="replay"} 5
ebs_bridge_messages_total{outcome="nacked",source="amqp"} 0
process_resident_memory_bytes 2.5e+07
go_goroutines 17
`

func TestParseText(t *testing.T) {
	t.Parallel()
	s, err := ParseText(strings.NewReader(exposition))
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != 6 || s["go_goroutines"] != 17 || s["process_resident_memory_bytes"] != 25e6 {
		t.Fatalf("samples %v", s)
	}
	if got := s.Sum("ebs_bridge_messages_total", `source="amqp"`); got != 24878 {
		t.Fatalf("amqp sum %v", got)
	}
	if got := s.Sum("ebs_bridge_messages_total"); got != 24883 {
		t.Fatalf("sum %v", got)
	}
	by := s.ByLabel("ebs_bridge_messages_total", "outcome")
	if by["stored"] != 23636 || by["duplicate"] != 1247 || len(by) != 3 {
		t.Fatalf("by outcome %v", by)
	}
	if _, err := ParseText(strings.NewReader("metric_without_value\n")); err == nil {
		t.Fatal("a line without a value parsed")
	}
}

func TestScrape(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(exposition))
	}))
	defer srv.Close()
	s, err := Scrape(srv.URL + "/metrics")
	if err != nil || s["go_goroutines"] != 17 {
		t.Fatalf("scrape %v, %v", s, err)
	}
	if _, err := Scrape(srv.URL + "/nothing"); err == nil {
		t.Fatal("a 404 scraped")
	}
}
