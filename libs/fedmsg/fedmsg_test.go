package fedmsg_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-eln/ebs/libs/fedmsg"
)

func readSample(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeReferenceSamples(t *testing.T) {
	t.Parallel()
	var tag fedmsg.TagBody
	if err := fedmsg.Decode(readSample(t, "buildsys.tag.json"), &tag); err != nil {
		t.Fatal(err)
	}
	if tag.Tag != "f43" || tag.NVR() != "python-requests-2.32.4-2.fc43" || tag.BuildID != 2741190 || tag.User != "bodhi" || tag.Validate() != nil {
		t.Fatalf("tag: %+v", tag)
	}
	var untag fedmsg.TagBody
	if err := fedmsg.Decode(readSample(t, "buildsys.untag.json"), &untag); err != nil || untag.User != "autopen" {
		t.Fatalf("untag: %+v %v", untag, err)
	}
	var bsc fedmsg.BuildStateChangeBody
	if err := fedmsg.Decode(readSample(t, "buildsys.build.state.change.json"), &bsc); err != nil {
		t.Fatal(err)
	}
	if bsc.New != 1 || *bsc.TaskID != 135790246 || bsc.NVR() != "grep-3.11-10.eln150" || bsc.Task == nil || len(bsc.Task.Children) == 0 {
		t.Fatalf("build.state.change: %+v", bsc)
	}
	if bsc.Task.SCMURL() != "git+https://src.fedoraproject.org/rpms/grep.git#799f88f953393ea45f722b71669744948c12a422" {
		t.Fatalf("scm url %q", bsc.Task.SCMURL())
	}
	var tsc fedmsg.TaskStateChangeBody
	if err := fedmsg.Decode(readSample(t, "buildsys.task.state.change.json"), &tsc); err != nil {
		t.Fatal(err)
	}
	if tsc.ID != 135790400 || tsc.New != "CLOSED" || *tsc.Old != "OPEN" || tsc.Info.State != 2 || tsc.Info.Owner != "sgallagh" {
		t.Fatalf("task.state.change: %+v", tsc)
	}
	for _, f := range []string{"buildsys.repo.init.json", "buildsys.repo.done.json"} {
		var r fedmsg.RepoBody
		if err := fedmsg.Decode(readSample(t, f), &r); err != nil || r.Tag != "eln-build-side-112240" || r.RepoID != 7012345 {
			t.Fatalf("%s: %+v %v", f, r, err)
		}
	}
}

func TestLenientFields(t *testing.T) {
	t.Parallel()
	var tsc fedmsg.TaskStateChangeBody
	// An old message with a numeric owner and an unknown key.
	body := `{"id": 5, "new": "FAILED", "owner": 3181, "surprise": [1,2], "info": {"id": 5, "state": 5, "owner": 3181}}`
	if err := fedmsg.Decode([]byte(body), &tsc); err != nil {
		t.Fatal(err)
	}
	if tsc.Owner != "3181" || tsc.Info.Owner != "3181" {
		t.Fatalf("owner: %q %q", tsc.Owner, tsc.Info.Owner)
	}
	for _, bad := range []string{``, `[]`, `"x"`, `{"id": "nope"}`} {
		if err := fedmsg.Decode([]byte(bad), &tsc); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
}

// KojiMessage reproduces the reference envelope's headers.
func TestKojiMessageMatchesReferenceEnvelope(t *testing.T) {
	t.Parallel()
	var env struct {
		RoutingKey string `json:"routing_key"`
		Properties struct {
			Priority int            `json:"priority"`
			Headers  map[string]any `json:"headers"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(readSample(t, "amqp-envelope.buildsys.tag.json"), &env); err != nil {
		t.Fatal(err)
	}
	var tag fedmsg.TagBody
	if err := fedmsg.Decode(readSample(t, "buildsys.tag.json"), &tag); err != nil {
		t.Fatal(err)
	}
	sent, _ := time.Parse(time.RFC3339, "2025-07-07T08:31:02+00:00")
	m, err := fedmsg.KojiMessage(fedmsg.PrefixProd, fedmsg.TopicTag, tag, sent)
	if err != nil {
		t.Fatal(err)
	}
	if m.Topic != env.RoutingKey || m.Priority != env.Properties.Priority {
		t.Fatalf("topic %q priority %d", m.Topic, m.Priority)
	}
	for k, want := range env.Properties.Headers {
		got, ok := m.Headers[k]
		if !ok {
			t.Errorf("header %s missing", k)
			continue
		}
		if g, _ := json.Marshal(got); string(g) != mustJSON(want) {
			t.Errorf("header %s = %s, want %s", k, g, mustJSON(want))
		}
	}
	if len(m.Headers) != len(env.Properties.Headers) {
		t.Errorf("headers: got %v, want %v", m.Headers, env.Properties.Headers)
	}
	fm := m.ToProto(time.Now())
	if fm.Schema != "koji_fedoramessaging.tag.TagV1" || fm.Severity != 10 || !fm.SentAt.AsTime().Equal(sent) || fm.Headers["fedora_messaging_rpm_python-requests"] != "true" {
		t.Fatalf("proto envelope: %v", fm)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestValidate(t *testing.T) {
	t.Parallel()
	big := make([]byte, fedmsg.MaxBodySize+1)
	tests := []struct {
		name string
		m    fedmsg.Message
		ok   bool
	}{
		{"ok", fedmsg.Message{ID: "a", Topic: "t", Body: []byte(`{}`)}, true},
		{"no id", fedmsg.Message{Topic: "t", Body: []byte(`{}`)}, false},
		{"no topic", fedmsg.Message{ID: "a", Body: []byte(`{}`)}, false},
		{"not json", fedmsg.Message{ID: "a", Topic: "t", Body: []byte(`<xml/>`)}, false},
		{"array", fedmsg.Message{ID: "a", Topic: "t", Body: []byte(`[1]`)}, false},
		{"too big", fedmsg.Message{ID: "a", Topic: "t", Body: big}, false},
	}
	for _, tt := range tests {
		if err := tt.m.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v", tt.name, err)
		}
	}
}

// Publish to the real RabbitMQ and read the message back from a queue.
func TestPublishThroughRabbitMQ(t *testing.T) {
	t.Parallel()
	url := os.Getenv("EBS_TEST_AMQP_URL")
	if url == "" {
		url = "amqp://guest:guest@127.0.0.1:5672/"
	}
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("RabbitMQ not reachable at %s (start it: rabbitmq-server -detached): %v", url, err)
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
	if err := ch.QueueBind(q.Name, prefix+".buildsys.#", fedmsg.Exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	pub, err := fedmsg.Dial(url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	tag := fedmsg.TagBody{Tag: "f45", Name: "bash", Version: "5.3", Release: "1.fc45", BuildID: 7, User: "releng", Owner: "kdudka"}
	m, err := fedmsg.KojiMessage(prefix, fedmsg.TopicTag, tag, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pub.Publish(ctx, m); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-deliveries:
		got := fedmsg.FromDelivery(d)
		if got.ID != m.ID || got.Topic != m.Topic || string(got.Body) != string(m.Body) || d.ContentType != "application/json" {
			t.Fatalf("got %+v", got)
		}
		fm := got.ToProto(time.Now())
		if fm.Severity != 10 || fm.Headers["fedora_messaging_user_kdudka"] != "true" || fm.Headers["priority"] != "2" {
			t.Fatalf("headers after AMQP: %v", fm.Headers)
		}
	case <-ctx.Done():
		t.Fatal("message not delivered")
	}
}
