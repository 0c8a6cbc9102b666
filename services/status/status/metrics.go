package status

import (
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/store"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// metrics are what status can observe of the whole system from its events,
// plus its own API traffic.
type metrics struct {
	events        *prometheus.CounterVec
	skipped       *prometheus.CounterVec
	requests      *prometheus.CounterVec
	pending       prometheus.Gauge
	paused        prometheus.Gauge
	batchRunning  prometheus.Gauge
	batchPhase    prometheus.Gauge
	batches       *prometheus.CounterVec
	batchDuration prometheus.Histogram
	builds        *prometheus.CounterVec
	tasks         *prometheus.CounterVec
	commands      *prometheus.CounterVec
	failures      *prometheus.CounterVec
	deadLetters   *prometheus.CounterVec
	grpcRequests  *prometheus.CounterVec
	grpcDuration  *prometheus.HistogramVec
	httpRequests  *prometheus.CounterVec
	mails         *prometheus.CounterVec
	statusJSON    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	ns := "ebs_status_"
	m := &metrics{
		events:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "events_total", Help: "EBS stream events seen by the projection, by type and outcome (applied, duplicate, skipped)."}, []string{"type", "outcome"}),
		skipped:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "projection_skipped_total", Help: "Events the projection could not decode, by reason."}, []string{"reason"}),
		requests:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "requests_total", Help: "Rebuild requests by kind: eligible (published by filter), manual (asked by operators), rejected, superseded."}, []string{"kind"}),
		pending:      prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "pending_requests", Help: "Components waiting in the pending set (KV ebs_pending)."}),
		paused:       prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "paused", Help: "1 when batches are paused (config or runtime)."}),
		batchRunning: prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "batch_running", Help: "1 while a batch runs."}),
		batchPhase:   prometheus.NewGauge(prometheus.GaugeOpts{Name: ns + "batch_phase", Help: "Phase of the running batch (ebs.v1.BatchPhase number; 0 when idle)."}),
		batches:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "batches_completed_total", Help: "Completed batches by result."}, []string{"result"}),
		batchDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: ns + "batch_duration_seconds", Help: "Duration of completed batches.",
			Buckets: []float64{60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 16 * 3600, 24 * 3600, 48 * 3600}}),
		builds:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "builds_total", Help: "Package outcomes of completed batches by state."}, []string{"state"}),
		tasks:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "koji_tasks_total", Help: "Koji build tasks finished, by outcome."}, []string{"outcome"}),
		commands:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "worker_commands_total", Help: "Commands issued to the workers (Koji, Bodhi, watch), by system and verb."}, []string{"system", "verb"}),
		failures:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "worker_command_failures_total", Help: "Worker commands that failed (Koji or Bodhi errors), by system and verb."}, []string{"system", "verb"}),
		deadLetters:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "dead_letters_total", Help: "Dead letters, by the service that gave up."}, []string{"service"}),
		grpcRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "grpc_requests_total", Help: "StatusService calls by method and code."}, []string{"method", "code"}),
		grpcDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: ns + "grpc_request_duration_seconds", Help: "StatusService call latency.", Buckets: prometheus.DefBuckets}, []string{"method"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "http_requests_total", Help: "HTTP requests by route and status code."}, []string{"route", "code"}),
		mails:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "mails_total", Help: "Failure mails by result (sent, error)."}, []string{"result"}),
		statusJSON:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: ns + "status_json_runs_total", Help: "status.json generations by result."}, []string{"result"}),
	}
	reg.MustRegister(m.events, m.skipped, m.requests, m.pending, m.paused, m.batchRunning, m.batchPhase, m.batches,
		m.batchDuration, m.builds, m.tasks, m.commands, m.failures, m.deadLetters, m.grpcRequests, m.grpcDuration,
		m.httpRequests, m.mails, m.statusJSON)
	return m
}

// observe counts one projected event (only the first time it is applied).
func (m *metrics) observe(ev store.Event, o store.Outcome, msg proto.Message, err error) {
	if o == store.Skipped && err != nil {
		reason := "skipped"
		if se, ok := err.(*store.SkipError); ok {
			reason = se.Reason
		}
		m.skipped.WithLabelValues(reason).Inc()
		m.events.WithLabelValues(ev.Type, o.String()).Inc()
		return
	}
	if err != nil || msg == nil {
		return
	}
	m.events.WithLabelValues(string(msg.ProtoReflect().Descriptor().FullName()), o.String()).Inc()
	if o != store.Applied {
		return
	}
	switch x := msg.(type) {
	case *ebsv1.RebuildRequest:
		m.requests.WithLabelValues("eligible").Inc()
	case *ebsv1.ManualRebuild:
		m.requests.WithLabelValues("manual").Add(float64(len(x.GetComponents())))
	case *ebsv1.RequestRejected:
		m.requests.WithLabelValues("rejected").Inc()
	case *ebsv1.RequestSuperseded:
		m.requests.WithLabelValues("superseded").Inc()
	case *ebsv1.BatchCompleted:
		m.batches.WithLabelValues(resultName(x.GetResult())).Inc()
		if x.GetStartedAt().IsValid() && x.GetCompletedAt().IsValid() {
			m.batchDuration.Observe(x.GetCompletedAt().AsTime().Sub(x.GetStartedAt().AsTime()).Seconds())
		}
		for _, o := range x.GetOutcomes() {
			m.builds.WithLabelValues(store.StateKind(o.GetState())).Inc()
		}
	case *ebsv1.KojiCommand, *ebsv1.BodhiCommand, *ebsv1.WatchCommand:
		verb, _ := natsx.OneofCase(x)
		m.commands.WithLabelValues(systemOf(x), verb).Inc()
	case *ebsv1.KojiEvent:
		if f := x.GetCommandFailed(); f != nil {
			m.failures.WithLabelValues("koji", f.GetVerb()).Inc()
		}
		if t := x.GetTaskFinished(); t != nil {
			m.tasks.WithLabelValues(t.GetOutcome().String()).Inc()
		}
	case *ebsv1.BodhiEvent:
		if f := x.GetCommandFailed(); f != nil {
			m.failures.WithLabelValues("bodhi", f.GetVerb()).Inc()
		}
	case *ebsv1.DeadLetter:
		m.deadLetters.WithLabelValues(x.GetService()).Inc()
	}
}

func systemOf(msg proto.Message) string {
	switch msg.(type) {
	case *ebsv1.KojiCommand:
		return "koji"
	case *ebsv1.BodhiCommand:
		return "bodhi"
	}
	return "watch"
}

func resultName(r ebsv1.BatchResult) string {
	switch r {
	case ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED:
		return "succeeded"
	case ebsv1.BatchResult_BATCH_RESULT_PARTIAL:
		return "partial"
	case ebsv1.BatchResult_BATCH_RESULT_FAILED:
		return "failed"
	case ebsv1.BatchResult_BATCH_RESULT_EMPTY:
		return "empty"
	}
	return "unknown"
}
