package bridge

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// Bounds of the completion summary: the bus message stays small whatever
// the batch's size (a 10,000-package BatchCompleted is several MiB, over
// fedmsg.MaxBodySize, the bridge's own inbound limit).
const (
	// MaxSummaryFailed is the most failed package names listed.
	MaxSummaryFailed = 200
	// MaxSummaryUpdates is the most Bodhi updates listed.
	MaxSummaryUpdates = 200
	// maxSummaryError bounds the batch error text (bytes).
	maxSummaryError = 4 << 10
	// maxSummaryBody is what CompletionMessage guarantees, with room to spare
	// under fedmsg.MaxBodySize.
	maxSummaryBody = fedmsg.MaxBodySize / 2
)

// CompletionSummary is the body of the bus message announcing a finished
// batch: what happened, in numbers, and where to read the full record
// (every package's outcome is on ebs.batch.completed and in the status API).
type CompletionSummary struct {
	BatchID string `json:"batch_id"`
	// Result is the BatchResult without its prefix, lower case: succeeded,
	// partial, failed, empty.
	Result string `json:"result"`
	// Error says why a failed batch failed (at most 4 KiB).
	Error       string `json:"error,omitempty"`
	StartedAt   string `json:"started_at,omitempty"`   // RFC 3339, UTC
	CompletedAt string `json:"completed_at,omitempty"` // RFC 3339, UTC
	Scratch     bool   `json:"scratch"`
	// Packages is the number of packages in the batch.
	Packages int `json:"packages"`
	// Counts are packages per final state (built, failed, timed_out,
	// skipped_denylisted, skipped_no_scm_url, aborted, ...); only non-zero
	// states appear.
	Counts map[string]int `json:"counts"`
	// Updates are the Bodhi updates filed (the first MaxSummaryUpdates).
	Updates          []SummaryUpdate `json:"updates"`
	UpdatesTruncated bool            `json:"updates_truncated"`
	// Failed are the ELN components that failed or timed out (the first
	// MaxSummaryFailed in the batch's order).
	Failed          []string `json:"failed"`
	FailedTruncated bool     `json:"failed_truncated"`
	// StatusURL and BatchURL (the batch's full record, GET /v1/batches/{id})
	// are set when the bridge knows the status service's public URL
	// (--status-url).
	StatusURL string `json:"status_url,omitempty"`
	BatchURL  string `json:"batch_url,omitempty"`
}

// SummaryUpdate is one Bodhi update of a batch.
type SummaryUpdate struct {
	Alias string `json:"alias"`
	URL   string `json:"url,omitempty"`
}

// Summarize reduces a BatchCompleted to its bounded summary. statusURL is
// the status service's public base URL ("" for no links).
func Summarize(ev *ebsv1.BatchCompleted, statusURL string) CompletionSummary {
	s := CompletionSummary{
		BatchID:  ev.GetBatchId(),
		Result:   enumName(ev.GetResult().String(), "BATCH_RESULT_"),
		Error:    truncate(ev.GetError(), maxSummaryError),
		Scratch:  ev.GetOptions().GetScratch(),
		Packages: len(ev.GetOutcomes()),
		Counts:   map[string]int{},
		Updates:  []SummaryUpdate{},
		Failed:   []string{},
	}
	if ev.GetStartedAt() != nil {
		s.StartedAt = ev.GetStartedAt().AsTime().UTC().Format(time.RFC3339)
	}
	if ev.GetCompletedAt() != nil {
		s.CompletedAt = ev.GetCompletedAt().AsTime().UTC().Format(time.RFC3339)
	}
	for _, o := range ev.GetOutcomes() {
		s.Counts[enumName(o.GetState().String(), "PACKAGE_STATE_")]++
		switch o.GetState() {
		case ebsv1.PackageState_PACKAGE_STATE_FAILED, ebsv1.PackageState_PACKAGE_STATE_TIMED_OUT:
			if len(s.Failed) < MaxSummaryFailed {
				s.Failed = append(s.Failed, o.GetComponent())
			} else {
				s.FailedTruncated = true
			}
		}
	}
	for _, u := range ev.GetUpdates() {
		if len(s.Updates) == MaxSummaryUpdates {
			s.UpdatesTruncated = true
			break
		}
		s.Updates = append(s.Updates, SummaryUpdate{Alias: u.GetAlias(), URL: u.GetUrl()})
	}
	if base := strings.TrimRight(statusURL, "/"); base != "" {
		s.StatusURL = base + "/status.html"
		s.BatchURL = base + "/v1/batches/" + url.PathEscape(s.BatchID)
	}
	return s
}

// enumName turns BATCH_RESULT_SUCCEEDED into succeeded.
func enumName(name, prefix string) string {
	return strings.ToLower(strings.TrimPrefix(name, prefix))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// CompletionMessage is the Fedora message announcing a finished batch: its
// CompletionSummary as JSON (under maxSummaryBody: the lists are halved
// until it fits, should very long names ever need it), a message id derived
// from the batch id (a re-sent completion carries the same id, so bus
// consumers can de-duplicate), severity INFO.
func CompletionMessage(topic string, ev *ebsv1.BatchCompleted, statusURL string, sentAt time.Time) (fedmsg.Message, error) {
	sum := Summarize(ev, statusURL)
	var body []byte
	for {
		var err error
		if body, err = json.Marshal(sum); err != nil {
			return fedmsg.Message{}, fmt.Errorf("bridge: encode batch %s: %w", ev.GetBatchId(), err)
		}
		if len(body) <= maxSummaryBody {
			break
		}
		if len(sum.Failed) == 0 && len(sum.Updates) == 0 {
			return fedmsg.Message{}, fmt.Errorf("bridge: summary of batch %s is %d bytes, over %d", ev.GetBatchId(), len(body), maxSummaryBody)
		}
		if len(sum.Failed) > 0 {
			sum.Failed, sum.FailedTruncated = sum.Failed[:len(sum.Failed)/2], true
		}
		if len(sum.Updates) > 0 {
			sum.Updates, sum.UpdatesTruncated = sum.Updates[:len(sum.Updates)/2], true
		}
	}
	sentAt = sentAt.UTC().Truncate(time.Second)
	h := sha1.Sum([]byte("ebs-batch-complete:" + topic + ":" + ev.GetBatchId()))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	id := fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
	return fedmsg.Message{
		ID:    id,
		Topic: topic,
		Headers: map[string]any{
			fedmsg.HeaderSchema:   "base.message",
			fedmsg.HeaderSeverity: fedmsg.SeverityInfo,
			fedmsg.HeaderSentAt:   sentAt.Format("2006-01-02T15:04:05+00:00"),
			fedmsg.HeaderPriority: 0,
		},
		Body:   body,
		SentAt: sentAt,
	}, nil
}

// outbound publishes completions over one lazily (re)opened connection.
type outbound struct {
	b    *Bridge
	mu   sync.Mutex
	conn *amqp.Connection
	ch   *amqp.Channel
}

func (o *outbound) publish(ctx context.Context, m fedmsg.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ch == nil || o.conn.IsClosed() {
		conn, err := dialAMQP(o.b.cfg.OutboundURL, o.b.cfg, "ebs-bridge-outbound")
		if err != nil {
			return err
		}
		ch, err := conn.Channel()
		if err == nil {
			err = ch.Confirm(false)
		}
		if err != nil {
			conn.Close()
			return fmt.Errorf("bridge: outbound channel: %w", err)
		}
		o.conn, o.ch = conn, ch
	}
	conf, err := o.ch.PublishWithDeferredConfirmWithContext(ctx, o.b.cfg.Exchange, m.Topic, false, false, m.Publishing())
	if err == nil {
		var ok bool
		ok, err = conf.WaitContext(ctx)
		if err == nil && !ok {
			err = fmt.Errorf("broker nacked")
		}
	}
	if err != nil {
		o.close()
		return fmt.Errorf("bridge: publish %s: %w", m.Topic, err)
	}
	return nil
}

func (o *outbound) close() {
	if o.conn != nil {
		_ = o.conn.Close()
	}
	o.conn, o.ch = nil, nil
}

// PublishCompletions consumes ebs.batch.completed (durable consumer
// bridge-outbound) and publishes each to the bus under cfg.OutboundTopic; a
// completion is acked only after the broker confirmed it.
func (b *Bridge) PublishCompletions(ctx context.Context) error {
	if b.cfg.OutboundTopic == "" || b.cfg.OutboundURL == "" {
		return fmt.Errorf("bridge: outbound needs --outbound-topic and a broker URL")
	}
	o := &outbound{b: b}
	defer func() {
		o.mu.Lock()
		o.close()
		o.mu.Unlock()
	}()
	b.log.Info("publishing batch completions", "topic", b.cfg.OutboundTopic, "broker", redact(b.cfg.OutboundURL))
	return natsx.Consume(ctx, b.js, natsx.StreamEBS, natsx.ConsumerBridgeOutbound,
		func() *ebsv1.BatchCompleted { return new(ebsv1.BatchCompleted) },
		func(ctx context.Context, d *natsx.Delivery[*ebsv1.BatchCompleted]) error {
			m, err := CompletionMessage(b.cfg.OutboundTopic, d.Msg, b.cfg.StatusURL, b.now())
			if err != nil {
				return natsx.Reject(err)
			}
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			if err := o.publish(pctx, m); err != nil {
				b.metrics.Outbound.WithLabelValues("failed").Inc()
				return err
			}
			b.metrics.Outbound.WithLabelValues("published").Inc()
			b.log.Info("batch completion published", "batch_id", d.Msg.GetBatchId(), "message_id", m.ID, "bytes", len(m.Body))
			return nil
		}, natsx.ConsumeOptions{Service: Name, Logger: b.log})
}
