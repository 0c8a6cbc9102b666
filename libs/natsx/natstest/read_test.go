package natstest_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

func publishDeadLetters(t *testing.T, c *natsx.Conn, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		id := fmt.Sprintf("dl-%d", i)
		if _, err := natsx.Publish(context.Background(), c.JS, natsx.SubjectDeadLetter, id, &ebsv1.DeadLetter{Id: id}); err != nil {
			t.Error(err)
			return
		}
	}
}

func TestStoredReadsWhatIsThereInOrder(t *testing.T) {
	t.Parallel()
	c := natstest.Start(t).Provisioned(t)
	if got := natstest.Stored(t, c.JS, natsx.StreamEBS, natsx.SubjectDeadLetter); len(got) != 0 {
		t.Fatalf("empty stream: %d messages", len(got))
	}
	publishDeadLetters(t, c, 0, 1200) // more than one fetch
	if _, err := natsx.Publish(context.Background(), c.JS, natsx.SubjectConfigLoaded, "other", &ebsv1.ConfigEvent{}); err != nil {
		t.Fatal(err)
	}
	msgs := natstest.Stored(t, c.JS, natsx.StreamEBS, natsx.SubjectDeadLetter)
	if len(msgs) != 1200 {
		t.Fatalf("%d messages, want 1200", len(msgs))
	}
	dls := natstest.Decode[ebsv1.DeadLetter](t, msgs)
	for i, m := range msgs {
		if want := fmt.Sprintf("dl-%d", i); m.MsgID != want || dls[i].Id != want || m.Subject != natsx.SubjectDeadLetter {
			t.Fatalf("message %d: %s %s %v, want %s", i, m.Subject, m.MsgID, dls[i], want)
		}
		if i > 0 && m.Seq <= msgs[i-1].Seq {
			t.Fatalf("message %d out of stream order", i)
		}
	}
	if byID := natstest.ByMsgID[ebsv1.DeadLetter](t, msgs); len(byID) != 1200 || byID["dl-7"].Id != "dl-7" {
		t.Fatalf("ByMsgID: %d entries", len(byID))
	}
	if all := natstest.Stored(t, c.JS, natsx.StreamEBS, "ebs.>"); len(all) != 1201 {
		t.Fatalf("wildcard filter: %d messages, want 1201", len(all))
	}
}

// WaitStored returns once n messages are stored even while more keep
// arriving (an ordered consumer's Next could hang there).
func TestWaitStoredWhileMessagesKeepArriving(t *testing.T) {
	t.Parallel()
	c := natstest.Start(t).Provisioned(t)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i += 10 {
			select {
			case <-stop:
				return
			default:
			}
			publishDeadLetters(t, c, i, 10)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	msgs := natstest.WaitStored(t, c.JS, natsx.StreamEBS, natsx.SubjectDeadLetter, 300, 30*time.Second)
	close(stop)
	wg.Wait()
	if len(msgs) < 300 || msgs[0].MsgID != "dl-0" {
		t.Fatalf("%d messages, first %q", len(msgs), msgs[0].MsgID)
	}
}
