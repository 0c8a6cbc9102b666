package filter

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/contentresolver/crfixture"
	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// onEBS returns the messages stored on an EBS subject keyed by Nats-Msg-Id,
// failing on an id stored twice.
func onEBS[T any, P interface {
	*T
	proto.Message
}](t *testing.T, js jetstream.JetStream, subject string) map[string]P {
	t.Helper()
	return natstest.ByMsgID[T, P](t, natstest.Stored(t, js, natsx.StreamEBS, subject))
}

// Manual rebuilds and the reconciler resolved against the Koji simulator
// over HTTP, as rebuild_from_components did.
func TestManualAndReconcileAgainstKojiHub(t *testing.T) {
	t.Parallel()
	hub := kojihub.Start(t, kojihub.Options{})
	t0 := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	for _, b := range []kojihub.BuildSpec{
		{NVR: "grep-3.11-11.fc45", Tags: []string{"f45"}, CreationTime: t0},
		{NVR: "grep-3.11-10.eln150", Tags: []string{"eln"}, CreationTime: t0.Add(time.Hour)},
		{NVR: "xz-5.6.2-1.fc45", Tags: []string{"f45"}, CreationTime: t0.Add(time.Hour)},
		{NVR: "xz-5.8.0-1.eln150", Tags: []string{"eln"}, CreationTime: t0},
		{NVR: "freeipa-4.12.2-3.fc45", Tags: []string{"f45"}, CreationTime: t0.Add(time.Hour)},
		{NVR: "ipa-4.12.2-3.eln150", Tags: []string{"eln"}, CreationTime: t0},
		{NVR: "systemd-258-1.fc45", Tags: []string{"f45"}, CreationTime: t0},
		{NVR: "systemd-258-1.eln150", Tags: []string{"eln"}, CreationTime: t0},
		{NVR: "bash-5.3.0-1.fc45", Tags: []string{"f45"}, CreationTime: t0},
		{NVR: "restore-0.4-1.eln150", Tags: []string{"eln"}, CreationTime: t0},
		{NVR: "kernel-6.18.0-1.fc45", Tags: []string{"f45"}, CreationTime: t0},
	} {
		b.State = koji.BuildComplete
		if _, err := hub.AddBuild(b); err != nil {
			t.Fatal(err)
		}
	}
	conn := natstest.Start(t).Provisioned(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	reader, err := NewKojiReader(hub.URL(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	cr := crfixture.NewTest(t, crfixture.Sample()...)
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	f := New(Deps{JS: conn.JS, Koji: reader, Logger: lifecycle.Discard(), Now: func() time.Time { return now }})
	if err := f.Apply(ctx, productionConfig(t, "f45", cr.URL)); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = natsx.Consume(ctx, conn.JS, natsx.StreamEBS, natsx.ConsumerFilterManual,
			func() *ebsv1.ManualRebuild { return new(ebsv1.ManualRebuild) }, f.HandleManual,
			natsx.ConsumeOptions{Service: Name, Logger: lifecycle.Discard()})
	}()

	manual := &ebsv1.ManualRebuild{ManualId: "m1", RequestedBy: "sgallagh", RequestedAt: timestamppb.New(now),
		Components: []string{"grep", "xz", "ipa", "systemd", "bash", "restore", "kernel", "firefox", "coreutils", "grep"}}
	before := len(hub.CallsTo("listTagged"))
	for _, id := range []string{"manual-m1", "manual-m1-redelivered"} {
		if _, err := natsx.Publish(ctx, conn.JS, natsx.SubjectRebuildManual, id, manual); err != nil {
			t.Fatal(err)
		}
	}
	var reqs map[string]*ebsv1.RebuildRequest
	var rejs map[string]*ebsv1.RequestRejected
	deadline := time.Now().Add(20 * time.Second)
	for {
		reqs = onEBS[ebsv1.RebuildRequest](t, conn.JS, natsx.SubjectRebuildRequested)
		rejs = onEBS[ebsv1.RequestRejected](t, conn.JS, natsx.SubjectRebuildRejected)
		if len(reqs) == 6 && len(rejs) == 3 && len(hub.CallsTo("listTagged"))-before >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	tests := []struct {
		component, fedora, nvr, source string
		fromELN                        bool
		ordering                       int32
		view                           ebsv1.ComponentView
		note                           string
	}{
		{"grep", "grep", "grep-3.11-11.fc45", "f45", false, 1000, ebsv1.ComponentView_COMPONENT_VIEW_ELN, "newer than ELN"},
		{"xz", "xz", "xz-5.8.0-1.eln150", "eln", true, 1000, ebsv1.ComponentView_COMPONENT_VIEW_ELN, "newer than Rawhide"},
		{"ipa", "freeipa", "freeipa-4.12.2-3.fc45", "f45", false, 1001, ebsv1.ComponentView_COMPONENT_VIEW_ELN, "created later"},
		{"systemd", "systemd", "systemd-258-1.eln150", "eln", true, 1000, ebsv1.ComponentView_COMPONENT_VIEW_ELN, "at the same time"},
		{"bash", "bash", "bash-5.3.0-1.fc45", "f45", false, 1000, ebsv1.ComponentView_COMPONENT_VIEW_ELN, "no ELN build"},
		{"restore", "dump", "restore-0.4-1.eln150", "eln", true, 1000, ebsv1.ComponentView_COMPONENT_VIEW_OVERRIDE, "no Rawhide build"},
	}
	if len(reqs) != len(tests) {
		t.Fatalf("%d requests: %v", len(reqs), reqs)
	}
	for _, tt := range tests {
		r := reqs["manual-m1-"+tt.component]
		if r == nil {
			t.Errorf("no request for %s", tt.component)
			continue
		}
		if r.Component != tt.component || r.FedoraName != tt.fedora || r.Nvr != tt.nvr || r.SourceTag != tt.source || r.Ordering != tt.ordering ||
			r.View != tt.view || r.Reason != ebsv1.RequestReason_REQUEST_REASON_MANUAL || r.RequestedBy != "sgallagh" ||
			!strings.Contains(r.Note, tt.note) || r.BuildId == 0 || r.BuildCreatedAt == nil || !r.RequestedAt.AsTime().Equal(now) {
			t.Errorf("%s: %v", tt.component, r)
		}
		if b, ok := hub.Build(tt.nvr); !ok || b.ID != r.BuildId {
			t.Errorf("%s: build id %d, hub has %v", tt.component, r.BuildId, b.ID)
		}
	}
	wantRej := map[string]string{"kernel": "excluded by ^kernel$", "firefox": "not an ELN component", "coreutils": "no build of coreutils in f45 nor of coreutils in eln"}
	for name, reason := range wantRej {
		r := rejs["rejected-m1-"+name]
		if r == nil || !strings.Contains(r.Reason, reason) || r.ManualId != "m1" || r.RequestedBy != "sgallagh" {
			t.Errorf("rejection of %s: %v", name, r)
		}
	}
	// One resolution per delivery: two listTagged calls and one getBuildTarget
	// (cached per configuration) for each of the two deliveries.
	if n := len(hub.CallsTo("listTagged")) - before; n != 4 {
		t.Errorf("listTagged calls %d", n)
	}
	if n := len(hub.CallsTo("getBuildTarget")); n != 1 {
		t.Errorf("getBuildTarget calls %d", n)
	}

	// The reconciler: every listed, non-excluded component without a build
	// in the stable tag (eln).
	res, err := f.Reconcile(ctx, "run1")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range res.Requests {
		got = append(got, r.Component)
		if r.Reason != ebsv1.RequestReason_REQUEST_REASON_RECONCILE || r.RequestId != "reconcile-run1-"+r.Component || r.RequestedBy != "reconciler" {
			t.Errorf("reconcile request %v", r)
		}
	}
	if strings.Join(got, ",") != "bash" {
		t.Errorf("reconcile requested %v, want only bash (grep, xz, ipa, systemd, restore are in eln)", got)
	}
	sort.Strings(res.Skipped)
	if strings.Join(res.Skipped, ",") != "fedora-release,kernel,shim,texlive-base" {
		t.Errorf("excluded and skipped: %v", res.Skipped)
	}
	universe := f.State().Universe.Len()
	// Components with no build anywhere are counted, not published.
	if len(res.NoBuild) != universe-5-1-len(res.Skipped) || len(res.Rejected) != 0 {
		t.Errorf("%d without a build, %d rejections, for %d components", len(res.NoBuild), len(res.Rejected), universe)
	}
	if got := testutil.ToFloat64(f.Metrics().ReconcileNoBuild); got != float64(len(res.NoBuild)) {
		t.Errorf("no-build counter %v, want %d", got, len(res.NoBuild))
	}
	for id := range onEBS[ebsv1.RequestRejected](t, conn.JS, natsx.SubjectRebuildRejected) {
		if strings.Contains(id, "reconcile") {
			t.Errorf("a reconcile published rejection %s", id)
		}
	}
	if got := testutil.ToFloat64(f.Metrics().ReconcileMissing); got != float64(universe-5) {
		t.Errorf("missing gauge %v", got)
	}
	// A reconcile asked for through ebs.rebuild.manual.
	if _, err := natsx.Publish(ctx, conn.JS, natsx.SubjectRebuildManual, "manual-r2",
		&ebsv1.ManualRebuild{ManualId: "r2", Reason: ebsv1.RequestReason_REQUEST_REASON_RECONCILE}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 20*time.Second, "reconcile-r2-bash", func() bool {
		_, ok := onEBS[ebsv1.RebuildRequest](t, conn.JS, natsx.SubjectRebuildRequested)["reconcile-r2-bash"]
		return ok
	})
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
