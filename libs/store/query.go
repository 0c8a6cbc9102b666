package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

func ts(t *time.Time) *timestamppb.Timestamp {
	if t == nil || t.IsZero() {
		return nil
	}
	return timestamppb.New(*t)
}

const summaryColumns = `b.batch_id, b.phase, b.result, b.started_at, b.completed_at, b.build_side_tag, b.current_slice,
	b.slices, b.scratch, b.error, b.phase_detail, b.phase_since,
	(SELECT count(*) FROM batch_packages p WHERE p.batch_id = b.batch_id),
	(SELECT count(*) FROM batch_packages p WHERE p.batch_id = b.batch_id AND p.state = 1),
	(SELECT count(*) FROM batch_packages p WHERE p.batch_id = b.batch_id AND p.state IN (2, 3) AND (p.final OR b.completed_at IS NULL)),
	(SELECT count(*) FROM batch_packages p WHERE p.batch_id = b.batch_id AND p.state IN (4, 5))`

func scanSummary(row pgx.Row) (*ebsv1.BatchSummary, error) {
	var s ebsv1.BatchSummary
	var phase, result int32
	var started, completed, since *time.Time
	var n, built, failed, skipped int64
	if err := row.Scan(&s.BatchId, &phase, &result, &started, &completed, &s.BuildSideTag, &s.CurrentSlice,
		&s.Slices, &s.Scratch, &s.Error, &s.PhaseDetail, &since, &n, &built, &failed, &skipped); err != nil {
		return nil, err
	}
	s.Phase = ebsv1.BatchPhase(phase)
	s.Result = ebsv1.BatchResult(result)
	s.StartedAt, s.CompletedAt, s.PhaseSince = ts(started), ts(completed), ts(since)
	s.Packages, s.Built, s.Failed, s.Skipped = int32(n), int32(built), int32(failed), int32(skipped)
	return &s, nil
}

// BatchPage is one page of ListBatches.
type BatchPage struct {
	Batches []*ebsv1.BatchSummary
	Next    string
}

// pageToken encodes the position after the last row: started_at and id.
func pageToken(t *timestamppb.Timestamp, id string) string {
	var n int64
	if t != nil {
		n = t.AsTime().UnixNano()
	}
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(n, 10) + "|" + id))
}

// ErrBadPageToken is returned for a page token this store did not make.
var ErrBadPageToken = errors.New("store: bad page token")

func parsePageToken(tok string) (time.Time, string, error) {
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return time.Time{}, "", ErrBadPageToken
	}
	ns, id, ok := strings.Cut(string(b), "|")
	if !ok {
		return time.Time{}, "", ErrBadPageToken
	}
	n, err := strconv.ParseInt(ns, 10, 64)
	if err != nil {
		return time.Time{}, "", ErrBadPageToken
	}
	return time.Unix(0, n).UTC(), id, nil
}

// ListBatches returns batches newest first, size per page (default 20, max 200).
func (s *Store) ListBatches(ctx context.Context, size int, token string) (BatchPage, error) {
	if size <= 0 {
		size = 20
	}
	size = min(size, 200)
	args := []any{size + 1}
	where := ""
	if token != "" {
		t, id, err := parsePageToken(token)
		if err != nil {
			return BatchPage{}, err
		}
		where = "WHERE (COALESCE(b.started_at, 'epoch'), b.batch_id) < ($2, $3)"
		args = append(args, t, id)
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+summaryColumns+` FROM batches b `+where+`
		ORDER BY COALESCE(b.started_at, 'epoch') DESC, b.batch_id DESC LIMIT $1`, args...)
	if err != nil {
		return BatchPage{}, fmt.Errorf("store: list batches: %w", err)
	}
	defer rows.Close()
	var page BatchPage
	for rows.Next() {
		b, err := scanSummary(rows)
		if err != nil {
			return BatchPage{}, fmt.Errorf("store: list batches: %w", err)
		}
		page.Batches = append(page.Batches, b)
	}
	if err := rows.Err(); err != nil {
		return BatchPage{}, fmt.Errorf("store: list batches: %w", err)
	}
	if len(page.Batches) > size {
		page.Batches = page.Batches[:size]
		last := page.Batches[size-1]
		started := last.StartedAt
		if started == nil {
			started = timestamppb.New(time.Unix(0, 0))
		}
		page.Next = pageToken(started, last.BatchId)
	}
	return page, nil
}

// BatchSummary returns one batch's summary.
func (s *Store) BatchSummary(ctx context.Context, id string) (*ebsv1.BatchSummary, error) {
	b, err := scanSummary(s.Pool.QueryRow(ctx, `SELECT `+summaryColumns+` FROM batches b WHERE b.batch_id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: batch %s: %w", id, err)
	}
	return b, nil
}

// RunningBatch returns the newest batch not completed, or ErrNotFound.
func (s *Store) RunningBatch(ctx context.Context) (*ebsv1.BatchSummary, error) {
	b, err := scanSummary(s.Pool.QueryRow(ctx, `SELECT `+summaryColumns+` FROM batches b
		WHERE b.completed_at IS NULL ORDER BY b.started_at DESC NULLS LAST LIMIT 1`))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: running batch: %w", err)
	}
	return b, nil
}

// LastCompletedBatch returns the most recently completed batch, or ErrNotFound.
func (s *Store) LastCompletedBatch(ctx context.Context) (*ebsv1.BatchSummary, error) {
	b, err := scanSummary(s.Pool.QueryRow(ctx, `SELECT `+summaryColumns+` FROM batches b
		WHERE b.completed_at IS NOT NULL ORDER BY b.completed_at DESC LIMIT 1`))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: last batch: %w", err)
	}
	return b, nil
}

const packageColumns = `component, fedora_name, request_id, source_nvr, scm_url, ordering, state, nvr, build_id, task_id,
	task_ids, attempts, reason, bodhi_update_alias, bodhi_update_url, reached_stable, denylisted, last_task_outcome`

func scanOutcome(row pgx.Row) (*ebsv1.PackageOutcome, error) {
	var o ebsv1.PackageOutcome
	var state, last int32
	if err := row.Scan(&o.Component, &o.FedoraName, &o.RequestId, &o.SourceNvr, &o.ScmUrl, &o.Ordering, &state,
		&o.Nvr, &o.BuildId, &o.TaskId, &o.TaskIds, &o.Attempts, &o.Reason, &o.BodhiUpdateAlias, &o.BodhiUpdateUrl,
		&o.ReachedStable, &o.Denylisted, &last); err != nil {
		return nil, err
	}
	o.State = ebsv1.PackageState(state)
	o.LastTaskOutcome = ebsv1.TaskOutcome(last)
	return &o, nil
}

// BatchDetail is everything known about one batch.
type BatchDetail struct {
	Summary  *ebsv1.BatchSummary
	Options  *ebsv1.BatchOptions
	Slices   []*ebsv1.SliceDetail
	Packages []*ebsv1.PackageOutcome
	Updates  []*ebsv1.BodhiUpdateRef
	SideTags []string
}

// Batch returns one batch in full: summary, options, slices with their
// attempts and tasks, packages (in build order) and Bodhi updates. Task
// URLs are left as "task:<id>" for the caller to turn into Koji web links.
func (s *Store) Batch(ctx context.Context, id string) (*BatchDetail, error) {
	sum, err := s.BatchSummary(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &BatchDetail{Summary: sum, Options: &ebsv1.BatchOptions{}}
	var opts []byte
	if err := s.Pool.QueryRow(ctx, `SELECT options FROM batches WHERE batch_id = $1`, id).Scan(&opts); err != nil {
		return nil, fmt.Errorf("store: batch options: %w", err)
	}
	_ = protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(opts, d.Options)

	rows, err := s.Pool.Query(ctx, `SELECT `+packageColumns+` FROM batch_packages WHERE batch_id = $1
		ORDER BY ordering, component`, id)
	if err != nil {
		return nil, fmt.Errorf("store: batch packages: %w", err)
	}
	for rows.Next() {
		o, err := scanOutcome(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: batch packages: %w", err)
		}
		d.Packages = append(d.Packages, o)
	}
	rows.Close()

	// Slices, then attempts and tasks joined in memory.
	rows, err = s.Pool.Query(ctx, `SELECT slice, ordering, components, state FROM slices WHERE batch_id = $1 ORDER BY slice`, id)
	if err != nil {
		return nil, fmt.Errorf("store: slices: %w", err)
	}
	bySlice := map[int32]*ebsv1.SliceDetail{}
	for rows.Next() {
		var sl ebsv1.SliceDetail
		if err := rows.Scan(&sl.Slice, &sl.Ordering, &sl.Components, &sl.State); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: slices: %w", err)
		}
		d.Slices = append(d.Slices, &sl)
		bySlice[sl.Slice] = &sl
	}
	rows.Close()
	rows, err = s.Pool.Query(ctx, `SELECT attempt_id, slice, attempt, started_at, finished_at FROM attempts
		WHERE batch_id = $1 ORDER BY slice, attempt`, id)
	if err != nil {
		return nil, fmt.Errorf("store: attempts: %w", err)
	}
	byAttempt := map[string]*ebsv1.AttemptDetail{}
	for rows.Next() {
		var a ebsv1.AttemptDetail
		var slice int32
		var started, finished *time.Time
		if err := rows.Scan(&a.AttemptId, &slice, &a.Attempt, &started, &finished); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: attempts: %w", err)
		}
		a.StartedAt, a.FinishedAt = ts(started), ts(finished)
		sl := bySlice[slice]
		if sl == nil {
			sl = &ebsv1.SliceDetail{Slice: slice, State: "running"}
			bySlice[slice] = sl
			d.Slices = append(d.Slices, sl)
		}
		sl.Attempts = append(sl.Attempts, &a)
		byAttempt[a.AttemptId] = &a
	}
	rows.Close()
	rows, err = s.Pool.Query(ctx, `SELECT task_id, attempt_id, component, scm_url, outcome, nvr, reason, submitted_at, finished_at
		FROM tasks WHERE batch_id = $1 ORDER BY task_id`, id)
	if err != nil {
		return nil, fmt.Errorf("store: tasks: %w", err)
	}
	for rows.Next() {
		var t ebsv1.TaskDetail
		var attempt string
		var outcome int32
		var sub, fin *time.Time
		if err := rows.Scan(&t.TaskId, &attempt, &t.Component, &t.ScmUrl, &outcome, &t.Nvr, &t.Reason, &sub, &fin); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: tasks: %w", err)
		}
		t.Outcome = outcomeWord(ebsv1.TaskOutcome(outcome))
		if outcome == 0 {
			t.Outcome = "running"
		}
		t.TaskUrl = taskURL(t.TaskId)
		t.SubmittedAt, t.FinishedAt = ts(sub), ts(fin)
		if a := byAttempt[attempt]; a != nil {
			a.Tasks = append(a.Tasks, &t)
		}
	}
	rows.Close()

	rows, err = s.Pool.Query(ctx, `SELECT alias, url, from_tag, nvrs, status FROM bodhi_updates WHERE batch_id = $1 ORDER BY chunk, alias`, id)
	if err != nil {
		return nil, fmt.Errorf("store: updates: %w", err)
	}
	for rows.Next() {
		var u ebsv1.BodhiUpdateRef
		if err := rows.Scan(&u.Alias, &u.Url, &u.FromTag, &u.Nvrs, &u.Status); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: updates: %w", err)
		}
		d.Updates = append(d.Updates, &u)
	}
	rows.Close()
	rows, err = s.Pool.Query(ctx, `SELECT tag FROM side_tags WHERE batch_id = $1 ORDER BY created_at NULLS LAST, tag`, id)
	if err != nil {
		return nil, fmt.Errorf("store: side tags: %w", err)
	}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			rows.Close()
			return nil, err
		}
		d.SideTags = append(d.SideTags, t)
	}
	rows.Close()
	return d, rows.Err()
}

// PackageHistory returns up to limit entries for component, oldest first
// (the newest limit entries when there are more).
func (s *Store) PackageHistory(ctx context.Context, component string, limit int) ([]*ebsv1.HistoryEntry, error) {
	if limit <= 0 {
		limit = 500
	}
	rows, err := s.Pool.Query(ctx, `SELECT at, kind, batch_id, request_id, nvr, task_id, alias, detail, url FROM (
			SELECT * FROM package_history WHERE component = $1 ORDER BY at DESC, seq DESC, kind DESC LIMIT $2
		) h ORDER BY at, seq, kind`, component, limit)
	if err != nil {
		return nil, fmt.Errorf("store: history %s: %w", component, err)
	}
	defer rows.Close()
	var out []*ebsv1.HistoryEntry
	for rows.Next() {
		var h ebsv1.HistoryEntry
		var at time.Time
		if err := rows.Scan(&at, &h.Kind, &h.BatchId, &h.RequestId, &h.Nvr, &h.TaskId, &h.BodhiUpdateAlias, &h.Detail, &h.Url); err != nil {
			return nil, fmt.Errorf("store: history %s: %w", component, err)
		}
		h.At = timestamppb.New(at)
		out = append(out, &h)
	}
	return out, rows.Err()
}

// LatestOutcome returns the package's outcome in the newest batch that
// finished it, or ErrNotFound.
func (s *Store) LatestOutcome(ctx context.Context, component string) (*ebsv1.PackageOutcome, string, error) {
	var batchID string
	row := s.Pool.QueryRow(ctx, `SELECT p.batch_id, `+prefixed("p", packageColumns)+` FROM batch_packages p
		JOIN batches b USING (batch_id) WHERE p.component = $1 AND p.final
		ORDER BY b.completed_at DESC NULLS LAST LIMIT 1`, component)
	var o ebsv1.PackageOutcome
	var state, last int32
	err := row.Scan(&batchID, &o.Component, &o.FedoraName, &o.RequestId, &o.SourceNvr, &o.ScmUrl, &o.Ordering, &state,
		&o.Nvr, &o.BuildId, &o.TaskId, &o.TaskIds, &o.Attempts, &o.Reason, &o.BodhiUpdateAlias, &o.BodhiUpdateUrl,
		&o.ReachedStable, &o.Denylisted, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", ErrNotFound
	}
	if err != nil {
		return nil, "", fmt.Errorf("store: latest outcome %s: %w", component, err)
	}
	o.State, o.LastTaskOutcome = ebsv1.PackageState(state), ebsv1.TaskOutcome(last)
	return &o, batchID, nil
}

func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// RecentFailures returns final FAILED/TIMED_OUT outcomes of the newest batches.
func (s *Store) RecentFailures(ctx context.Context, limit int) ([]*ebsv1.PackageOutcome, error) {
	if limit <= 0 {
		limit = 50
	}
	rows, err := s.Pool.Query(ctx, `SELECT `+prefixed("p", packageColumns)+` FROM batch_packages p
		JOIN batches b USING (batch_id) WHERE p.final AND p.state IN (2, 3)
		ORDER BY b.completed_at DESC NULLS LAST, p.component LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: recent failures: %w", err)
	}
	defer rows.Close()
	var out []*ebsv1.PackageOutcome
	for rows.Next() {
		o, err := scanOutcome(rows)
		if err != nil {
			return nil, fmt.Errorf("store: recent failures: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// SearchPackages lists components whose name contains query (all when
// empty), most recently active first, with their latest history entry.
func (s *Store) SearchPackages(ctx context.Context, query string, limit int) ([]*ebsv1.PackageSummary, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	like := "%" + strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(strings.ToLower(query)) + "%"
	rows, err := s.Pool.Query(ctx, `SELECT DISTINCT ON (h.component) h.component, h.at, h.kind, h.batch_id, h.nvr,
			EXISTS (SELECT 1 FROM requests r WHERE r.component = h.component AND r.state = 'pending'),
			COALESCE((SELECT p.state FROM batch_packages p JOIN batches b USING (batch_id)
				WHERE p.component = h.component ORDER BY b.started_at DESC NULLS LAST LIMIT 1), 0)
		FROM package_history h WHERE lower(h.component) LIKE $1
		ORDER BY h.component, h.at DESC, h.seq DESC`, like)
	if err != nil {
		return nil, fmt.Errorf("store: search packages: %w", err)
	}
	defer rows.Close()
	var out []*ebsv1.PackageSummary
	for rows.Next() {
		var p ebsv1.PackageSummary
		var at time.Time
		var state int32
		if err := rows.Scan(&p.Component, &at, &p.LastKind, &p.LastBatchId, &p.LastNvr, &p.Pending, &state); err != nil {
			return nil, fmt.Errorf("store: search packages: %w", err)
		}
		p.LastSeen = timestamppb.New(at)
		p.LastState = ebsv1.PackageState(state)
		out = append(out, &p)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Exact match first, then most recently active.
	q := strings.ToLower(query)
	sortPackages(out, q)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

func sortPackages(ps []*ebsv1.PackageSummary, q string) {
	rank := func(p *ebsv1.PackageSummary) int {
		switch {
		case strings.ToLower(p.Component) == q:
			return 0
		case strings.HasPrefix(strings.ToLower(p.Component), q):
			return 1
		}
		return 2
	}
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0; j-- {
			a, b := ps[j-1], ps[j]
			ra, rb := rank(a), rank(b)
			if ra < rb || (ra == rb && !a.LastSeen.AsTime().Before(b.LastSeen.AsTime())) {
				break
			}
			ps[j-1], ps[j] = b, a
		}
	}
}

// DeadLetterPage is one page of ListDeadLetters.
type DeadLetterPage struct {
	DeadLetters []*ebsv1.DeadLetter
	Next        string
}

// ListDeadLetters returns dead letters newest first.
func (s *Store) ListDeadLetters(ctx context.Context, size int, token string) (DeadLetterPage, error) {
	if size <= 0 {
		size = 50
	}
	size = min(size, 500)
	args := []any{size + 1}
	where := ""
	if token != "" {
		t, id, err := parsePageToken(token)
		if err != nil {
			return DeadLetterPage{}, err
		}
		where = "WHERE (COALESCE(at, 'epoch'), id) < ($2, $3)"
		args = append(args, t, id)
	}
	rows, err := s.Pool.Query(ctx, `SELECT id, service, stream, seq, subject, reason, payload, at, deliveries
		FROM dead_letters `+where+` ORDER BY COALESCE(at, 'epoch') DESC, id DESC LIMIT $1`, args...)
	if err != nil {
		return DeadLetterPage{}, fmt.Errorf("store: dead letters: %w", err)
	}
	defer rows.Close()
	var page DeadLetterPage
	for rows.Next() {
		var d ebsv1.DeadLetter
		var seq, deliveries int64
		var at *time.Time
		if err := rows.Scan(&d.Id, &d.Service, &d.Stream, &seq, &d.Subject, &d.Reason, &d.Payload, &at, &deliveries); err != nil {
			return DeadLetterPage{}, fmt.Errorf("store: dead letters: %w", err)
		}
		d.Sequence, d.Deliveries, d.At = uint64(seq), uint64(deliveries), ts(at)
		page.DeadLetters = append(page.DeadLetters, &d)
	}
	if err := rows.Err(); err != nil {
		return DeadLetterPage{}, err
	}
	if len(page.DeadLetters) > size {
		page.DeadLetters = page.DeadLetters[:size]
		last := page.DeadLetters[size-1]
		at := last.At
		if at == nil {
			at = timestamppb.New(time.Unix(0, 0))
		}
		page.Next = pageToken(at, last.Id)
	}
	return page, nil
}

// CountDeadLetters returns how many dead letters were projected.
func (s *Store) CountDeadLetters(ctx context.Context) (int, error) {
	var n int
	err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM dead_letters`).Scan(&n)
	return n, err
}

// KnownComponents lists every ELN component the history mentions (for
// status.json when no component list is configured).
func (s *Store) KnownComponents(ctx context.Context) ([]string, error) {
	rows, err := s.Pool.Query(ctx, `SELECT DISTINCT component FROM requests WHERE state <> 'rejected' ORDER BY component`)
	if err != nil {
		return nil, fmt.Errorf("store: components: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
