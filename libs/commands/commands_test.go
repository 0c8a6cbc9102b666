package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/commands"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

func result(tag string) *ebsv1.CommandResult {
	return &ebsv1.CommandResult{Result: &ebsv1.CommandResult_Koji{Koji: &ebsv1.KojiEvent{
		Event: &ebsv1.KojiEvent_SideTagCreated{SideTagCreated: &ebsv1.SideTagCreated{Tag: tag}}}}}
}

func TestIssueAwaitRecord(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	conn := srv.Provisioned(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := commands.OpenResults(ctx, conn.JS)
	if err != nil {
		t.Fatal(err)
	}

	// Await blocks until the worker records the result.
	const id = "b-20261126T101500Z-abcd.seed.1.create"
	got := make(chan *ebsv1.CommandResult, 1)
	go func() {
		r, err := res.Issue(ctx, conn.JS, natsx.SubjectKojiCmdPrefix+"create-side-tag", id,
			&ebsv1.KojiCommand{CommandId: id, Verb: &ebsv1.KojiCommand_CreateSideTag{CreateSideTag: &ebsv1.CreateSideTag{BaseTag: "eln-build"}}})
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	select {
	case <-got:
		t.Fatal("Issue returned before a result was recorded")
	case <-time.After(300 * time.Millisecond):
	}
	stored, created, err := res.Record(ctx, id, result("eln-build-side-1"))
	if err != nil || !created || stored.GetKoji().GetSideTagCreated().GetTag() != "eln-build-side-1" {
		t.Fatalf("Record = %v, %v, %v", stored, created, err)
	}
	select {
	case r := <-got:
		if r.GetKoji().GetSideTagCreated().GetTag() != "eln-build-side-1" {
			t.Fatalf("Issue got %v", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Issue did not see the recorded result")
	}

	// A second record (a redelivery racing) keeps the first result.
	stored, created, err = res.Record(ctx, id, result("eln-build-side-2"))
	if err != nil || created || stored.GetKoji().GetSideTagCreated().GetTag() != "eln-build-side-1" {
		t.Fatalf("second Record = %v, %v, %v; want the first result kept", stored, created, err)
	}

	// Issuing again returns the recorded result without publishing again:
	// the command was published once.
	if _, err := res.Issue(ctx, conn.JS, natsx.SubjectKojiCmdPrefix+"create-side-tag", id, &ebsv1.KojiCommand{CommandId: id}); err != nil {
		t.Fatal(err)
	}
	st, err := conn.JS.Stream(ctx, natsx.StreamEBS)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("EBS holds %d messages, want the command once", info.State.Msgs)
	}
}

func TestIntent(t *testing.T) {
	t.Parallel()
	srv := natstest.Start(t)
	conn := srv.Provisioned(t)
	ctx := context.Background()
	res, err := commands.OpenResults(ctx, conn.JS)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, err := res.GetIntent(ctx, "x.1"); err != nil || ok {
		t.Fatalf("GetIntent before Put = %v, %v", ok, err)
	}
	if err := res.PutIntent(ctx, &ebsv1.CommandIntent{CommandId: "x.1", SideTagsBefore: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	in, ok, err := res.GetIntent(ctx, "x.1")
	if err != nil || !ok || in.GetSideTagsBefore()[0] != "a" {
		t.Fatalf("GetIntent = %v, %v, %v", in, ok, err)
	}
	// The intent does not count as the command's result.
	if _, ok, _ := res.Get(ctx, "x.1"); ok {
		t.Fatal("intent read as a result")
	}
}

func TestIDs(t *testing.T) {
	t.Parallel()
	if got := commands.ID("b-1", "build", 2, int32(3), int64(4)); got != "b-1.build.2.3.4" {
		t.Fatalf("ID = %q", got)
	}
	a := commands.NewBatchID(time.Date(2026, 11, 26, 10, 15, 0, 0, time.UTC))
	b := commands.NewBatchID(time.Date(2026, 11, 26, 10, 15, 1, 0, time.UTC))
	if !strings.HasPrefix(a, "b-20261126T101500Z-") || len(a) != len("b-20261126T101500Z-")+4 || a >= b {
		t.Fatalf("batch ids %q, %q: want sortable b-<utc>-<4 hex>", a, b)
	}
	if natsx.EscapeKey(a) != a {
		t.Fatalf("batch id %q is not a plain KV token", a)
	}
	if commands.EventMsgID("x") == "x" {
		t.Fatal("event id must differ from the command id")
	}
}
