package benchkit

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func sampleResults() *Results {
	b := Batch{N: 1000, BatchID: "b-1", Result: "SUCCEEDED", Built: 1000, Slices: 3, Chunks: 2, FeedSeconds: 1, WallSeconds: 4, WallRuns: []float64{4, 4.4},
		EBS:      PhaseCost{PhaseResolve: {3, 1001}, PhaseSeed: {5, 1890}, PhaseSubmit: {4, 1000}, PhaseCleanup: {1, 1}},
		Original: PhaseCost{PhaseResolve: {2, 1000}, PhaseNVR: {1000, 1000}, PhaseCleanup: {1, 1}}}
	b10 := b
	b10.N, b10.WallSeconds = 10000, 35
	return &Results{
		GeneratedAt: "2026-11-26T10:00:00Z",
		Targets: []Target{{Name: "ingest vs raw JetStream publish", Target: ">= 50%", Value: 3.2, Unit: "%", Met: false, Note: "2000 vs 62000 msgs/s"},
			{Name: "peak RSS of every service", Target: "<= 64 MiB", Value: 59.5, Unit: "MiB", Met: true, Note: "largest: batcher"}},
		Ingest: &Ingest{Messages: 25000, Eligible: 2500, Duplicates: 1250, Malformed: 250, AvgBytes: 665, RawSeconds: 0.4,
			RawPerSecond: 62500, RabbitSeconds: 4, RabbitPerSecond: 6250, PendingSeconds: 12.5, EBSPerSecond: 2000, Ratio: 0.032},
		Batches: []Batch{b, b10},
		Growth:  []Growth{{From: 1000, To: 10000, Exponent: 0.94}},
		Memory: map[string]ProcPeak{"batcher": {Ingest: 24, Batches: 59.5, Peak: 59.5, Service: true},
			"nats-server": {Ingest: 80, Batches: 400, Peak: 400}},
		Recovery: &Recovery{N: 1000, KilledAt: "right after its first submit-builds command", LockTTL: 15, ReadySeconds: 0.3,
			LockSeconds: 15.2, ResumeSeconds: 15.3, NextCommand: "koji.cmd.submit-builds b-1.build.2.1.0", Completed: true,
			WallSeconds: 20, BaselineWall: 4},
		Polls: map[string]PollModel{"1000": {EBS: Cost{117, 6607}, Original: Cost{6607, 6607}}, "10000": {EBS: Cost{311, 64926}, Original: Cost{64926, 64926}}},
		Notes: []string{"a note"},
	}
}

func TestMarkdownGolden(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	sampleResults().Markdown(&buf)
	golden := filepath.Join("testdata", "report.md")
	if *update {
		if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("markdown differs from %s (go test -run TestMarkdownGolden -update to accept):\n%s", golden, buf.String())
	}
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "bench", "results.json")
	r := sampleResults()
	if err := r.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var back Results
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Batches[1].N != 10000 || back.Batches[0].EBS[PhaseSeed] != (Cost{5, 1890}) || back.Recovery.LockSeconds != 15.2 ||
		back.Ingest.Ratio != 0.032 || back.Memory["batcher"].Peak != 59.5 {
		t.Fatalf("round trip lost data: %s", b)
	}
	if got := back.Batches[0].PerPackage(); got != 0.013 {
		t.Fatalf("per package %v, want 13/1000", got)
	}
}
