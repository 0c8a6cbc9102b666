package enginetest_test

import (
	"context"
	"fmt"
	"sort"
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

// sagaSteps are the batcher's saga steps, in order (promote: drafts only).
var sagaSteps = []string{"move", "resolve", "seed", "build", "collect", "promote", "publish", "stable", "cleanup", "complete"}

// hookCall is a saga hook point handed to the test goroutine; the reply
// says whether the calling batcher is being killed (it then waits for its
// context to end).
type hookCall struct {
	p     batcher.HookPoint
	reply chan bool
}

// Crash test: for each of the batcher, koji-worker and repo-watcher, kill
// the service and start it again at the entry of every saga step, and right
// after the first command of each kind the step publishes (to that service;
// any command for the batcher). The batcher's saga hook blocks at those
// points until the test has killed the service, so every step is hit
// deterministically. Kills alternate between abrupt (connection dropped
// first, as kill -9) and graceful; consumers' AckWait is short so messages
// a killed service held are redelivered soon. The first build side tag is
// abandoned (its seeds are never tagged in time), so seeding's cancel and
// remove are crashed through too. With drafts the promote step is covered.
//
// The batch completes, every package is built exactly once per attempt (the
// hub's call log, build calls inside multicalls included), no side tag is
// left (listSideTags) and every request is closed.
func TestCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	for _, svc := range []string{"batcher", "koji-worker", "repo-watcher"} {
		for _, draft := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/draft=%v", svc, draft), func(t *testing.T) {
				t.Parallel()
				crashAtEveryStep(t, svc, draft)
			})
		}
	}
}

func crashAtEveryStep(t *testing.T, svc string, draft bool) {
	const tagTimeout = 5 * time.Second
	build := kojihub.Outcome{Result: kojihub.ResultSucceed, Duration: kojihub.Duration(400 * time.Millisecond)}
	scenario := func(tagDelay time.Duration) kojihub.Scenario {
		return kojihub.Scenario{Default: build, TagDelay: kojihub.Duration(tagDelay),
			Packages: map[string]kojihub.Outcome{"retry1": {Result: kojihub.ResultFail, Times: 1, Duration: build.Duration}}}
	}
	// Seeds are never tagged into the first build side tag: it is abandoned.
	slow := scenario(time.Hour)
	calls := make(chan hookCall)
	hook := func(ctx context.Context, p batcher.HookPoint) error {
		c := hookCall{p: p, reply: make(chan bool, 1)}
		select {
		case calls <- c:
		case <-ctx.Done():
			return ctx.Err()
		}
		select {
		case killed := <-c.reply:
			if killed {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	e := et.New(t, et.Options{
		Scenario: &slow,
		Settings: func(c *config.Config) {
			p, _ := config.CompilePattern("^early$")
			c.Control.Ordering = []config.OrderingRule{{Pattern: p, Value: 0}}
		},
		Batcher: func(c *batcher.Config) {
			c.LockTTL, c.TagTimeout, c.Draft, c.Hook = 1500*time.Millisecond, tagTimeout, draft, hook
		},
		AckWait:     3 * time.Second,
		StableDelay: time.Second,
	})
	e.Requests("early", "retry1", "late")

	// kill points: "<step>" at a step's entry, "<step>@<verb>" after the
	// step's first command of that kind (to svc).
	killed := map[string]bool{}
	var order []string
	abrupt, fast := 0, false
	deadline := time.Now().Add(2 * et.BatchWait)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for et.CountOnStream(e, natsx.SubjectBatchCompleted) == 0 {
		select {
		case c := <-calls:
			p := c.p
			if !fast && strings.Contains(p.CommandID, ".seed.1.cancel") {
				// The first side tag is being abandoned: tag the seeds of
				// the next one (and the update side tag) quickly.
				e.Hub.SetScenario(scenario(300 * time.Millisecond))
				fast = true
			}
			key := killKey(svc, p)
			if key == "" || killed[key] {
				c.reply <- false
				continue
			}
			killed[key] = true
			order = append(order, key)
			hard := len(order)%2 == 1
			if hard {
				abrupt++
			}
			stop := e.StopGracefully
			if hard {
				stop = e.Stop
			}
			if svc == "batcher" {
				c.reply <- true // it waits for its context to end
				stop(svc)
				e.Start(svc)
				continue
			}
			stop(svc)
			e.Start(svc)
			c.reply <- false
		case <-tick.C:
			if time.Now().After(deadline) {
				t.Fatalf("batch did not complete; %s killed at %v", svc, order)
			}
		}
	}
	t.Logf("%s killed %d times (%d abruptly) at %v", svc, len(order), abrupt, order)

	c := e.WaitCompleted(1, et.BatchWait)[0]
	if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED {
		t.Fatalf("result %s (%s) after kills at %v", c.GetResult(), c.GetError(), order)
	}
	comps := []string{"early", "retry1", "late"}
	for _, comp := range comps {
		o := et.WantState(t, c, comp, ebsv1.PackageState_PACKAGE_STATE_BUILT)
		if !o.GetReachedStable() {
			t.Errorf("%s did not reach stable", comp)
		}
	}
	perAttempt := map[string]int{}
	for _, b := range e.BuildCalls() {
		perAttempt[b.Pkg+"@"+b.Attempt]++
		if b.Opts["draft"] != draft {
			t.Errorf("build call %+v: want draft=%v", b, draft)
		}
	}
	for k, n := range perAttempt {
		if n != 1 {
			t.Errorf("%s built %d times", k, n)
		}
	}
	et.WantSubmissions(t, e, map[string]int{"early": 1, "retry1": 2, "late": 1})
	if n := len(e.Hub.CallsTo("createSideTag")); n != 3 || c.GetSideTagsCreated() != 3 {
		t.Errorf("createSideTag called %d times, %d side tags counted: want 3 (abandoned + build + update)", n, c.GetSideTagsCreated())
	}
	if draft {
		if n := len(e.Hub.CallsTo("promoteBuild")); n != 3 {
			t.Errorf("promoteBuild called %d times: want once per package", n)
		}
	}
	if n := e.Bodhi.Created(); n != 1 {
		t.Errorf("%d Bodhi updates created: want 1", n)
	}
	et.WantClosed(t, e, c, comps...)
	e.WaitNoSideTags()
	e.WaitCheckpointDone(c)

	// Every step was crashed through, half the kills were abrupt, and every
	// command kind the service handles was crashed right after issue.
	var want []string
	for _, st := range sagaSteps {
		if st != "promote" || draft {
			want = append(want, st)
		}
	}
	switch svc {
	case "batcher":
		want = append(want, "seed@create-side-tag", "seed@tag-builds", "seed@wait-tagged", "seed@cancel-tasks", "seed@remove-side-tag",
			"build@submit-builds", "publish@create-side-tag", "publish@tag-builds", "publish@wait-tagged", "publish@create-update",
			"stable@wait-tagged", "cleanup@remove-side-tag")
	case "koji-worker":
		want = append(want, "seed@create-side-tag", "seed@tag-builds", "seed@cancel-tasks", "seed@remove-side-tag",
			"build@submit-builds", "publish@create-side-tag", "publish@tag-builds", "cleanup@remove-side-tag")
	case "repo-watcher":
		want = append(want, "seed@wait-tagged", "publish@wait-tagged", "stable@wait-tagged")
	}
	if draft && svc != "repo-watcher" {
		want = append(want, "promote@promote-builds")
	}
	var missing []string
	for _, k := range want {
		if !killed[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("%s was never killed at %v (killed at %v)", svc, missing, order)
	}
	if abrupt*2 < len(order) {
		t.Errorf("%d of %d kills abrupt: want at least half", abrupt, len(order))
	}
}

// killKey names the kill point a hook point is for svc, or "" when svc is
// not killed there.
func killKey(svc string, p batcher.HookPoint) string {
	if p.CommandID == "" {
		return p.Step
	}
	var prefix string
	switch svc {
	case "koji-worker":
		prefix = natsx.SubjectKojiCmdPrefix
	case "repo-watcher":
		prefix = natsx.SubjectWatchCmdPrefix
	}
	if !strings.HasPrefix(p.Subject, prefix) {
		return ""
	}
	return p.Step + "@" + p.Subject[strings.LastIndex(p.Subject, ".")+1:]
}
