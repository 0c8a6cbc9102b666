package benchkit

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

func call(method, user string, params ...any) kojihub.CallRecord {
	return kojihub.CallRecord{Method: method, User: user, Params: params}
}

func multi(user string, elems ...kojihub.CallRecord) []kojihub.CallRecord {
	out := []kojihub.CallRecord{{Method: "multiCall", User: user}}
	for _, e := range elems {
		e.User, e.InMulticall = user, true
		out = append(out, e)
	}
	return out
}

func TestClassify(t *testing.T) {
	t.Parallel()
	const bot = "eln-buildsync"
	var log []kojihub.CallRecord
	add := func(rs ...kojihub.CallRecord) { log = append(log, rs...) }
	add(call("sslLogin", bot))
	add(call("getBuildTarget", "", "eln"))
	add(multi("", call("getBuild", "", int64(1)), call("getBuild", "", int64(2)), call("getBuild", "", int64(3)))...)
	add(call("createSideTag", bot, "eln-build"))
	add(multi(bot, call("tagBuild", "", "eln-build-side-1", "a-1-1.fc45"), call("tagBuild", "", "eln-build-side-1", "b-1-1.fc45"))...)
	add(multi("", call("listTagged", "", "eln-build-side-1"))...)
	add(multi(bot, call("build", ""), call("build", ""), call("build", ""))...)
	add(multi(bot, call("getTaskInfo", ""), call("getTaskInfo", ""), call("getTaskInfo", ""))...)
	add(call("listBuilds", bot))
	add(multi(bot, call("promoteBuild", ""), call("promoteBuild", ""), call("promoteBuild", ""))...)
	add(call("createSideTag", bot, "eln-build"))
	add(multi(bot, call("tagBuild", "", "eln-build-side-2", "a-1-1.eln150"))...)
	add(multi("", call("listTagged", "", "eln-build-side-2"))...)
	add(call("getTag", "bodhi", "eln-build-side-2"), call("listTagged", "bodhi", "eln-build-side-2"))
	add(multi("bodhi", call("tagBuild", "", "eln", "a-1-1.eln150"))...)
	add(multi("", call("listTagged", "", "eln"), call("listTagged", "", "eln"))...)
	add(call("removeSideTag", bot, "eln-build-side-1"))
	// The waits' checks name builds, not tags: they go by when they ran.
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	at := func(sec float64, rs []kojihub.CallRecord) []kojihub.CallRecord {
		for i := range rs {
			rs[i].Time = t0.Add(time.Duration(sec * float64(time.Second)))
		}
		return rs
	}
	add(at(0.5, multi("", call("listTags", ""), call("listTags", "")))...)
	// A seed's check that ended just after BUILDING began is still seeding.
	add(at(2.01, multi("", call("listTags", "", map[string]any{"build": "a-1-1.fc45", "__starstar": true})))...)
	add(at(1.5, multi("", call("listTags", ""), call("listTags", "")))...)
	add(at(3.5, multi("", call("listTags", "")))...)
	add(at(4.5, multi("", call("listTags", "")))...)
	timeline := []PhaseMark{{t0.Add(time.Second), "SEEDING"}, {t0.Add(2 * time.Second), "BUILDING"},
		{t0.Add(3 * time.Second), "PUBLISHING"}, {t0.Add(4 * time.Second), "WAITING_STABLE"}}

	got := Classify(log, BatchTags{UpdateSideTags: []string{"eln-build-side-2"}, StableTag: "eln", Timeline: timeline})
	want := PhaseCost{
		PhaseOther:   {2, 3},
		PhaseResolve: {2, 4},
		PhaseSeed:    {5, 7},
		PhaseSubmit:  {1, 3},
		PhasePolls:   {1, 3},
		PhaseNVR:     {1, 1},
		PhasePromote: {1, 3},
		PhaseUpdate:  {4, 4},
		PhaseStable:  {2, 3},
		PhaseCleanup: {1, 1},
	}
	if !reflect.DeepEqual(got.EBS, want) {
		t.Fatalf("ebs cost\n got %v\nwant %v", got.EBS, want)
	}
	if got.Bodhi != (Cost{3, 3}) {
		t.Fatalf("Bodhi's own cost %v, want 3 requests, 3 calls", got.Bodhi)
	}
	if got.EBS.Total() != (Cost{20, 32}) || got.EBS.Without(PhasePolls) != (Cost{19, 29}) {
		t.Fatalf("totals %v, without polls %v", got.EBS.Total(), got.EBS.Without(PhasePolls))
	}
	if got.Methods["tagBuild"] != 3 || got.Methods["getBuild"] != 3 || got.Methods["multiCall"] != 0 {
		t.Fatalf("methods %v", got.Methods)
	}
}

func TestOriginalModel(t *testing.T) {
	t.Parallel()
	// 1,000 packages, 950 seeded, one slice built at the first try, two
	// Bodhi chunks (750 + 250), drafts; the seed wait took 11 minutes.
	got := OriginalModel(BatchShape{Packages: 1000, Seeded: 950, Attempts: []int{1000}, Succeeded: 1000,
		Chunks: []int{750, 250}, Draft: true, SeedWait: 660})
	want := PhaseCost{
		PhaseResolve: {2, 1000},
		PhaseSeed:    {1 + 2 + 2 + 2, 1 + 950 + 950 + 2}, // createSideTag, getBuild and tagBuild multicalls, 2 polls
		PhaseSubmit:  {2, 1000},
		PhaseNVR:     {1000, 1000},
		PhasePromote: {2 + 1, 1000},
		PhaseUpdate:  {(1 + 2 + 2) + (1 + 1 + 1), 1 + 1500 + 1 + 500},
		PhaseStable:  {0, 0},
		PhaseCleanup: {1, 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("model\n got %v\nwant %v", got, want)
	}
	if got.Without(PhasePolls).Requests != 1023 {
		t.Fatalf("requests %d", got.Without(PhasePolls).Requests)
	}
}

func TestTaskPolls(t *testing.T) {
	t.Parallel()
	// One slice: tasks of 100, 400 and 700 s. Polls at 300 s (two open) and
	// 600 s (one open).
	e, o := TaskPolls([]float64{100, 400, 700}, []int{3})
	if e != (Cost{2, 3}) || o != (Cost{3, 3}) {
		t.Fatalf("ebs %v, original %v", e, o)
	}
	// Two slices run one after the other: the second starts at 700 s.
	e, o = TaskPolls([]float64{100, 400, 700, 250}, []int{3, 1})
	if e != (Cost{3, 4}) || o != (Cost{4, 4}) { // + the poll at 900 s
		t.Fatalf("two slices: ebs %v, original %v", e, o)
	}
	// 1,200 open tasks are three multicalls for ebs, 1,200 requests for the original.
	long := make([]float64, 1200)
	for i := range long {
		long[i] = 301
	}
	if e, o := TaskPolls(long, []int{1200}); e != (Cost{3, 1200}) || o != (Cost{1200, 1200}) {
		t.Fatalf("1,200 tasks: ebs %v, original %v", e, o)
	}
}

func TestBuildDurations(t *testing.T) {
	t.Parallel()
	d := BuildDurations(10000)
	if len(d) != 10000 {
		t.Fatal(len(d))
	}
	var sum float64
	below := 0
	for _, x := range d {
		if x <= 0 || x > 24*3600 {
			t.Fatalf("duration %v", x)
		}
		if x < 1200 {
			below++
		}
		sum += x
	}
	if math.Abs(float64(below)-5000) > 10 {
		t.Fatalf("%d of 10,000 builds under the 20-minute median", below)
	}
	if !reflect.DeepEqual(d, BuildDurations(10000)) {
		t.Fatal("not deterministic")
	}
}
