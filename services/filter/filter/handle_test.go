package filter

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fedora-eln/ebs/libs/contentresolver/crfixture"
	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	fedmsgsim "github.com/fedora-eln/ebs/libs/sim/fedmsg"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// The tag consumer: one request per trigger (also when the message is
// delivered twice), counters for the rest, a dead letter for an unusable
// trigger-tag message.
func TestHandleTagThroughFEDMSG(t *testing.T) {
	t.Parallel()
	conn := natstest.Start(t).Provisioned(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cr := crfixture.NewTest(t, crfixture.Sample()...)
	reg := prometheus.NewRegistry()
	f := New(Deps{JS: conn.JS, Logger: lifecycle.Discard(), Registerer: reg})
	if err := f.Apply(ctx, productionConfig(t, "f45", cr.URL)); err != nil {
		t.Fatal(err)
	}
	sim := fedmsgsim.New(fedmsgsim.NewJetStreamSink(conn.JS, ""), "")
	var triggers []fedmsg.Message
	for _, nvr := range []string{"bash-5.3.0-2.fc45", "freeipa-4.12.2-3.fc45"} {
		m, err := sim.TagBuild(ctx, "f45", nvr, 9, "releng")
		if err != nil {
			t.Fatal(err)
		}
		triggers = append(triggers, m)
	}
	for _, nvr := range []string{"kernel-6.18.0-1.fc45", "firefox-146.0-1.fc45"} {
		if _, err := sim.TagBuild(ctx, "f45", nvr, 9, "releng"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sim.TagBuild(ctx, "f44", "bash-5.3.0-2.fc44", 9, "releng"); err != nil {
		t.Fatal(err)
	}
	// A trigger-tag message without a build id: stored by the bridge (it is
	// a JSON object), dead-lettered by the filter.
	bad := fedmsg.Message{ID: "bad-trigger", Topic: "org.fedoraproject.prod.buildsys.tag", Body: []byte(`{"tag": "f45", "name": "bash"}`)}
	if err := sim.Publish(ctx, bad); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = natsx.Consume(ctx, conn.JS, natsx.StreamFedmsg, natsx.ConsumerFilter,
			func() *ebsv1.FedoraMessage { return new(ebsv1.FedoraMessage) }, f.HandleTag,
			natsx.ConsumeOptions{Service: Name, Logger: lifecycle.Discard(), Batch: 16})
	}()
	waitUntil(t, 20*time.Second, "6 messages handled", func() bool {
		total := 0.0
		for _, r := range []string{"trigger", "not_trigger", "ineligible", "invalid"} {
			total += testutil.ToFloat64(f.Metrics().Messages.WithLabelValues(r))
		}
		return total == 6
	})
	reqs := onEBS[ebsv1.RebuildRequest](t, conn.JS, natsx.SubjectRebuildRequested)
	if len(reqs) != 2 || reqs["trigger-"+triggers[0].ID].GetComponent() != "bash" || reqs["trigger-"+triggers[1].ID].GetComponent() != "ipa" {
		t.Fatalf("requests %v", reqs)
	}
	m := f.Metrics()
	for label, want := range map[string]float64{"trigger": 2, "not_trigger": 1, "ineligible": 2, "invalid": 1} {
		if got := testutil.ToFloat64(m.Messages.WithLabelValues(label)); got != want {
			t.Errorf("messages{%s} = %v, want %v", label, got, want)
		}
	}
	if testutil.ToFloat64(m.Ineligible.WithLabelValues("excluded")) != 1 || testutil.ToFloat64(m.Ineligible.WithLabelValues("unlisted")) != 1 ||
		testutil.ToFloat64(m.Requests.WithLabelValues("trigger")) != 2 || testutil.ToFloat64(m.Components) == 0 {
		t.Error("counters")
	}
	dls := onEBS[ebsv1.DeadLetter](t, conn.JS, natsx.SubjectDeadLetter)
	if len(dls) != 1 {
		t.Fatalf("dead letters %v", dls)
	}
	for _, dl := range dls {
		if dl.Service != Name || dl.Stream != natsx.StreamFedmsg {
			t.Errorf("dead letter %v", dl)
		}
	}
	// The same trigger again (a redelivery) publishes nothing new.
	f2 := New(Deps{JS: conn.JS, Logger: lifecycle.Discard()})
	if err := f2.Apply(ctx, productionConfig(t, "f45", cr.URL)); err != nil {
		t.Fatal(err)
	}
	fm := triggers[0].ToProto(time.Now())
	if err := f2.HandleTag(ctx, &natsx.Delivery[*ebsv1.FedoraMessage]{Msg: fm}); err != nil {
		t.Fatal(err)
	}
	if n := len(onEBS[ebsv1.RebuildRequest](t, conn.JS, natsx.SubjectRebuildRequested)); n != 2 {
		t.Fatalf("%d requests after a redelivery", n)
	}
	if n, err := testutil.GatherAndCount(reg, "ebs_filter_messages_total"); err != nil || n != 4 {
		t.Fatalf("registered series %d %v", n, err)
	}
}
