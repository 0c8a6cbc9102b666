package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/protobuf/proto"

	"github.com/fedora-eln/ebs/libs/benchkit"
	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/natsx"
)

// rawStream is the baseline's stream: FEDMSG's settings (file storage, the
// same de-duplication window) under another name.
const rawStream = "BENCHRAW"

// rawPublish stores msgs in a fresh stream with asynchronous publishes, as
// fast as JetStream takes them, and returns how long until every ack.
func rawPublish(ctx context.Context, nc *nats.Conn, msgs []fedmsg.Message) (time.Duration, error) {
	var failed atomic.Int64
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(jetstream.JetStream, *nats.Msg, error) { failed.Add(1) }))
	if err != nil {
		return 0, err
	}
	var fedmsgDef natsx.StreamDef
	for _, d := range natsx.Streams {
		if d.Name == natsx.StreamFedmsg {
			fedmsgDef = d
		}
	}
	_ = js.DeleteStream(ctx, rawStream)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: rawStream, Subjects: []string{"benchraw.>"},
		Storage: jetstream.FileStorage, Duplicates: fedmsgDef.Duplicates, MaxAge: fedmsgDef.MaxAge, MaxMsgSize: natsx.MaxPayload}); err != nil {
		return 0, fmt.Errorf("create %s: %w", rawStream, err)
	}
	defer func() { _ = js.DeleteStream(context.Background(), rawStream) }()
	// Encode first: the baseline is JetStream's speed, not protobuf's.
	type out struct {
		msg *nats.Msg
		id  string
	}
	now := time.Now()
	pubs := make([]out, len(msgs))
	for i, m := range msgs {
		data, err := proto.Marshal(m.ToProto(now))
		if err != nil {
			return 0, err
		}
		nm := &nats.Msg{Subject: "benchraw.buildsys.tag", Data: data, Header: nats.Header{}}
		nm.Header.Set(natsx.HeaderType, "ebs.v1.FedoraMessage")
		nm.Header.Set(natsx.HeaderContentType, natsx.ContentTypeProto)
		id := m.ID
		if id == "" {
			id = fmt.Sprintf("raw-%d", i)
		}
		pubs[i] = out{msg: nm, id: id}
	}
	t0 := time.Now()
	for _, p := range pubs {
		if _, err := js.PublishMsgAsync(p.msg, jetstream.WithMsgID(p.id), jetstream.WithStallWait(time.Minute)); err != nil {
			return 0, err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	d := time.Since(t0)
	if n := failed.Load(); n > 0 {
		return d, fmt.Errorf("%d raw publishes failed", n)
	}
	return d, nil
}

// amqpPublish sends msgs to amq.topic with publisher confirms, pipelined
// (as the many publishers of Fedora's bus together would), and returns
// when every confirm arrived.
func amqpPublish(ctx context.Context, msgs []fedmsg.Message) error {
	c, err := amqp.Dial(amqpURL)
	if err != nil {
		return err
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		return err
	}
	if err := ch.Confirm(false); err != nil {
		return err
	}
	confirms := make([]*amqp.DeferredConfirmation, 0, len(msgs))
	for _, m := range msgs {
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, fedmsg.Exchange, m.Topic, false, false, m.Publishing())
		if err != nil {
			return fmt.Errorf("publish %s: %w", m.ID, err)
		}
		confirms = append(confirms, dc)
	}
	for _, dc := range confirms {
		ok, err := dc.WaitContext(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return errors.New("the broker nacked a message")
		}
	}
	return nil
}

// rabbitAlone is the broker's own limit on this machine: the same
// messages published (confirms pipelined) to a fresh queue and consumed
// with the bridge's prefetch, each acked at once, no processing; the time
// from the first publish to the last ack.
func rabbitAlone(ctx context.Context, msgs []fedmsg.Message, prefetch int) (time.Duration, error) {
	c, err := amqp.Dial(amqpURL)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	ch, err := c.Channel()
	if err != nil {
		return 0, err
	}
	q, err := ch.QueueDeclare(fmt.Sprintf("ebs-bench-rabbit-%d", time.Now().UnixNano()), true, false, false, false, nil)
	if err != nil {
		return 0, err
	}
	defer func() { _, _ = ch.QueueDelete(q.Name, false, false, false) }()
	cc, err := amqp.Dial(amqpURL)
	if err != nil {
		return 0, err
	}
	defer cc.Close()
	cch, err := cc.Channel()
	if err != nil {
		return 0, err
	}
	if err := cch.Qos(prefetch, 0, false); err != nil {
		return 0, err
	}
	ds, err := cch.ConsumeWithContext(ctx, q.Name, "", false, false, false, false, nil)
	if err != nil {
		return 0, err
	}
	if err := ch.Confirm(false); err != nil {
		return 0, err
	}
	done := make(chan error, 1)
	t0 := time.Now()
	go func() {
		for range msgs {
			select {
			case d := <-ds:
				if err := d.Ack(false); err != nil {
					done <- err
					return
				}
			case <-ctx.Done():
				done <- ctx.Err()
				return
			}
		}
		done <- nil
	}()
	confirms := make([]*amqp.DeferredConfirmation, 0, len(msgs))
	for _, m := range msgs {
		dc, err := ch.PublishWithDeferredConfirmWithContext(ctx, "", q.Name, false, false, m.Publishing())
		if err != nil {
			return 0, err
		}
		confirms = append(confirms, dc)
	}
	for _, dc := range confirms {
		if _, err := dc.WaitContext(ctx); err != nil {
			return 0, err
		}
	}
	if err := <-done; err != nil {
		return 0, err
	}
	return time.Since(t0), nil
}

// drained reports whether the filter and the batcher have handled
// everything on their streams.
func (s *System) drained(ctx context.Context, bridged func() (float64, error), total int) (bool, error) {
	n, err := bridged()
	if err != nil {
		return false, err
	}
	if int(n) < total {
		return false, nil
	}
	for _, c := range []struct{ stream, durable string }{
		{natsx.StreamFedmsg, natsx.ConsumerFilter}, {natsx.StreamEBS, natsx.ConsumerBatcher}} {
		cons, err := s.Conn.JS.Consumer(ctx, c.stream, c.durable)
		if err != nil {
			return false, err
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return false, err
		}
		if info.NumPending > 0 || info.NumAckPending > 0 {
			return false, nil
		}
	}
	return true, nil
}

// measureIngest is measurement 1.
func measureIngest(ctx context.Context, s *System, o Options, mem *memory) (*benchkit.Ingest, error) {
	tr, err := benchkit.IngestMessages(benchkit.IngestOptions{Total: o.IngestMessages, Prefix: s.Prefix, TriggerTag: "f45",
		Listed: s.Listed, Unlisted: s.Unlisted, Seed: 1})
	if err != nil {
		return nil, err
	}
	res := &benchkit.Ingest{Messages: len(tr.Messages), Eligible: tr.Eligible, Ineligible: tr.Ineligible,
		Duplicates: tr.Duplicates, Malformed: tr.Malformed}
	var size int
	for _, m := range tr.Messages {
		b, _ := proto.Marshal(m.ToProto(time.Now()))
		size += len(b)
	}
	res.AvgBytes = float64(size) / float64(len(tr.Messages))

	s.log.Info("ingest: raw JetStream publish", "messages", len(tr.Messages))
	raw, err := rawPublish(ctx, s.Conn.NC, tr.Messages)
	if err != nil {
		return nil, fmt.Errorf("raw publish: %w", err)
	}
	res.RawSeconds = raw.Seconds()
	res.RawPerSecond = float64(len(tr.Messages)) / raw.Seconds()
	s.log.Info("ingest: RabbitMQ alone", "messages", len(tr.Messages))
	rabbit, err := rabbitAlone(ctx, tr.Messages, 25)
	if err != nil {
		return nil, fmt.Errorf("RabbitMQ alone: %w", err)
	}
	res.RabbitSeconds = rabbit.Seconds()
	res.RabbitPerSecond = float64(len(tr.Messages)) / rabbit.Seconds()

	watch, err := s.WatchPending(ctx)
	if err != nil {
		return nil, err
	}
	defer watch.Stop()
	bridge := s.Procs["bridge"]
	bridged := func() (float64, error) {
		m, err := bridge.Metrics()
		if err != nil {
			return 0, err
		}
		return m.Sum("ebs_bridge_messages_total", `source="amqp"`) - m.Sum("ebs_bridge_messages_total", `outcome="nacked"`), nil
	}
	mem.start()
	s.log.Info("ingest: through RabbitMQ and ebs", "messages", len(tr.Messages), "eligible", tr.Eligible)
	t0 := time.Now()
	pubErr := make(chan error, 1)
	go func() {
		err := amqpPublish(ctx, tr.Messages)
		res.PublishSeconds = time.Since(t0).Seconds()
		pubErr <- err
	}()
	wctx, cancel := context.WithTimeout(ctx, o.PhaseTimeout)
	defer cancel()
	go s.progress(wctx, t0, bridged, watch)
	at, err := watch.Wait(wctx, len(tr.EligibleNames))
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	res.PendingSeconds = at.Sub(t0).Seconds()
	if err := <-pubErr; err != nil {
		return nil, fmt.Errorf("AMQP publish: %w", err)
	}
	for {
		ok, err := s.drained(wctx, bridged, len(tr.Messages))
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
		select {
		case <-wctx.Done():
			return nil, fmt.Errorf("ingest: not drained: %w", wctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
	res.DrainedSeconds = time.Since(t0).Seconds()
	mem.stop("ingest")
	res.EBSPerSecond = float64(len(tr.Messages)) / res.PendingSeconds
	res.Ratio = res.EBSPerSecond / res.RawPerSecond
	if m, err := bridge.Metrics(); err == nil {
		res.Bridge = m.ByLabel("ebs_bridge_messages_total", "outcome")
	}
	if m, err := s.Procs["filter"].Metrics(); err == nil {
		res.Filter = m.ByLabel("ebs_filter_messages_total", "result")
	}
	keys, err := s.PendingKeys(ctx)
	if err != nil {
		return nil, err
	}
	if len(keys) != len(tr.EligibleNames) {
		return nil, fmt.Errorf("ingest: %d requests pending, %d expected", len(keys), len(tr.EligibleNames))
	}
	// The next measurements start from an empty queue.
	if err := s.PurgePending(ctx); err != nil {
		return nil, err
	}
	return res, nil
}

// progress logs where the ingest is every two seconds (which stage lags).
func (s *System) progress(ctx context.Context, t0 time.Time, bridged func() (float64, error), watch *PendingWatch) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(2 * time.Second):
		}
		n, _ := bridged()
		var filterAcked, batcherAcked uint64
		if c, err := s.Conn.JS.Consumer(ctx, natsx.StreamFedmsg, natsx.ConsumerFilter); err == nil {
			if info, err := c.Info(ctx); err == nil {
				filterAcked = info.AckFloor.Stream
			}
		}
		if c, err := s.Conn.JS.Consumer(ctx, natsx.StreamEBS, natsx.ConsumerBatcher); err == nil {
			if info, err := c.Info(ctx); err == nil {
				batcherAcked = info.AckFloor.Consumer
			}
		}
		s.log.Info("ingest progress", "seconds", time.Since(t0).Seconds(), "bridged", n, "filter_ack_floor", filterAcked,
			"batcher_acked", batcherAcked, "pending", watch.Count())
	}
}
