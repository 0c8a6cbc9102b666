//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/ebs/world"
)

// TestChaos runs several batches while a seeded supervisor kill -9s a
// random service every few seconds and restarts it; nats-server is kill
// -9ed and restarted once, while the second wave's batch runs. Every batch must complete as the configuration
// demands, no request may be lost, no build may be submitted twice for one
// attempt and no Bodhi update filed twice.
func TestChaos(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("EBS_CHAOS_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("EBS_CHAOS_SEED=%q: %v", v, err)
		}
		seed = n
	}
	t.Logf("chaos seed %d (replay with EBS_CHAOS_SEED=%d)", seed, seed)
	s := StartSystem(t, Options{World: world.Options{Waves: 3, Build: 300 * time.Millisecond}, LockTTL: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 7*time.Minute)
	defer cancel()

	chaos := s.StartChaos(seed, ChaosOptions{})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("chaos seed %d (replay with EBS_CHAOS_SEED=%d); what the supervisor did:\n%s", seed, seed, strings.Join(chaos.Log(), "\n"))
		}
	})
	rng := rand.New(rand.NewPCG(seed, 0x4a75))
	for wave := 0; wave < s.World.Options.Waves; wave++ {
		trs := s.Feed(ctx, wave)
		if wave == 1 {
			// Once its batch has started, at a random moment.
			want := world.Eligible(trs)
			err := s.Obs.WaitFor(ctx, func(o world.Observation) bool {
				for _, bs := range o.Started {
					for _, p := range bs.GetPackages() {
						if slices.Contains(want, p.GetComponent()) {
							return true
						}
					}
				}
				return false
			})
			if err != nil {
				chaos.Stop(ctx)
				t.Fatalf("seed %d: wave 2's batch never started: %v", seed, err)
			}
			time.Sleep(time.Duration(rng.Int64N(int64(3 * time.Second))))
			chaos.RestartNATS()
		}
		if err := s.WaitClosed(ctx, trs); err != nil {
			chaos.Stop(ctx)
			t.Fatalf("seed %d: wave %d did not complete under chaos: %v", seed, wave+1, err)
		}
		t.Logf("wave %d complete after %d kills", wave+1, chaos.Kills())
	}
	chaos.Stop(ctx)
	if chaos.Kills() < 5 || !chaos.NATSRestarted() {
		t.Fatalf("seed %d: the supervisor did too little (%d kills, NATS restarted %v)", seed, chaos.Kills(), chaos.NATSRestarted())
	}
	t.Logf("%d kills, NATS restarted once", chaos.Kills())

	// Every wave as the configuration demands: nothing lost, nothing twice,
	// one update per chunk holding each build once, build side tags removed,
	// and no side tag of ebs's user left in Koji (no seeding side tag
	// abandoned and no orphan of a kill -9, no update side tag left).
	for wave := 0; wave < s.World.Options.Waves; wave++ {
		if fs := s.Check(ctx, s.World.Wave(wave)); !fs.OK() {
			t.Errorf("seed %d: wave %d:\n%s", seed, wave+1, fs.Failed())
		}
	}
	// No build submitted twice for one attempt: per batch (build side tag)
	// and SCM URL, Koji saw exactly as many build calls as attempts.
	calls := s.KojiCalls(t, "build")
	submitted := map[[2]string]int{}
	for _, c := range calls {
		if len(c.Params) >= 2 {
			scm, _ := c.Params[0].(string)
			target, _ := c.Params[1].(string)
			submitted[[2]string{target, scm}]++
		}
	}
	for _, bc := range s.Obs.Observation().Completed {
		for _, o := range bc.GetOutcomes() {
			if o.GetState() == ebsv1.PackageState_PACKAGE_STATE_SKIPPED_DENYLISTED || o.GetState() == ebsv1.PackageState_PACKAGE_STATE_SKIPPED_NO_SCM_URL {
				continue
			}
			n := submitted[[2]string{bc.GetBuildSideTag(), o.GetScmUrl()}]
			if n != int(o.GetAttempts()) || len(o.GetTaskIds()) != int(o.GetAttempts()) {
				t.Errorf("seed %d: %s in %s: %d build calls, %d tasks, %d attempts", seed, o.GetComponent(), bc.GetBatchId(), n, len(o.GetTaskIds()), o.GetAttempts())
			}
		}
	}
	// No update filed twice: Bodhi holds exactly the updates the batches name.
	ups, err := s.Updates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, bc := range s.Obs.Observation().Completed {
		for _, u := range bc.GetUpdates() {
			named[u.GetAlias()] = true
		}
	}
	for _, u := range ups {
		if !named[u.Alias] {
			t.Errorf("seed %d: Bodhi has update %s (%s) that no batch reports: filed twice?", seed, u.Alias, u.FromTag)
		}
	}
	if len(ups) != len(named) {
		t.Errorf("seed %d: Bodhi holds %d updates, the batches name %d", seed, len(ups), len(named))
	}
	if dl := s.Obs.DeadLetters(); len(dl) > 0 {
		for _, d := range dl {
			t.Logf("dead letter: %s", d)
		}
	}
}

// ChaosOptions tune the supervisor.
type ChaosOptions struct {
	// Every: a kill every Every..2*Every (default 2 s).
	Every time.Duration
	// Down: a killed service stays down up to this long (default 1 s).
	Down time.Duration
}

// Chaos is the running supervisor.
type Chaos struct {
	s       *System
	rng     *rand.Rand
	o       ChaosOptions
	op      sync.Mutex // one kill or restart at a time
	mu      sync.Mutex
	log     []string
	kills   int
	natsRst bool
	stop    chan struct{}
	done    chan struct{}
	start   time.Time
}

// StartChaos starts the supervisor: every few seconds it kill -9s a random
// service and starts it again after a moment. Like an orchestrator, it also
// restarts any process that exited by itself.
func (s *System) StartChaos(seed uint64, o ChaosOptions) *Chaos {
	if o.Every <= 0 {
		o.Every = 2 * time.Second
	}
	if o.Down <= 0 {
		o.Down = time.Second
	}
	c := &Chaos{s: s, rng: rand.New(rand.NewPCG(seed, 0xc4a05)), o: o, stop: make(chan struct{}), done: make(chan struct{}), start: time.Now()}
	go c.run()
	return c
}

func (c *Chaos) logf(format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, fmt.Sprintf("%7.1fs ", time.Since(c.start).Seconds())+fmt.Sprintf(format, a...))
}

func (c *Chaos) sleep(d time.Duration) bool {
	select {
	case <-c.stop:
		return false
	case <-time.After(d):
		return true
	}
}

func (c *Chaos) run() {
	defer close(c.done)
	for {
		if !c.sleep(c.o.Every + time.Duration(c.rng.Int64N(int64(c.o.Every)))) {
			return
		}
		c.op.Lock()
		c.restartExited()
		name := Services[c.rng.IntN(len(Services))]
		p := c.s.Procs[name]
		c.logf("kill -9 %s", name)
		p.Kill()
		c.mu.Lock()
		c.kills++
		c.mu.Unlock()
		c.sleep(time.Duration(c.rng.Int64N(int64(c.o.Down))))
		if err := p.Start(); err != nil {
			c.logf("restarting %s: %v", name, err)
		}
		c.op.Unlock()
	}
}

// RestartNATS kill -9s nats-server and starts it again a second later.
func (c *Chaos) RestartNATS() {
	c.op.Lock()
	defer c.op.Unlock()
	c.logf("kill -9 nats-server")
	c.s.NATS.Kill()
	time.Sleep(time.Second)
	if err := c.s.NATS.Start(); err != nil {
		c.logf("restarting nats-server: %v", err)
		return
	}
	c.mu.Lock()
	c.natsRst = true
	c.mu.Unlock()
	c.logf("nats-server started again")
}

// restartExited starts every service that exited by itself (a crash).
func (c *Chaos) restartExited() {
	for _, name := range Services {
		p := c.s.Procs[name]
		if !p.Running() {
			c.logf("%s is not running (%v); starting it", name, p.Crashes())
			if err := p.Start(); err != nil {
				c.logf("restarting %s: %v", name, err)
			}
		}
	}
}

// Stop stops the supervisor and waits until every process is up again.
func (c *Chaos) Stop(ctx context.Context) {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	<-c.done
	if !c.s.NATS.Running() {
		_ = c.s.NATS.Start()
	}
	c.restartExited()
	for _, name := range Services {
		if err := c.s.Procs[name].WaitReady(ctx, nil); err != nil {
			c.s.t.Errorf("after the chaos: %v", err)
		}
	}
}

// Log is what the supervisor did.
func (c *Chaos) Log() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.log...)
}

// Kills counts the services killed.
func (c *Chaos) Kills() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kills
}

// NATSRestarted reports whether nats-server was restarted.
func (c *Chaos) NATSRestarted() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.natsRst
}

// KojiCall is one call from kojisim's call log (GET /sim/calls).
type KojiCall struct {
	Method      string `json:"method"`
	Params      []any  `json:"params"`
	User        string `json:"user"`
	InMulticall bool   `json:"in_multicall"`
	FaultCode   int    `json:"fault_code"`
}

// KojiCalls reads kojisim's call log of one method.
func (s *System) KojiCalls(t *testing.T, method string) []KojiCall {
	t.Helper()
	tc, err := koji.TLSConfig("", "", filepath.Join(s.PKI, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := koji.HTTPClientFor(tc).Get(strings.TrimSuffix(s.KojiURL, "/kojihub") + "/sim/calls?method=" + method)
	if err != nil {
		t.Fatalf("kojisim call log: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("kojisim call log: %s", resp.Status)
	}
	var calls []KojiCall
	if err := json.NewDecoder(resp.Body).Decode(&calls); err != nil {
		t.Fatalf("kojisim call log: %v", err)
	}
	return calls
}
