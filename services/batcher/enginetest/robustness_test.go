package enginetest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	et "github.com/fedora-eln/ebs/services/batcher/enginetest"
)

// With half the messages dropped, two batches in a row still complete, and
// koji-worker found some task ends by polling (the messages were lost).
func TestLossyMessagesBatchesComplete(t *testing.T) {
	t.Parallel()
	e := et.New(t, et.Options{Lossy: 0.5,
		Scenario: &kojihub.Scenario{Packages: map[string]kojihub.Outcome{"p2": {Result: kojihub.ResultFail, Times: 1}}}})
	first := []string{"p1", "p2", "p3", "p4"}
	e.Requests(first...)
	c := e.WaitCompleted(1, et.BatchWait)[0]
	for _, p := range first {
		et.WantState(t, c, p, ebsv1.PackageState_PACKAGE_STATE_BUILT)
	}
	et.WantClosed(t, e, c, first...)
	e.WaitNoSideTags()
	// A second, larger batch: with some twenty build tasks in all, the
	// chance that every one was seen through a message is negligible.
	var second []string
	for i := range 16 {
		second = append(second, fmt.Sprintf("q%02d", i))
	}
	e.Requests(second...)
	c2 := e.WaitCompleted(2, et.BatchWait)[1]
	for _, p := range second {
		et.WantState(t, c2, p, ebsv1.PackageState_PACKAGE_STATE_BUILT)
	}
	et.WantClosed(t, e, c2, second...)
	e.WaitNoSideTags()
	if d := e.Hub.Counters().Dropped; d == 0 {
		t.Fatal("the simulator dropped no message")
	}
	by := map[ebsv1.Observation]int{}
	for _, ev := range et.Events(e, natsx.SubjectKojiEvtPrefix+"task-finished", func() *ebsv1.KojiEvent { return new(ebsv1.KojiEvent) }) {
		by[ev.GetTaskFinished().GetObservedBy()]++
	}
	t.Logf("task ends observed: %v; batches took %s and %s", by, c.GetCompletedAt().AsTime().Sub(c.GetStartedAt().AsTime()), c2.GetCompletedAt().AsTime().Sub(c2.GetStartedAt().AsTime()))
	if by[ebsv1.Observation_OBSERVATION_POLL] == 0 {
		t.Fatalf("no task end was observed by polling with half the messages lost (%v)", by)
	}
}

// Two batcher replicas: exactly one runs the batch; killing it lets the
// other take over the same batch.
func TestTwoBatcherReplicas(t *testing.T) {
	t.Parallel()
	e := et.New(t, et.Options{
		Scenario: &kojihub.Scenario{Default: kojihub.Outcome{Result: kojihub.ResultSucceed, Duration: kojihub.Duration(1500 * time.Millisecond)}}})
	e.Start("batcher-2")
	e.Requests("glibc", "gawk")
	var holder string
	e.WaitStep("build", func() {
		kv, _ := e.Conn.JS.KeyValue(context.Background(), natsx.BucketLock)
		ent, err := kv.Get(context.Background(), natsx.KeyBatchLock)
		if err != nil {
			t.Fatalf("lock not held during a batch: %v", err)
		}
		var v natsx.LockValue
		_ = json.Unmarshal(ent.Value(), &v)
		holder = v.Holder
		e.Stop(holder)
	})
	c := e.WaitCompleted(1, et.BatchWait)[0]
	started := et.Events(e, natsx.SubjectBatchStarted, func() *ebsv1.BatchStarted { return new(ebsv1.BatchStarted) })
	if len(started) != 1 || started[0].GetBatchId() != c.GetBatchId() {
		t.Fatalf("started %v, completed %s: want the same single batch", started, c.GetBatchId())
	}
	et.WantState(t, c, "glibc", ebsv1.PackageState_PACKAGE_STATE_BUILT)
	et.WantSubmissions(t, e, map[string]int{"glibc": 1, "gawk": 1})
	if holder == "" {
		t.Fatal("no holder seen")
	}
	e.WaitNoSideTags()
}

// Requests fed continuously: batches run one after the other and two
// batches' side tags are never alive at once.
func TestContinuousFeedIsSerial(t *testing.T) {
	t.Parallel()
	e := et.New(t, et.Options{})
	stop := make(chan struct{})
	var snaps [][]string
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			if s := e.SideTagsLeft(); len(s) > 0 {
				snaps = append(snaps, s)
			}
		}
	})
	for i := range 6 {
		e.Request(fmt.Sprintf("feed%d", i), "1.0")
		e.Request(fmt.Sprintf("feed%d", i+10), "1.0")
		time.Sleep(700 * time.Millisecond)
	}
	// Wait until every request was closed by some batch.
	var done []*ebsv1.BatchCompleted
	for deadline := time.Now().Add(2 * et.BatchWait); ; time.Sleep(100 * time.Millisecond) {
		done = e.CompletedEvents()
		closed := 0
		for _, c := range done {
			closed += len(c.GetOutcomes())
		}
		if closed >= 12 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of 12 requests closed", closed)
		}
	}
	close(stop)
	wg.Wait()
	if len(done) < 2 {
		t.Fatalf("only %d batches ran", len(done))
	}
	// Which batch made each side tag (from the recorded command results).
	owner := map[string]string{}
	kv, _ := e.Conn.JS.KeyValue(context.Background(), natsx.BucketResults)
	keys, _ := kv.Keys(context.Background())
	for _, k := range keys {
		if !strings.HasSuffix(k, ".create") {
			continue
		}
		res, ok, _ := e.Results.Get(context.Background(), k)
		if ok && res.GetKoji().GetSideTagCreated() != nil {
			owner[res.GetKoji().GetSideTagCreated().GetTag()] = k[:strings.Index(k, ".")]
		}
	}
	for _, s := range snaps {
		batches := map[string]bool{}
		for _, tag := range s {
			batches[owner[tag]] = true
		}
		if len(batches) > 1 {
			t.Fatalf("side tags of two batches alive at once: %v (%v)", s, batches)
		}
	}
	for i := 1; i < len(done); i++ {
		if done[i].GetStartedAt().AsTime().Before(done[i-1].GetCompletedAt().AsTime()) {
			t.Fatalf("batch %s started before %s completed", done[i].GetBatchId(), done[i-1].GetBatchId())
		}
	}
	seen := map[string]bool{}
	for _, c := range done {
		for comp := range et.Outcomes(c) {
			seen[comp] = true
		}
	}
	if len(seen) != 12 {
		t.Fatalf("%d of 12 requests closed", len(seen))
	}
}

// A redelivered command never makes a second side tag or a second build:
// the hub runs createSideTag and the build multicall but the answers are
// lost; koji-worker finds what was made through its intent records.
func TestLostAnswersNoDuplicates(t *testing.T) {
	t.Parallel()
	e := et.New(t, et.Options{RetryBudget: -1, Scenario: &kojihub.Scenario{TagDelay: kojihub.Duration(500 * time.Millisecond)}})
	e.Hub.InjectFault(kojihub.FaultRule{Method: "createSideTag", HTTPStatus: 502, AfterCall: true, Count: 1})
	e.Requests("openssl", "expat")
	e.FaultOnSubmission(kojihub.FaultRule{Method: "multiCall", HTTPStatus: 502, AfterCall: true, Count: 1})
	c := e.WaitCompleted(1, et.BatchWait)[0]
	et.WantState(t, c, "openssl", ebsv1.PackageState_PACKAGE_STATE_BUILT)
	et.WantSubmissions(t, e, map[string]int{"openssl": 1, "expat": 1})
	if hits := e.Hub.FaultHits(); len(hits) != 2 || hits[0] != 1 || hits[1] != 1 {
		t.Fatalf("fault hits %v: want each lost answer once", hits)
	}
	ctx := context.Background()
	created, ok, err := e.Results.Get(ctx, c.GetBatchId()+".seed.1.create")
	if err != nil || !ok || !created.GetKoji().GetSideTagCreated().GetRecovered() {
		t.Fatalf("build side tag result %v (%v): want it recovered from the intent", created, err)
	}
	submitted, ok, err := e.Results.Get(ctx, c.GetBatchId()+".build.0.1.0")
	if err != nil || !ok || !submitted.GetKoji().GetBuildsSubmitted().GetRecovered() || len(submitted.GetKoji().GetBuildsSubmitted().GetTasks()) != 2 {
		t.Fatalf("submission result %v (%v): want both tasks recovered", submitted, err)
	}
	if n := len(e.Hub.CallsTo("createSideTag")); n != 2 {
		t.Fatalf("createSideTag called %d times: want one build and one update side tag", n)
	}
	e.WaitNoSideTags()
}
