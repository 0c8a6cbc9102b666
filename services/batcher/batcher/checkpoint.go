package batcher

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/commands"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// MembersPerPage bounds a members page (KV value size stays small).
const MembersPerPage = 500

// errStale: a checkpoint write found a newer revision: another holder runs
// the batch now, this one must stop.
var errStale = errors.New("batcher: checkpoint changed under us (lock lost)")

// Checkpoint keys in KV ebs_batches.
func headerKey(batchID string) string      { return batchID }
func pageKey(batchID string, p int) string { return batchID + ".members." + strconv.Itoa(p) }
func attemptKey(attemptID string) string {
	return strings.Replace(attemptID, ".build.", ".attempt.", 1)
}
func attemptID(batchID string, s, a int32) string {
	return fmt.Sprintf("%s.build.%d.%d", batchID, s, a)
}

// state is a batch's saga state in memory, with the revision of every key.
type state struct {
	kv       jetstream.KeyValue
	hdr      *ebsv1.BatchCheckpoint
	hdrRev   uint64
	pages    []*ebsv1.BatchMembersPage
	pageRevs []uint64
	dirty    map[int]bool             // pages changed since the last save
	index    map[string][2]int        // component -> page, position
	attempts map[string]*attemptState // by attempt id
}

type attemptState struct {
	cp  *ebsv1.AttemptCheckpoint
	rev uint64
}

func (s *state) put(ctx context.Context, key string, m proto.Message, rev *uint64) error {
	data, err := proto.Marshal(m)
	if err != nil {
		return err
	}
	var nrev uint64
	if *rev == 0 {
		nrev, err = s.kv.Create(ctx, key, data)
	} else {
		nrev, err = s.kv.Update(ctx, key, data, *rev)
	}
	if err != nil {
		if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("%w: %s: %v", errStale, key, err)
		}
		return fmt.Errorf("batcher: checkpoint %s: %w", key, err)
	}
	*rev = nrev
	return nil
}

func (s *state) saveHeader(ctx context.Context) error {
	return s.put(ctx, headerKey(s.hdr.GetBatchId()), s.hdr, &s.hdrRev)
}

// savePages writes the pages changed since the last save (all when none is
// marked, e.g. at creation).
func (s *state) savePages(ctx context.Context) error {
	for i, p := range s.pages {
		if s.pageRevs[i] != 0 && !s.dirty[i] {
			continue
		}
		if err := s.put(ctx, pageKey(s.hdr.GetBatchId(), i), p, &s.pageRevs[i]); err != nil {
			return err
		}
		delete(s.dirty, i)
	}
	return nil
}

func (s *state) saveAttempt(ctx context.Context, a *attemptState) error {
	return s.put(ctx, attemptKey(a.cp.GetAttemptId()), a.cp, &a.rev)
}

// members returns every member in order.
func (s *state) members() []*ebsv1.BatchMember {
	var out []*ebsv1.BatchMember
	for _, p := range s.pages {
		out = append(out, p.GetMembers()...)
	}
	return out
}

// member finds a member by component and marks its page dirty.
func (s *state) member(component string) *ebsv1.BatchMember {
	if s.index == nil {
		s.index = map[string][2]int{}
		for i, p := range s.pages {
			for j, m := range p.GetMembers() {
				s.index[m.GetPackage().GetComponent()] = [2]int{i, j}
			}
		}
	}
	at, ok := s.index[component]
	if !ok {
		return nil
	}
	s.dirty[at[0]] = true
	return s.pages[at[0]].GetMembers()[at[1]]
}

// touchAll marks every page dirty.
func (s *state) touchAll() {
	for i := range s.pages {
		s.dirty[i] = true
	}
}

// buildable reports whether a member is still in the running (not skipped).
func buildable(m *ebsv1.BatchMember) bool {
	switch m.GetState() {
	case ebsv1.PackageState_PACKAGE_STATE_SKIPPED_DENYLISTED, ebsv1.PackageState_PACKAGE_STATE_SKIPPED_NO_SCM_URL:
		return false
	}
	return true
}

func getProto(ctx context.Context, kv jetstream.KeyValue, key string, m proto.Message) (uint64, error) {
	e, err := kv.Get(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("batcher: read checkpoint %s: %w", key, err)
	}
	if err := proto.Unmarshal(e.Value(), m); err != nil {
		return 0, fmt.Errorf("batcher: decode checkpoint %s: %w", key, err)
	}
	return e.Revision(), nil
}

// loadState reads a batch's checkpoint keys.
func loadState(ctx context.Context, kv jetstream.KeyValue, batchID string) (*state, error) {
	s := &state{kv: kv, hdr: new(ebsv1.BatchCheckpoint), attempts: map[string]*attemptState{}, dirty: map[int]bool{}}
	var err error
	if s.hdrRev, err = getProto(ctx, kv, headerKey(batchID), s.hdr); err != nil {
		return nil, err
	}
	if s.hdr.GetStep() == stepDone {
		return s, nil // its detail keys may be purged already
	}
	for p := 0; p < int(s.hdr.GetMemberPages()); p++ {
		page := new(ebsv1.BatchMembersPage)
		rev, err := getProto(ctx, kv, pageKey(batchID, p), page)
		if err != nil {
			return nil, err
		}
		s.pages = append(s.pages, page)
		s.pageRevs = append(s.pageRevs, rev)
	}
	for _, sl := range s.hdr.GetSlices() {
		for a := int32(1); a <= sl.GetAttempts(); a++ {
			id := attemptID(batchID, sl.GetSlice(), a)
			cp := new(ebsv1.AttemptCheckpoint)
			rev, err := getProto(ctx, kv, attemptKey(id), cp)
			if errors.Is(err, jetstream.ErrKeyNotFound) {
				continue // counted before it was written: made again
			}
			if err != nil {
				return nil, err
			}
			s.attempts[id] = &attemptState{cp: cp, rev: rev}
		}
	}
	return s, nil
}

// purgeDetails removes a finished batch's members and attempt keys: the
// history lives on in its events (and the status service's database); the
// small header stays.
func purgeDetails(ctx context.Context, kv jetstream.KeyValue, batchID string) error {
	lister, err := kv.ListKeysFiltered(ctx, batchID+".>")
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil
		}
		return fmt.Errorf("batcher: list %s keys: %w", batchID, err)
	}
	var keys []string
	for k := range lister.Keys() {
		keys = append(keys, k)
	}
	for _, k := range keys {
		if err := kv.Purge(ctx, k); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("batcher: purge %s: %w", k, err)
		}
	}
	return nil
}

// readCurrent returns the id of the unfinished batch, if any.
func (b *Batcher) readCurrent(ctx context.Context) (string, error) {
	e, err := b.batches.Get(ctx, natsx.KeyCurrent)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("batcher: read current: %w", err)
	}
	var cb ebsv1.CurrentBatch
	if err := proto.Unmarshal(e.Value(), &cb); err != nil {
		return "", fmt.Errorf("batcher: decode current: %w", err)
	}
	return cb.GetBatchId(), nil
}

// clearCurrent removes "current" if it still names batchID.
func (b *Batcher) clearCurrent(ctx context.Context, batchID string) error {
	e, err := b.batches.Get(ctx, natsx.KeyCurrent)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	var cb ebsv1.CurrentBatch
	if err := proto.Unmarshal(e.Value(), &cb); err != nil || cb.GetBatchId() != batchID {
		return err
	}
	if err := b.batches.Delete(ctx, natsx.KeyCurrent, jetstream.LastRevision(e.Revision())); err != nil {
		return fmt.Errorf("batcher: clear current: %w", err)
	}
	return nil
}

// createBatch moves the pending set into a new batch: members first (in the
// checkpoint), then "current", then the pending keys are deleted (in the
// "move" step) only if unchanged since they were read.
func (b *Batcher) createBatch(ctx context.Context) (string, error) {
	entries, err := b.pending.List(ctx)
	if err != nil {
		return "", err
	}
	if len(entries) == 0 {
		return "", nil
	}
	settings := b.settings()
	target, err := b.hub.GetBuildTarget(ctx, settings.Koji.BuildTarget)
	if err != nil {
		return "", fmt.Errorf("batcher: getBuildTarget(%s): %w", settings.Koji.BuildTarget, err)
	}
	sort.Slice(entries, func(i, j int) bool {
		a, c := entries[i].Value, entries[j].Value
		if a.GetRequest().GetOrdering() != c.GetRequest().GetOrdering() {
			return a.GetRequest().GetOrdering() < c.GetRequest().GetOrdering()
		}
		if !a.GetPendingSince().AsTime().Equal(c.GetPendingSince().AsTime()) {
			return a.GetPendingSince().AsTime().Before(c.GetPendingSince().AsTime())
		}
		return a.GetRequest().GetComponent() < c.GetRequest().GetComponent()
	})
	id := commands.NewBatchID(time.Now())
	now := timestamppb.Now()
	hdr := &ebsv1.BatchCheckpoint{
		BatchId: id, Phase: ebsv1.BatchPhase_BATCH_PHASE_RESOLVING, Step: stepMove, StartedAt: now,
		Packages: int32(len(entries)), Holder: b.cfg.Holder,
		Options: &ebsv1.BatchOptions{Scratch: settings.Koji.ScratchBuild, Draft: b.cfg.Draft && !settings.Koji.ScratchBuild,
			FailFast: settings.Koji.FailFast, WaitRepo: settings.Koji.WaitRepo, BuildTarget: settings.Koji.BuildTarget,
			BuildTag: target.BuildTagName, DestTag: target.DestTagName, StableTag: settings.Koji.StableTag,
			TriggerTag: settings.Control.TriggerTag},
		BuildSideTag: &ebsv1.SideTagCheckpoint{},
	}
	s := &state{kv: b.batches, hdr: hdr, attempts: map[string]*attemptState{}, dirty: map[int]bool{}}
	for i, e := range entries {
		if i%MembersPerPage == 0 {
			s.pages = append(s.pages, &ebsv1.BatchMembersPage{BatchId: id, Page: int32(len(s.pages))})
			s.pageRevs = append(s.pageRevs, 0)
		}
		r := e.Value.GetRequest()
		p := s.pages[len(s.pages)-1]
		p.Members = append(p.Members, &ebsv1.BatchMember{
			Package: &ebsv1.BatchPackage{Component: r.GetComponent(), FedoraName: r.GetFedoraName(), RequestId: r.GetRequestId(),
				SourceBuildId: r.GetBuildId(), SourceNvr: r.GetNvr(), Ordering: r.GetOrdering()},
			PendingRevision: e.Revision, Request: r, Superseded: e.Value.GetSuperseded(),
			State: ebsv1.PackageState_PACKAGE_STATE_IN_PROGRESS,
		})
	}
	hdr.MemberPages = int32(len(s.pages))
	if err := s.savePages(ctx); err != nil {
		return "", err
	}
	if err := s.saveHeader(ctx); err != nil {
		return "", err
	}
	cur, _ := proto.Marshal(&ebsv1.CurrentBatch{BatchId: id, Since: now, Holder: b.cfg.Holder})
	if _, err := b.batches.Create(ctx, natsx.KeyCurrent, cur); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			// Another batch is current after all: resume that one; this
			// one never started and its pending keys are untouched.
			return b.readCurrent(ctx)
		}
		return "", fmt.Errorf("batcher: set current: %w", err)
	}
	b.mu.Lock()
	b.current = id
	b.mu.Unlock()
	b.log.Info("batch created", "batch_id", id, "packages", len(entries))
	return id, nil
}
