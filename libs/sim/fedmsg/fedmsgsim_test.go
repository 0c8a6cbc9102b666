package fedmsgsim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	fedmsgsim "github.com/fedora-eln/ebs/libs/sim/fedmsg"
)

func TestSamples(t *testing.T) {
	t.Parallel()
	s := fedmsgsim.Samples("")
	if len(s) != 6 {
		t.Fatalf("%d samples", len(s))
	}
	tag := s[0]
	if tag.ID != fedmsgsim.SampleEnvelopeID || tag.Topic != "org.fedoraproject.prod.buildsys.tag" || tag.Priority != 2 ||
		tag.Headers["fedora_messaging_rpm_python-requests"] != true || !tag.SentAt.Equal(fedmsgsim.SampleSentAt) {
		t.Fatalf("tag sample %+v", tag)
	}
	ref, err := os.ReadFile("samples/buildsys.tag.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(tag.Body, bytes.TrimSpace(ref)) {
		t.Fatal("tag body differs from the reference")
	}
	ids := map[string]bool{}
	for _, m := range s {
		if err := m.Validate(); err != nil {
			t.Errorf("%s: %v", m.Topic, err)
		}
		ids[m.ID] = true
	}
	if len(ids) != 6 {
		t.Fatal("sample ids are not unique")
	}
	// Another prefix gives other, still stable, ids.
	a, b := fedmsgsim.Samples("org.ebstest.x"), fedmsgsim.Samples("org.ebstest.x")
	if a[0].ID == tag.ID || a[0].ID != b[0].ID || !strings.HasPrefix(a[3].Topic, "org.ebstest.x.buildsys.") {
		t.Fatalf("prefixed samples %s %s %s", a[0].ID, b[0].ID, a[3].Topic)
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	want := []string{"not a JSON object", "not a JSON object", "without message_id", "over the"}
	ms := fedmsgsim.Malformed("org.ebstest.m")
	if len(ms) != len(want) {
		t.Fatalf("%d malformed", len(ms))
	}
	for i, m := range ms {
		err := m.Validate()
		if err == nil || !strings.Contains(err.Error(), want[i]) {
			t.Errorf("malformed %d: %v", i, err)
		}
	}
}

func TestRecordRoundTripAndDatagrepper(t *testing.T) {
	t.Parallel()
	msgs := append(fedmsgsim.Samples(""), fedmsgsim.Malformed("")[:3]...)
	var buf bytes.Buffer
	if err := fedmsgsim.WriteRecorded(&buf, msgs...); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(buf.String(), "\n"); n != len(msgs) {
		t.Fatalf("%d lines for %d messages", n, len(msgs))
	}
	got, err := fedmsgsim.ReadRecorded(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(msgs) {
		t.Fatalf("read %d", len(got))
	}
	for i := range msgs {
		w, g := msgs[i], got[i]
		// JSON lines keep the body's JSON, not its whitespace.
		if g.ID != w.ID || g.Topic != w.Topic || compact(g.Body) != compact(w.Body) || g.Priority != w.Priority || !g.SentAt.Equal(w.SentAt) {
			t.Errorf("message %d: got %+v\nwant %+v", i, g, w)
		}
		ge, we := g.ToProto(time.Time{}), w.ToProto(time.Time{})
		ge.Body, we.Body = nil, nil
		if we.String() != ge.String() {
			t.Errorf("message %d: envelopes differ:\n%v\n%v", i, we, ge)
		}
	}

	f, err := os.Open("testdata/datagrepper-page.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page, err := fedmsgsim.ReadRecorded(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(page) != 2 || page[0].ID != "6f7a1c52-2a8e-4f6a-9c1e-0d9a1b6e7c10" || page[0].Priority != 2 ||
		page[1].SentAt.Unix() != 1751877070 || page[1].Topic != "org.fedoraproject.prod.buildsys.repo.done" {
		t.Fatalf("page %+v", page)
	}
	var tag fedmsg.TagBody
	if err := fedmsg.Decode(page[0].Body, &tag); err != nil || tag.NVR() != "bash-5.3.0-2.fc45" {
		t.Fatalf("body %v %v", tag, err)
	}
	if page[0].ToProto(time.Now()).Severity != 10 {
		t.Fatal("severity header lost")
	}
	if _, err := fedmsgsim.ReadRecorded(strings.NewReader(`{"id": "x", "topic": "t"} {nope`)); err == nil || !strings.Contains(err.Error(), "message 2") {
		t.Fatalf("bad line: %v", err)
	}
}

func TestSplitNVR(t *testing.T) {
	t.Parallel()
	n, v, r, err := fedmsgsim.SplitNVR("python-requests-2.32.4-2.fc43")
	if err != nil || n != "python-requests" || v != "2.32.4" || r != "2.fc43" {
		t.Fatalf("%s %s %s %v", n, v, r, err)
	}
	for _, bad := range []string{"bash", "bash-5", "-1-2", "bash--1", "bash-1-"} {
		if _, _, _, err := fedmsgsim.SplitNVR(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func amqpURL() string {
	if u := os.Getenv("EBS_TEST_AMQP_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

// The simulator publishes into the real RabbitMQ like Fedora's broker.
func TestAMQPSink(t *testing.T) {
	t.Parallel()
	conn, err := amqp.Dial(amqpURL())
	if err != nil {
		t.Fatalf("RabbitMQ not reachable at %s (start it: rabbitmq-server -detached): %v", amqpURL(), err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	prefix := "org.ebstest." + fedmsg.NewID()[:8]
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, prefix+".#", fedmsg.Exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	sink, err := fedmsgsim.DialAMQP(amqpURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	sim := fedmsgsim.New(sink, prefix)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := sim.PublishAll(ctx, fedmsgsim.Samples(prefix)); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.TagBuild(ctx, "f45", "bash-5.3.0-2.fc45", 42, "releng"); err != nil {
		t.Fatal(err)
	}
	if _, err := sim.RepoDone(ctx, "eln-build", 5, 6); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	sent := sim.Sent()
	if len(sent) != 8 {
		t.Fatalf("sent %d", len(sent))
	}
	for i := range sent {
		select {
		case d := <-deliveries:
			got := fedmsg.FromDelivery(d)
			w := sent[i]
			if got.ID != w.ID || got.Topic != w.Topic || !bytes.Equal(got.Body, w.Body) || d.ContentType != "application/json" || d.DeliveryMode != amqp.Persistent {
				t.Fatalf("delivery %d: %+v", i, got)
			}
			if got.ToProto(time.Time{}).GetSchema() != w.ToProto(time.Time{}).GetSchema() {
				t.Fatalf("delivery %d schema", i)
			}
		case <-ctx.Done():
			t.Fatalf("only %d of %d delivered", i, len(sent))
		}
	}
}

// Without a broker the simulator stores straight into FEDMSG, de-duplicated.
func TestJetStreamSink(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	conn := srv.Connect(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := natsx.Provision(ctx, conn.JS, natsx.ProvisionOptions{}); err != nil {
		t.Fatal(err)
	}
	sim := fedmsgsim.New(fedmsgsim.NewJetStreamSink(conn.JS, ""), "")
	for range 2 {
		if err := sim.PublishAll(ctx, fedmsgsim.Samples("")); err != nil {
			t.Fatal(err)
		}
	}
	info, err := conn.JS.Stream(ctx, natsx.StreamFedmsg)
	if err != nil {
		t.Fatal(err)
	}
	st, err := info.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.State.Msgs != 6 {
		t.Fatalf("FEDMSG holds %d messages, want 6", st.State.Msgs)
	}
	m, err := info.GetLastMsgForSubject(ctx, natsx.SubjectFedmsgTag)
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Get("Nats-Msg-Id") != fedmsgsim.SampleEnvelopeID {
		t.Fatalf("tag stored with id %q", m.Header.Get("Nats-Msg-Id"))
	}
	if err := sim.Publish(ctx, fedmsgsim.Malformed("")[0]); err == nil {
		t.Fatal("a malformed message was stored")
	}
}

func compact(b []byte) string {
	var out bytes.Buffer
	if json.Compact(&out, b) != nil {
		return string(b)
	}
	return out.String()
}

// The proxy forwards AMQP and cuts connections on demand.
func TestBrokerProxy(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(amqpURL())
	if err != nil {
		t.Fatal(err)
	}
	p, err := fedmsgsim.StartProxy(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	proxied, err := p.URL(amqpURL())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := amqp.Dial(proxied)
	if err != nil {
		t.Fatalf("RabbitMQ not reachable through the proxy (start it: rabbitmq-server -detached): %v", err)
	}
	closed := conn.NotifyClose(make(chan *amqp.Error, 1))
	if p.Accepted() != 1 {
		t.Fatalf("accepted %d", p.Accepted())
	}
	if n := p.CutAll(); n != 1 {
		t.Fatalf("cut %d", n)
	}
	select {
	case <-closed:
	case <-time.After(15 * time.Second):
		t.Fatal("the client did not notice the cut")
	}
	conn2, err := amqp.Dial(proxied)
	if err != nil {
		t.Fatal(err)
	}
	conn2.Close()
}
