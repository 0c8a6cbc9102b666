package koji

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats is a snapshot of a client's counters, for benchmarks and tests.
type Stats struct {
	HTTPRequests int64            // POSTs sent, retries included
	Retries      int64            // retried attempts
	Relogins     int64            // renewed or re-opened sessions
	Calls        map[string]int64 // logical calls per method; multicall elements count under their own method, the request under "multiCall"
	Faults       map[int]int64    // faults per code (multicall elements included)
}

// Total is the number of logical calls.
func (s Stats) Total() int64 {
	var n int64
	for _, v := range s.Calls {
		n += v
	}
	return n
}

type stats struct {
	http, retries, relogins atomic.Int64
	mu                      sync.Mutex
	calls                   map[string]int64
	faults                  map[int]int64
}

func newStats() *stats { return &stats{calls: map[string]int64{}, faults: map[int]int64{}} }

func (s *stats) httpRequest() { s.http.Add(1) }
func (s *stats) retry()       { s.retries.Add(1) }
func (s *stats) relogin()     { s.relogins.Add(1) }

func (s *stats) call(method string) {
	s.mu.Lock()
	s.calls[method]++
	s.mu.Unlock()
}

func (s *stats) fault(err error) {
	var f *Fault
	if errors.As(err, &f) {
		s.mu.Lock()
		s.faults[f.Code]++
		s.mu.Unlock()
	}
}

// Stats returns a snapshot of the counters.
func (c *Client) Stats() Stats {
	s := c.stats
	out := Stats{HTTPRequests: s.http.Load(), Retries: s.retries.Load(), Relogins: s.relogins.Load(),
		Calls: map[string]int64{}, Faults: map[int]int64{}}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.calls {
		out.Calls[k] = v
	}
	for k, v := range s.faults {
		out.Faults[k] = v
	}
	return out
}

// Metrics are the client's Prometheus metrics. Create one per registry with
// NewMetrics and share it between clients through Options.Metrics.
type Metrics struct {
	calls    *prometheus.CounterVec
	faults   *prometheus.CounterVec
	httpReqs *prometheus.CounterVec
	retries  *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// NewMetrics registers ebs_koji_client_* metrics on reg. Called again for
// the same registry it returns Metrics sharing the registered collectors.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ebs_koji_client_calls_total", Help: "Koji calls by method (multicall elements included).",
		}, []string{"method"}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ebs_koji_client_faults_total", Help: "Koji faults by method and fault code.",
		}, []string{"method", "code"}),
		httpReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ebs_koji_client_http_requests_total", Help: "HTTP requests to the hub by status code (\"error\" for transport failures).",
		}, []string{"code"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ebs_koji_client_retries_total", Help: "Retried attempts by reason.",
		}, []string{"reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ebs_koji_client_call_duration_seconds", Help: "Duration of Koji calls, retries included.",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 10),
		}, []string{"method"}),
	}
	var err error
	if m.calls, err = register(reg, m.calls); err != nil {
		return nil, err
	}
	if m.faults, err = register(reg, m.faults); err != nil {
		return nil, err
	}
	if m.httpReqs, err = register(reg, m.httpReqs); err != nil {
		return nil, err
	}
	if m.retries, err = register(reg, m.retries); err != nil {
		return nil, err
	}
	if m.duration, err = register(reg, m.duration); err != nil {
		return nil, err
	}
	return m, nil
}

// register registers col, or returns the identical collector already there.
func register[C prometheus.Collector](reg prometheus.Registerer, col C) (C, error) {
	if err := reg.Register(col); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return col, fmt.Errorf("koji: register metrics: %w", err)
	}
	return col, nil
}

func (m *Metrics) observe(method string, d time.Duration, err error) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(method).Inc()
	m.duration.WithLabelValues(method).Observe(d.Seconds())
	m.fault(method, err)
}

func (m *Metrics) fault(method string, err error) {
	if m == nil || err == nil {
		return
	}
	var f *Fault
	if errors.As(err, &f) {
		m.faults.WithLabelValues(method, strconv.Itoa(f.Code)).Inc()
	}
}

func (m *Metrics) element(method string, err error) {
	if m == nil {
		return
	}
	m.calls.WithLabelValues(method).Inc()
	m.fault(method, err)
}

func (m *Metrics) http(code string) {
	if m != nil {
		m.httpReqs.WithLabelValues(code).Inc()
	}
}

func (m *Metrics) retry(reason string) {
	if m != nil {
		m.retries.WithLabelValues(reason).Inc()
	}
}
