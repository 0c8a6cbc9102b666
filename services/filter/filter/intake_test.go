package filter_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-eln/ebs/libs/contentresolver/crfixture"
	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	bodhisim "github.com/fedora-eln/ebs/libs/sim/bodhi"
	fedmsgsim "github.com/fedora-eln/ebs/libs/sim/fedmsg"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/bridge/bridge"
	"github.com/fedora-eln/ebs/services/filter/filter"
)

func amqpURL() string {
	if u := os.Getenv("EBS_TEST_AMQP_URL"); u != "" {
		return u
	}
	return "amqp://guest:guest@127.0.0.1:5672/"
}

type service struct {
	name   string
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, name string, run func(ctx context.Context) error) *service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &service{name: name, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- run(ctx) }()
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *service) stop(t *testing.T) {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("%s: %v", s.name, err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop", s.name)
	}
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The intake end to end: reference samples, generated triggers and
// malformed messages go through the real RabbitMQ, the bridge (cut from the
// broker and restarted mid-stream) and the filter (production
// configuration, rawhide resolved through the Bodhi simulator, lists from the Content
// Resolver fixture server) into RebuildRequests on EBS, exactly once; the
// malformed ones are dead-lettered; a broken configuration refresh keeps the
// old configuration and a valid change takes effect without a restart.
func TestIntakeEndToEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 55*time.Second)
	defer cancel()
	nats := natstest.Start(t)
	conn := nats.Connect(t)

	rconn, err := amqp.Dial(amqpURL())
	if err != nil {
		t.Fatalf("RabbitMQ not reachable at %s (start it: rabbitmq-server -detached): %v", amqpURL(), err)
	}
	defer rconn.Close()
	prefix := "org.ebstest." + fedmsg.NewID()[:8]
	queue := "ebs-test-intake-" + fedmsg.NewID()
	t.Cleanup(func() {
		if ch, err := rconn.Channel(); err == nil {
			_, _ = ch.QueueDelete(queue, false, false, false)
		}
	})
	u, _ := url.Parse(amqpURL())
	proxy, err := fedmsgsim.StartProxy(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	viaProxy, _ := proxy.URL(amqpURL())

	// The reference samples tag into f43: the Bodhi simulator says rawhide is f43.
	rels := bodhisim.DefaultReleases()
	rels[0].StableTag, rels[0].DistTag = "f43", "f43"
	bodhi := bodhisim.Start(t, bodhisim.Options{Releases: rels})
	cr := crfixture.NewTest(t, crfixture.Sample()...)
	hub := kojihub.Start(t, kojihub.Options{})

	prod, err := os.ReadFile("testdata/distrobaker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	base := strings.Replace(string(prod), "trigger_tag: f45", "trigger_tag: rawhide", 1)
	base = strings.Replace(base, "content_resolver: https://tiny.distro.builders", "content_resolver: "+cr.URL, 1)
	cfgPath := filepath.Join(t.TempDir(), "distrobaker.yaml")
	writeConfig := func(s string) {
		t.Helper()
		tmp := cfgPath + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, cfgPath); err != nil {
			t.Fatal(err)
		}
	}
	writeConfig(base)

	common := lifecycle.Common{NATSURL: nats.URL(), AdminAddr: "off", Replicas: 1}
	fcfg := filter.Config{Common: common, KojiURL: hub.URL(), BodhiURL: bodhi.URL(), ConfigRefresh: 200 * time.Millisecond, ReconcileInterval: -1}
	fcfg.Config = cfgPath
	start(t, "filter", func(ctx context.Context) error { return filter.Run(ctx, fcfg, lifecycle.Discard()) })
	bcfg := bridge.Config{Common: common, AMQPURL: viaProxy, Queue: queue, TopicPrefix: prefix, Prefetch: 10,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 300 * time.Millisecond}
	for _, k := range bridge.DefaultRoutingKeys {
		bcfg.RoutingKeys = append(bcfg.RoutingKeys, strings.Replace(k, "#", prefix, 1))
	}
	b := start(t, "bridge", func(ctx context.Context) error { return bridge.Run(ctx, bcfg, lifecycle.Discard()) })
	eventually(t, 20*time.Second, "the bridge's queue", func() bool {
		ch, err := rconn.Channel()
		if err != nil {
			return false
		}
		defer ch.Close()
		q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
		return err == nil && q.Consumers == 1
	})

	sink, err := fedmsgsim.DialAMQP(amqpURL(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	sim := fedmsgsim.New(sink, prefix)
	samples := fedmsgsim.Samples(prefix)
	malformed := fedmsgsim.Malformed(prefix)
	if err := sim.PublishAll(ctx, samples); err != nil {
		t.Fatal(err)
	}
	if err := sim.PublishAll(ctx, malformed); err != nil {
		t.Fatal(err)
	}
	triggers := map[string]fedmsg.Message{}
	tag := func(tagName, nvr string, id int64) fedmsg.Message {
		t.Helper()
		m, err := sim.TagBuild(ctx, tagName, nvr, id, "releng")
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	for i, nvr := range []string{"bash-5.3.0-2.fc43", "freeipa-4.12.2-3.fc43", "dump-0.4-0.60.b47.fc43", "kernel-6.18.0-1.fc43",
		"firefox-146.0-1.fc43", "llvm-21.1.0-1.fc43"} {
		triggers[nvr] = tag("f43", nvr, int64(1000+i))
	}
	tag("f43-signing-pending", "bash-5.3.0-2.fc43", 1000)

	// Mid-stream: filler traffic while the broker connection is cut and the
	// bridge restarted.
	filler := make(chan struct{})
	go func() {
		defer close(filler)
		for i := 0; i < 150; i++ {
			if _, err := sim.TagBuild(ctx, "f43-build-side-9", fmt.Sprintf("filler%d-1-1.fc43", i), int64(5000+i), "bot"); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	time.Sleep(30 * time.Millisecond)
	proxy.CutAll()
	time.Sleep(30 * time.Millisecond)
	b.stop(t)
	b = start(t, "bridge (restarted)", func(ctx context.Context) error { return bridge.Run(ctx, bcfg, lifecycle.Discard()) })
	<-filler
	// Duplicates of everything valid, and a trigger after the restart.
	if err := sim.PublishAll(ctx, samples); err != nil {
		t.Fatal(err)
	}
	for _, m := range triggers {
		if err := sim.Publish(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	triggers["clang-21.1.0-1.fc43"] = tag("f43", "clang-21.1.0-1.fc43", 1100)

	wantRequests := map[string]struct {
		component string
		view      ebsv1.ComponentView
		ordering  int32
		user      string
	}{
		"python-requests-2.32.4-2.fc43": {"python-requests", ebsv1.ComponentView_COMPONENT_VIEW_ELN, 1000, "bodhi"},
		"bash-5.3.0-2.fc43":             {"bash", ebsv1.ComponentView_COMPONENT_VIEW_ELN, 1000, "releng"},
		"freeipa-4.12.2-3.fc43":         {"ipa", ebsv1.ComponentView_COMPONENT_VIEW_ELN, 1001, "releng"},
		"dump-0.4-0.60.b47.fc43":        {"restore", ebsv1.ComponentView_COMPONENT_VIEW_OVERRIDE, 1000, "releng"},
		"llvm-21.1.0-1.fc43":            {"llvm", ebsv1.ComponentView_COMPONENT_VIEW_ELN, 0, "releng"},
		"clang-21.1.0-1.fc43":           {"clang", ebsv1.ComponentView_COMPONENT_VIEW_ELN, 1, "releng"},
	}
	var reqs map[string]*ebsv1.RebuildRequest
	eventually(t, 30*time.Second, "6 rebuild requests", func() bool {
		reqs = natstest.ByMsgID[ebsv1.RebuildRequest](t, natstest.Stored(t, conn.JS, natsx.StreamEBS, natsx.SubjectRebuildRequested))
		return len(reqs) >= len(wantRequests)
	})
	validPublished := len(samples) + len(triggers) + 1 + 150
	eventually(t, 30*time.Second, "FEDMSG to hold every valid message", func() bool {
		s, err := conn.JS.Stream(ctx, natsx.StreamFedmsg)
		if err != nil {
			return false
		}
		info, err := s.Info(ctx)
		return err == nil && info.State.Msgs >= uint64(validPublished)
	})
	eventually(t, 20*time.Second, "the queue to drain", func() bool {
		ch, err := rconn.Channel()
		if err != nil {
			return false
		}
		defer ch.Close()
		q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
		return err == nil && q.Messages == 0
	})
	time.Sleep(500 * time.Millisecond) // anything late would be a duplicate
	s, _ := conn.JS.Stream(ctx, natsx.StreamFedmsg)
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs != uint64(validPublished) {
		t.Fatalf("FEDMSG holds %v messages, want exactly %d (%v)", info.State.Msgs, validPublished, err)
	}
	reqs = natstest.ByMsgID[ebsv1.RebuildRequest](t, natstest.Stored(t, conn.JS, natsx.StreamEBS, natsx.SubjectRebuildRequested))
	if len(reqs) != len(wantRequests) {
		t.Fatalf("%d requests, want %d: %v", len(reqs), len(wantRequests), reqs)
	}
	byNVR := map[string]*ebsv1.RebuildRequest{}
	for id, r := range reqs {
		if id != r.RequestId || id != "trigger-"+r.TriggerMessageId {
			t.Errorf("request id %s: %v", id, r)
		}
		byNVR[r.Nvr] = r
	}
	for nvr, w := range wantRequests {
		r := byNVR[nvr]
		if r == nil {
			t.Errorf("no request for %s", nvr)
			continue
		}
		if r.Component != w.component || r.View != w.view || r.Ordering != w.ordering || r.RequestedBy != w.user ||
			r.SourceTag != "f43" || r.Reason != ebsv1.RequestReason_REQUEST_REASON_TRIGGER || r.BuildId == 0 || r.RequestedAt == nil {
			t.Errorf("%s: %v", nvr, r)
		}
	}
	if r := byNVR["python-requests-2.32.4-2.fc43"]; r == nil || r.TriggerMessageId != samples[0].ID || r.BuildId != 2741190 {
		t.Errorf("the reference tag sample: %v", r)
	}
	if r := byNVR["bash-5.3.0-2.fc43"]; r == nil || r.TriggerMessageId != triggers["bash-5.3.0-2.fc43"].ID {
		t.Errorf("bash: %v", r)
	}

	dls := natstest.ByMsgID[ebsv1.DeadLetter](t, natstest.Stored(t, conn.JS, natsx.StreamEBS, natsx.SubjectDeadLetter))
	if len(dls) != len(malformed) {
		t.Fatalf("%d dead letters, want %d: %v", len(dls), len(malformed), dls)
	}
	for _, m := range malformed {
		if m.ID == "" {
			continue
		}
		if dl := dls["amqp-"+m.ID]; dl == nil || dl.Service != "bridge" || dl.Subject != m.Topic {
			t.Errorf("dead letter of %s: %v", m.ID, dl)
		}
	}

	// Configuration refresh: a broken file is rejected and the old
	// configuration keeps working.
	loaded := natstest.ByMsgID[ebsv1.ConfigEvent](t, natstest.Stored(t, conn.JS, natsx.StreamEBS, natsx.SubjectConfigLoaded))
	if len(loaded) != 1 {
		t.Fatalf("config loaded events: %v", loaded)
	}
	var firstDigest string
	for _, e := range loaded {
		firstDigest = e.Digest
	}
	writeConfig("configuration: [\n")
	eventually(t, 10*time.Second, "the broken configuration to be rejected", func() bool {
		for _, e := range natstest.ByMsgID[ebsv1.ConfigEvent](t, natstest.Stored(t, conn.JS, natsx.StreamEBS, natsx.SubjectConfigRejected)) {
			if e.Service == "filter" && strings.Contains(e.Error, "not valid YAML") {
				return true
			}
		}
		return false
	})
	m1 := tag("f43", "bash-5.3.0-3.fc43", 1201)
	eventually(t, 10*time.Second, "a request under the old configuration", func() bool {
		r, ok := natstest.ByMsgID[ebsv1.RebuildRequest](t, natstest.Stored(t, conn.JS, natsx.StreamEBS, natsx.SubjectRebuildRequested))["trigger-"+m1.ID]
		return ok && r.Ordering == 1000 && r.Component == "bash"
	})

	// A valid change takes effect without a restart.
	changed := strings.Replace(base, "      # Default ordering value is 1000 if not listed here\n",
		"      # Default ordering value is 1000 if not listed here\n      ^bash$: 7\n", 1)
	if changed == base {
		t.Fatal("test bug: ordering not changed")
	}
	writeConfig(changed)
	eventually(t, 10*time.Second, "the changed configuration to load", func() bool {
		for _, e := range natstest.ByMsgID[ebsv1.ConfigEvent](t, natstest.Stored(t, conn.JS, natsx.StreamEBS, natsx.SubjectConfigLoaded)) {
			if e.Service == "filter" && e.Digest != firstDigest {
				return true
			}
		}
		return false
	})
	m2 := tag("f43", "bash-5.3.0-4.fc43", 1202)
	eventually(t, 10*time.Second, "a request under the new configuration", func() bool {
		r, ok := natstest.ByMsgID[ebsv1.RebuildRequest](t, natstest.Stored(t, conn.JS, natsx.StreamEBS, natsx.SubjectRebuildRequested))["trigger-"+m2.ID]
		return ok && r.Ordering == 7
	})
}
