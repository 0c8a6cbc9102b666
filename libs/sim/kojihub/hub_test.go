package kojihub_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/koji/wire"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestHTTPBehaviour(t *testing.T) {
	t.Parallel()
	h := kojihub.Start(t, kojihub.Options{})
	resp, err := http.Get(h.URL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "POST" || !strings.Contains(string(body), "Only POST") {
		t.Fatalf("GET: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	resp, err = http.Post(h.URL(), "text/xml", strings.NewReader("<not xml"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("garbage: %d", resp.StatusCode)
	}
	// A fault is HTTP 200 text/xml with Koji-Version.
	req, _ := wire.EncodeCall("getBuild", "nope-1-1", wire.KW("strict", true))
	resp, err = http.Post(h.URL(), "text/xml", strings.NewReader(string(req)))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Koji-Version") != kojihub.Version || resp.Header.Get("Content-Type") != "text/xml" {
		t.Fatalf("fault response %d %v", resp.StatusCode, resp.Header)
	}
	if want := string(wire.EncodeFault(1000, "No such build: nope-1-1")); string(body) != want {
		t.Fatalf("body %s", body)
	}
}

// The world generator: deterministic for a seed, 25,000 packages load
// fast, and multicalls of 500 are answered.
func TestGeneratedWorldAtScale(t *testing.T) {
	t.Parallel()
	h := kojihub.Start(t, kojihub.Options{Seed: 42})
	g, err := h.Generate(kojihub.GenerateOptions{Packages: 25000, ELNFraction: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Packages()) != 25000 || len(g.Rawhide) < 24000 || len(g.ELN) < 2000 {
		t.Fatalf("%d packages, %d rawhide, %d eln", len(h.Packages()), len(g.Rawhide), len(g.ELN))
	}
	h2, err := kojihub.New(kojihub.Options{Seed: 42, Packages: 200})
	if err != nil {
		t.Fatal(err)
	}
	h3, _ := kojihub.New(kojihub.Options{Seed: 42, Packages: 200})
	defer h2.Close()
	defer h3.Close()
	if !reflect.DeepEqual(h2.Packages(), h3.Packages()) || !reflect.DeepEqual(h2.BuildsOfPackage("bash"), h3.BuildsOfPackage("bash")) {
		t.Fatal("same seed, different world")
	}
	c := h.NewClient(t, "")
	ctx := ctxT(t)
	elnTagged, err := c.ListTagged(ctx, "eln", koji.ListTaggedOpts{Latest: true})
	if err != nil || len(elnTagged) != len(g.ELN) {
		t.Fatalf("listTagged eln: %d %v", len(elnTagged), err)
	}
	var nvrs []any
	for _, p := range g.Packages[len(g.Packages)-600:] {
		if nvr, ok := g.Rawhide[p]; ok && len(nvrs) < 500 {
			nvrs = append(nvrs, nvr)
		}
	}
	res, err := c.GetBuilds(ctx, nvrs, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil || r.Value.NVR != nvrs[i] || r.Value.State != koji.BuildComplete ||
			!strings.HasPrefix(r.Value.SCMURL(), "git+https://src.fedoraproject.org/rpms/"+r.Value.Name+".git#") {
			t.Fatalf("item %d: %+v", i, r)
		}
	}
	if got := h.Counters().Calls["getBuild"]; got != 500 {
		t.Fatalf("hub counted %d getBuild calls", got)
	}
}

// Messages reach a real RabbitMQ exchange with Fedora Messaging headers.
func TestAMQPSink(t *testing.T) {
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
	sink, err := kojihub.NewAMQPSink(url, "")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	h := kojihub.Start(t, kojihub.Options{Sink: sink, TopicPrefix: prefix})
	if _, err := h.NewRawhideBuild("bash-5.3-2.fc45", "kdudka"); err != nil {
		t.Fatal(err)
	}
	deliveries, err := ch.Consume(q.Name, "", true, true, false, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	seen := map[string]bool{}
	for !seen[prefix+".buildsys.tag"] || !seen[prefix+".buildsys.repo.done"] {
		select {
		case d := <-deliveries:
			m := fedmsg.FromDelivery(d)
			seen[m.Topic] = true
			if m.Topic == prefix+".buildsys.tag" {
				var body fedmsg.TagBody
				if err := fedmsg.Decode(m.Body, &body); err != nil || body.NVR() != "bash-5.3-2.fc45" || body.Tag != "f45" || body.User != "bodhi" || body.Owner != "kdudka" || body.Validate() != nil {
					t.Fatalf("tag body %+v %v", body, err)
				}
				fm := m.ToProto(time.Now())
				if fm.Schema != "koji_fedoramessaging.tag.TagV1" || fm.Headers["fedora_messaging_rpm_bash"] != "true" || fm.Headers["priority"] != "2" {
					t.Fatalf("headers %v", fm.Headers)
				}
			}
		case <-ctx.Done():
			t.Fatalf("messages seen: %v", seen)
		}
	}
}

// Koji's introspection methods, and createSideTag's checks in the plugin's
// order (login before the suffix).
func TestIntrospectionMethodsAndSideTagChecks(t *testing.T) {
	t.Parallel()
	h := kojihub.Start(t, kojihub.Options{})
	anon := h.NewClient(t, "")
	ctx := ctxT(t)
	var methods []string
	if err := anon.Call(ctx, &methods, "system.listMethods"); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"system.methodSignature", "system.methodHelp", "createSideTag", "multiCall"} {
		if !slices.Contains(methods, m) {
			t.Errorf("system.listMethods lacks %s", m)
		}
	}
	for _, tc := range []struct {
		method string
		arg    string
		want   string
	}{
		{"system.methodSignature", "getBuild", "signatures not supported"},
		{"system.methodHelp", "getBuild", "getBuild(buildInfo, strict=False)"},
		{"system.methodHelp", "createSideTag", "createSideTag(basetag, debuginfo=False, suffix=None)"},
		{"system.methodHelp", "noSuchMethod", ""},
	} {
		var got string
		if err := anon.Call(ctx, &got, tc.method, tc.arg); err != nil || got != tc.want {
			t.Errorf("%s(%s) = %q, %v; want %q", tc.method, tc.arg, got, err, tc.want)
		}
	}

	bot := h.NewClient(t, "eln-buildsync")
	for _, tc := range []struct {
		name   string
		c      *koji.Client
		params []any
		want   error
		msg    string
	}{
		{"anonymous with a suffix", anon, []any{"eln-build", koji.KW("suffix", "stack")}, koji.ErrActionNotAllowed, ""},
		{"missing base tag with a suffix", bot, []any{"nope", koji.KW("suffix", "stack")}, koji.ErrGenericError, "No such tagInfo: 'nope'"},
		{"suffix not allowed", bot, []any{"eln-build", koji.KW("suffix", "stack")}, koji.ErrGenericError, "stack suffix is not allowed for sidetag"},
	} {
		err := tc.c.Call(ctx, nil, "createSideTag", tc.params...)
		var f *koji.Fault
		if !errors.Is(err, tc.want) || (tc.msg != "" && (!errors.As(err, &f) || f.Message != tc.msg)) {
			t.Errorf("%s: %v, want %v %q", tc.name, err, tc.want, tc.msg)
		}
	}
	if len(h.SideTags()) != 0 {
		t.Fatalf("side tags created: %+v", h.SideTags())
	}
}
