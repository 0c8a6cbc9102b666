// Command ebsbench is `make bench`: it measures ebs against the raw limits
// of what it stands on, in one run on one machine (issue 9), and writes
// bench/results.json and markdown tables on stdout.
//
//	go run ./libs/benchkit/cmd/ebsbench [-out bench/results.json] [-sizes 100,1000,10000]
//
// The seven services run as separate processes (the end-to-end layout)
// built from this checkout, against nats-server v2.15 (a process, file
// storage), the real RabbitMQ and PostgreSQL on 127.0.0.1, and the Koji
// simulator (HTTPS, client-certificate login, a 25,000-package world),
// the Bodhi simulator, an OIDC provider and Content Resolver lists served
// by the harness. The configuration is Fedora's production
// distrobaker.yaml. Measurements:
//
//  1. ingest: realistic buildsys.tag traffic through RabbitMQ, bridge,
//     filter and batcher until every eligible request is pending, beside
//     the same messages published straight to a JetStream stream;
//  2. the Koji cost of batches of 100, 1,000 and 10,000 packages by phase,
//     beside the original ELNBuildSync's pattern on the same batch;
//  3. orchestration overhead: those batches with zero-time builds and
//     repos, batch start to ebs.batch.completed;
//  4. peak RSS of every process during 1 and 3;
//  5. recovery: kill -9 of the batcher mid-batch until the batch resumes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fedora-eln/ebs/libs/benchkit"
)

// Options of a run.
type Options struct {
	Repo           string
	Out            string
	BinDir         string
	Keep           bool
	Sizes          []int
	IngestMessages int
	WorldPackages  int
	ListedPackages int
	RecoveryN      int
	Repeat         int
	Lull           time.Duration
	LockTTL        time.Duration
	BodhiStep      time.Duration
	PhaseTimeout   time.Duration
	Only           map[string]bool
	CPUProfile     string
}

func main() {
	var o Options
	var sizes, only string
	flag.StringVar(&o.Repo, "repo", "", "repository root (default: the directory holding go.work above the working directory)")
	flag.StringVar(&o.Out, "out", "bench/results.json", "results file (relative to the repository root)")
	flag.StringVar(&o.BinDir, "bin", "", "use binaries from this directory instead of building them")
	flag.BoolVar(&o.Keep, "keep", false, "keep the run's directory (logs, JetStream store)")
	flag.StringVar(&sizes, "sizes", "100,1000,10000", "batch sizes")
	flag.IntVar(&o.IngestMessages, "ingest", 25000, "ingest messages")
	flag.IntVar(&o.WorldPackages, "world", 25000, "packages in the simulated Koji")
	flag.IntVar(&o.ListedPackages, "listed", 12000, "world packages in the Content Resolver lists")
	flag.IntVar(&o.RecoveryN, "recovery", 1000, "batch size of the recovery measurement (0 skips it)")
	flag.IntVar(&o.Repeat, "repeat", 2, "batches of each size; the fastest run's time is reported (the machine may be shared)")
	flag.DurationVar(&o.Lull, "lull", time.Second, "batcher lull (not part of any figure: a batch starts when the harness unpauses)")
	flag.DurationVar(&o.LockTTL, "lock-ttl", 15*time.Second, "batch lock TTL (the batcher's default)")
	flag.DurationVar(&o.BodhiStep, "bodhi-step", 100*time.Millisecond, "Bodhi simulator: pending->testing and testing->stable delays")
	flag.DurationVar(&o.PhaseTimeout, "timeout", 4*time.Minute, "give up on one measurement after this long")
	flag.StringVar(&only, "only", "", "comma-separated subset: ingest,batches,recovery (default all)")
	flag.StringVar(&o.CPUProfile, "cpuprofile", "", "write the harness's CPU profile (the simulators run in it) to this file")
	flag.Parse()
	for _, f := range strings.Split(sizes, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "ebsbench: bad size %q\n", f)
			os.Exit(2)
		}
		o.Sizes = append(o.Sizes, n)
	}
	if only != "" {
		o.Only = map[string]bool{}
		for _, p := range strings.Split(only, ",") {
			o.Only[strings.TrimSpace(p)] = true
		}
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	// The harness hosts the simulators (a 25,000-package Koji world, call
	// logs): collecting its garbage less often leaves the CPU to ebs.
	debug.SetGCPercent(400)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.CPUProfile != "" {
		f, err := os.Create(o.CPUProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "ebsbench: %v\n", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(ctx, o, log); err != nil {
		if o.CPUProfile != "" {
			pprof.StopCPUProfile()
		}
		fmt.Fprintf(os.Stderr, "ebsbench: %v\n", err)
		os.Exit(1)
	}
}

func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.work above the working directory: run from the repository or pass -repo")
		}
		dir = parent
	}
}

func (o Options) want(phase string) bool { return o.Only == nil || o.Only[phase] }

func run(ctx context.Context, o Options, log *slog.Logger) error {
	started := time.Now()
	if o.Repo == "" {
		var err error
		if o.Repo, err = findRepo(); err != nil {
			return err
		}
	}
	if !filepath.IsAbs(o.Out) {
		o.Out = filepath.Join(o.Repo, o.Out)
	}
	if err := preflight(); err != nil {
		return err
	}
	res := &benchkit.Results{GeneratedAt: started.UTC().Format(time.RFC3339), Host: host(o.Repo), Memory: map[string]benchkit.ProcPeak{},
		Polls: map[string]benchkit.PollModel{}}
	res.Settings = map[string]string{
		"world":             fmt.Sprintf("%d packages in Koji (f45 Rawhide, eln), %d in the Content Resolver lists", o.WorldPackages, o.ListedPackages),
		"configuration":     "Fedora's production distrobaker.yaml (skip_tag, exclude, ordering, Bodhi chunks of 750), content_resolver pointed at the fixture",
		"builds":            "every build succeeds at once (zero-time builds), repos regenerate at once, draft builds promoted (Gen C)",
		"koji_messages":     "the Koji simulator's messages are stored straight into FEDMSG (asynchronous publish), as the bridge would",
		"poll_intervals":    "koji-worker and repo-watcher poll at their production defaults (5 min): waits end by Fedora messages",
		"bodhi":             fmt.Sprintf("updates go pending -> testing -> stable after %s each", o.BodhiStep),
		"batcher_lock_ttl":  o.LockTTL.String(),
		"batcher_lull":      o.Lull.String() + " (batches start when the harness lifts the runtime pause; batch time starts at the batch's creation)",
		"services_built_as": "go build, no -race",
		"repeat":            fmt.Sprintf("each batch size runs %d times: the Koji cost is the first run's (it is the same every run), the time the fastest run's; every run's time is listed", max(o.Repeat, 1)),
	}
	s, err := Start(ctx, o, log)
	if err != nil {
		return fmt.Errorf("starting the system: %w", err)
	}
	defer s.Close()
	sampler := benchkit.NewSampler(50 * time.Millisecond)
	sctx, stopSampler := context.WithCancel(ctx)
	defer stopSampler()
	go sampler.Run(sctx)
	mem := newMemory(s, sampler)
	var failures []string
	fail := func(what string, err error) {
		log.Error("measurement failed", "what", what, "error", err)
		failures = append(failures, fmt.Sprintf("%s: %v", what, err))
	}

	if o.want("ingest") {
		in, err := measureIngest(ctx, s, o, mem)
		if err != nil {
			fail("ingest", err)
		}
		res.Ingest = in
	}
	round := 0
	if o.want("batches") {
		for _, n := range o.Sizes {
			var b *benchkit.Batch
			var err error
			for range max(o.Repeat, 1) {
				round++
				mem.start()
				run, rerr := measureBatch(ctx, s, o, n, round)
				mem.stop("batches")
				if rerr != nil {
					err = rerr
				}
				if run == nil {
					break
				}
				// The Koji cost is the first run's (the same every run); the
				// time is the fastest run's.
				if b == nil {
					b = run
				} else if run.WallSeconds < b.WallSeconds {
					b.WallSeconds, b.Phases = run.WallSeconds, run.Phases
				}
				b.WallRuns = append(b.WallRuns, run.WallSeconds)
				if rerr != nil {
					break
				}
			}
			if b != nil {
				res.Batches = append(res.Batches, *b)
				var slices []int
				for _, c := range countSlices(s, n) {
					slices = append(slices, c)
				}
				e, orig := benchkit.TaskPolls(benchkit.BuildDurations(n), slices)
				res.Polls[strconv.Itoa(n)] = benchkit.PollModel{EBS: e, Original: orig}
			}
			if err != nil {
				fail(fmt.Sprintf("batch of %d", n), err)
			}
		}
		for i := 1; i < len(res.Batches); i++ {
			a, b := res.Batches[i-1], res.Batches[i]
			res.Growth = append(res.Growth, benchkit.Growth{From: a.N, To: b.N,
				Exponent: math.Log(b.WallSeconds/a.WallSeconds) / math.Log(float64(b.N)/float64(a.N))})
		}
	}
	if o.want("recovery") && o.RecoveryN > 0 {
		round++
		baseline := 0.0
		for _, b := range res.Batches {
			if b.N == o.RecoveryN {
				baseline = b.WallSeconds
			}
		}
		rc, err := measureRecovery(ctx, s, o, o.RecoveryN, round, baseline)
		if err != nil {
			fail("recovery", err)
		}
		res.Recovery = rc
	}
	for name, p := range mem.peaks {
		res.Memory[name] = p
	}
	if mem.noReset {
		res.Notes = append(res.Notes, "clear_refs was refused: VmHWM covers each process's whole life")
	}
	if n := s.sinkFailed.Load(); n > 0 {
		failures = append(failures, fmt.Sprintf("%d Koji messages could not be stored", n))
	}
	for _, c := range s.Crashes() {
		failures = append(failures, c)
	}
	res.Targets = targets(res)
	for _, f := range failures {
		res.Notes = append(res.Notes, "FAILED: "+f)
	}
	res.Seconds = time.Since(started).Seconds()
	if err := res.WriteJSON(o.Out); err != nil {
		return err
	}
	fmt.Printf("## ebs benchmark (%s, %d CPUs, load %.1f at start, %s)\n\n", res.GeneratedAt, res.Host.CPUs, res.Host.Load1, res.Host.Commit)
	res.Markdown(os.Stdout)
	fmt.Printf("\nWhole run: %.0f s. Results: %s\n", res.Seconds, o.Out)
	if len(failures) > 0 {
		return fmt.Errorf("%d measurement(s) failed (see the notes)", len(failures))
	}
	return nil
}

// countSlices returns the slice sizes of a batch of the first n listed
// packages, in ordering order.
func countSlices(s *System, n int) []int {
	by := map[int]int{}
	for _, p := range s.Listed[:min(n, len(s.Listed))] {
		by[s.Config.Control.OrderingOf(p)]++
	}
	var keys []int
	for k := range by {
		keys = append(keys, k)
	}
	sortInts(keys)
	out := make([]int, len(keys))
	for i, k := range keys {
		out[i] = by[k]
	}
	return out
}

func sortInts(xs []int) {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && xs[j] < xs[j-1]; j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
}

const mib64 = 64.0

// targets judges the figures against issue 9's targets.
func targets(r *benchkit.Results) []benchkit.Target {
	var out []benchkit.Target
	if in := r.Ingest; in != nil && in.RawPerSecond > 0 {
		out = append(out, benchkit.Target{Name: "ingest vs raw JetStream publish", Target: ">= 50%", Value: 100 * in.Ratio, Unit: "%",
			Met: in.Ratio >= 0.5, Note: fmt.Sprintf("%.0f vs %.0f msgs/s", in.EBSPerSecond, in.RawPerSecond)})
	}
	var largest *benchkit.Batch
	for i := range r.Batches {
		b := &r.Batches[i]
		if largest == nil || b.N > largest.N {
			largest = b
		}
	}
	if largest != nil {
		note := ""
		if largest.N != 10000 {
			note = fmt.Sprintf("at N = %d, not 10,000", largest.N)
		}
		out = append(out, benchkit.Target{Name: "Koji HTTP requests per package, N = 10,000, without task polls", Target: "<= 0.05",
			Value: largest.PerPackage(), Unit: "", Met: largest.PerPackage() <= 0.05 && largest.N == 10000, Note: note})
	}
	for _, b := range r.Batches {
		if b.N == 1000 {
			out = append(out, benchkit.Target{Name: "orchestration overhead at N = 1,000", Target: "<= 10 s", Value: b.WallSeconds, Unit: "s",
				Met: b.WallSeconds <= 10})
		}
	}
	for _, g := range r.Growth {
		out = append(out, benchkit.Target{Name: fmt.Sprintf("overhead growth N = %d -> %d (t ~ N^k)", g.From, g.To), Target: "k <= 1 (linear)",
			Value: g.Exponent, Unit: "", Met: g.Exponent <= 1})
	}
	worst, worstName := 0.0, ""
	for name, m := range r.Memory {
		if m.Service && m.Peak > worst {
			worst, worstName = m.Peak, name
		}
	}
	if worstName != "" {
		out = append(out, benchkit.Target{Name: "peak RSS of every service", Target: "<= 64 MiB", Value: worst, Unit: "MiB",
			Met: worst <= mib64, Note: "largest: " + worstName})
	}
	return out
}

func host(repo string) benchkit.Host {
	h := benchkit.Host{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			h.Load1, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir = repo
	if out, err := cmd.Output(); err == nil {
		h.Commit = strings.TrimSpace(string(out))
	}
	return h
}
