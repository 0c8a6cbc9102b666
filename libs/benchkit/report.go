package benchkit

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Results is everything one `make bench` run measured (bench/results.json).
type Results struct {
	GeneratedAt string   `json:"generated_at"`
	Host        Host     `json:"host"`
	Seconds     float64  `json:"seconds"` // the whole run
	Targets     []Target `json:"targets"`
	Ingest      *Ingest  `json:"ingest,omitempty"`
	Batches     []Batch  `json:"batches,omitempty"`
	// Overhead growth between consecutive batch sizes: the exponent k in
	// t ~ N^k (1 = linear).
	Growth   []Growth             `json:"overhead_growth,omitempty"`
	Memory   map[string]ProcPeak  `json:"memory_mib,omitempty"`
	Recovery *Recovery            `json:"recovery,omitempty"`
	Settings map[string]string    `json:"settings"`
	Notes    []string             `json:"notes,omitempty"`
	Raw      map[string]any       `json:"raw,omitempty"`
	Polls    map[string]PollModel `json:"task_poll_model,omitempty"`
}

// Host describes the machine.
type Host struct {
	CPUs      int     `json:"cpus"`
	GoVersion string  `json:"go"`
	Kernel    string  `json:"kernel"`
	Load1     float64 `json:"load1_at_start"`
	Commit    string  `json:"commit"`
}

// Target is one of issue 9's targets with the figure it is judged on.
type Target struct {
	Name   string  `json:"name"`
	Target string  `json:"target"`
	Value  float64 `json:"value"`
	Unit   string  `json:"unit"`
	Met    bool    `json:"met"`
	Note   string  `json:"note,omitempty"`
}

// Ingest is measurement 1.
type Ingest struct {
	Messages   int     `json:"messages"`
	Eligible   int     `json:"eligible"`
	Ineligible int     `json:"ineligible"`
	Duplicates int     `json:"duplicates"`
	Malformed  int     `json:"malformed"`
	AvgBytes   float64 `json:"avg_message_bytes"` // FedoraMessage envelope as stored
	// Raw: the same messages published straight to a JetStream stream.
	RawSeconds   float64 `json:"raw_seconds"`
	RawPerSecond float64 `json:"raw_msgs_per_s"`
	// RabbitMQ alone: the same messages published to a queue and consumed
	// with the bridge's prefetch, no processing (the entry point's limit).
	RabbitSeconds   float64 `json:"rabbitmq_alone_seconds"`
	RabbitPerSecond float64 `json:"rabbitmq_alone_msgs_per_s"`
	// EBS: AMQP publish -> bridge -> FEDMSG -> filter -> EBS -> batcher -> KV.
	PublishSeconds float64 `json:"amqp_publish_seconds"`
	PendingSeconds float64 `json:"seconds_to_all_pending"`
	DrainedSeconds float64 `json:"seconds_to_drained"`
	EBSPerSecond   float64 `json:"ebs_msgs_per_s"`
	Ratio          float64 `json:"ratio"`
	// What the services counted.
	Bridge map[string]float64 `json:"bridge_outcomes"`
	Filter map[string]float64 `json:"filter_results"`
}

// Batch is measurements 2 and 3 for one batch size.
type Batch struct {
	N           int                `json:"n"`
	BatchID     string             `json:"batch_id"`
	Result      string             `json:"result"`
	Built       int                `json:"built"`
	Slices      int                `json:"slices"`
	Chunks      int                `json:"bodhi_chunks"`
	FeedSeconds float64            `json:"feed_seconds"` // Koji tags the builds -> all pending
	WallSeconds float64            `json:"wall_seconds"` // batch start -> ebs.batch.completed (the best run)
	WallRuns    []float64          `json:"wall_seconds_runs,omitempty"`
	Phases      map[string]float64 `json:"phase_seconds"`
	EBS         PhaseCost          `json:"ebs_koji"`
	Original    PhaseCost          `json:"original_koji_model"`
	Bodhi       Cost               `json:"simulated_bodhi_koji"`
	HubRequests int64              `json:"hub_http_requests"` // the simulator's own count, all users
	Methods     map[string]int64   `json:"ebs_calls_by_method"`
	TasksBy     map[string]float64 `json:"tasks_finished_by"` // koji-worker: message, poll, timeout
}

// PerPackage is ebs's requests per package without the task polls.
func (b Batch) PerPackage() float64 {
	if b.N == 0 {
		return 0
	}
	return float64(b.EBS.Without(PhasePolls).Requests) / float64(b.N)
}

// Growth is the overhead exponent between two batch sizes.
type Growth struct {
	From, To int
	Exponent float64
}

// ProcPeak is a process's peak RSS (MiB) in the measured phases.
type ProcPeak struct {
	Ingest  float64 `json:"ingest"`
	Batches float64 `json:"batches"`
	Peak    float64 `json:"peak"`
	Sampled float64 `json:"sampled_max"` // the 50 ms sampler's maximum, a cross-check
	Service bool    `json:"service"`
	// CPU seconds used in each phase.
	IngestCPU  float64 `json:"ingest_cpu_seconds"`
	BatchesCPU float64 `json:"batches_cpu_seconds"`
}

// Recovery is measurement 5.
type Recovery struct {
	N              int     `json:"n"`
	KilledAt       string  `json:"killed_at"` // what the batch was doing
	LockTTL        float64 `json:"lock_ttl_seconds"`
	ReadySeconds   float64 `json:"kill_to_ready"`
	LockSeconds    float64 `json:"kill_to_lock"`
	ResumeSeconds  float64 `json:"kill_to_resume"`
	NextCommand    string  `json:"next_command"`
	Completed      bool    `json:"completed"`
	BuiltTwice     int     `json:"packages_built_twice"`
	WallSeconds    float64 `json:"batch_wall_seconds"`
	BaselineWall   float64 `json:"baseline_wall_seconds"`
	RestartedAfter float64 `json:"restart_delay_seconds"`
}

// PollModel is the task-poll model for one batch size.
type PollModel struct {
	EBS      Cost `json:"ebs"`
	Original Cost `json:"original"`
}

// WriteJSON writes r to path (creating its directory).
func (r *Results) WriteJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("benchkit: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("benchkit: %w", err)
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func yes(b bool) string {
	if b {
		return "met"
	}
	return "**missed**"
}

// Markdown writes the report's tables.
func (r *Results) Markdown(w io.Writer) {
	fmt.Fprintf(w, "### Targets\n\n| target | required | measured | |\n|---|---|---|---|\n")
	for _, t := range r.Targets {
		v := fmt.Sprintf("%.3g %s", t.Value, t.Unit)
		if t.Note != "" {
			v += " (" + t.Note + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", t.Name, t.Target, strings.TrimSpace(v), yes(t.Met))
	}
	if in := r.Ingest; in != nil {
		fmt.Fprintf(w, "\n### Ingest (%d buildsys.tag messages: %d eligible, %d duplicates, %d malformed; %.0f bytes each on average)\n\n",
			in.Messages, in.Eligible, in.Duplicates, in.Malformed, in.AvgBytes)
		fmt.Fprintf(w, "| path | seconds | msgs/s |\n|---|---|---|\n")
		fmt.Fprintf(w, "| raw JetStream publish (async, file storage) | %.2f | %.0f |\n", in.RawSeconds, in.RawPerSecond)
		if in.RabbitPerSecond > 0 {
			fmt.Fprintf(w, "| RabbitMQ alone: publish, consume, ack (prefetch 25), no processing | %.2f | %.0f |\n", in.RabbitSeconds, in.RabbitPerSecond)
		}
		fmt.Fprintf(w, "| ebs: RabbitMQ -> bridge -> filter -> batcher -> KV ebs_pending | %.2f | %.0f |\n", in.PendingSeconds, in.EBSPerSecond)
		fmt.Fprintf(w, "| ebs / raw JetStream | | %.1f%% |\n", 100*in.Ratio)
		if in.RabbitPerSecond > 0 {
			fmt.Fprintf(w, "| ebs / RabbitMQ alone | | %.0f%% |\n", 100*in.EBSPerSecond/in.RabbitPerSecond)
		}
	}
	if len(r.Batches) > 0 {
		fmt.Fprintf(w, "\n### Koji cost per batch (HTTP requests / XML-RPC calls; ebs measured, original modelled on the same batch)\n\n")
		fmt.Fprintf(w, "| phase |")
		for _, b := range r.Batches {
			fmt.Fprintf(w, " ebs N=%d | original N=%d |", b.N, b.N)
		}
		fmt.Fprintf(w, "\n|---|")
		for range r.Batches {
			fmt.Fprintf(w, "---|---|")
		}
		fmt.Fprintln(w)
		for _, p := range Phases {
			fmt.Fprintf(w, "| %s |", p)
			for _, b := range r.Batches {
				e, o := b.EBS[p], b.Original[p]
				orig := fmt.Sprintf("%d / %d", o.Requests, o.Calls)
				if p == PhasePolls {
					orig = "see poll model"
				}
				fmt.Fprintf(w, " %d / %d | %s |", e.Requests, e.Calls, orig)
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "| **total without task polls** |")
		for _, b := range r.Batches {
			e, o := b.EBS.Without(PhasePolls), b.Original.Without(PhasePolls)
			fmt.Fprintf(w, " **%d / %d** | **%d / %d** |", e.Requests, e.Calls, o.Requests, o.Calls)
		}
		fmt.Fprintf(w, "\n| requests per package (without task polls) |")
		for _, b := range r.Batches {
			o := b.Original.Without(PhasePolls)
			fmt.Fprintf(w, " %.4f | %.4f |", b.PerPackage(), float64(o.Requests)/float64(max(b.N, 1)))
		}
		fmt.Fprintln(w)
		if len(r.Polls) > 0 {
			fmt.Fprintf(w, "| task polls, modelled (20 min median builds, 5 min polls) |")
			for _, b := range r.Batches {
				pm := r.Polls[fmt.Sprint(b.N)]
				fmt.Fprintf(w, " %d / %d | %d / %d |", pm.EBS.Requests, pm.EBS.Calls, pm.Original.Requests, pm.Original.Calls)
			}
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "\n### Orchestration overhead (zero-time builds, zero-delay repos)\n\n")
		fmt.Fprintf(w, "| N | result | slices | Bodhi updates | batch start -> completed (s), best run | every run (s) | per package (ms) | feed: tagged -> pending (s) |\n|---|---|---|---|---|---|---|---|\n")
		for _, b := range r.Batches {
			var runs []string
			for _, x := range b.WallRuns {
				runs = append(runs, fmt.Sprintf("%.2f", x))
			}
			fmt.Fprintf(w, "| %d | %s (%d built) | %d | %d | %.2f | %s | %.2f | %.2f |\n", b.N, b.Result, b.Built, b.Slices, b.Chunks,
				b.WallSeconds, strings.Join(runs, ", "), 1000*b.WallSeconds/float64(max(b.N, 1)), b.FeedSeconds)
		}
		for _, g := range r.Growth {
			fmt.Fprintf(w, "\nGrowth %d -> %d: t ~ N^%.2f", g.From, g.To, g.Exponent)
		}
		if len(r.Growth) > 0 {
			fmt.Fprintln(w)
		}
	}
	if len(r.Memory) > 0 {
		fmt.Fprintf(w, "\n### Peak RSS (MiB, VmHWM per phase) and CPU time\n\n| process | ingest | batches | peak | CPU s ingest | CPU s batches |\n|---|---|---|---|---|---|\n")
		var names []string
		for n := range r.Memory {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool {
			a, b := r.Memory[names[i]], r.Memory[names[j]]
			if a.Service != b.Service {
				return a.Service
			}
			return names[i] < names[j]
		})
		for _, n := range names {
			m := r.Memory[n]
			label := n
			if !m.Service {
				label += " (not a service)"
			}
			fmt.Fprintf(w, "| %s | %.1f | %.1f | %.1f | %.1f | %.1f |\n", label, m.Ingest, m.Batches, m.Peak, m.IngestCPU, m.BatchesCPU)
		}
	}
	if rc := r.Recovery; rc != nil {
		fmt.Fprintf(w, "\n### Recovery (kill -9 of the batcher, N=%d, killed %s, restarted after %.1f s; lock TTL %.0f s)\n\n",
			rc.N, rc.KilledAt, rc.RestartedAfter, rc.LockTTL)
		fmt.Fprintf(w, "| kill -> process ready | kill -> batch lock | kill -> resumed (%s) | batch completed | packages built twice |\n|---|---|---|---|---|\n", rc.NextCommand)
		fmt.Fprintf(w, "| %.2f s | %.2f s | %.2f s | %v (%.1f s, %.1f s uninterrupted) | %d |\n", rc.ReadySeconds, rc.LockSeconds,
			rc.ResumeSeconds, rc.Completed, rc.WallSeconds, rc.BaselineWall, rc.BuiltTwice)
	}
	if len(r.Notes) > 0 {
		fmt.Fprintf(w, "\nNotes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}
