package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// Event is one raw message of the EBS stream.
type Event struct {
	// ID is the event id: the Nats-Msg-Id, or "<stream>-<sequence>".
	ID       string
	Stream   string
	Sequence uint64
	Subject  string
	// Type is the Ebs-Type header (full protobuf name); may be empty.
	Type string
	Data []byte
	// Time is the stream's timestamp, used when the message carries none.
	Time time.Time
}

// EventID returns the id the projection keys an event by.
func EventID(msgID, stream string, seq uint64) string {
	if msgID != "" {
		return msgID
	}
	return fmt.Sprintf("%s-%d", stream, seq)
}

// Outcome says what Apply did with an event.
type Outcome int

const (
	// Applied: the event changed the tables.
	Applied Outcome = iota
	// Duplicate: the event id was applied before; nothing changed.
	Duplicate
	// Skipped: the event is of an unknown type or undecodable; nothing changed.
	Skipped
)

func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Duplicate:
		return "duplicate"
	default:
		return "skipped"
	}
}

// SkipError explains why an event was skipped.
type SkipError struct{ Reason, Detail string }

func (e *SkipError) Error() string { return e.Reason + ": " + e.Detail }

// subjectTypes decodes messages that lack the Ebs-Type header.
var subjectTypes = map[string]proto.Message{
	natsx.SubjectRebuildRequested:  &ebsv1.RebuildRequest{},
	natsx.SubjectRebuildManual:     &ebsv1.ManualRebuild{},
	natsx.SubjectRebuildSuperseded: &ebsv1.RequestSuperseded{},
	natsx.SubjectRebuildRejected:   &ebsv1.RequestRejected{},
	natsx.SubjectBatchStarted:      &ebsv1.BatchStarted{},
	natsx.SubjectBatchPhase:        &ebsv1.BatchPhaseChanged{},
	natsx.SubjectSliceStarted:      &ebsv1.SliceStarted{},
	natsx.SubjectSliceFinished:     &ebsv1.SliceFinished{},
	natsx.SubjectAttemptStarted:    &ebsv1.AttemptStarted{},
	natsx.SubjectAttemptFinished:   &ebsv1.AttemptFinished{},
	natsx.SubjectBatchCompleted:    &ebsv1.BatchCompleted{},
	natsx.SubjectDeadLetter:        &ebsv1.DeadLetter{},
	natsx.SubjectDenylistRemoved:   &ebsv1.DenylistRemoved{},
	natsx.SubjectConfigLoaded:      &ebsv1.ConfigEvent{},
	natsx.SubjectConfigRejected:    &ebsv1.ConfigEvent{},
}

var prefixTypes = []struct {
	prefix string
	msg    proto.Message
}{
	{natsx.SubjectKojiCmdPrefix, &ebsv1.KojiCommand{}},
	{natsx.SubjectKojiEvtPrefix, &ebsv1.KojiEvent{}},
	{natsx.SubjectWatchCmdPrefix, &ebsv1.WatchCommand{}},
	{natsx.SubjectWatchEvtPrefix, &ebsv1.WatchEvent{}},
	{natsx.SubjectBodhiCmdPrefix, &ebsv1.BodhiCommand{}},
	{natsx.SubjectBodhiEvtPrefix, &ebsv1.BodhiEvent{}},
}

// Decode turns an event into its protobuf message: by the Ebs-Type header
// when present (the robust way), else by subject.
func Decode(ev Event) (proto.Message, error) {
	var msg proto.Message
	if ev.Type != "" {
		mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(ev.Type))
		if err != nil {
			return nil, &SkipError{Reason: "unknown-type", Detail: ev.Type}
		}
		msg = mt.New().Interface()
	} else if m, ok := subjectTypes[ev.Subject]; ok {
		msg = m.ProtoReflect().New().Interface()
	} else {
		for _, p := range prefixTypes {
			if strings.HasPrefix(ev.Subject, p.prefix) {
				msg = p.msg.ProtoReflect().New().Interface()
				break
			}
		}
	}
	if msg == nil {
		return nil, &SkipError{Reason: "unknown-subject", Detail: ev.Subject}
	}
	if err := proto.Unmarshal(ev.Data, msg); err != nil {
		return nil, &SkipError{Reason: "undecodable", Detail: fmt.Sprintf("%s: %v", msg.ProtoReflect().Descriptor().FullName(), err)}
	}
	return msg, nil
}

// Apply projects one event inside one transaction together with its entry in
// the ledger (projected_events): an event id already in the ledger changes
// nothing, so redeliveries and replays are harmless. Unknown or undecodable
// events are skipped (Outcome Skipped with a *SkipError) and not recorded,
// so a newer projection can still pick them up on a replay.
func (s *Store) Apply(ctx context.Context, ev Event) (Outcome, proto.Message, error) {
	msg, err := Decode(ev)
	if err != nil {
		return Skipped, nil, err
	}
	if ev.ID == "" {
		ev.ID = EventID("", ev.Stream, ev.Sequence)
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	tx, err := s.Pool.Begin(ctx)
	if err != nil {
		return 0, nil, fmt.Errorf("store: begin: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	tag, err := tx.Exec(ctx, `INSERT INTO projected_events (event_id, stream, seq, subject, type, at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (event_id) DO NOTHING`,
		ev.ID, ev.Stream, int64(ev.Sequence), ev.Subject, string(msg.ProtoReflect().Descriptor().FullName()), ev.Time)
	if err != nil {
		return 0, nil, fmt.Errorf("store: ledger: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return Duplicate, msg, nil
	}
	p := &projector{tx: tx, ev: ev}
	if err := p.apply(ctx, msg); err != nil {
		return 0, nil, fmt.Errorf("store: project %s (%s): %w", ev.Subject, ev.ID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, nil, fmt.Errorf("store: commit: %w", err)
	}
	return Applied, msg, nil
}

type projector struct {
	tx pgx.Tx
	ev Event
}

func (p *projector) exec(ctx context.Context, sql string, args ...any) error {
	if _, err := p.tx.Exec(ctx, sql, args...); err != nil {
		first := strings.Fields(sql)
		return fmt.Errorf("%s: %w", strings.Join(first[:min(3, len(first))], " "), err)
	}
	return nil
}

// at returns the message's own time, else the stream time.
func (p *projector) at(ts *timestamppb.Timestamp) time.Time {
	if ts != nil && ts.IsValid() && ts.AsTime().Unix() > 0 {
		return ts.AsTime()
	}
	return p.ev.Time
}

// history appends one package_history row (idempotent per event, component, kind).
func (p *projector) history(ctx context.Context, h historyRow) error {
	if h.component == "" {
		return nil
	}
	return p.exec(ctx, `INSERT INTO package_history
		(event_id, component, kind, at, batch_id, request_id, nvr, task_id, alias, detail, url, seq)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12) ON CONFLICT DO NOTHING`,
		p.ev.ID, h.component, h.kind, h.at, h.batchID, h.requestID, h.nvr, h.taskID, h.alias, h.detail, h.url, int64(p.ev.Sequence))
}

type historyRow struct {
	component, kind         string
	at                      time.Time
	batchID, requestID, nvr string
	taskID                  int64
	alias, detail, url      string
}

func (p *projector) apply(ctx context.Context, msg proto.Message) error {
	switch m := msg.(type) {
	case *ebsv1.RebuildRequest:
		return p.rebuildRequested(ctx, m)
	case *ebsv1.ManualRebuild:
		return p.manualRebuild(ctx, m)
	case *ebsv1.RequestSuperseded:
		return p.superseded(ctx, m)
	case *ebsv1.RequestRejected:
		return p.rejected(ctx, m)
	case *ebsv1.BatchStarted:
		return p.batchStarted(ctx, m)
	case *ebsv1.BatchPhaseChanged:
		return p.batchPhase(ctx, m)
	case *ebsv1.SliceStarted:
		return p.sliceStarted(ctx, m)
	case *ebsv1.SliceFinished:
		return p.sliceFinished(ctx, m)
	case *ebsv1.AttemptStarted:
		return p.attemptStarted(ctx, m)
	case *ebsv1.AttemptFinished:
		return p.attemptFinished(ctx, m)
	case *ebsv1.BatchCompleted:
		return p.batchCompleted(ctx, m)
	case *ebsv1.KojiCommand:
		return p.command(ctx, "koji", m.GetCommandId(), m.GetBatchId(), m.GetIssuedAt(), m)
	case *ebsv1.WatchCommand:
		return p.command(ctx, "watch", m.GetCommandId(), m.GetBatchId(), m.GetIssuedAt(), m)
	case *ebsv1.BodhiCommand:
		return p.command(ctx, "bodhi", m.GetCommandId(), m.GetBatchId(), m.GetIssuedAt(), m)
	case *ebsv1.KojiEvent:
		return p.kojiEvent(ctx, m)
	case *ebsv1.WatchEvent:
		return p.commandDone(ctx, "watch", m.GetCommandId(), m.GetBatchId(), m.GetAt(), m, "")
	case *ebsv1.BodhiEvent:
		return p.bodhiEvent(ctx, m)
	case *ebsv1.DeadLetter:
		return p.deadLetter(ctx, m)
	case *ebsv1.DenylistRemoved:
		e := m.GetEntry()
		return p.history(ctx, historyRow{component: e.GetComponent(), kind: "undenylisted", at: p.at(m.GetAt()),
			batchID: e.GetBatchId(), detail: fmt.Sprintf("%s taken off the denylist by %s", e.GetScmUrl(), m.GetRemovedBy())})
	case *ebsv1.ConfigEvent:
		return p.exec(ctx, `INSERT INTO config_events (event_id, service, source, accepted, error, digest, at)
			VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING`,
			p.ev.ID, m.GetService(), m.GetSource(), m.GetAccepted(), m.GetError(), m.GetDigest(), p.at(m.GetAt()))
	default:
		// A known protobuf type with no table (e.g. a KV record published by
		// mistake): recorded in the ledger, nothing else.
		return nil
	}
}

func (p *projector) rebuildRequested(ctx context.Context, r *ebsv1.RebuildRequest) error {
	at := p.at(r.GetRequestedAt())
	// A request seen first through a later event (batch started, superseded)
	// keeps its state; only its details are filled in.
	err := p.exec(ctx, `INSERT INTO requests (request_id, component, fedora_name, build_id, nvr, source_tag, view,
			ordering, reason, trigger_message_id, requested_by, requested_at, note, state)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,'pending')
		ON CONFLICT (request_id) DO UPDATE SET fedora_name = EXCLUDED.fedora_name, build_id = EXCLUDED.build_id,
			nvr = EXCLUDED.nvr, source_tag = EXCLUDED.source_tag, view = EXCLUDED.view, ordering = EXCLUDED.ordering,
			reason = EXCLUDED.reason, trigger_message_id = EXCLUDED.trigger_message_id,
			requested_by = EXCLUDED.requested_by, requested_at = EXCLUDED.requested_at, note = EXCLUDED.note`,
		r.GetRequestId(), r.GetComponent(), r.GetFedoraName(), r.GetBuildId(), r.GetNvr(), r.GetSourceTag(),
		int32(r.GetView()), r.GetOrdering(), int32(r.GetReason()), r.GetTriggerMessageId(), r.GetRequestedBy(), at, r.GetNote())
	if err != nil {
		return err
	}
	detail := fmt.Sprintf("%s request from %s", reasonWord(r.GetReason()), nonEmpty(r.GetSourceTag(), "?"))
	if r.GetRequestedBy() != "" {
		detail += " by " + r.GetRequestedBy()
	}
	if r.GetNote() != "" {
		detail += ": " + r.GetNote()
	}
	return p.history(ctx, historyRow{component: r.GetComponent(), kind: "requested", at: at,
		requestID: r.GetRequestId(), nvr: r.GetNvr(), detail: detail})
}

func reasonWord(r ebsv1.RequestReason) string {
	switch r {
	case ebsv1.RequestReason_REQUEST_REASON_TRIGGER:
		return "trigger"
	case ebsv1.RequestReason_REQUEST_REASON_MANUAL:
		return "manual"
	case ebsv1.RequestReason_REQUEST_REASON_RECONCILE:
		return "reconcile"
	}
	return "unknown"
}

func nonEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (p *projector) manualRebuild(ctx context.Context, m *ebsv1.ManualRebuild) error {
	at := p.at(m.GetRequestedAt())
	if err := p.exec(ctx, `INSERT INTO manual_rebuilds (manual_id, components, requested_by, requested_at, reason)
		VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING`,
		m.GetManualId(), nonNil(m.GetComponents()), m.GetRequestedBy(), at, int32(m.GetReason())); err != nil {
		return err
	}
	for _, c := range m.GetComponents() {
		if err := p.history(ctx, historyRow{component: c, kind: "manual-requested", at: at,
			detail: "manual rebuild " + m.GetManualId() + " asked by " + nonEmpty(m.GetRequestedBy(), "anonymous")}); err != nil {
			return err
		}
	}
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (p *projector) superseded(ctx context.Context, m *ebsv1.RequestSuperseded) error {
	at := p.at(m.GetAt())
	if err := p.exec(ctx, `INSERT INTO requests (request_id, component, nvr, state, superseded_by, closed_at, detail)
		VALUES ($1,$2,$3,'superseded',$4,$5,$6)
		ON CONFLICT (request_id) DO UPDATE SET state = 'superseded', superseded_by = EXCLUDED.superseded_by,
			closed_at = EXCLUDED.closed_at, detail = EXCLUDED.detail
		WHERE requests.state IN ('pending', 'superseded')`,
		m.GetSupersededRequestId(), m.GetComponent(), m.GetSupersededNvr(), m.GetByRequestId(), at,
		"superseded by "+m.GetByNvr()); err != nil {
		return err
	}
	return p.history(ctx, historyRow{component: m.GetComponent(), kind: "superseded", at: at,
		requestID: m.GetSupersededRequestId(), nvr: m.GetSupersededNvr(),
		detail: fmt.Sprintf("%s replaced by %s (request %s)", m.GetSupersededNvr(), m.GetByNvr(), m.GetByRequestId())})
}

// RejectedRequestID is the requests row id of a rejected manual name.
func RejectedRequestID(manualID, component string) string {
	return "rejected-" + manualID + "-" + component
}

func (p *projector) rejected(ctx context.Context, m *ebsv1.RequestRejected) error {
	at := p.at(m.GetAt())
	id := RejectedRequestID(m.GetManualId(), m.GetComponent())
	if err := p.exec(ctx, `INSERT INTO requests (request_id, component, reason, requested_by, requested_at, state, manual_id, detail, closed_at)
		VALUES ($1,$2,$3,$4,$5,'rejected',$6,$7,$5) ON CONFLICT DO NOTHING`,
		id, m.GetComponent(), int32(ebsv1.RequestReason_REQUEST_REASON_MANUAL), m.GetRequestedBy(), at, m.GetManualId(), m.GetReason()); err != nil {
		return err
	}
	return p.history(ctx, historyRow{component: m.GetComponent(), kind: "rejected", at: at, requestID: id,
		detail: m.GetReason()})
}

func optionsJSON(o *ebsv1.BatchOptions) []byte {
	if o == nil {
		return []byte("{}")
	}
	b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(o)
	if err != nil {
		return []byte("{}")
	}
	return b
}

func (p *projector) batchStarted(ctx context.Context, m *ebsv1.BatchStarted) error {
	at := p.at(m.GetStartedAt())
	orderings := map[int32]bool{}
	for _, pkg := range m.GetPackages() {
		orderings[pkg.GetOrdering()] = true
	}
	if err := p.exec(ctx, `INSERT INTO batches (batch_id, started_at, phase, phase_since, options, scratch, slices)
		VALUES ($1,$2,$3,$2,$4,$5,$6)
		ON CONFLICT (batch_id) DO UPDATE SET started_at = EXCLUDED.started_at, options = EXCLUDED.options,
			scratch = EXCLUDED.scratch, slices = EXCLUDED.slices`,
		m.GetBatchId(), at, int32(ebsv1.BatchPhase_BATCH_PHASE_RESOLVING), optionsJSON(m.GetOptions()),
		m.GetOptions().GetScratch(), len(orderings)); err != nil {
		return err
	}
	for _, pkg := range m.GetPackages() {
		if err := p.exec(ctx, `INSERT INTO batch_packages (batch_id, component, fedora_name, request_id, source_build_id,
				source_nvr, ordering, scm_url, seeded, state)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)
			ON CONFLICT (batch_id, component) DO UPDATE SET fedora_name = EXCLUDED.fedora_name,
				request_id = EXCLUDED.request_id, source_build_id = EXCLUDED.source_build_id,
				source_nvr = EXCLUDED.source_nvr, ordering = EXCLUDED.ordering, scm_url = EXCLUDED.scm_url,
				seeded = EXCLUDED.seeded`,
			m.GetBatchId(), pkg.GetComponent(), pkg.GetFedoraName(), pkg.GetRequestId(), pkg.GetSourceBuildId(),
			pkg.GetSourceNvr(), pkg.GetOrdering(), pkg.GetScmUrl(), pkg.GetSeeded(),
			int32(ebsv1.PackageState_PACKAGE_STATE_IN_PROGRESS)); err != nil {
			return err
		}
		if pkg.GetRequestId() != "" {
			if err := p.exec(ctx, `INSERT INTO requests (request_id, component, fedora_name, build_id, nvr, ordering, state, batch_id)
				VALUES ($1,$2,$3,$4,$5,$6,'batched',$7)
				ON CONFLICT (request_id) DO UPDATE SET state = 'batched', batch_id = EXCLUDED.batch_id
				WHERE requests.state = 'pending'`,
				pkg.GetRequestId(), pkg.GetComponent(), pkg.GetFedoraName(), pkg.GetSourceBuildId(), pkg.GetSourceNvr(),
				pkg.GetOrdering(), m.GetBatchId()); err != nil {
				return err
			}
		}
		detail := fmt.Sprintf("taken into batch %s (ordering %d)", m.GetBatchId(), pkg.GetOrdering())
		if pkg.GetScmUrl() != "" {
			detail += " from " + pkg.GetScmUrl()
		}
		if err := p.history(ctx, historyRow{component: pkg.GetComponent(), kind: "batch-started", at: at,
			batchID: m.GetBatchId(), requestID: pkg.GetRequestId(), nvr: pkg.GetSourceNvr(), detail: detail}); err != nil {
			return err
		}
	}
	return nil
}

func (p *projector) batchPhase(ctx context.Context, m *ebsv1.BatchPhaseChanged) error {
	at := p.at(m.GetAt())
	if err := p.exec(ctx, `INSERT INTO batch_phases (event_id, batch_id, phase, at, detail, side_tag)
		VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT DO NOTHING`,
		p.ev.ID, m.GetBatchId(), int32(m.GetPhase()), at, m.GetDetail(), m.GetSideTag()); err != nil {
		return err
	}
	// Phase moves only forward in time, and never off a completed batch.
	return p.exec(ctx, `INSERT INTO batches (batch_id, phase, phase_detail, phase_since, build_side_tag)
		VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (batch_id) DO UPDATE SET phase = EXCLUDED.phase, phase_detail = EXCLUDED.phase_detail,
			phase_since = EXCLUDED.phase_since,
			build_side_tag = CASE WHEN EXCLUDED.build_side_tag <> '' THEN EXCLUDED.build_side_tag ELSE batches.build_side_tag END
		WHERE batches.completed_at IS NULL AND (batches.phase_since IS NULL OR batches.phase_since <= EXCLUDED.phase_since)`,
		m.GetBatchId(), int32(m.GetPhase()), m.GetDetail(), at, m.GetSideTag())
}

func (p *projector) sliceStarted(ctx context.Context, m *ebsv1.SliceStarted) error {
	at := p.at(m.GetAt())
	if err := p.exec(ctx, `INSERT INTO slices (batch_id, slice, ordering, components, state, started_at)
		VALUES ($1,$2,$3,$4,'running',$5)
		ON CONFLICT (batch_id, slice) DO UPDATE SET ordering = EXCLUDED.ordering, components = EXCLUDED.components,
			started_at = EXCLUDED.started_at`,
		m.GetBatchId(), m.GetSlice(), m.GetOrdering(), nonNil(m.GetComponents()), at); err != nil {
		return err
	}
	if err := p.exec(ctx, `UPDATE batches SET current_slice = $2, slices = GREATEST(slices, $2 + 1)
		WHERE batch_id = $1 AND completed_at IS NULL AND current_slice <= $2`, m.GetBatchId(), m.GetSlice()); err != nil {
		return err
	}
	for _, c := range m.GetComponents() {
		if err := p.history(ctx, historyRow{component: c, kind: "slice-started", at: at, batchID: m.GetBatchId(),
			detail: fmt.Sprintf("slice %d (ordering %d) started", m.GetSlice(), m.GetOrdering())}); err != nil {
			return err
		}
	}
	return nil
}

func (p *projector) sliceFinished(ctx context.Context, m *ebsv1.SliceFinished) error {
	at := p.at(m.GetAt())
	if err := p.exec(ctx, `INSERT INTO slices (batch_id, slice, ordering, state, finished_at, succeeded, failed, timed_out, attempts)
		VALUES ($1,$2,$3,'finished',$4,$5,$6,$7,$8)
		ON CONFLICT (batch_id, slice) DO UPDATE SET state = 'finished', finished_at = EXCLUDED.finished_at,
			succeeded = EXCLUDED.succeeded, failed = EXCLUDED.failed, timed_out = EXCLUDED.timed_out,
			attempts = EXCLUDED.attempts`,
		m.GetBatchId(), m.GetSlice(), m.GetOrdering(), at, nonNil(m.GetSucceeded()), nonNil(m.GetFailed()),
		nonNil(m.GetTimedOut()), m.GetAttempts()); err != nil {
		return err
	}
	for word, cs := range map[string][]string{"succeeded": m.GetSucceeded(), "failed": m.GetFailed(), "timed out": m.GetTimedOut()} {
		for _, c := range cs {
			if err := p.history(ctx, historyRow{component: c, kind: "slice-finished", at: at, batchID: m.GetBatchId(),
				detail: fmt.Sprintf("slice %d finished: %s after %d attempt(s)", m.GetSlice(), word, m.GetAttempts())}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *projector) attemptStarted(ctx context.Context, m *ebsv1.AttemptStarted) error {
	at := p.at(m.GetAt())
	if err := p.exec(ctx, `INSERT INTO attempts (attempt_id, batch_id, slice, attempt, components, started_at)
		VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT (attempt_id) DO UPDATE SET components = EXCLUDED.components, started_at = EXCLUDED.started_at`,
		m.GetAttemptId(), m.GetBatchId(), m.GetSlice(), m.GetAttempt(), nonNil(m.GetComponents()), at); err != nil {
		return err
	}
	for _, c := range m.GetComponents() {
		if err := p.exec(ctx, `UPDATE batch_packages SET attempts = GREATEST(attempts, $3)
			WHERE batch_id = $1 AND component = $2 AND NOT final`, m.GetBatchId(), c, m.GetAttempt()); err != nil {
			return err
		}
		if err := p.history(ctx, historyRow{component: c, kind: "attempt-started", at: at, batchID: m.GetBatchId(),
			detail: fmt.Sprintf("attempt %d of slice %d submitted", m.GetAttempt(), m.GetSlice())}); err != nil {
			return err
		}
	}
	return nil
}

func (p *projector) attemptFinished(ctx context.Context, m *ebsv1.AttemptFinished) error {
	at := p.at(m.GetAt())
	return p.exec(ctx, `INSERT INTO attempts (attempt_id, batch_id, slice, attempt, finished_at, succeeded, failed, timed_out)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
		ON CONFLICT (attempt_id) DO UPDATE SET finished_at = EXCLUDED.finished_at, succeeded = EXCLUDED.succeeded,
			failed = EXCLUDED.failed, timed_out = EXCLUDED.timed_out`,
		m.GetAttemptId(), m.GetBatchId(), m.GetSlice(), m.GetAttempt(), at, nonNil(m.GetSucceeded()),
		nonNil(m.GetFailed()), nonNil(m.GetTimedOut()))
}

// StateKind is the history kind of a final package state.
func StateKind(s ebsv1.PackageState) string {
	switch s {
	case ebsv1.PackageState_PACKAGE_STATE_BUILT:
		return "built"
	case ebsv1.PackageState_PACKAGE_STATE_FAILED:
		return "failed"
	case ebsv1.PackageState_PACKAGE_STATE_TIMED_OUT:
		return "timed-out"
	case ebsv1.PackageState_PACKAGE_STATE_SKIPPED_DENYLISTED:
		return "skipped-denylisted"
	case ebsv1.PackageState_PACKAGE_STATE_SKIPPED_NO_SCM_URL:
		return "skipped-no-scm-url"
	case ebsv1.PackageState_PACKAGE_STATE_ABORTED:
		return "aborted"
	case ebsv1.PackageState_PACKAGE_STATE_IN_PROGRESS:
		return "in-progress"
	}
	return "unknown"
}

func (p *projector) batchCompleted(ctx context.Context, m *ebsv1.BatchCompleted) error {
	at := p.at(m.GetCompletedAt())
	if err := p.exec(ctx, `INSERT INTO batches (batch_id, started_at, completed_at, phase, phase_since, result, error, options,
			scratch, build_side_tag, update_side_tags, side_tags_created)
		VALUES ($1,$2,$3,$4,$3,$5,$6,$7,$8,$9,$10,$11)
		ON CONFLICT (batch_id) DO UPDATE SET started_at = COALESCE(batches.started_at, EXCLUDED.started_at),
			completed_at = EXCLUDED.completed_at, phase = EXCLUDED.phase, phase_since = EXCLUDED.phase_since,
			phase_detail = '', result = EXCLUDED.result, error = EXCLUDED.error, options = EXCLUDED.options,
			scratch = EXCLUDED.scratch,
			build_side_tag = CASE WHEN EXCLUDED.build_side_tag <> '' THEN EXCLUDED.build_side_tag ELSE batches.build_side_tag END,
			update_side_tags = EXCLUDED.update_side_tags, side_tags_created = EXCLUDED.side_tags_created`,
		m.GetBatchId(), p.at(m.GetStartedAt()), at, int32(ebsv1.BatchPhase_BATCH_PHASE_COMPLETED), int32(m.GetResult()),
		m.GetError(), optionsJSON(m.GetOptions()), m.GetOptions().GetScratch(), m.GetBuildSideTag(),
		nonNil(m.GetUpdateSideTags()), m.GetSideTagsCreated()); err != nil {
		return err
	}
	for _, o := range m.GetOutcomes() {
		taskIDs := o.GetTaskIds()
		if taskIDs == nil {
			taskIDs = []int64{}
		}
		if err := p.exec(ctx, `INSERT INTO batch_packages (batch_id, component, fedora_name, request_id, source_nvr, scm_url,
				ordering, state, nvr, build_id, task_id, task_ids, attempts, reason, bodhi_update_alias, bodhi_update_url,
				reached_stable, denylisted, last_task_outcome, final)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,true)
			ON CONFLICT (batch_id, component) DO UPDATE SET fedora_name = EXCLUDED.fedora_name,
				request_id = EXCLUDED.request_id, source_nvr = EXCLUDED.source_nvr, scm_url = EXCLUDED.scm_url,
				ordering = EXCLUDED.ordering, state = EXCLUDED.state, nvr = EXCLUDED.nvr, build_id = EXCLUDED.build_id,
				task_id = EXCLUDED.task_id, task_ids = EXCLUDED.task_ids, attempts = EXCLUDED.attempts,
				reason = EXCLUDED.reason, bodhi_update_alias = EXCLUDED.bodhi_update_alias,
				bodhi_update_url = EXCLUDED.bodhi_update_url, reached_stable = EXCLUDED.reached_stable,
				denylisted = EXCLUDED.denylisted, last_task_outcome = EXCLUDED.last_task_outcome, final = true`,
			m.GetBatchId(), o.GetComponent(), o.GetFedoraName(), o.GetRequestId(), o.GetSourceNvr(), o.GetScmUrl(),
			o.GetOrdering(), int32(o.GetState()), o.GetNvr(), o.GetBuildId(), o.GetTaskId(), taskIDs, o.GetAttempts(),
			o.GetReason(), o.GetBodhiUpdateAlias(), o.GetBodhiUpdateUrl(), o.GetReachedStable(), o.GetDenylisted(),
			int32(o.GetLastTaskOutcome())); err != nil {
			return err
		}
		if o.GetRequestId() != "" {
			if err := p.exec(ctx, `INSERT INTO requests (request_id, component, fedora_name, nvr, ordering, state, batch_id, outcome, detail, closed_at)
				VALUES ($1,$2,$3,$4,$5,'completed',$6,$7,$8,$9)
				ON CONFLICT (request_id) DO UPDATE SET state = 'completed', batch_id = EXCLUDED.batch_id,
					outcome = EXCLUDED.outcome, detail = EXCLUDED.detail, closed_at = EXCLUDED.closed_at
				WHERE requests.state IN ('pending', 'batched', 'completed')`,
				o.GetRequestId(), o.GetComponent(), o.GetFedoraName(), o.GetSourceNvr(), o.GetOrdering(), m.GetBatchId(),
				int32(o.GetState()), o.GetReason(), at); err != nil {
				return err
			}
		}
		detail := o.GetReason()
		if detail == "" {
			detail = fmt.Sprintf("%s after %d attempt(s)", StateKind(o.GetState()), o.GetAttempts())
		}
		url := ""
		if o.GetTaskId() != 0 {
			url = fmt.Sprintf("task:%d", o.GetTaskId())
		}
		if err := p.history(ctx, historyRow{component: o.GetComponent(), kind: StateKind(o.GetState()), at: at,
			batchID: m.GetBatchId(), requestID: o.GetRequestId(), nvr: o.GetNvr(), taskID: o.GetTaskId(),
			alias: o.GetBodhiUpdateAlias(), detail: detail, url: url}); err != nil {
			return err
		}
		if o.GetDenylisted() {
			if err := p.history(ctx, historyRow{component: o.GetComponent(), kind: "denylisted", at: at,
				batchID: m.GetBatchId(), requestID: o.GetRequestId(),
				detail: "SCM URL denylisted until removed: " + o.GetScmUrl()}); err != nil {
				return err
			}
		}
		if o.GetReachedStable() {
			if err := p.history(ctx, historyRow{component: o.GetComponent(), kind: "stable", at: at,
				batchID: m.GetBatchId(), nvr: o.GetNvr(), alias: o.GetBodhiUpdateAlias(),
				detail: o.GetNvr() + " reached " + nonEmpty(m.GetOptions().GetStableTag(), "the stable tag")}); err != nil {
				return err
			}
		}
	}
	for _, u := range m.GetUpdates() {
		if err := p.exec(ctx, `INSERT INTO bodhi_updates (alias, batch_id, url, from_tag, nvrs, status, created_at, updated_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$7)
			ON CONFLICT (alias) DO UPDATE SET batch_id = EXCLUDED.batch_id, url = EXCLUDED.url,
				from_tag = EXCLUDED.from_tag, nvrs = EXCLUDED.nvrs,
				status = CASE WHEN EXCLUDED.status <> '' THEN EXCLUDED.status ELSE bodhi_updates.status END`,
			u.GetAlias(), m.GetBatchId(), u.GetUrl(), u.GetFromTag(), nonNil(u.GetNvrs()), u.GetStatus(), at); err != nil {
			return err
		}
	}
	return nil
}

func (p *projector) command(ctx context.Context, system, id, batchID string, issued *timestamppb.Timestamp, m proto.Message) error {
	verb, _ := natsx.OneofCase(m)
	if id == "" {
		id = p.ev.ID
	}
	if err := p.exec(ctx, `INSERT INTO commands (command_id, system, verb, batch_id, issued_at)
		VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (command_id) DO UPDATE SET verb = EXCLUDED.verb, issued_at = EXCLUDED.issued_at`,
		id, system, verb, batchID, p.at(issued)); err != nil {
		return err
	}
	if sb, ok := m.(*ebsv1.KojiCommand); ok && sb.GetSubmitBuilds() != nil {
		for _, b := range sb.GetSubmitBuilds().GetBuilds() {
			if err := p.history(ctx, historyRow{component: b.GetComponent(), kind: "build-requested", at: p.at(issued),
				batchID: batchID, detail: "build of " + b.GetScmUrl() + " asked of Koji (" + sb.GetSubmitBuilds().GetAttemptId() + ")"}); err != nil {
				return err
			}
		}
	}
	return nil
}

// commandDone records the end of a command (result = the event's case).
func (p *projector) commandDone(ctx context.Context, system, id, batchID string, at *timestamppb.Timestamp, m proto.Message, errText string) error {
	verb, _ := natsx.OneofCase(m)
	if id == "" {
		return nil
	}
	return p.exec(ctx, `INSERT INTO commands (command_id, system, verb, batch_id, finished_at, result, error)
		VALUES ($1,$2,'',$3,$4,$5,$6)
		ON CONFLICT (command_id) DO UPDATE SET finished_at = GREATEST(commands.finished_at, EXCLUDED.finished_at),
			result = CASE WHEN commands.result = '' OR EXCLUDED.result = 'command-failed' THEN EXCLUDED.result ELSE commands.result END,
			error = CASE WHEN EXCLUDED.error <> '' THEN EXCLUDED.error ELSE commands.error END`,
		id, system, batchID, p.at(at), verb, errText)
}

func taskURL(id int64) string { return fmt.Sprintf("task:%d", id) }

func (p *projector) kojiEvent(ctx context.Context, m *ebsv1.KojiEvent) error {
	at := p.at(m.GetAt())
	errText := ""
	if f := m.GetCommandFailed(); f != nil {
		errText = f.GetError()
	}
	// A task-finished event does not end the submit command; record only
	// command-level events as results.
	if m.GetTaskFinished() == nil {
		if err := p.commandDone(ctx, "koji", m.GetCommandId(), m.GetBatchId(), m.GetAt(), m, errText); err != nil {
			return err
		}
	}
	switch {
	case m.GetSideTagCreated() != nil:
		e := m.GetSideTagCreated()
		if err := p.exec(ctx, `INSERT INTO side_tags (tag, batch_id, purpose, base_tag, created_at)
			VALUES ($1,$2,$3,$4,$5) ON CONFLICT (tag) DO NOTHING`,
			e.GetTag(), m.GetBatchId(), int32(e.GetPurpose()), e.GetBaseTag(), at); err != nil {
			return err
		}
		if e.GetPurpose() == ebsv1.SideTagPurpose_SIDE_TAG_PURPOSE_BUILD {
			return p.exec(ctx, `UPDATE batches SET build_side_tag = $2 WHERE batch_id = $1 AND completed_at IS NULL`, m.GetBatchId(), e.GetTag())
		}
	case m.GetSideTagRemoved() != nil:
		return p.exec(ctx, `INSERT INTO side_tags (tag, batch_id, removed_at) VALUES ($1,$2,$3)
			ON CONFLICT (tag) DO UPDATE SET removed_at = EXCLUDED.removed_at`, m.GetSideTagRemoved().GetTag(), m.GetBatchId(), at)
	case m.GetBuildsSubmitted() != nil:
		e := m.GetBuildsSubmitted()
		for _, t := range e.GetTasks() {
			if err := p.exec(ctx, `INSERT INTO tasks (task_id, attempt_id, batch_id, component, scm_url, submitted_at)
				VALUES ($1,$2,$3,$4,$5,$6)
				ON CONFLICT (task_id) DO UPDATE SET attempt_id = EXCLUDED.attempt_id, batch_id = EXCLUDED.batch_id,
					component = EXCLUDED.component, scm_url = EXCLUDED.scm_url, submitted_at = EXCLUDED.submitted_at`,
				t.GetTaskId(), e.GetAttemptId(), m.GetBatchId(), t.GetComponent(), t.GetScmUrl(), at); err != nil {
				return err
			}
			if err := p.exec(ctx, `UPDATE batch_packages SET task_id = $3,
					task_ids = CASE WHEN $3 = ANY(task_ids) THEN task_ids ELSE array_append(task_ids, $3) END,
					state = $4, reason = ''
				WHERE batch_id = $1 AND component = $2 AND NOT final`,
				m.GetBatchId(), t.GetComponent(), t.GetTaskId(), int32(ebsv1.PackageState_PACKAGE_STATE_IN_PROGRESS)); err != nil {
				return err
			}
			if err := p.history(ctx, historyRow{component: t.GetComponent(), kind: "task-submitted", at: at,
				batchID: m.GetBatchId(), taskID: t.GetTaskId(), url: taskURL(t.GetTaskId()),
				detail: fmt.Sprintf("Koji task %d building %s", t.GetTaskId(), t.GetScmUrl())}); err != nil {
				return err
			}
		}
		for _, f := range e.GetFailures() {
			if err := p.history(ctx, historyRow{component: f.GetComponent(), kind: "submit-failed", at: at,
				batchID: m.GetBatchId(), detail: fmt.Sprintf("build() of %s failed: %s", f.GetScmUrl(), f.GetError())}); err != nil {
				return err
			}
		}
	case m.GetTaskFinished() != nil:
		return p.taskFinished(ctx, m.GetBatchId(), at, m.GetTaskFinished())
	case m.GetBuildsPromoted() != nil:
		for draft, promoted := range m.GetBuildsPromoted().GetPromoted() {
			if err := p.exec(ctx, `UPDATE batch_packages SET nvr = $3 WHERE batch_id = $1 AND nvr = $2`,
				m.GetBatchId(), draft, promoted); err != nil {
				return err
			}
		}
	}
	return nil
}

func outcomeWord(o ebsv1.TaskOutcome) string {
	switch o {
	case ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED:
		return "succeeded"
	case ebsv1.TaskOutcome_TASK_OUTCOME_FAILED:
		return "failed"
	case ebsv1.TaskOutcome_TASK_OUTCOME_CANCELED:
		return "canceled"
	case ebsv1.TaskOutcome_TASK_OUTCOME_TIMED_OUT:
		return "timed-out"
	}
	return "unknown"
}

func (p *projector) taskFinished(ctx context.Context, batchID string, at time.Time, t *ebsv1.TaskFinished) error {
	if err := p.exec(ctx, `INSERT INTO tasks (task_id, attempt_id, batch_id, component, scm_url, finished_at, outcome,
			koji_state, nvr, build_id, reason, observed_by)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)
		ON CONFLICT (task_id) DO UPDATE SET finished_at = EXCLUDED.finished_at, outcome = EXCLUDED.outcome,
			koji_state = EXCLUDED.koji_state, nvr = EXCLUDED.nvr, build_id = EXCLUDED.build_id,
			reason = EXCLUDED.reason, observed_by = EXCLUDED.observed_by`,
		t.GetTaskId(), t.GetAttemptId(), batchID, t.GetComponent(), t.GetScmUrl(), at, int32(t.GetOutcome()),
		t.GetKojiState(), t.GetNvr(), t.GetBuildId(), t.GetReason(), int32(t.GetObservedBy())); err != nil {
		return err
	}
	state := ebsv1.PackageState_PACKAGE_STATE_FAILED
	switch t.GetOutcome() {
	case ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED:
		state = ebsv1.PackageState_PACKAGE_STATE_BUILT
	case ebsv1.TaskOutcome_TASK_OUTCOME_TIMED_OUT:
		state = ebsv1.PackageState_PACKAGE_STATE_TIMED_OUT
	}
	// Interim state of a running batch; the outcome in ebs.batch.completed is final.
	if err := p.exec(ctx, `UPDATE batch_packages SET state = $4, last_task_outcome = $5, reason = $6,
			nvr = CASE WHEN $7 <> '' THEN $7 ELSE nvr END, build_id = CASE WHEN $8 <> 0 THEN $8 ELSE build_id END
		WHERE batch_id = $1 AND component = $2 AND task_id = $3 AND NOT final`,
		batchID, t.GetComponent(), t.GetTaskId(), int32(state), int32(t.GetOutcome()), t.GetReason(), t.GetNvr(), t.GetBuildId()); err != nil {
		return err
	}
	detail := fmt.Sprintf("Koji task %d %s", t.GetTaskId(), outcomeWord(t.GetOutcome()))
	if t.GetReason() != "" {
		detail += ": " + t.GetReason()
	}
	return p.history(ctx, historyRow{component: t.GetComponent(), kind: "task-finished", at: at, batchID: batchID,
		taskID: t.GetTaskId(), nvr: t.GetNvr(), detail: detail, url: taskURL(t.GetTaskId())})
}

func (p *projector) bodhiEvent(ctx context.Context, m *ebsv1.BodhiEvent) error {
	at := p.at(m.GetAt())
	errText := ""
	if f := m.GetCommandFailed(); f != nil {
		errText = f.GetError()
	}
	if m.GetUpdateStatusChanged() == nil {
		if err := p.commandDone(ctx, "bodhi", m.GetCommandId(), m.GetBatchId(), m.GetAt(), m, errText); err != nil {
			return err
		}
	}
	switch {
	case m.GetUpdateCreated() != nil:
		u := m.GetUpdateCreated()
		if err := p.exec(ctx, `INSERT INTO bodhi_updates (alias, batch_id, command_id, url, from_tag, nvrs, status, chunk,
				existing, dry_run, created_at, updated_at)
			VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$11)
			ON CONFLICT (alias) DO UPDATE SET command_id = EXCLUDED.command_id, url = EXCLUDED.url,
				from_tag = EXCLUDED.from_tag, nvrs = EXCLUDED.nvrs, chunk = EXCLUDED.chunk,
				existing = EXCLUDED.existing, dry_run = EXCLUDED.dry_run, created_at = EXCLUDED.created_at`,
			u.GetAlias(), m.GetBatchId(), m.GetCommandId(), u.GetUrl(), u.GetFromTag(), nonNil(u.GetNvrs()), u.GetStatus(),
			u.GetChunk(), u.GetExisting(), u.GetDryRun(), at); err != nil {
			return err
		}
		if err := p.exec(ctx, `UPDATE batch_packages SET bodhi_update_alias = $3, bodhi_update_url = $4
			WHERE batch_id = $1 AND nvr = ANY($2)`, m.GetBatchId(), nonNil(u.GetNvrs()), u.GetAlias(), u.GetUrl()); err != nil {
			return err
		}
		return p.updateHistory(ctx, m.GetBatchId(), u.GetAlias(), u.GetUrl(), "update-created", at,
			fmt.Sprintf("Bodhi update %s filed from %s (%s)", u.GetAlias(), u.GetFromTag(), nonEmpty(u.GetStatus(), "pending")))
	case m.GetUpdateStatusChanged() != nil:
		u := m.GetUpdateStatusChanged()
		if err := p.exec(ctx, `INSERT INTO bodhi_updates (alias, batch_id, status, final, timed_out, updated_at)
			VALUES ($1,$2,$3,$4,$5,$6)
			ON CONFLICT (alias) DO UPDATE SET status = EXCLUDED.status, final = EXCLUDED.final,
				timed_out = EXCLUDED.timed_out, updated_at = EXCLUDED.updated_at
			WHERE bodhi_updates.updated_at IS NULL OR bodhi_updates.updated_at <= EXCLUDED.updated_at`,
			u.GetAlias(), m.GetBatchId(), u.GetNewStatus(), u.GetFinal(), u.GetTimedOut(), at); err != nil {
			return err
		}
		detail := fmt.Sprintf("Bodhi update %s: %s -> %s", u.GetAlias(), nonEmpty(u.GetOldStatus(), "?"), u.GetNewStatus())
		if u.GetTimedOut() {
			detail += " (stopped following: timed out)"
		}
		return p.updateHistory(ctx, m.GetBatchId(), u.GetAlias(), "", "update-status", at, detail)
	}
	return nil
}

// updateHistory adds a history row to every package of the batch in the update.
func (p *projector) updateHistory(ctx context.Context, batchID, alias, url, kind string, at time.Time, detail string) error {
	rows, err := p.tx.Query(ctx, `SELECT bp.component, bp.nvr FROM batch_packages bp
		JOIN bodhi_updates u ON u.alias = $2 AND bp.nvr = ANY(u.nvrs)
		WHERE bp.batch_id = $1`, batchID, alias)
	if err != nil {
		return err
	}
	type cn struct{ c, n string }
	var list []cn
	for rows.Next() {
		var x cn
		if err := rows.Scan(&x.c, &x.n); err != nil {
			rows.Close()
			return err
		}
		list = append(list, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, x := range list {
		if err := p.history(ctx, historyRow{component: x.c, kind: kind, at: at, batchID: batchID, nvr: x.n,
			alias: alias, url: url, detail: detail}); err != nil {
			return err
		}
	}
	return nil
}

func (p *projector) deadLetter(ctx context.Context, d *ebsv1.DeadLetter) error {
	headers, err := json.Marshal(d.GetHeaders())
	if err != nil {
		headers = []byte("{}")
	}
	id := d.GetId()
	if id == "" {
		id = p.ev.ID
	}
	return p.exec(ctx, `INSERT INTO dead_letters (id, service, stream, seq, subject, reason, payload, headers, at, deliveries)
		VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (id) DO NOTHING`,
		id, d.GetService(), d.GetStream(), int64(d.GetSequence()), d.GetSubject(), d.GetReason(), d.GetPayload(),
		headers, p.at(d.GetAt()), int64(d.GetDeliveries()))
}

// IsSkip reports whether err is a *SkipError.
func IsSkip(err error) bool {
	var s *SkipError
	return errors.As(err, &s)
}
