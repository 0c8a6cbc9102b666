package bridge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	fedmsgsim "github.com/fedora-eln/ebs/libs/sim/fedmsg"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/bridge/bridge"
)

func amqpURL() string {
	if u := os.Getenv("EBS_TEST_AMQP_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

func startNATS(t *testing.T) (*natstest.Server, *natsx.Conn) {
	t.Helper()
	srv := natstest.Start(t)
	return srv, srv.Provisioned(t)
}

// rabbit returns a connection and a channel on the real RabbitMQ.
func rabbit(t *testing.T) (*amqp.Connection, *amqp.Channel) {
	t.Helper()
	conn, err := amqp.Dial(amqpURL())
	if err != nil {
		t.Fatalf("RabbitMQ not reachable at %s (start it: rabbitmq-server -detached): %v", amqpURL(), err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return conn, ch
}

// queueState inspects a queue on its own channel (a passive declare of a
// missing queue closes the channel).
func queueState(conn *amqp.Connection, queue string) (amqp.Queue, error) {
	ch, err := conn.Channel()
	if err != nil {
		return amqp.Queue{}, err
	}
	defer ch.Close()
	return ch.QueueDeclarePassive(queue, true, false, false, false, nil)
}

func streamMsgs(t *testing.T, js jetstream.JetStream, stream string) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// deadLetters returns the dead letters stored on EBS keyed by their id,
// failing on one stored twice.
func deadLetters(t *testing.T, js jetstream.JetStream) map[string]*ebsv1.DeadLetter {
	t.Helper()
	out := map[string]*ebsv1.DeadLetter{}
	for _, dl := range natstest.Decode[ebsv1.DeadLetter](t, natstest.Stored(t, js, natsx.StreamEBS, natsx.SubjectDeadLetter)) {
		if _, dup := out[dl.Id]; dup {
			t.Fatalf("dead letter %s stored twice", dl.Id)
		}
		out[dl.Id] = dl
	}
	return out
}

// Store: new, duplicate, and every kind of unusable input dead-lettered once.
func TestStoreAndDeadLetters(t *testing.T) {
	t.Parallel()
	_, conn := startNATS(t)
	reg := prometheus.NewRegistry()
	prefix := "org.ebstest.store"
	b := bridge.New(conn.JS, bridge.Config{TopicPrefix: prefix}, lifecycle.Discard(), reg)
	ctx := context.Background()
	for i, m := range fedmsgsim.Samples(prefix) {
		for round, want := range []bridge.Outcome{bridge.Stored, bridge.Duplicate} {
			got, err := b.Store(ctx, m, "amqp", 1)
			if err != nil || got != want {
				t.Fatalf("sample %d round %d: %s %v", i, round, got, err)
			}
		}
	}
	bad := append(fedmsgsim.Malformed(prefix),
		fedmsg.Message{ID: "bad-topic-1", Topic: prefix + ".buildsys.tag extra", Body: []byte(`{}`)},
		fedmsg.Message{ID: "bad-topic-2", Topic: prefix + ".buildsys.*", Body: []byte(`{}`)},
		fedmsg.Message{ID: "no-topic", Body: []byte(`{}`)},
	)
	for round := 0; round < 2; round++ { // a redelivered bad message gives the same dead letter
		for i, m := range bad {
			if got, err := b.Store(ctx, m, "amqp", uint64(round+1)); err != nil || got != bridge.DeadLettered {
				t.Fatalf("bad %d: %s %v", i, got, err)
			}
		}
	}
	if n := streamMsgs(t, conn.JS, natsx.StreamFedmsg); n != 6 {
		t.Fatalf("FEDMSG holds %d", n)
	}
	dls := deadLetters(t, conn.JS)
	if len(dls) != len(bad) {
		t.Fatalf("%d dead letters, want %d", len(dls), len(bad))
	}
	wantReasons := map[string]string{
		"amqp-" + bad[0].ID: "not_json", "amqp-" + bad[1].ID: "not_json", "amqp-" + bad[3].ID: "too_large",
		"amqp-bad-topic-1": "bad_topic", "amqp-bad-topic-2": "bad_topic", "amqp-no-topic": "no_topic",
	}
	for id, reason := range wantReasons {
		dl, ok := dls[id]
		if !ok {
			t.Fatalf("no dead letter %s (have %v)", id, keys(dls))
		}
		if !strings.HasPrefix(dl.Reason, reason+":") || dl.Service != "bridge" || dl.Stream != "amqp" {
			t.Errorf("%s: %v", id, dl)
		}
	}
	var noID *ebsv1.DeadLetter
	for id, dl := range dls {
		if _, known := wantReasons[id]; !known {
			noID = dl
		}
	}
	if noID == nil || !strings.HasPrefix(noID.Id, "amqp-") || len(noID.Id) != 5+32 || !strings.HasPrefix(noID.Reason, "no_message_id:") ||
		!bytes.Equal(noID.Payload, bad[2].Body) || noID.Subject != prefix+".buildsys.tag" {
		t.Fatalf("dead letter without message id: %v", noID)
	}
	if len(dls["amqp-"+bad[3].ID].Payload) != len(bad[3].Body) {
		t.Error("the oversized body was not kept whole")
	}
	m := b.Metrics()
	if testutil.ToFloat64(m.Messages.WithLabelValues("amqp", "stored")) != 6 || testutil.ToFloat64(m.Messages.WithLabelValues("amqp", "duplicate")) != 6 ||
		testutil.ToFloat64(m.Messages.WithLabelValues("amqp", "dead_lettered")) != float64(2*len(bad)) ||
		testutil.ToFloat64(m.DeadLetters.WithLabelValues("not_json")) != 4 || testutil.ToFloat64(m.DeadLetters.WithLabelValues("no_message_id")) != 2 {
		t.Fatal("metrics do not match")
	}
	if n, err := testutil.GatherAndCount(reg, "ebs_bridge_dead_letters_total"); err != nil || n != 6 {
		t.Fatalf("registered %d %v", n, err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// --replay imports JSON lines into FEDMSG and exits; a second replay is all
// duplicates. Unreadable lines are dead-lettered with their line number and
// the import goes on past them.
func TestReplay(t *testing.T) {
	t.Parallel()
	srv, conn := startNATS(t)
	file := filepath.Join(t.TempDir(), "recorded.jsonl")
	var buf bytes.Buffer
	if err := fedmsgsim.WriteRecorded(&buf, append(fedmsgsim.Samples(""), fedmsgsim.Malformed("")[:3]...)...); err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(buf.String(), "\n")
	// Lines 3, 6 and 9 of the file cannot be read; good lines follow each.
	bad := map[int]string{3: "{nope\n", 6: `{"id": "cut-short", "topic": "org.fedoraproject.prod.buildsys.tag", "bo` + "\n", 9: `{"id": "x", "topic": 42}` + "\n"}
	var text strings.Builder
	for n, i := 1, 0; i < len(lines) || bad[n] != ""; n++ {
		if b := bad[n]; b != "" {
			text.WriteString(b)
			continue
		}
		text.WriteString(lines[i])
		i++
	}
	if err := os.WriteFile(file, []byte(text.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := bridge.Config{Common: lifecycle.Common{NATSURL: srv.URL(), AdminAddr: "off"}, Replay: file}
	if err := bridge.Run(ctx, cfg, lifecycle.Discard()); err != nil {
		t.Fatal(err)
	}
	if n := streamMsgs(t, conn.JS, natsx.StreamFedmsg); n != 6 {
		t.Fatalf("FEDMSG holds %d after replay", n)
	}
	dls := deadLetters(t, conn.JS)
	if len(dls) != 6 {
		t.Fatalf("%d dead letters", len(dls))
	}
	malformed := map[string]bool{}
	for _, dl := range dls {
		if strings.HasPrefix(dl.Id, "replay-") {
			if dl.Stream != "replay" || len(dl.Payload) == 0 || !strings.HasPrefix(dl.Reason, "malformed_record: line "+dl.Headers["line"]+": ") {
				t.Errorf("dead letter %v", dl)
			}
			malformed[dl.Headers["line"]] = true
		}
	}
	if len(malformed) != 3 || !malformed["3"] || !malformed["6"] || !malformed["9"] {
		t.Fatalf("malformed lines dead-lettered: %v", malformed)
	}
	b := bridge.New(conn.JS, bridge.Config{}, lifecycle.Discard(), nil)
	st, err := b.ReplayFile(ctx, file)
	if err != nil || st.Stored != 0 || st.Duplicates != 6 || st.DeadLettered != 6 {
		t.Fatalf("second replay %+v %v", st, err)
	}
	if n := len(deadLetters(t, conn.JS)); n != 6 {
		t.Fatalf("%d dead letters after the second replay, want the same 6", n)
	}
	if got := testutil.ToFloat64(b.Metrics().DeadLetters.WithLabelValues("malformed_record")); got != 3 {
		t.Fatalf("malformed_record dead letters counted %v, want 3", got)
	}
	if _, err := b.ReplayFile(ctx, filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("missing file accepted")
	}
}

// A durable queue without a stable name stops the start-up (NATS is
// unreachable on purpose: the check comes first).
func TestRunRefusesDurableQueueWithoutName(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := bridge.Config{Common: lifecycle.Common{NATSURL: "nats://127.0.0.1:1", AdminAddr: "off"}, AMQPURL: amqpURL()}
	if err := bridge.Run(ctx, cfg, lifecycle.Discard()); err == nil || !strings.Contains(err.Error(), "--amqp-queue") {
		t.Fatalf("Run: %v", err)
	}
}

// A transient queue without a name is server-named, exclusive and
// auto-deleted, and consumes like any other.
func TestTransientQueue(t *testing.T) {
	t.Parallel()
	srv, conn := startNATS(t)
	prefix := "org.ebstest." + fedmsg.NewID()[:8]
	sink, err := fedmsgsim.DialAMQP(amqpURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	sim := fedmsgsim.New(sink, prefix)
	startBridge(t, bridge.Config{Common: lifecycle.Common{NATSURL: srv.URL(), AdminAddr: "off"},
		AMQPURL: amqpURL(), QueueTransient: true, RoutingKeys: testBindings(prefix), TopicPrefix: prefix})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Messages published before the queue is bound are not routed: publish
	// until one arrives.
	for i := 0; streamMsgs(t, conn.JS, natsx.StreamFedmsg) == 0; i++ {
		if _, err := sim.TagBuild(ctx, "f45", fmt.Sprintf("pkg%d-1.0-1.fc45", i), int64(i+1), "bot"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-ctx.Done():
			t.Fatal("nothing consumed from the transient queue")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freeAddr returns a loopback address with a port free at the time of the call.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// scrapeCounter reads one sample (name with its labels, as exposed) from
// the admin server's /metrics.
func scrapeCounter(t *testing.T, addr, sample string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in /metrics", sample)
	return 0
}

type runningBridge struct {
	cancel context.CancelFunc
	done   chan error
}

func startBridge(t *testing.T, cfg bridge.Config) *runningBridge {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rb := &runningBridge{cancel: cancel, done: make(chan error, 1)}
	go func() { rb.done <- bridge.Run(ctx, cfg, lifecycle.Discard()) }()
	t.Cleanup(func() { rb.stop(t) })
	return rb
}

func (rb *runningBridge) stop(t *testing.T) {
	if rb.cancel == nil {
		return
	}
	rb.cancel()
	rb.cancel = nil
	select {
	case err := <-rb.done:
		if err != nil {
			t.Errorf("bridge.Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("bridge did not stop")
	}
}

func testBindings(prefix string) []string {
	var keys []string
	for _, k := range bridge.DefaultRoutingKeys {
		keys = append(keys, strings.Replace(k, "#", prefix, 1))
	}
	return keys
}

// Broker loss (connections cut mid-stream), a bridge restart and a
// JetStream outage: every message ends up in FEDMSG exactly once.
func TestExactlyOnceThroughOutages(t *testing.T) {
	t.Parallel()
	srv, conn := startNATS(t)
	rconn, ch := rabbit(t)
	prefix := "org.ebstest." + fedmsg.NewID()[:8]
	queue := "ebs-test-bridge-" + fedmsg.NewID()
	t.Cleanup(func() { _, _ = ch.QueueDelete(queue, false, false, false) })
	u, _ := url.Parse(amqpURL())
	proxy, err := fedmsgsim.StartProxy(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	viaProxy, _ := proxy.URL(amqpURL())
	admin := freeAddr(t)
	cfg := bridge.Config{
		Common:  lifecycle.Common{NATSURL: srv.URL(), AdminAddr: admin},
		AMQPURL: viaProxy, Queue: queue, RoutingKeys: testBindings(prefix), TopicPrefix: prefix, Prefetch: 10,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 300 * time.Millisecond,
	}
	sink, err := fedmsgsim.DialAMQP(amqpURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	sim := fedmsgsim.New(sink, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()
	publish := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if _, err := sim.TagBuild(ctx, "f45-build-side-1", fmt.Sprintf("pkg%d-1.0-1.fc45", i), int64(i+1), "bot"); err != nil {
				t.Error(err)
				return
			}
		}
	}
	// Polls tolerate the test's own NATS connection reconnecting.
	fedmsgCount := func() uint64 {
		s, err := conn.JS.Stream(ctx, natsx.StreamFedmsg)
		if err != nil {
			return 0
		}
		info, err := s.Info(ctx)
		if err != nil {
			return 0
		}
		return info.State.Msgs
	}

	b := startBridge(t, cfg)
	waitFor(t, "the bridge's queue", 20*time.Second, func() bool { return proxy.Accepted() >= 1 })
	waitFor(t, "the queue bindings", 20*time.Second, func() bool {
		q, err := queueState(rconn, queue)
		return err == nil && q.Consumers == 1
	})
	publish(0, 40)
	waitFor(t, "40 messages", 20*time.Second, func() bool { return fedmsgCount() == 40 })

	// Cut the broker connection repeatedly while messages flow.
	done := make(chan struct{})
	go func() { defer close(done); publish(40, 140) }()
	for i := 0; i < 3; i++ {
		time.Sleep(30 * time.Millisecond)
		proxy.CutAll()
	}
	<-done
	waitFor(t, "140 messages after the cuts", 30*time.Second, func() bool { return fedmsgCount() == 140 })
	if proxy.Accepted() < 2 {
		t.Fatalf("the bridge did not reconnect (%d connections)", proxy.Accepted())
	}

	// Restart the bridge mid-stream.
	done = make(chan struct{})
	go func() { defer close(done); publish(140, 240) }()
	time.Sleep(20 * time.Millisecond)
	b.stop(t)
	b = startBridge(t, cfg)
	<-done
	waitFor(t, "240 messages after the restart", 30*time.Second, func() bool { return fedmsgCount() == 240 })

	// JetStream down: deliveries are nacked and retried, nothing is lost.
	srv.Shutdown()
	publish(240, 260)
	time.Sleep(500 * time.Millisecond)
	srv.Restart()
	waitFor(t, "260 messages after the outage", 30*time.Second, func() bool { return fedmsgCount() == 260 })
	// They got there by nack and requeue, not by waiting out the outage.
	if n := scrapeCounter(t, admin, `ebs_bridge_messages_total{outcome="nacked",source="amqp"}`); n <= 0 {
		t.Fatalf("no delivery was nacked during the JetStream outage (ebs_bridge_messages_total nacked = %v)", n)
	}

	// Duplicates (same message ids) are stored once.
	for _, m := range sim.Sent()[:10] {
		if err := sink.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "the queue to drain", 20*time.Second, func() bool {
		q, err := queueState(rconn, queue)
		return err == nil && q.Messages == 0
	})
	time.Sleep(300 * time.Millisecond)
	if n := fedmsgCount(); n != 260 {
		t.Fatalf("FEDMSG holds %d messages, want exactly 260", n)
	}
	// Each stored once, under its own id.
	s, _ := conn.JS.Stream(ctx, natsx.StreamFedmsg)
	seen := map[string]bool{}
	for seq := uint64(1); seq <= 260; seq++ {
		raw, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		id := raw.Header.Get("Nats-Msg-Id")
		if seen[id] {
			t.Fatalf("message %s stored twice", id)
		}
		seen[id] = true
		if raw.Subject != natsx.SubjectFedmsgTag {
			t.Fatalf("subject %s", raw.Subject)
		}
	}
}

// Outbound: ebs.batch.completed becomes a Fedora message on the bus.
func TestOutboundCompletions(t *testing.T) {
	t.Parallel()
	srv, conn := startNATS(t)
	_, ch := rabbit(t)
	prefix := "org.ebstest." + fedmsg.NewID()[:8]
	topic := prefix + ".eln.buildsync.batch.complete"
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, topic, fedmsg.Exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	startBridge(t, bridge.Config{Common: lifecycle.Common{NATSURL: srv.URL(), AdminAddr: "off"}, OutboundTopic: topic, OutboundURL: amqpURL(),
		StatusURL: "https://ebs.example.org/"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ev := &ebsv1.BatchCompleted{BatchId: "batch-42", Result: ebsv1.BatchResult_BATCH_RESULT_PARTIAL, BuildSideTag: "eln-build-side-7",
		CompletedAt: timestamppb.New(time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)),
		Outcomes: []*ebsv1.PackageOutcome{{Component: "bash", Nvr: "bash-5.3-1.eln150", State: ebsv1.PackageState_PACKAGE_STATE_BUILT},
			{Component: "zsh", State: ebsv1.PackageState_PACKAGE_STATE_FAILED}},
		Updates: []*ebsv1.BodhiUpdateRef{{Alias: "FEDORA-2026-1", Url: "https://bodhi.example/updates/FEDORA-2026-1"}}}
	want, err := bridge.CompletionMessage(topic, ev, "https://ebs.example.org/", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"completed-batch-42", "completed-batch-42-again"} {
		if _, err := natsx.Publish(ctx, conn.JS, natsx.SubjectBatchCompleted, id, ev); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		select {
		case d := <-deliveries:
			m := fedmsg.FromDelivery(d)
			if m.Topic != topic || m.ID != want.ID || d.ContentType != "application/json" || m.Headers[fedmsg.HeaderSeverity] != int32(20) {
				t.Fatalf("delivery %+v", m)
			}
			var body bridge.CompletionSummary
			if err := json.Unmarshal(m.Body, &body); err != nil || body.BatchID != "batch-42" || body.Result != "partial" ||
				body.Counts["built"] != 1 || body.Counts["failed"] != 1 || len(body.Failed) != 1 || body.Failed[0] != "zsh" ||
				len(body.Updates) != 1 || body.Updates[0].Alias != "FEDORA-2026-1" ||
				body.BatchURL != "https://ebs.example.org/v1/batches/batch-42" {
				t.Fatalf("body %s %v", m.Body, err)
			}
		case <-ctx.Done():
			t.Fatalf("completion %d not published", i)
		}
	}
}
