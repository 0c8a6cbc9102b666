package bodhipublisher

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	commands      *prometheus.CounterVec
	statusChanges *prometheus.CounterVec
	followed      prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ebs_bodhi_publisher_commands_total",
			Help: "Bodhi commands handled, by outcome (created, existing, dry_run, failed, replayed).",
		}, []string{"outcome"}),
		statusChanges: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ebs_bodhi_publisher_status_changes_total",
			Help: "Status changes seen on followed updates, by new status (timed_out when following gave up).",
		}, []string{"status"}),
		followed: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ebs_bodhi_publisher_followed_updates",
			Help: "Updates being followed until a final status.",
		}),
	}
	for _, c := range []prometheus.Collector{m.commands, m.statusChanges, m.followed} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("bodhipublisher: register metrics: %w", err)
		}
	}
	return m, nil
}

// NewRetryCounter registers ebs_bodhi_publisher_bodhi_retries_total and
// returns a bodhi.Options.OnRetry hook that counts into it.
func NewRetryCounter(reg prometheus.Registerer) (func(op string, err error), error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ebs_bodhi_publisher_bodhi_retries_total",
		Help: "Bodhi calls retried after a transient failure, by operation.",
	}, []string{"op"})
	if err := reg.Register(c); err != nil {
		return nil, fmt.Errorf("bodhipublisher: register metrics: %w", err)
	}
	return func(op string, _ error) { c.WithLabelValues(op).Inc() }, nil
}
