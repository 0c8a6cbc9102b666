package enginetest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/batcher/batcher"
	et "github.com/fedora-eln/ebs/services/batcher/enginetest"
)

// Crash test: for each service, stop it (context cancelled, connection
// dropped) at every step of a batch and start it again. The batch
// completes, every package is built exactly once per attempt, no side tag
// is left behind and no request is lost.
func TestCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	for _, svc := range []string{"batcher", "koji-worker", "repo-watcher"} {
		t.Run(svc, func(t *testing.T) {
			t.Parallel()
			e := et.New(t, et.Options{
				Scenario: &kojihub.Scenario{
					Default:  kojihub.Outcome{Result: kojihub.ResultSucceed, Duration: kojihub.Duration(400 * time.Millisecond)},
					Packages: map[string]kojihub.Outcome{"retry1": {Result: kojihub.ResultFail, Times: 1, Duration: kojihub.Duration(400 * time.Millisecond)}},
					TagDelay: kojihub.Duration(500 * time.Millisecond),
				},
				Settings: func(c *config.Config) {
					p, _ := config.CompilePattern("^early$")
					c.Control.Ordering = []config.OrderingRule{{Pattern: p, Value: 0}}
				},
				Batcher:     func(c *batcher.Config) { c.LockTTL = 1500 * time.Millisecond },
				StableDelay: 3 * time.Second,
			})
			e.Requests("early", "retry1", "late")
			kv, err := e.Conn.JS.KeyValue(context.Background(), natsx.BucketBatches)
			if err != nil {
				t.Fatal(err)
			}
			seen, again := map[string]bool{}, map[string]bool{}
			kills := 0
			var last time.Time
			deadline := time.Now().Add(90 * time.Second)
			for et.CountOnStream(e, natsx.SubjectBatchCompleted) == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("batch did not complete; %d kills at %v", kills, seen)
				}
				if h := e.CurrentHeader(kv); h != nil {
					// Kill at every new step, and once more within long ones.
					if p := et.Progress(h); !seen[p] || (!again[p] && time.Since(last) > 700*time.Millisecond) {
						again[p] = seen[p]
						seen[p] = true
						kills++
						e.StopGracefully(svc)
						e.Start(svc)
						last = time.Now()
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
			c := e.WaitCompleted(1, et.BatchWait)[0]
			if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED {
				t.Fatalf("result %s (%s) after %d kills", c.GetResult(), c.GetError(), kills)
			}
			for _, comp := range []string{"early", "retry1", "late"} {
				o := et.WantState(t, c, comp, ebsv1.PackageState_PACKAGE_STATE_BUILT)
				if !o.GetReachedStable() {
					t.Errorf("%s did not reach stable", comp)
				}
			}
			perAttempt := map[string]int{}
			for _, b := range e.BuildCalls() {
				perAttempt[b.Pkg+"@"+b.Attempt]++
			}
			for k, n := range perAttempt {
				if n != 1 {
					t.Errorf("%s built %d times", k, n)
				}
			}
			et.WantSubmissions(t, e, map[string]int{"early": 1, "retry1": 2, "late": 1})
			if n := len(e.Hub.CallsTo("createSideTag")); n != 2 {
				t.Errorf("createSideTag called %d times: want 2 (build + update)", n)
			}
			et.WantClosed(t, e, c, "early", "retry1", "late")
			e.WaitNoSideTags()
			steps := map[string]bool{}
			for p := range seen {
				steps[p[:strings.Index(p, "|")]] = true
			}
			t.Logf("%s killed %d times, in steps %v", svc, kills, steps)
			for _, st := range []string{"seed", "build", "publish", "stable"} {
				if !steps[st] {
					t.Errorf("%s was never killed in step %s", svc, st)
				}
			}
		})
	}
}
