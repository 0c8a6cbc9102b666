package bridge_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/fedmsg"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/bridge/bridge"
)

// massRebuild is a 10,000-package batch: mostly built, 300 failed, 50 timed
// out, 20 denylisted, in 14 Bodhi updates.
func massRebuild() *ebsv1.BatchCompleted {
	ev := &ebsv1.BatchCompleted{BatchId: "20260610-120000-abcd", Result: ebsv1.BatchResult_BATCH_RESULT_PARTIAL,
		StartedAt:   timestamppb.New(time.Date(2026, 6, 10, 12, 0, 0, 0, time.UTC)),
		CompletedAt: timestamppb.New(time.Date(2026, 6, 11, 3, 30, 0, 0, time.UTC)),
		Options:     &ebsv1.BatchOptions{BuildTarget: "eln", StableTag: "eln"}, BuildSideTag: "eln-build-side-12345"}
	for i := range 10_000 {
		name := fmt.Sprintf("package-with-a-long-name-%05d", i)
		o := &ebsv1.PackageOutcome{Component: name, FedoraName: name, RequestId: "req-" + name,
			SourceNvr: name + "-1.0-1.fc45", ScmUrl: "git+https://src.fedoraproject.org/rpms/" + name + ".git#0123456789abcdef0123456789abcdef01234567",
			Ordering: 1000, State: ebsv1.PackageState_PACKAGE_STATE_BUILT, Nvr: name + "-1.0-1.eln150", BuildId: int64(3_000_000 + i),
			TaskId: int64(130_000_000 + i), TaskIds: []int64{int64(130_000_000 + i)}, Attempts: 1}
		switch {
		case i < 300:
			o.State, o.Reason = ebsv1.PackageState_PACKAGE_STATE_FAILED, "build failed: BuildError: error building package (arch x86_64), mock exited with status 1"
		case i < 350:
			o.State = ebsv1.PackageState_PACKAGE_STATE_TIMED_OUT
		case i < 370:
			o.State, o.Denylisted = ebsv1.PackageState_PACKAGE_STATE_SKIPPED_DENYLISTED, true
		default:
			o.BodhiUpdateAlias = fmt.Sprintf("FEDORA-2026-%010d", i/750)
			o.BodhiUpdateUrl = "https://bodhi.fedoraproject.org/updates/" + o.BodhiUpdateAlias
		}
		ev.Outcomes = append(ev.Outcomes, o)
	}
	for u := range 14 {
		alias := fmt.Sprintf("FEDORA-2026-%010d", u)
		ev.Updates = append(ev.Updates, &ebsv1.BodhiUpdateRef{Alias: alias, Url: "https://bodhi.fedoraproject.org/updates/" + alias})
	}
	return ev
}

// A mass rebuild's completion message is a summary well under the bus's
// 1 MiB: counts per state, the updates, the first failed names with the
// truncation flag, and links to the full record.
func TestCompletionSummaryOfMassRebuild(t *testing.T) {
	t.Parallel()
	ev := massRebuild()
	full, err := protojson.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if len(full) <= fedmsg.MaxBodySize {
		t.Fatalf("the full event is %d bytes; the test needs one over %d", len(full), fedmsg.MaxBodySize)
	}
	m, err := bridge.CompletionMessage("org.fedoraproject.prod.eln.buildsync.batch.complete", ev, "https://ebs.example.org", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Body) >= fedmsg.MaxBodySize {
		t.Fatalf("summary is %d bytes, want under %d", len(m.Body), fedmsg.MaxBodySize)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("the message would be dead-lettered by a bridge reading it: %v", err)
	}
	var s bridge.CompletionSummary
	if err := json.Unmarshal(m.Body, &s); err != nil {
		t.Fatal(err)
	}
	wantCounts := map[string]int{"built": 9630, "failed": 300, "timed_out": 50, "skipped_denylisted": 20}
	if fmt.Sprint(s.Counts) != fmt.Sprint(wantCounts) {
		t.Errorf("counts %v, want %v", s.Counts, wantCounts)
	}
	if s.BatchID != ev.BatchId || s.Result != "partial" || s.Packages != 10_000 ||
		s.StartedAt != "2026-06-10T12:00:00Z" || s.CompletedAt != "2026-06-11T03:30:00Z" {
		t.Errorf("header %+v", s)
	}
	if len(s.Failed) != bridge.MaxSummaryFailed || !s.FailedTruncated || s.Failed[0] != "package-with-a-long-name-00000" {
		t.Errorf("failed: %d names (first %q), truncated %v", len(s.Failed), s.Failed[0], s.FailedTruncated)
	}
	if len(s.Updates) != 14 || s.UpdatesTruncated || s.Updates[13].Alias != "FEDORA-2026-0000000013" ||
		s.Updates[13].URL != "https://bodhi.fedoraproject.org/updates/FEDORA-2026-0000000013" {
		t.Errorf("updates %+v truncated %v", s.Updates, s.UpdatesTruncated)
	}
	if s.StatusURL != "https://ebs.example.org/status.html" || s.BatchURL != "https://ebs.example.org/v1/batches/20260610-120000-abcd" {
		t.Errorf("links %q %q", s.StatusURL, s.BatchURL)
	}
}

func TestCompletionSummaryShapes(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", 20_000)
	tests := []struct {
		name  string
		ev    *ebsv1.BatchCompleted
		check func(t *testing.T, s bridge.CompletionSummary)
	}{
		{"empty batch, no status URL", &ebsv1.BatchCompleted{BatchId: "b1", Result: ebsv1.BatchResult_BATCH_RESULT_EMPTY},
			func(t *testing.T, s bridge.CompletionSummary) {
				if s.Result != "empty" || s.Packages != 0 || len(s.Counts) != 0 || s.Failed == nil || s.Updates == nil || s.BatchURL != "" || s.StatusURL != "" {
					t.Errorf("%+v", s)
				}
			}},
		{"few failures are not truncated", &ebsv1.BatchCompleted{BatchId: "b2", Result: ebsv1.BatchResult_BATCH_RESULT_PARTIAL,
			Outcomes: []*ebsv1.PackageOutcome{{Component: "a", State: ebsv1.PackageState_PACKAGE_STATE_FAILED},
				{Component: "b", State: ebsv1.PackageState_PACKAGE_STATE_TIMED_OUT}, {Component: "c", State: ebsv1.PackageState_PACKAGE_STATE_ABORTED}}},
			func(t *testing.T, s bridge.CompletionSummary) {
				if strings.Join(s.Failed, ",") != "a,b" || s.FailedTruncated || s.Counts["aborted"] != 1 {
					t.Errorf("%+v", s)
				}
			}},
		{"failed batch's error is bounded", &ebsv1.BatchCompleted{BatchId: "b3", Result: ebsv1.BatchResult_BATCH_RESULT_FAILED, Error: huge},
			func(t *testing.T, s bridge.CompletionSummary) {
				if s.Result != "failed" || len(s.Error) > 5000 || !strings.HasPrefix(s.Error, "xxx") {
					t.Errorf("error of %d bytes", len(s.Error))
				}
			}},
		{"absurdly long names still fit", func() *ebsv1.BatchCompleted {
			ev := &ebsv1.BatchCompleted{BatchId: "b4", Result: ebsv1.BatchResult_BATCH_RESULT_PARTIAL}
			for i := range 300 {
				ev.Outcomes = append(ev.Outcomes, &ebsv1.PackageOutcome{Component: fmt.Sprint(i, huge), State: ebsv1.PackageState_PACKAGE_STATE_FAILED})
				ev.Updates = append(ev.Updates, &ebsv1.BodhiUpdateRef{Alias: fmt.Sprint(i, huge)})
			}
			return ev
		}(), func(t *testing.T, s bridge.CompletionSummary) {
			if !s.FailedTruncated || !s.UpdatesTruncated || len(s.Failed) == 0 || s.Counts["failed"] != 300 {
				t.Errorf("%d failed (truncated %v), %d updates (truncated %v)", len(s.Failed), s.FailedTruncated, len(s.Updates), s.UpdatesTruncated)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := bridge.CompletionMessage("t", tt.ev, "", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if len(m.Body) >= fedmsg.MaxBodySize {
				t.Fatalf("body of %d bytes", len(m.Body))
			}
			var s bridge.CompletionSummary
			if err := json.Unmarshal(m.Body, &s); err != nil {
				t.Fatal(err)
			}
			tt.check(t, s)
		})
	}
}
