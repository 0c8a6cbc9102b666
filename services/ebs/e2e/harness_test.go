//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-eln/ebs/libs/benchkit"
	"github.com/fedora-eln/ebs/libs/contentresolver/crfixture"
	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/store/pgtest"
	"github.com/fedora-eln/ebs/services/ebs/observe"
	"github.com/fedora-eln/ebs/services/ebs/world"
)

// Services are the seven ebs services, in start order.
var Services = []string{"status", "bridge", "filter", "batcher", "koji-worker", "repo-watcher", "bodhi-publisher"}

const amqpURL = "amqp://guest:guest@127.0.0.1:5672/"

var (
	binDir   string
	buildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ebs-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir, buildErr = buildBinaries(dir)
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// buildBinaries builds every binary the tests run, without -race (they are
// many processes on a small machine; the services' own tests run with it).
func buildBinaries(dir string) (string, error) {
	pkgs := []string{
		"github.com/fedora-eln/ebs/libs/sim/kojihub/cmd/kojisim",
		"github.com/fedora-eln/ebs/libs/sim/bodhi/cmd/bodhisim",
	}
	for _, s := range Services {
		pkgs = append(pkgs, "github.com/fedora-eln/ebs/services/"+s)
	}
	build := func(args ...string) error {
		cmd := exec.Command("go", append([]string{"build"}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := build(append([]string{"-o", dir + "/"}, pkgs...)...); err != nil {
		return "", err
	}
	// nats-server v2.15 from the module cache (libs depends on it).
	if err := build("-o", filepath.Join(dir, "nats-server"), "github.com/nats-io/nats-server/v2"); err != nil {
		return "", err
	}
	return dir, nil
}

// Proc is one supervised OS process (the benchmarks' supervisor: start,
// kill -9, stop, readiness, log tail and grep).
type Proc = benchkit.Proc

// System is a running ebs with its dependencies, all as processes.
type System struct {
	t      *testing.T
	Dir    string
	World  *world.World
	NATS   *Proc
	Koji   *Proc
	Bodhi  *Proc
	Procs  map[string]*Proc // the seven services
	CR     *crfixture.Server
	Conn   *natsx.Conn
	Obs    *observe.Observer
	DBURL  string
	Prefix string
	Queue  string

	NATSURL, KojiURL, BodhiURL string
	HTTPAddr, GRPCAddr         string
	// PKI holds kojisim's CA (ca.pem) and client certificates (<user>.pem).
	PKI string
}

// Options size a System.
type Options struct {
	World world.Options
	// LockTTL of the batch lease (short, so a killed batcher's lease passes quickly).
	LockTTL time.Duration
}

// StartSystem starts NATS, the simulators and the seven services and waits
// until every one is ready. Everything stops at cleanup; on failure the
// logs' tails are printed.
func StartSystem(t *testing.T, o Options) *System {
	t.Helper()
	if buildErr != nil {
		t.Fatalf("building the binaries: %v", buildErr)
	}
	requireRabbitMQ(t)
	if o.LockTTL == 0 {
		o.LockTTL = 6 * time.Second
	}
	id := strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")) + "-" + fmt.Sprint(time.Now().UnixNano()%1e9)
	s := &System{t: t, Dir: t.TempDir(), Procs: map[string]*Proc{},
		Prefix: "org.fedoraproject.e2e" + strings.ReplaceAll(id, "-", ""), Queue: "ebs-e2e-" + id}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	w, err := world.New(o.World)
	if err != nil {
		t.Fatal(err)
	}
	s.World = w
	s.CR = crfixture.NewTest(t, w.Lists...)
	if err := w.WriteFiles(s.Dir, s.CR.URL); err != nil {
		t.Fatal(err)
	}
	s.DBURL = pgtest.NewDatabase(t)
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range s.all() {
				t.Log(p.Tail(30))
			}
		}
		for _, name := range Services {
			if p := s.Procs[name]; p != nil {
				p.Stop()
			}
		}
		for _, p := range []*Proc{s.Bodhi, s.Koji, s.NATS} {
			if p != nil {
				p.Stop()
			}
		}
		_ = world.DeleteQueue(amqpURL, s.Queue)
	})

	// nats-server with JetStream and ebs's max_payload.
	natsPort := freePort(t)
	conf := filepath.Join(s.Dir, "nats.conf")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("server_name: ebs-e2e\nlisten: 127.0.0.1:%d\nmax_payload: %d\n"+
		"jetstream {\n  store_dir: %q\n}\n", natsPort, natsx.MaxPayload, filepath.Join(s.Dir, "jetstream"))), 0o644); err != nil {
		t.Fatal(err)
	}
	s.NATSURL = fmt.Sprintf("nats://127.0.0.1:%d", natsPort)
	s.NATS = s.proc("nats-server", "nats-server", []string{"-c", conf}, nil, "")
	s.start(ctx, s.NATS, func() error {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", natsPort), time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	s.Conn, err = natsx.Connect(ctx, natsx.ConnectOptions{URL: s.NATSURL, Name: "e2e", Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Conn.Close() })
	if err := natsx.Provision(ctx, s.Conn.JS, natsx.ProvisionOptions{}); err != nil {
		t.Fatal(err)
	}
	obsCtx, stopObs := context.WithCancel(context.Background())
	t.Cleanup(stopObs)
	if s.Obs, err = observe.Start(obsCtx, s.Conn.JS, nil); err != nil {
		t.Fatal(err)
	}

	// The simulators. Koji on HTTPS: koji-worker and Bodhi log in with
	// client certificates, as ebs does in production (sslLogin).
	kojiAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.KojiURL = "https://" + kojiAddr + "/kojihub"
	s.PKI = filepath.Join(s.Dir, "pki")
	s.Koji = s.proc("kojisim", "kojisim", []string{"-listen", kojiAddr, "-scenario", filepath.Join(s.Dir, world.ScenarioFileName),
		"-amqp", amqpURL, "-topic-prefix", s.Prefix, "-log-level", "warn",
		"-tls", "-pki-dir", s.PKI, "-client-users", world.Builder + "," + world.Tagger}, nil, "")
	s.start(ctx, s.Koji, func() error {
		c, err := s.KojiClient("")
		if err != nil {
			return err
		}
		_, err = c.GetAPIVersion(ctx)
		return err
	})
	bodhiAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.BodhiURL = "http://" + bodhiAddr
	token := filepath.Join(s.Dir, "bodhi.token")
	s.Bodhi = s.proc("bodhisim", "bodhisim", []string{"-listen", bodhiAddr, "-koji-url", s.KojiURL,
		"-koji-cert", filepath.Join(s.PKI, world.Tagger+".pem"), "-koji-ca", filepath.Join(s.PKI, "ca.pem"), "-oidc-builtin",
		"-token-file", token, "-testing-after", "1s", "-stable-after", "1s"}, nil, "")
	s.start(ctx, s.Bodhi, func() error {
		if _, err := os.Stat(token); err != nil {
			return err
		}
		resp, err := http.Get(s.BodhiURL + "/releases/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})

	// The seven services.
	s.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	s.GRPCAddr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	common := []string{
		"EBS_NATS_URL=" + s.NATSURL,
		"EBS_CONFIG=" + filepath.Join(s.Dir, world.ConfigFileName),
		"EBS_KOJI_URL=" + s.KojiURL,
		"EBS_KOJI_WEB_URL=" + strings.TrimSuffix(s.KojiURL, "hub"),
		"EBS_BODHI_URL=" + s.BodhiURL + "/",
		"EBS_LOG_LEVEL=debug",
		"EBS_KOJI_CA=" + filepath.Join(s.PKI, "ca.pem"),
		// The filter and status read Koji with the system's roots.
		"SSL_CERT_FILE=" + filepath.Join(s.PKI, "ca.pem"),
	}
	env := map[string][]string{
		"bridge": {"EBS_AMQP_URL=" + amqpURL, "EBS_AMQP_QUEUE=" + s.Queue, "EBS_AMQP_ROUTING_KEYS=" + s.Prefix + ".buildsys.#",
			"EBS_TOPIC_PREFIX=" + s.Prefix, "EBS_RECONNECT_MIN=200ms", "EBS_RECONNECT_MAX=2s"},
		"filter":          {"EBS_RECONCILE_INTERVAL=-1s"},
		"batcher":         {"EBS_LULL=2s", "EBS_LOCK_TTL=" + o.LockTTL.String()},
		"koji-worker":     {"EBS_POLL_INTERVAL=2s", "EBS_DEADLINE_CHECK=1s", "EBS_KOJI_CERT=" + filepath.Join(s.PKI, "eln-buildsync.pem")},
		"repo-watcher":    {"EBS_POLL_INTERVAL=2s", "EBS_DEADLINE_CHECK=1s"},
		"bodhi-publisher": {"EBS_BODHI_TOKEN_FILE=" + token, "EBS_BODHI_FOLLOW_INTERVAL=1s"},
		"status": {"EBS_DATABASE_URL=" + s.DBURL, "EBS_HTTP_ADDR=" + s.HTTPAddr, "EBS_GRPC_ADDR=" + s.GRPCAddr,
			"EBS_KOJI_URL=" + s.KojiURL},
	}
	for _, name := range Services {
		admin := fmt.Sprintf("127.0.0.1:%d", freePort(t))
		e := append(append(append([]string(nil), common...), env[name]...), "EBS_ADMIN_ADDR="+admin)
		s.Procs[name] = s.proc(name, name, nil, e, admin)
	}
	for _, name := range Services {
		if err := s.Procs[name].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range Services {
		if err := s.Procs[name].WaitReady(ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := world.WaitQueue(ctx, amqpURL, s.Queue); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *System) proc(name, bin string, args, env []string, admin string) *Proc {
	return &Proc{Name: name, Bin: filepath.Join(binDir, bin), Args: args, Env: env, Admin: admin,
		Log: filepath.Join(s.Dir, name+".log")}
}

func (s *System) start(ctx context.Context, p *Proc, ready func() error) {
	s.t.Helper()
	if err := p.Start(); err != nil {
		s.t.Fatal(err)
	}
	if err := p.WaitReady(ctx, ready); err != nil {
		s.t.Fatal(err)
	}
}

func (s *System) all() []*Proc {
	out := []*Proc{s.NATS, s.Koji, s.Bodhi}
	for _, n := range Services {
		out = append(out, s.Procs[n])
	}
	var live []*Proc
	for _, p := range out {
		if p != nil {
			live = append(live, p)
		}
	}
	return live
}

// Crashes lists every exit the test did not cause.
func (s *System) Crashes() []string {
	var out []string
	for _, p := range s.all() {
		out = append(out, p.Crashes()...)
	}
	return out
}

// KojiClient is a kojisim client logged in as user ("" anonymous).
func (s *System) KojiClient(user string) (*koji.Client, error) {
	cert := ""
	if user != "" {
		cert = filepath.Join(s.PKI, user+".pem")
	}
	return world.KojiTLSClient(s.KojiURL, cert, filepath.Join(s.PKI, "ca.pem"))
}

// Feed tags wave n's new Rawhide builds into f45 through kojisim, as Bodhi.
func (s *System) Feed(ctx context.Context, wave int) []world.Trigger {
	s.t.Helper()
	c, err := s.KojiClient(world.Tagger)
	if err != nil {
		s.t.Fatal(err)
	}
	trs := s.World.Wave(wave)
	if _, err := world.Feed(ctx, c, trs); err != nil {
		s.t.Fatal(err)
	}
	return trs
}

// WaitClosed waits until every eligible trigger of trs has an outcome.
func (s *System) WaitClosed(ctx context.Context, trs []world.Trigger) error {
	want := world.Eligible(trs)
	err := s.Obs.WaitFor(ctx, func(o world.Observation) bool { return observe.Closed(o, want) })
	if err != nil {
		have := map[string]bool{}
		for _, bc := range s.Obs.Observation().Completed {
			for _, oc := range bc.GetOutcomes() {
				have[oc.GetComponent()] = true
			}
		}
		var missing []string
		for _, c := range want {
			if !have[c] {
				missing = append(missing, c)
			}
		}
		return fmt.Errorf("%w: no outcome yet for %s", err, strings.Join(missing, ", "))
	}
	return nil
}

func requireRabbitMQ(t *testing.T) {
	t.Helper()
	c, err := amqp.DialConfig(amqpURL, amqp.Config{Dial: func(network, addr string) (net.Conn, error) {
		return net.DialTimeout(network, addr, 3*time.Second)
	}})
	if err != nil {
		t.Fatalf("RabbitMQ does not answer on 127.0.0.1:5672 (%v): start it with `rabbitmq-server -detached` (see DEVELOPERS.md)", err)
	}
	_ = c.Close()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
