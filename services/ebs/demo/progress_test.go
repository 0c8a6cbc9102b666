package demo

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/ebs/observe"
	"github.com/fedora-eln/ebs/services/ebs/world"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// events is a small batch as ebs publishes it: llvm in slice 0, clang
// failing once in slice 1, then a default slice with a real failure.
func events() []proto.Message {
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	return []proto.Message{
		&ebsv1.RebuildRequest{Component: "llvm", Nvr: "llvm-21.1.4-2.fc45", SourceTag: "f45", RequestedBy: "bodhi"},
		&ebsv1.RebuildRequest{Component: "clang", Nvr: "clang-21.1.4-2.fc45", SourceTag: "f45", RequestedBy: "bodhi"},
		&ebsv1.RebuildRequest{Component: "bash", Nvr: "bash-5.3-2.fc45", SourceTag: "f45", RequestedBy: "bodhi"},
		&ebsv1.RebuildRequest{Component: "gawk", Nvr: "gawk-5.3-2.fc45", SourceTag: "f45", RequestedBy: "bodhi"},
		&ebsv1.BatchStarted{BatchId: "b-1", Packages: []*ebsv1.BatchPackage{
			{Component: "llvm", Ordering: 0}, {Component: "clang", Ordering: 1},
			{Component: "bash", Ordering: 1000, Seeded: true}, {Component: "gawk", Ordering: 1000, Seeded: true}}},
		&ebsv1.BatchPhaseChanged{BatchId: "b-1", Phase: ebsv1.BatchPhase_BATCH_PHASE_SEEDING, SideTag: "eln-build-side-7"},
		&ebsv1.BatchPhaseChanged{BatchId: "b-1", Phase: ebsv1.BatchPhase_BATCH_PHASE_BUILDING},
		&ebsv1.SliceStarted{BatchId: "b-1", Slice: 0, Ordering: 0, Components: []string{"llvm"}},
		&ebsv1.AttemptStarted{BatchId: "b-1", Slice: 0, Attempt: 1, Components: []string{"llvm"}},
		&ebsv1.KojiEvent{Event: &ebsv1.KojiEvent_TaskFinished{TaskFinished: &ebsv1.TaskFinished{Component: "llvm", Outcome: ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED}}},
		&ebsv1.AttemptFinished{BatchId: "b-1", Slice: 0, Attempt: 1, Succeeded: []string{"llvm"}},
		&ebsv1.SliceFinished{BatchId: "b-1", Slice: 0, Succeeded: []string{"llvm"}, Attempts: 1},
		&ebsv1.SliceStarted{BatchId: "b-1", Slice: 1, Ordering: 1, Components: []string{"clang"}},
		&ebsv1.AttemptFinished{BatchId: "b-1", Slice: 1, Attempt: 1, Failed: []string{"clang"}},
		&ebsv1.AttemptStarted{BatchId: "b-1", Slice: 1, Attempt: 2, Components: []string{"clang"}},
		&ebsv1.AttemptFinished{BatchId: "b-1", Slice: 1, Attempt: 2, Succeeded: []string{"clang"}},
		&ebsv1.SliceFinished{BatchId: "b-1", Slice: 1, Succeeded: []string{"clang"}, Attempts: 2},
		&ebsv1.SliceStarted{BatchId: "b-1", Slice: 2, Ordering: 1000, Components: []string{"bash", "gawk"}},
		&ebsv1.AttemptFinished{BatchId: "b-1", Slice: 2, Attempt: 1, Succeeded: []string{"bash"}, Failed: []string{"gawk"}},
		&ebsv1.AttemptStarted{BatchId: "b-1", Slice: 2, Attempt: 2, Components: []string{"gawk"}},
		&ebsv1.AttemptFinished{BatchId: "b-1", Slice: 2, Attempt: 2, Failed: []string{"gawk"}},
		&ebsv1.SliceFinished{BatchId: "b-1", Slice: 2, Succeeded: []string{"bash"}, Failed: []string{"gawk"}, Attempts: 2},
		&ebsv1.BatchPhaseChanged{BatchId: "b-1", Phase: ebsv1.BatchPhase_BATCH_PHASE_PUBLISHING},
		&ebsv1.BodhiEvent{Event: &ebsv1.BodhiEvent_UpdateCreated{UpdateCreated: &ebsv1.UpdateCreated{
			Alias: "FEDORA-ELN-2026-0001", FromTag: "eln-build-side-8", Nvrs: []string{"llvm-21.1.4-2.eln150", "clang-21.1.4-2.eln150", "bash-5.3-2.eln150"}}}},
		&ebsv1.BodhiEvent{Event: &ebsv1.BodhiEvent_UpdateStatusChanged{UpdateStatusChanged: &ebsv1.UpdateStatusChanged{
			Alias: "FEDORA-ELN-2026-0001", OldStatus: "testing", NewStatus: "stable", Final: true}}},
		&ebsv1.BatchCompleted{BatchId: "b-1", Result: ebsv1.BatchResult_BATCH_RESULT_PARTIAL,
			StartedAt: timestamppb.New(t0), CompletedAt: timestamppb.New(t0.Add(21 * time.Second))},
	}
}

// clock advances 0.5 s per reading.
func clock() func() time.Time {
	t := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	return func() time.Time { t = t.Add(500 * time.Millisecond); return t }
}

func run(bar bool) string {
	var buf bytes.Buffer
	p := NewProgress(&buf, bar)
	p.now = clock()
	p.start = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	for i, m := range events() {
		p.Event(observe.Event{Subject: "ebs.x", Seq: uint64(i + 1), Msg: m})
	}
	p.Finish()
	return buf.String()
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Fatalf("%s differs (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func TestProgressPlain(t *testing.T) {
	t.Parallel()
	out := run(false)
	if strings.Contains(out, "\r") || strings.Contains(out, "\033") {
		t.Fatal("plain progress must not draw a bar")
	}
	golden(t, "progress-plain.txt", out)
}

func TestProgressBar(t *testing.T) {
	t.Parallel()
	out := run(true)
	for _, want := range []string{"\r\033[K", "built", "failed", "retried", "building slice 3/3 (ordering 1000)", "batch b-1 completed: PARTIAL"} {
		if !strings.Contains(out, want) {
			t.Errorf("bar output lacks %q", want)
		}
	}
	// The last bar before the end counts 3 built, 1 failed, 2 retried.
	if !strings.Contains(out, "3/4 built  1 failed  2 retried") {
		t.Errorf("bar counts wrong:\n%q", out)
	}
	// A bar never wraps on an 80-column terminal.
	p := NewProgress(&bytes.Buffer{}, true)
	p.cols = 80
	for _, m := range events()[:12] {
		p.Event(observe.Event{Msg: m})
	}
	if n := len([]rune(p.barLine())); n < 80 {
		t.Logf("bar is %d columns", n)
	}
	var buf bytes.Buffer
	p.out = &buf
	p.Tick()
	if n := len([]rune(strings.TrimPrefix(buf.String(), "\r\033[K"))); n > 79 {
		t.Errorf("the bar is %d columns wide on an 80-column terminal", n)
	}
	// The bar is removed at the end: the output ends with a cleared line.
	if !strings.HasSuffix(out, "\r\033[K") {
		t.Errorf("the bar is not cleared at the end: %q", out[max(0, len(out)-80):])
	}
}

func TestSummary(t *testing.T) {
	t.Parallel()
	w, err := world.New(world.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	bc := &ebsv1.BatchCompleted{BatchId: "b-1", BuildSideTag: "eln-build-side-7", UpdateSideTags: []string{"eln-build-side-8"},
		StartedAt: timestamppb.New(t0), CompletedAt: timestamppb.New(t0.Add(21 * time.Second)),
		Outcomes: []*ebsv1.PackageOutcome{
			{Component: "llvm", State: ebsv1.PackageState_PACKAGE_STATE_BUILT, Attempts: 1},
			{Component: "clang", State: ebsv1.PackageState_PACKAGE_STATE_BUILT, Attempts: 2},
			{Component: "gawk", State: ebsv1.PackageState_PACKAGE_STATE_FAILED, Attempts: 3, Denylisted: true},
		}}
	var buf bytes.Buffer
	WriteSummary(&buf, SummaryData{Triggers: w.Wave(0), Completed: []*ebsv1.BatchCompleted{bc},
		Updates: []world.Update{{Alias: "FEDORA-ELN-2026-0001", Status: "stable", NVRs: []string{"a", "b"}}},
		Koji: []KojiCalls{{User: "eln-buildsync", Requests: 5, Calls: 8, ByMethod: map[string]int{"build": 4, "createSideTag": 2, "tagBuild": 2}},
			{Requests: 4, Calls: 6, ByMethod: map[string]int{"getTaskInfo": 6}}},
		Wall: 34 * time.Second,
		Findings: world.Findings{{Check: "flaky builds built on the retry", OK: true, Detail: "clang"},
			{Check: "build side tags removed", Detail: "build side tag eln-build-side-7 still exists"}}})
	golden(t, "summary.txt", buf.String())
}
