package batcher_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/batcher/batcher"
)

// progress is a signature of where a batch is: every checkpointed step and
// sub-step changes it.
func progress(h *ebsv1.BatchCheckpoint) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s|%s/%d|%d", h.GetStep(), h.GetBuildSideTag().GetStep(), h.GetBuildSideTag().GetAttempt(), h.GetCurrentSlice())
	for _, s := range h.GetSlices() {
		fmt.Fprintf(&b, "|%s/%d", s.GetState(), s.GetAttempts())
	}
	for _, c := range h.GetChunks() {
		fmt.Fprintf(&b, "|%s/%s", c.GetStep(), c.GetSideTag().GetStep())
	}
	return b.String()
}

// Crash test: for each service, stop it (context cancelled, connection
// dropped) at every step of a batch and start it again. The batch
// completes, every package is built exactly once per attempt, no side tag
// is left behind and no request is lost.
func TestCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	for _, svc := range []string{"batcher", "koji-worker", "repo-watcher"} {
		t.Run(svc, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t, engineOpts{
				scenario: &kojihub.Scenario{
					Default:  kojihub.Outcome{Result: kojihub.ResultSucceed, Duration: kojihub.Duration(400 * time.Millisecond)},
					Packages: map[string]kojihub.Outcome{"retry1": {Result: kojihub.ResultFail, Times: 1, Duration: kojihub.Duration(400 * time.Millisecond)}},
					TagDelay: kojihub.Duration(500 * time.Millisecond),
				},
				settings: func(c *config.Config) {
					p, _ := config.CompilePattern("^early$")
					c.Control.Ordering = []config.OrderingRule{{Pattern: p, Value: 0}}
				},
				batcher:     func(c *batcher.Config) { c.LockTTL = 1500 * time.Millisecond },
				stableDelay: 2 * time.Second,
			})
			e.requests("early", "retry1", "late")
			kv, err := e.conn.JS.KeyValue(context.Background(), natsx.BucketBatches)
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			kills := 0
			var last time.Time
			deadline := time.Now().Add(90 * time.Second)
			for countOnStream(e, natsx.SubjectBatchCompleted) == 0 {
				if time.Now().After(deadline) {
					t.Fatalf("batch did not complete; %d kills at %v", kills, seen)
				}
				if h := e.currentHeader(kv); h != nil {
					// Kill at every new step, and every 700 ms within long ones.
					if p := progress(h); !seen[p] || time.Since(last) > 700*time.Millisecond {
						seen[p] = true
						kills++
						e.stopGracefully(svc)
						e.start(svc)
						last = time.Now()
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
			c := e.waitCompleted(1, batchWait)[0]
			if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED {
				t.Fatalf("result %s (%s) after %d kills", c.GetResult(), c.GetError(), kills)
			}
			for _, comp := range []string{"early", "retry1", "late"} {
				o := wantState(t, c, comp, ebsv1.PackageState_PACKAGE_STATE_BUILT)
				if !o.GetReachedStable() {
					t.Errorf("%s did not reach stable", comp)
				}
			}
			perAttempt := map[string]int{}
			for _, b := range e.buildCalls() {
				perAttempt[b.pkg+"@"+b.attempt]++
			}
			for k, n := range perAttempt {
				if n != 1 {
					t.Errorf("%s built %d times", k, n)
				}
			}
			wantSubmissions(t, e, map[string]int{"early": 1, "retry1": 2, "late": 1})
			if n := len(e.hub.CallsTo("createSideTag")); n != 2 {
				t.Errorf("createSideTag called %d times: want 2 (build + update)", n)
			}
			wantClosed(t, e, c, "early", "retry1", "late")
			e.waitNoSideTags()
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
