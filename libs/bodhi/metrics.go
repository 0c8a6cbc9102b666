package bodhi

import (
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts a client's traffic. Create one per registry with
// NewMetrics and pass it through Options.Metrics (clients may share it).
//
//	ebs_bodhi_client_requests_total{op,code}  every HTTP exchange, retries
//	                                          included; code is the HTTP
//	                                          status or "error" (no answer)
//	ebs_bodhi_client_errors_total{op}         calls that failed for the
//	                                          caller (after retries)
//
// op is the operation: create_update, get_update, list_updates,
// list_releases, login, csrf.
type Metrics struct {
	requests *prometheus.CounterVec
	errors   *prometheus.CounterVec
}

// NewMetrics registers the ebs_bodhi_client_* metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ebs_bodhi_client_requests_total",
			Help: "HTTP requests to Bodhi by operation and status code (\"error\" when no answer came).",
		}, []string{"op", "code"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ebs_bodhi_client_errors_total",
			Help: "Bodhi calls that failed for the caller (after retries), by operation.",
		}, []string{"op"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.errors} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func opLabel(op string) string { return strings.ReplaceAll(op, " ", "_") }

func (m *Metrics) request(op string, status int) {
	if m == nil {
		return
	}
	code := "error"
	if status > 0 {
		code = strconv.Itoa(status)
	}
	m.requests.WithLabelValues(opLabel(op), code).Inc()
}

func (m *Metrics) failed(op string, err error) {
	if m != nil && err != nil {
		m.errors.WithLabelValues(opLabel(op)).Inc()
	}
}
