package bodhipublisher

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/bodhi"
	"github.com/fedora-eln/ebs/libs/commands"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// Defaults for a command's fields left empty.
const (
	DefaultNotes = "Automatic update for ELN rebuild batch"
	DefaultType  = bodhi.TypeUnspecified
	verbCreate   = "create-update"
)

// Options configure a Publisher.
type Options struct {
	JS jetstream.JetStream
	// Bodhi files and reads updates. Nil is allowed in dry-run mode only.
	Bodhi  *bodhi.Client
	DryRun bool
	// RetryFor bounds how long a command is retried, counted from when it
	// was published (default 15 min). A command gets at least MinAttempt
	// even when it waited longer than that in the stream.
	RetryFor   time.Duration
	MinAttempt time.Duration
	// FollowInterval is how often followed updates are polled (default 1 min).
	FollowInterval time.Duration
	// FollowTimeout applies to commands without follow_timeout (default 24 h).
	FollowTimeout time.Duration
	// Workers handle commands concurrently (default 4).
	Workers    int
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Publisher executes Bodhi commands and follows the updates it filed.
type Publisher struct {
	o       Options
	log     *slog.Logger
	results *natsx.ProtoKV[*ebsv1.CommandResult]
	follows *natsx.ProtoKV[*ebsv1.FollowedUpdate]
	m       *metrics
	// followRound lets one replica ask Bodhi per interval.
	followRound *natsx.Round
}

// New opens the KV buckets (provisioned beforehand by natsx.Provision).
func New(ctx context.Context, o Options) (*Publisher, error) {
	if o.JS == nil {
		return nil, errors.New("bodhipublisher: Options.JS is required")
	}
	if o.Bodhi == nil && !o.DryRun {
		return nil, errors.New("bodhipublisher: Options.Bodhi is required unless DryRun")
	}
	if o.RetryFor == 0 {
		o.RetryFor = bodhi.DefaultRetryFor
	}
	if o.MinAttempt == 0 {
		o.MinAttempt = time.Minute
	}
	if o.FollowInterval == 0 {
		o.FollowInterval = time.Minute
	}
	if o.FollowTimeout == 0 {
		o.FollowTimeout = 24 * time.Hour
	}
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	res, err := o.JS.KeyValue(ctx, natsx.BucketResults)
	if err != nil {
		return nil, fmt.Errorf("bodhipublisher: open %s: %w", natsx.BucketResults, err)
	}
	fol, err := o.JS.KeyValue(ctx, natsx.BucketUpdates)
	if err != nil {
		return nil, fmt.Errorf("bodhipublisher: open %s: %w", natsx.BucketUpdates, err)
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	log := o.Logger.With("component", Name)
	round, err := natsx.NewRound(ctx, o.JS, natsx.KeyPollBodhiUpdates, "", log)
	if err != nil {
		return nil, err
	}
	return &Publisher{
		o:           o,
		followRound: round,
		log:         log,
		results:     natsx.NewProtoKV(res, func() *ebsv1.CommandResult { return new(ebsv1.CommandResult) }),
		follows:     natsx.NewProtoKV(fol, func() *ebsv1.FollowedUpdate { return new(ebsv1.FollowedUpdate) }),
		m:           m,
	}, nil
}

// Run consumes commands and follows updates until ctx ends.
func (p *Publisher) Run(ctx context.Context) error {
	followDone := make(chan struct{})
	go func() {
		defer close(followDone)
		p.followLoop(ctx)
	}()
	err := natsx.Consume(ctx, p.o.JS, natsx.StreamEBS, natsx.ConsumerBodhiPublisher,
		func() *ebsv1.BodhiCommand { return new(ebsv1.BodhiCommand) }, p.handle,
		natsx.ConsumeOptions{Service: Name, Logger: p.o.Logger, Workers: p.o.Workers, OnDeadLetter: p.failDeadLettered})
	<-followDone
	return err
}

func (p *Publisher) handle(ctx context.Context, d *natsx.Delivery[*ebsv1.BodhiCommand]) error {
	cmd := d.Msg
	if cmd.GetCommandId() == "" {
		return natsx.Reject(errors.New("command without command_id"))
	}
	log := p.log.With("command_id", cmd.GetCommandId(), "batch_id", cmd.GetBatchId())

	// An outcome already recorded: report it again and stop (idempotent).
	prev, _, err := p.results.Get(ctx, cmd.GetCommandId())
	switch {
	case err == nil:
		be := prev.GetBodhi()
		if be == nil {
			return natsx.Reject(fmt.Errorf("result %s holds no Bodhi event", cmd.GetCommandId()))
		}
		log.Info("command already done; reporting its outcome again")
		p.m.commands.WithLabelValues("replayed").Inc()
		return p.publish(ctx, be)
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case errors.Is(err, jetstream.ErrInvalidKey):
		return natsx.Reject(fmt.Errorf("command id %q is not a valid KV key: %w", cmd.GetCommandId(), err))
	default:
		return fmt.Errorf("read result: %w", err)
	}

	cu := cmd.GetCreateUpdate()
	if cu == nil {
		verb, _ := natsx.OneofCase(cmd)
		return p.fail(ctx, cmd, cmp.Or(verb, "none"), errors.New("bodhi-publisher does not handle this command"), 0, false)
	}
	log = log.With("from_tag", cu.GetFromTag(), "chunk", cu.GetChunk(), "nvrs", len(cu.GetNvrs()))
	if cu.GetFromTag() == "" {
		return p.fail(ctx, cmd, verbCreate, errors.New("create-update without from_tag"), 0, false)
	}
	notes := cmp.Or(cu.GetNotes(), DefaultNotes)
	typ := cmp.Or(cu.GetType(), DefaultType)

	if p.o.DryRun {
		log.Info("dry run: would file a Bodhi update", "notes", notes, "type", typ, "builds", cu.GetNvrs())
		p.m.commands.WithLabelValues("dry_run").Inc()
		return p.finish(ctx, cmd, &ebsv1.BodhiEvent{Event: &ebsv1.BodhiEvent_UpdateCreated{UpdateCreated: &ebsv1.UpdateCreated{
			FromTag: cu.GetFromTag(), Nvrs: cu.GetNvrs(), Chunk: cu.GetChunk(), DryRun: true}}})
	}

	// The budget counts from the command's publication, so restarts do not
	// extend it beyond RetryFor (plus one last MinAttempt).
	deadline := d.Timestamp.Add(p.o.RetryFor)
	if floor := time.Now().Add(p.o.MinAttempt); deadline.Before(floor) {
		deadline = floor
	}
	cctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	created, err := p.o.Bodhi.CreateUpdate(cctx, bodhi.NewUpdate{FromTag: cu.GetFromTag(), Notes: notes, Type: typ, ExpectedNVRs: cu.GetNvrs()})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // shutting down: redelivered later
		}
		status := 0
		if be, ok := bodhi.AsError(err); ok {
			status = be.Status
		}
		transient := bodhi.IsTransient(err) || errors.Is(err, context.DeadlineExceeded)
		log.Error("Bodhi update not filed", "error", err, "transient", transient)
		return p.fail(ctx, cmd, verbCreate, err, status, transient)
	}
	if len(created.Updates) > 1 {
		log.Warn("Bodhi split the side tag's builds into several updates; reporting the first, following all", "updates", len(created.Updates))
	}
	timeout := p.o.FollowTimeout
	if ft := cu.GetFollowTimeout(); ft != nil && ft.AsDuration() > 0 {
		timeout = ft.AsDuration()
	}
	now := time.Now()
	for i, u := range created.Updates {
		key := cmd.GetCommandId()
		if i > 0 {
			key = fmt.Sprintf("%s.%d", key, i)
		}
		fu := &ebsv1.FollowedUpdate{
			CommandId: cmd.GetCommandId(), BatchId: cmd.GetBatchId(), Alias: u.Alias, Url: u.URL,
			FromTag: cu.GetFromTag(), Nvrs: u.NVRs(), Chunk: cu.GetChunk(), Status: u.Status,
			CreatedAt: timestamppb.New(now), Deadline: timestamppb.New(now.Add(timeout)), CheckedAt: timestamppb.New(now),
		}
		// Written before the result: once the result exists the update is followed.
		if _, err := p.follows.Put(ctx, key, fu); err != nil {
			return fmt.Errorf("record followed update: %w", err)
		}
	}
	u := created.Updates[0]
	outcome := "created"
	if created.Existing {
		outcome = "existing"
	}
	p.m.commands.WithLabelValues(outcome).Inc()
	log.Info("Bodhi update filed", "alias", u.Alias, "url", u.URL, "status", u.Status, "existing", created.Existing)
	return p.finish(ctx, cmd, &ebsv1.BodhiEvent{Event: &ebsv1.BodhiEvent_UpdateCreated{UpdateCreated: &ebsv1.UpdateCreated{
		Alias: u.Alias, Url: u.URL, FromTag: cu.GetFromTag(), Nvrs: u.NVRs(), Status: u.Status,
		Chunk: cu.GetChunk(), Existing: created.Existing}}})
}

// fail records and reports a command that will not be carried out.
func (p *Publisher) fail(ctx context.Context, cmd *ebsv1.BodhiCommand, verb string, cause error, status int, transient bool) error {
	p.m.commands.WithLabelValues("failed").Inc()
	return p.finish(ctx, cmd, &ebsv1.BodhiEvent{Event: &ebsv1.BodhiEvent_CommandFailed{CommandFailed: &ebsv1.CommandFailed{
		Verb: verb, Error: cause.Error(), FaultCode: int32(status), Transient: transient}}})
}

// finish stores the outcome under the command id, then publishes it. When
// another delivery stored an outcome first, that one is published instead.
// be carries the event; its ids and time are filled in here.
func (p *Publisher) finish(ctx context.Context, cmd *ebsv1.BodhiCommand, be *ebsv1.BodhiEvent) error {
	be.CommandId, be.BatchId, be.At = cmd.GetCommandId(), cmd.GetBatchId(), timestamppb.Now()
	res := &ebsv1.CommandResult{Result: &ebsv1.CommandResult_Bodhi{Bodhi: be}}
	if _, err := p.results.Create(ctx, cmd.GetCommandId(), res); err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return fmt.Errorf("record result: %w", err)
		}
		prev, _, gerr := p.results.Get(ctx, cmd.GetCommandId())
		if gerr != nil {
			return fmt.Errorf("read result written concurrently: %w", gerr)
		}
		be = prev.GetBodhi()
	}
	return p.publish(ctx, be)
}

// failDeadLettered records a CommandFailed result for a command about to be
// dead-lettered, so the batcher waiting on it goes on.
func (p *Publisher) failDeadLettered(ctx context.Context, m proto.Message, reason string) error {
	cmd, _ := m.(*ebsv1.BodhiCommand)
	if cmd == nil || !commands.ValidID(cmd.GetCommandId()) {
		return nil
	}
	switch _, _, err := p.results.Get(ctx, cmd.GetCommandId()); {
	case err == nil:
		return nil // it has a result already
	case !errors.Is(err, jetstream.ErrKeyNotFound):
		return err
	}
	verb, _ := natsx.OneofCase(cmd)
	p.o.Logger.Error("bodhi command dead-lettered; recording it as failed", "command_id", cmd.GetCommandId(), "batch_id", cmd.GetBatchId(), "reason", reason)
	return p.finish(ctx, cmd, &ebsv1.BodhiEvent{Event: &ebsv1.BodhiEvent_CommandFailed{CommandFailed: &ebsv1.CommandFailed{
		Verb: verb, Error: commands.DeadLettered(reason).Error()}}})
}

// publish sends a Bodhi event with a deterministic id.
func (p *Publisher) publish(ctx context.Context, be *ebsv1.BodhiEvent) error {
	subject, err := natsx.VerbSubject(natsx.SubjectBodhiEvtPrefix, be)
	if err != nil {
		return natsx.Reject(err)
	}
	verb, _ := natsx.OneofCase(be)
	id := be.GetCommandId() + "." + verb
	if sc := be.GetUpdateStatusChanged(); sc != nil {
		id = sc.GetAlias() + ".status." + statusKey(sc)
	}
	if _, err := natsx.Publish(ctx, p.o.JS, subject, id, be); err != nil {
		return fmt.Errorf("publish %s: %w", subject, err)
	}
	return nil
}

func statusKey(sc *ebsv1.UpdateStatusChanged) string {
	if sc.GetTimedOut() {
		return "timed-out"
	}
	return sc.GetNewStatus()
}
