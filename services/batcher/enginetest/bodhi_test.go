package enginetest_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/bodhi"
	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/batcher/batcher"
	et "github.com/fedora-eln/ebs/services/batcher/enginetest"
)

// Bodhi chunks survive kills between chunks: five packages in chunks of
// two (three updates). bodhi-publisher is killed abruptly once chunk 1's
// update exists in Bodhi but before the answer reached it (so before its
// result is recorded); separately, the batcher is killed abruptly between
// chunks. Either way Bodhi ends with exactly three updates, each with the
// batch's notes, type and its chunk's update side tag, and every NVR in
// exactly one of them.
func TestBodhiChunksSurviveKills(t *testing.T) {
	t.Parallel()
	comps := []string{"k1", "k2", "k3", "k4", "k5"}
	chunked := func(c *config.Config) { c.Bodhi.BatchSize, c.Bodhi.MaxSingleBatchSize = 2, 2 }

	t.Run("bodhi-publisher killed after chunk 1's update is filed", func(t *testing.T) {
		t.Parallel()
		e := et.New(t, et.Options{Settings: chunked, AckWait: 2 * time.Second})
		// The first update is stored in Bodhi, then its answer is held
		// until bodhi-publisher has been killed.
		created := make(chan bodhi.Update, 1)
		release := make(chan struct{})
		var once, releaseOnce sync.Once
		t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) })
		e.Bodhi.OnCreate(func(u bodhi.Update) {
			first := false
			once.Do(func() { first = true })
			if first {
				created <- u
				<-release
			}
		})
		e.Requests(comps...)
		var u bodhi.Update
		select {
		case u = <-created:
		case <-time.After(et.BatchWait):
			t.Fatal("no Bodhi update was created")
		}
		e.Stop("bodhi-publisher")
		releaseOnce.Do(func() { close(release) })
		kv, err := e.Conn.JS.KeyValue(context.Background(), natsx.BucketBatches)
		if err != nil {
			t.Fatal(err)
		}
		h := e.CurrentHeader(kv)
		if h == nil || h.GetChunks()[0].GetSideTag().GetTag() != u.FromTag {
			t.Fatalf("running batch %v: want the one whose chunk 1 is %s", h, u.FromTag)
		}
		if _, ok, err := e.Results.Get(context.Background(), h.GetBatchId()+".bodhi.0"); err != nil || ok {
			t.Fatalf("chunk 1's result was recorded before bodhi-publisher was killed (%v)", err)
		}
		e.Start("bodhi-publisher")
		c := e.WaitCompleted(1, et.BatchWait)[0]
		res, ok, err := e.Results.Get(context.Background(), c.GetBatchId()+".bodhi.0")
		if err != nil || !ok || !res.GetBodhi().GetUpdateCreated().GetExisting() || res.GetBodhi().GetUpdateCreated().GetAlias() != u.Alias {
			t.Fatalf("chunk 1's result %v (%v): want update %s found again as existing", res, err, u.Alias)
		}
		wantThreeUpdates(t, e, c, comps)
	})

	t.Run("batcher killed between chunks", func(t *testing.T) {
		t.Parallel()
		// Kill the batcher once chunk 2 (then chunk 3) has begun: chunk 1's
		// (chunk 2's) update is filed and recorded.
		kills := make(chan struct{})
		killed := map[string]bool{}
		var mu sync.Mutex
		hook := func(ctx context.Context, p batcher.HookPoint) error {
			if !strings.HasSuffix(p.CommandID, ".update.1.1.create") && !strings.HasSuffix(p.CommandID, ".update.2.1.create") {
				return nil
			}
			mu.Lock()
			first := !killed[p.CommandID]
			killed[p.CommandID] = true
			mu.Unlock()
			if !first {
				return nil
			}
			select {
			case kills <- struct{}{}:
			case <-ctx.Done():
			}
			<-ctx.Done()
			return ctx.Err()
		}
		e := et.New(t, et.Options{Settings: chunked, AckWait: 2 * time.Second,
			Batcher: func(c *batcher.Config) { c.LockTTL, c.Hook = 1500*time.Millisecond, hook }})
		e.Requests(comps...)
		for i := range 2 {
			select {
			case <-kills:
			case <-time.After(et.BatchWait):
				t.Fatalf("the batcher did not reach chunk %d", i+2)
			}
			e.Stop("batcher")
			e.Start("batcher")
		}
		c := e.WaitCompleted(1, et.BatchWait)[0]
		wantThreeUpdates(t, e, c, comps)
	})
}

// wantThreeUpdates checks Bodhi holds exactly the batch's three updates,
// in chunk order, each NVR in exactly one.
func wantThreeUpdates(t *testing.T, e *et.Engine, c *ebsv1.BatchCompleted, comps []string) {
	t.Helper()
	if c.GetResult() != ebsv1.BatchResult_BATCH_RESULT_SUCCEEDED {
		t.Fatalf("result %s (%s)", c.GetResult(), c.GetError())
	}
	ups := e.Bodhi.Updates()
	tags := c.GetUpdateSideTags()
	if len(ups) != 3 || len(tags) != 3 || len(c.GetUpdates()) != 3 {
		t.Fatalf("Bodhi holds %d updates, the batch reports %d (update side tags %v): want 3", len(ups), len(c.GetUpdates()), tags)
	}
	in := map[string]int{}
	for i, u := range ups {
		if u.Notes != batcher.DefaultBodhiNotes || u.Type != "unspecified" || u.FromTag != tags[i] {
			t.Errorf("update %d: notes %q, type %q, from_tag %s; want %q, unspecified, %s", i, u.Notes, u.Type, u.FromTag,
				batcher.DefaultBodhiNotes, tags[i])
		}
		if u.Alias != c.GetUpdates()[i].GetAlias() {
			t.Errorf("update %d is %s in Bodhi, %s in the batch", i, u.Alias, c.GetUpdates()[i].GetAlias())
		}
		for _, b := range u.Builds {
			in[b.NVR]++
		}
	}
	for _, comp := range comps {
		o := et.WantState(t, c, comp, ebsv1.PackageState_PACKAGE_STATE_BUILT)
		if in[o.GetNvr()] != 1 {
			t.Errorf("%s is in %d updates: want exactly one", o.GetNvr(), in[o.GetNvr()])
		}
		if !o.GetReachedStable() {
			t.Errorf("%s did not reach stable", comp)
		}
	}
	if len(in) != len(comps) {
		t.Errorf("Bodhi updates hold %v: want exactly the batch's %d builds", in, len(comps))
	}
	et.WantClosed(t, e, c, comps...)
	e.WaitNoSideTags()
}
