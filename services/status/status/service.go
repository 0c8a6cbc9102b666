package status

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/auth"
	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/store"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// service implements ebsv1.StatusServiceServer.
type service struct {
	ebsv1.UnimplementedStatusServiceServer
	st         *store.Store
	js         jetstream.JetStream
	pending    *natsx.ProtoKV[*ebsv1.PendingRequest]
	control    *natsx.ProtoKV[*ebsv1.ControlState]
	denylist   *natsx.ProtoKV[*ebsv1.DenylistEntry]
	settings   func() *config.Config
	auth       *auth.Authenticator
	kojiWebURL string
	log        *slog.Logger
	now        func() time.Time
	// done ends every WatchBatchEvents stream when the service stops, so
	// the HTTP server's graceful shutdown need not wait for open status
	// pages (their /v1/events never ends by itself); the pages reconnect.
	done <-chan struct{}
	// ackFloor is the highest known ack floor of the projection's durable
	// (every event up to it is committed to the history or skipped).
	ackFloor atomic.Uint64
}

func (s *service) taskURL(id int64) string {
	return fmt.Sprintf("%s/taskinfo?taskID=%d", s.kojiWebURL, id)
}

// links turns the store's "task:N" placeholders into Koji web links.
func (s *service) link(u string) string {
	if rest, ok := strings.CutPrefix(u, "task:"); ok {
		return s.kojiWebURL + "/taskinfo?taskID=" + rest
	}
	return u
}

func (s *service) configPaused() bool {
	c := s.settings()
	return c != nil && c.Control.Pause
}

func (s *service) controlState(ctx context.Context) (*ebsv1.ControlState, error) {
	c, _, err := s.control.Get(ctx, natsx.KeyPause)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return &ebsv1.ControlState{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read pause: %v", ErrUnavailable, err)
	}
	return c, nil
}

// pendingItems lists the pending set in the order the next batch would
// build it: slice ordering, then arrival.
func (s *service) pendingItems(ctx context.Context) ([]*ebsv1.PendingItem, error) {
	entries, err := s.pending.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: read pending set: %v", ErrUnavailable, err)
	}
	items := make([]*ebsv1.PendingItem, 0, len(entries))
	for _, e := range entries {
		since := e.Value.GetPendingSince()
		if since == nil {
			since = e.Value.GetRequest().GetRequestedAt()
		}
		items = append(items, &ebsv1.PendingItem{Request: e.Value.GetRequest(), PendingSince: since})
	}
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		if a.Request.GetOrdering() != b.Request.GetOrdering() {
			return a.Request.GetOrdering() < b.Request.GetOrdering()
		}
		if !a.PendingSince.AsTime().Equal(b.PendingSince.AsTime()) {
			return a.PendingSince.AsTime().Before(b.PendingSince.AsTime())
		}
		return a.Request.GetComponent() < b.Request.GetComponent()
	})
	for i, it := range items {
		it.Position = int32(i + 1)
	}
	return items, nil
}

func (s *service) denylistEntries(ctx context.Context) ([]*ebsv1.DenylistEntry, error) {
	entries, err := s.denylist.List(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: read denylist: %v", ErrUnavailable, err)
	}
	out := make([]*ebsv1.DenylistEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Value)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].GetAt().AsTime().Equal(out[j].GetAt().AsTime()) {
			return out[i].GetAt().AsTime().After(out[j].GetAt().AsTime())
		}
		return out[i].GetScmUrl() < out[j].GetScmUrl()
	})
	return out, nil
}

func (s *service) GetStatus(ctx context.Context, _ *ebsv1.GetStatusRequest) (*ebsv1.GetStatusResponse, error) {
	resp := &ebsv1.GetStatusResponse{GeneratedAt: timestamppb.New(s.now()), AuthEnabled: s.auth.Enabled(), KojiWebUrl: s.kojiWebURL}
	ctl, err := s.controlState(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	resp.Control = ctl
	var src []string
	if s.configPaused() {
		src = append(src, "config")
	}
	if ctl.GetPaused() {
		src = append(src, "runtime")
	}
	resp.Paused, resp.PauseSource = len(src) > 0, strings.Join(src, "+")
	if resp.Pending, err = s.pendingItems(ctx); err != nil {
		return nil, grpcError(err)
	}
	run, err := s.st.RunningBatch(ctx)
	switch {
	case err == nil:
		resp.Running = run
		detail, err := s.batchDetail(ctx, run.BatchId)
		if err != nil {
			return nil, grpcError(err)
		}
		resp.RunningDetail = detail
	case !errors.Is(err, store.ErrNotFound):
		return nil, grpcError(err)
	}
	if last, err := s.st.LastCompletedBatch(ctx); err == nil {
		resp.LastCompleted = last
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, grpcError(err)
	}
	page, err := s.st.ListBatches(ctx, 10, "")
	if err != nil {
		return nil, grpcError(err)
	}
	resp.Recent = page.Batches
	if resp.RecentFailures, err = s.st.RecentFailures(ctx, 25); err != nil {
		return nil, grpcError(err)
	}
	deny, err := s.denylistEntries(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	resp.Denylisted = int32(len(deny))
	n, err := s.st.CountDeadLetters(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	resp.DeadLetters = int32(n)
	return resp, nil
}

func (s *service) ListBatches(ctx context.Context, req *ebsv1.ListBatchesRequest) (*ebsv1.ListBatchesResponse, error) {
	if req.GetPageSize() < 0 {
		return nil, grpcError(invalid("page_size must not be negative"))
	}
	page, err := s.st.ListBatches(ctx, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, grpcError(err)
	}
	return &ebsv1.ListBatchesResponse{Batches: page.Batches, NextPageToken: page.Next}, nil
}

func (s *service) batchDetail(ctx context.Context, id string) (*ebsv1.GetBatchResponse, error) {
	d, err := s.st.Batch(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("no batch %q", id)
	}
	if err != nil {
		return nil, err
	}
	for _, sl := range d.Slices {
		for _, a := range sl.Attempts {
			for _, t := range a.Tasks {
				t.TaskUrl = s.taskURL(t.TaskId)
			}
		}
	}
	return &ebsv1.GetBatchResponse{Summary: d.Summary, Options: d.Options, Slices: d.Slices, Packages: d.Packages,
		Updates: d.Updates, SideTags: d.SideTags}, nil
}

func (s *service) GetBatch(ctx context.Context, req *ebsv1.GetBatchRequest) (*ebsv1.GetBatchResponse, error) {
	if req.GetBatchId() == "" {
		return nil, grpcError(invalid("batch_id is required"))
	}
	d, err := s.batchDetail(ctx, req.GetBatchId())
	return d, grpcError(err)
}

func (s *service) GetPackageHistory(ctx context.Context, req *ebsv1.GetPackageHistoryRequest) (*ebsv1.GetPackageHistoryResponse, error) {
	c := strings.TrimSpace(req.GetComponent())
	if c == "" {
		return nil, grpcError(invalid("component is required"))
	}
	entries, err := s.st.PackageHistory(ctx, c, int(req.GetLimit()))
	if err != nil {
		return nil, grpcError(err)
	}
	for _, e := range entries {
		e.Url = s.link(e.Url)
	}
	resp := &ebsv1.GetPackageHistoryResponse{Component: c, Entries: entries}
	if o, _, err := s.st.LatestOutcome(ctx, c); err == nil {
		resp.Latest = o
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, grpcError(err)
	}
	if items, err := s.pendingItems(ctx); err == nil {
		for _, it := range items {
			if it.GetRequest().GetComponent() == c {
				resp.Pending = it
			}
		}
	} else {
		return nil, grpcError(err)
	}
	if len(entries) == 0 && resp.Pending == nil {
		return nil, grpcError(notFound("ebs has no record of component %q", c))
	}
	return resp, nil
}

// componentName is what an ELN component name may look like.
var componentName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]*$`)

// trigger validates names and publishes one ManualRebuild; the filter
// resolves it into rebuild requests (or rejections) as the original did.
func (s *service) trigger(ctx context.Context, components []string, by string) (*ebsv1.TriggerRebuildResponse, error) {
	if len(components) == 0 {
		return nil, invalid("name at least one component")
	}
	seen := map[string]bool{}
	var names []string
	for _, c := range components {
		c = strings.TrimSpace(c)
		if !componentName.MatchString(c) {
			return nil, invalid("%q is not a component name", c)
		}
		if !seen[c] {
			seen[c] = true
			names = append(names, c)
		}
	}
	sort.Strings(names)
	var b [16]byte
	_, _ = rand.Read(b[:])
	id := "manual-" + hex.EncodeToString(b[:])
	m := &ebsv1.ManualRebuild{ManualId: id, Components: names, RequestedBy: by, RequestedAt: timestamppb.New(s.now()),
		Reason: ebsv1.RequestReason_REQUEST_REASON_MANUAL}
	if _, err := natsx.Publish(ctx, s.js, natsx.SubjectRebuildManual, id, m); err != nil {
		return nil, fmt.Errorf("%w: publish manual rebuild: %v", ErrUnavailable, err)
	}
	s.log.Info("manual rebuild requested", "manual_id", id, "components", names, "user", by)
	return &ebsv1.TriggerRebuildResponse{ManualId: id, Components: names, RequestedBy: by}, nil
}

func caller(ctx context.Context) string {
	if p, ok := auth.FromContext(ctx); ok {
		return p.Username
	}
	return "anonymous"
}

func (s *service) TriggerRebuild(ctx context.Context, req *ebsv1.TriggerRebuildRequest) (*ebsv1.TriggerRebuildResponse, error) {
	r, err := s.trigger(ctx, req.GetComponents(), caller(ctx))
	return r, grpcError(err)
}

// setPause writes the runtime pause into KV ebs_control (persisted, unlike
// the original's in-memory override).
func (s *service) setPause(ctx context.Context, paused bool, reason, by string) (*ebsv1.ControlState, error) {
	v, _, err := s.control.Mutate(ctx, natsx.KeyPause, func(c *ebsv1.ControlState, _ bool) error {
		c.Paused, c.Reason, c.ChangedBy, c.ChangedAt = paused, reason, by, timestamppb.New(s.now())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: write pause: %v", ErrUnavailable, err)
	}
	s.log.Info("runtime pause changed", "paused", paused, "reason", reason, "user", by)
	return v, nil
}

func (s *service) Pause(ctx context.Context, req *ebsv1.PauseRequest) (*ebsv1.PauseResponse, error) {
	c, err := s.setPause(ctx, true, req.GetReason(), caller(ctx))
	if err != nil {
		return nil, grpcError(err)
	}
	return &ebsv1.PauseResponse{Control: c, ConfigPaused: s.configPaused()}, nil
}

func (s *service) Resume(ctx context.Context, _ *ebsv1.ResumeRequest) (*ebsv1.ResumeResponse, error) {
	c, err := s.setPause(ctx, false, "", caller(ctx))
	if err != nil {
		return nil, grpcError(err)
	}
	return &ebsv1.ResumeResponse{Control: c, ConfigPaused: s.configPaused()}, nil
}

func (s *service) ListDenylist(ctx context.Context, _ *ebsv1.ListDenylistRequest) (*ebsv1.ListDenylistResponse, error) {
	e, err := s.denylistEntries(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	return &ebsv1.ListDenylistResponse{Entries: e}, nil
}

// RemoveDenylistEntry deletes an SCM URL from KV ebs_failed (revision-checked,
// so a concurrent re-denylisting is not lost) and records who did it.
func (s *service) RemoveDenylistEntry(ctx context.Context, req *ebsv1.RemoveDenylistEntryRequest) (*ebsv1.RemoveDenylistEntryResponse, error) {
	url := strings.TrimSpace(req.GetScmUrl())
	if url == "" {
		return nil, grpcError(invalid("scm_url is required"))
	}
	key := natsx.EscapeKey(url)
	entry, rev, err := s.denylist.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, grpcError(notFound("%s is not denylisted", url))
	}
	if err != nil {
		return nil, grpcError(fmt.Errorf("%w: read denylist: %v", ErrUnavailable, err))
	}
	if err := s.denylist.KV.Delete(ctx, key, jetstream.LastRevision(rev)); err != nil {
		return nil, grpcError(fmt.Errorf("%w: remove %s from the denylist: %v", ErrUnavailable, url, err))
	}
	by := caller(ctx)
	ev := &ebsv1.DenylistRemoved{Entry: entry, RemovedBy: by, At: timestamppb.New(s.now())}
	if _, err := natsx.Publish(ctx, s.js, natsx.SubjectDenylistRemoved, fmt.Sprintf("denylist-removed-%s-%d", key, rev), ev); err != nil {
		// The removal took effect; only its record is missing from the history.
		s.log.Error("denylist entry removed but the event was not published", "scm_url", url, "error", err)
	}
	s.log.Info("denylist entry removed", "scm_url", url, "component", entry.GetComponent(), "user", by)
	return &ebsv1.RemoveDenylistEntryResponse{Entry: entry, RemovedBy: by}, nil
}

func (s *service) ListDeadLetters(ctx context.Context, req *ebsv1.ListDeadLettersRequest) (*ebsv1.ListDeadLettersResponse, error) {
	if req.GetPageSize() < 0 {
		return nil, grpcError(invalid("page_size must not be negative"))
	}
	page, err := s.st.ListDeadLetters(ctx, int(req.GetPageSize()), req.GetPageToken())
	if err != nil {
		return nil, grpcError(err)
	}
	return &ebsv1.ListDeadLettersResponse{DeadLetters: page.DeadLetters, NextPageToken: page.Next}, nil
}

func (s *service) SearchPackages(ctx context.Context, req *ebsv1.SearchPackagesRequest) (*ebsv1.SearchPackagesResponse, error) {
	if req.GetLimit() < 0 {
		return nil, grpcError(invalid("limit must not be negative"))
	}
	ps, err := s.st.SearchPackages(ctx, strings.TrimSpace(req.GetQuery()), int(req.GetLimit()))
	if err != nil {
		return nil, grpcError(err)
	}
	return &ebsv1.SearchPackagesResponse{Packages: ps}, nil
}

// WatchBatchEvents streams ebs.batch.* events from an ordered consumer:
// from since_sequence when given, else only new ones.
//
// The response headers are sent once the consumer exists, so a client that
// has them (the gateway flushes them as HTTP headers, see
// flushStreamHeaders) misses no event published afterwards. Each event is
// sent once the projection has committed it (awaitProjected), so a client
// that reloads the status on an event reads its effect.
func (s *service) WatchBatchEvents(req *ebsv1.WatchBatchEventsRequest, stream ebsv1.StatusService_WatchBatchEventsServer) error {
	ctx := stream.Context()
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{natsx.SubjectBatchAll}, DeliverPolicy: jetstream.DeliverNewPolicy}
	if seq := req.GetSinceSequence(); seq > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq
	}
	cons, err := s.js.OrderedConsumer(ctx, natsx.StreamEBS, cfg)
	if err != nil {
		return grpcError(fmt.Errorf("%w: watch: %v", ErrUnavailable, err))
	}
	it, err := cons.Messages() // creates the consumer: its start is fixed from here
	if err != nil {
		return grpcError(fmt.Errorf("%w: watch: %v", ErrUnavailable, err))
	}
	defer it.Stop()
	// Unblocks Next when the client goes away or the service stops.
	go func() {
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		it.Stop()
	}()
	if err := stream.SendHeader(metadata.Pairs(watchHeader, "subscribed")); err != nil {
		return err
	}
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return nil
			}
			return grpcError(fmt.Errorf("%w: watch: %v", ErrUnavailable, err))
		}
		md, err := m.Metadata()
		if err != nil {
			continue
		}
		ev := store.Event{Subject: m.Subject(), Type: m.Headers().Get(natsx.HeaderType), Data: m.Data()}
		msg, err := store.Decode(ev)
		if err != nil {
			s.log.Warn("watch: skipping undecodable batch event", "subject", m.Subject(), "seq", md.Sequence.Stream, "error", err)
			continue
		}
		resp := &ebsv1.WatchBatchEventsResponse{Sequence: md.Sequence.Stream, Subject: m.Subject(), At: timestamppb.New(md.Timestamp)}
		if !setEvent(resp, msg) {
			continue
		}
		s.awaitProjected(ctx, md.Sequence.Stream)
		if err := stream.Send(resp); err != nil {
			return err
		}
	}
}

// watchHeader is the WatchBatchEvents response header sent once the stream
// is subscribed (the gateway forwards it as Grpc-Metadata-Ebs-Watch).
const watchHeader = "ebs-watch"

// projectionWait bounds how long an event waits for the projection: a
// stalled projection delays the stream by this much, never stops it.
const projectionWait = 3 * time.Second

// awaitProjected waits until the ack floor of the projection's durable
// consumer reaches seq: the projection (of any replica) acks an event only
// once it is committed or skipped. It gives up after projectionWait, and at
// once when the floor cannot be read.
func (s *service) awaitProjected(ctx context.Context, seq uint64) {
	if s.ackFloor.Load() >= seq {
		return
	}
	deadline := time.Now().Add(projectionWait)
	delay := 10 * time.Millisecond
	for {
		c, err := s.js.Consumer(ctx, natsx.StreamEBS, natsx.ConsumerStatus)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Debug("watch: cannot read the projection's progress; sending the event now", "seq", seq, "error", err)
			}
			return
		}
		floor := c.CachedInfo().AckFloor.Stream
		for old := s.ackFloor.Load(); floor > old; old = s.ackFloor.Load() {
			if s.ackFloor.CompareAndSwap(old, floor) {
				break
			}
		}
		if floor >= seq {
			return
		}
		if time.Now().After(deadline) {
			s.log.Warn("watch: the projection has not committed this event yet; sending it anyway", "seq", seq, "ack_floor", floor)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay = min(2*delay, 200*time.Millisecond)
	}
}

func setEvent(r *ebsv1.WatchBatchEventsResponse, msg proto.Message) bool {
	switch m := msg.(type) {
	case *ebsv1.BatchStarted:
		r.Event = &ebsv1.WatchBatchEventsResponse_Started{Started: m}
	case *ebsv1.BatchPhaseChanged:
		r.Event = &ebsv1.WatchBatchEventsResponse_PhaseChanged{PhaseChanged: m}
	case *ebsv1.SliceStarted:
		r.Event = &ebsv1.WatchBatchEventsResponse_SliceStarted{SliceStarted: m}
	case *ebsv1.SliceFinished:
		r.Event = &ebsv1.WatchBatchEventsResponse_SliceFinished{SliceFinished: m}
	case *ebsv1.AttemptStarted:
		r.Event = &ebsv1.WatchBatchEventsResponse_AttemptStarted{AttemptStarted: m}
	case *ebsv1.AttemptFinished:
		r.Event = &ebsv1.WatchBatchEventsResponse_AttemptFinished{AttemptFinished: m}
	case *ebsv1.BatchCompleted:
		r.Event = &ebsv1.WatchBatchEventsResponse_Completed{Completed: m}
	default:
		return false
	}
	return true
}
