package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats-server/v2/server"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/fedora-eln/ebs/libs/bodhi"
	"github.com/fedora-eln/ebs/libs/contentresolver/crfixture"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/oidctest"
	bodhisim "github.com/fedora-eln/ebs/libs/sim/bodhi"
	fedmsgsim "github.com/fedora-eln/ebs/libs/sim/fedmsg"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	"github.com/fedora-eln/ebs/libs/store/pglocal"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/ebs/allinone"
	"github.com/fedora-eln/ebs/services/ebs/observe"
	"github.com/fedora-eln/ebs/services/ebs/world"
)

// Config is the demo's configuration (the flags of `ebs demo`).
type Config struct {
	// DataDir keeps NATS's store, the configuration and the log after the
	// run (default: a temporary directory removed at the end). Each run
	// starts afresh, as the simulated Koji and Bodhi do.
	DataDir string
	// HTTPAddr and GRPCAddr of the status service (defaults
	// 127.0.0.1:8080 and 127.0.0.1:9090; a free port when taken).
	HTTPAddr, GRPCAddr string
	// AMQPURL is the RabbitMQ tried for Fedora messages ("off": never).
	AMQPURL string
	// Database is the PostgreSQL database of the status history.
	Database string
	// World sizes the demo world.
	World world.Options
	// Lull before a batch starts, and the polling interval of the workers.
	Lull, Poll time.Duration
	// ExitWhenDone returns after the summary instead of serving the status
	// page until ctx ends.
	ExitWhenDone bool
	// Timeout bounds the wait for the batches (default 5 min).
	Timeout time.Duration
	// Progress is "auto" (a bar on a terminal), "bar" or "plain".
	Progress string
	// Out receives the progress and the summary (default os.Stdout).
	Out io.Writer
	// LogLevel of the services' log file (default info).
	LogLevel string
}

func (c Config) withDefaults() Config {
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:8080"
	}
	if c.GRPCAddr == "" {
		c.GRPCAddr = "127.0.0.1:9090"
	}
	if c.AMQPURL == "" {
		c.AMQPURL = "amqp://guest:guest@127.0.0.1:5672/"
	}
	if c.Database == "" {
		c.Database = "ebs_demo"
	}
	if c.Lull <= 0 {
		c.Lull = 3 * time.Second
	}
	if c.Poll <= 0 {
		c.Poll = 2 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Minute
	}
	if c.Progress == "" {
		c.Progress = "auto"
	}
	if c.Out == nil {
		c.Out = os.Stdout
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	return c
}

// Result is how the demo ended.
type Result struct {
	Findings world.Findings
	// Completed is true when every request of the world was closed by a batch.
	Completed bool
}

// OK reports whether every batch ended as the scenario expects.
func (r Result) OK() bool { return r.Completed && r.Findings.OK() }

// Run runs the demo until the batches are done (ExitWhenDone) or ctx ends.
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	cfg = cfg.withDefaults()
	began := time.Now()
	out := cfg.Out
	bar := cfg.Progress == "bar"
	if cfg.Progress == "auto" {
		if f, ok := out.(*os.File); ok {
			bar = IsTerminal(f)
		}
	}
	prog := NewProgress(out, bar)
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()

	// Data directory and the services' log file.
	dir := cfg.DataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "ebs-demo-"); err != nil {
			return res, err
		}
		cleanups = append(cleanups, func() { _ = os.RemoveAll(dir) })
	} else {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return res, err
		}
		if err := os.RemoveAll(filepath.Join(dir, "nats")); err != nil {
			return res, err
		}
	}
	logPath := filepath.Join(dir, "ebs-demo.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return res, err
	}
	cleanups = append(cleanups, func() { _ = logFile.Close() })
	// The process's level (lifecycle.LogLevel): the services share it, as
	// under `ebs run`.
	log, err := lifecycle.NewProcessLogger(logFile, cfg.LogLevel, "text")
	if err != nil {
		return res, err
	}
	runID := newID()
	prog.Logf("ebs demo %s: data in %s, service logs in %s", runID, dir, logPath)

	// NATS with JetStream, embedded.
	ns, natsURL, err := startNATS(filepath.Join(dir, "nats"))
	if err != nil {
		return res, err
	}
	cleanups = append(cleanups, func() { ns.Shutdown(); ns.WaitForShutdown() })
	conn, err := natsx.Connect(ctx, natsx.ConnectOptions{URL: natsURL, Name: "ebs-demo", Logger: log})
	if err != nil {
		return res, err
	}
	cleanups = append(cleanups, func() { _ = conn.Close() })
	if err := natsx.Provision(ctx, conn.JS, natsx.ProvisionOptions{}); err != nil {
		return res, err
	}
	prog.Logf("NATS JetStream %s (embedded, max_payload %d MiB)", natsURL, natsx.MaxPayload>>20)

	// PostgreSQL.
	pg, err := pglocal.Find(ctx, pglocal.Options{Logger: log})
	if err != nil {
		if errors.Is(err, pglocal.ErrNoBinaries) {
			return res, fmt.Errorf("ebs demo needs PostgreSQL for the status history: no server answers on 127.0.0.1:5432, "+
				"EBS_DATABASE_URL is not set, and no initdb/pg_ctl to start a throwaway one. Install PostgreSQL "+
				"(Debian/Ubuntu: apt-get install postgresql; Fedora: dnf install postgresql-server) or set EBS_DATABASE_URL: %w", err)
		}
		return res, fmt.Errorf("ebs demo: PostgreSQL: %w", err)
	}
	cleanups = append(cleanups, func() { _ = pg.Stop() })
	dbURL, err := freshDatabase(ctx, pg.URL, cfg.Database)
	if err != nil {
		return res, err
	}
	prog.Logf("PostgreSQL (%s): database %s", pg.Origin, cfg.Database)

	// The world and its simulators.
	w, err := world.New(cfg.World)
	if err != nil {
		return res, err
	}
	cr, err := crfixture.Start("127.0.0.1:0", w.Lists...)
	if err != nil {
		return res, err
	}
	cleanups = append(cleanups, cr.Close)
	cfgPath := filepath.Join(dir, world.ConfigFileName)
	if err := os.WriteFile(cfgPath, []byte(world.ConfigYAML(cr.URL)), 0o644); err != nil {
		return res, err
	}
	ebsCfg, err := world.Config(cr.URL)
	if err != nil {
		return res, err
	}

	prefix := "org.fedoraproject.demo" + runID
	queue := "ebs-demo-" + runID
	useAMQP := cfg.AMQPURL != "off" && amqpAnswers(cfg.AMQPURL)
	var sink kojihub.Sink = fedmsgsim.NewJetStreamSink(conn.JS, prefix)
	if useAMQP {
		s, err := kojihub.NewAMQPSink(cfg.AMQPURL, "")
		if err != nil {
			return res, err
		}
		cleanups = append(cleanups, func() { _ = s.Close() })
		sink = s
	}
	hub, kojiURL, err := startKoji(ctx, w, sink, prefix, log)
	if err != nil {
		return res, err
	}
	cleanups = append(cleanups, hub.Close)
	prog.Logf("Koji simulator %s: %d packages, %d new Rawhide builds waiting in %s", kojiURL, len(hub.Packages()), len(w.Triggers), world.CandidateTag)

	oidc, err := oidctest.New(oidctest.Options{ClientID: "eln-buildsync", ServiceGroups: []string{"packager"}})
	if err != nil {
		return res, err
	}
	cleanups = append(cleanups, oidc.Close)
	const bodhiSecret = "bodhi-demo-secret"
	oidc.AddClient("bodhi", oidctest.Client{Secret: bodhiSecret})
	bodhiKoji, err := world.KojiClient(kojiURL, world.Tagger)
	if err != nil {
		return res, err
	}
	bs, err := bodhisim.New(bodhisim.Options{Koji: bodhisim.KojiXMLRPC{Client: bodhiKoji},
		OIDCIssuer: oidc.Issuer(), OIDCClientID: "bodhi", OIDCClientSecret: bodhiSecret,
		TestingAfter: time.Second, StableAfter: time.Second, Logger: log})
	if err != nil {
		return res, err
	}
	cleanups = append(cleanups, bs.Close)
	prog.Logf("Bodhi simulator %s, Content Resolver fixture %s", bs.URL(), cr.URL)

	// The seven services.
	httpAddr, grpcAddr := freeOr(cfg.HTTPAddr), freeOr(cfg.GRPCAddr)
	svc := allinone.FromEnv(lifecycle.Common{NATSURL: natsURL, Replicas: 1, Config: cfgPath})
	wireServices(&svc, wiring{kojiURL: kojiURL, bodhiURL: bs.URL(), oidc: oidc, dbURL: dbURL,
		httpAddr: httpAddr, grpcAddr: grpcAddr, lull: cfg.Lull, poll: cfg.Poll})
	if useAMQP {
		svc.Bridge.AMQPURL = cfg.AMQPURL
		// A durable queue (the feeder can see its consumer), deleted at the end.
		svc.Bridge.Queue = queue
		cleanups = append(cleanups, func() { _ = world.DeleteQueue(cfg.AMQPURL, queue) })
		svc.Bridge.RoutingKeys = []string{prefix + ".buildsys.#"}
		svc.Bridge.TopicPrefix = prefix
	}
	svcCtx, stopServices := context.WithCancel(context.Background())
	svcDone := make(chan error, 1)
	go func() { svcDone <- allinone.Run(svcCtx, svc, []string{"all"}, log) }()
	cleanups = append(cleanups, func() {
		stopServices()
		select {
		case <-svcDone:
		case <-time.After(30 * time.Second):
		}
	})
	prog.Logf("services: %s in-process; status page http://%s/status.html, gRPC %s", strings.Join(allinone.Names(), ", "), httpAddr, grpcAddr)

	// Follow the batch.
	obsCtx, stopObs := context.WithCancel(ctx)
	defer stopObs()
	ob, err := observe.Start(obsCtx, conn.JS, prog.Event)
	if err != nil {
		return res, err
	}
	go func() {
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-obsCtx.Done():
				return
			case <-t.C:
				prog.Tick()
			}
		}
	}()

	waitCtx, cancelWait := context.WithTimeout(ctx, cfg.Timeout)
	defer cancelWait()
	feedErr := make(chan error, 1)
	go func() { feedErr <- feed(waitCtx, w, kojiURL, cfg.AMQPURL, queue, useAMQP, ob, prog) }()
	var runErr error
	select {
	case runErr = <-feedErr:
	case err := <-svcDone:
		runErr = fmt.Errorf("a service stopped: %w (see %s)", err, logPath)
		svcDone <- err
	}
	prog.Finish()
	obs := ob.Observation()
	res.Completed = observe.Closed(obs, world.Eligible(w.Triggers))
	updates, uerr := listUpdates(context.Background(), bs.URL())
	if uerr != nil {
		log.Warn("listing Bodhi updates failed", "error", uerr)
	}
	obs.Updates = updates
	obs.SideTagExists = hub.TagExists
	obs.SideTagsLeft = func() []string {
		// One look when the batches did not complete (the run fails anyway;
		// leftovers are listed with it); otherwise give Bodhi a moment to
		// remove the last update's side tag.
		wait := time.Duration(0)
		if res.Completed {
			wait = 10 * time.Second
		}
		wctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		return world.WaitSideTagsGone(wctx, func(context.Context) ([]string, error) {
			var left []string
			for _, st := range hub.SideTags() {
				if st.UserName == world.Builder {
					left = append(left, st.Name)
				}
			}
			return left, nil
		})
	}
	res.Findings = world.Check(w.Triggers, ebsCfg.Bodhi, obs)
	if !res.Completed && runErr == nil {
		runErr = errors.New("the batches did not complete")
	}
	if runErr != nil {
		res.Findings = append(res.Findings, world.Finding{Check: "the demo ran to the end", Detail: runErr.Error()})
	}
	WriteSummary(out, SummaryData{Triggers: w.Triggers, Completed: completedFor(obs, w), Updates: updates,
		Koji: CountKojiCalls(hub.CallLog(), world.Tagger), Wall: time.Since(began), Findings: res.Findings})
	if res.OK() {
		fmt.Fprintln(out, "\nThe batch ended as the scenario expects.")
	} else {
		fmt.Fprintf(out, "\nThe batch did NOT end as the scenario expects; the services' log is %s\n", logPath)
	}
	if cfg.ExitWhenDone || ctx.Err() != nil {
		return res, nil
	}
	fmt.Fprintf(out, "\nStatus page: http://%s/status.html  (gRPC %s, Koji %s, Bodhi %s)\nCtrl-C to stop.\n", httpAddr, grpcAddr, kojiURL, bs.URL())
	select {
	case <-ctx.Done():
	case err := <-svcDone:
		return res, fmt.Errorf("a service stopped: %w (see %s)", err, logPath)
	}
	return res, nil
}

// feed tags the world's waves into f45 one after the other, each once the
// previous one's requests are all closed.
func feed(ctx context.Context, w *world.World, kojiURL, amqpURL, queue string, useAMQP bool, ob *observe.Observer, prog *Progress) error {
	if useAMQP {
		prog.Logf("Fedora messages go through RabbitMQ %s (queue %s)", redact(amqpURL), queue)
		if err := world.WaitQueue(ctx, amqpURL, queue); err != nil {
			return err
		}
	} else {
		prog.Logf("no RabbitMQ answers: the Koji simulator's messages go straight into FEDMSG")
	}
	c, err := world.KojiClient(kojiURL, world.Tagger)
	if err != nil {
		return err
	}
	for wave := 0; wave < w.Options.Waves; wave++ {
		trs := w.Wave(wave)
		n, err := world.Feed(ctx, c, trs)
		if err != nil {
			return err
		}
		eligible := world.Eligible(trs)
		prog.Logf("wave %d: %d new Rawhide builds tagged into %s by %s (%d eligible)", wave+1, n, world.TriggerTag, world.Tagger, len(eligible))
		if err := ob.WaitFor(ctx, func(o world.Observation) bool { return observe.Closed(o, eligible) }); err != nil {
			return fmt.Errorf("waiting for wave %d: %w", wave+1, err)
		}
	}
	return nil
}

// completedFor keeps the batches holding the world's packages.
func completedFor(obs world.Observation, w *world.World) []*ebsv1.BatchCompleted {
	mine := map[string]bool{}
	for _, t := range w.Triggers {
		mine[t.NVR] = true
	}
	var out []*ebsv1.BatchCompleted
	for _, bc := range obs.Completed {
		for _, o := range bc.GetOutcomes() {
			if mine[o.GetSourceNvr()] {
				out = append(out, bc)
				break
			}
		}
	}
	return out
}

func listUpdates(ctx context.Context, bodhiURL string) ([]world.Update, error) {
	c, err := bodhi.New(bodhi.Options{BaseURL: bodhiURL})
	if err != nil {
		return nil, err
	}
	var out []world.Update
	for page := 1; ; page++ {
		p, err := c.ListUpdates(ctx, bodhi.UpdateQuery{Page: page, RowsPerPage: 100})
		if err != nil {
			return out, err
		}
		for _, u := range p.Updates {
			out = append(out, world.Update{Alias: u.Alias, FromTag: u.FromTag, Status: u.Status, NVRs: u.NVRs()})
		}
		if page >= p.Pages {
			return out, nil
		}
	}
}

func startNATS(storeDir string) (*server.Server, string, error) {
	ns, err := server.NewServer(&server.Options{ServerName: "ebs-demo", Host: "127.0.0.1", Port: server.RANDOM_PORT,
		JetStream: true, StoreDir: storeDir, MaxPayload: natsx.MaxPayload, NoSigs: true, NoLog: true})
	if err != nil {
		return nil, "", fmt.Errorf("ebs demo: nats-server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(30 * time.Second) {
		ns.Shutdown()
		return nil, "", errors.New("ebs demo: nats-server did not start")
	}
	return ns, ns.ClientURL(), nil
}

// freshDatabase (re)creates the history database, so the history matches
// this run's fresh JetStream.
func freshDatabase(ctx context.Context, adminURL, name string) (string, error) {
	c, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("ebs demo: PostgreSQL: %w", err)
	}
	_, err = c.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	_ = c.Close(ctx)
	if err != nil {
		return "", fmt.Errorf("ebs demo: drop database %s: %w", name, err)
	}
	return pglocal.EnsureDatabase(ctx, adminURL, name)
}

func startKoji(ctx context.Context, w *world.World, sink kojihub.Sink, prefix string, log *slog.Logger) (*kojihub.Hub, string, error) {
	// The same scenario file kojisim reads in the end-to-end tests and compose.
	text, err := w.ScenarioYAML()
	if err != nil {
		return nil, "", err
	}
	file, err := kojihub.ParseScenarioFile(text)
	if err != nil {
		return nil, "", err
	}
	opts := file.Options()
	opts.Sink, opts.TopicPrefix, opts.Logger = sink, prefix, log
	hub, err := kojihub.New(opts)
	if err != nil {
		return nil, "", err
	}
	url, err := hub.Listen(ctx, "127.0.0.1:0")
	if err != nil {
		hub.Close()
		return nil, "", err
	}
	return hub, url, nil
}

// amqpAnswers reports whether a RabbitMQ accepts a connection at url.
func amqpAnswers(url string) bool {
	c, err := amqp.DialConfig(url, amqp.Config{Dial: func(network, addr string) (net.Conn, error) {
		return net.DialTimeout(network, addr, 2*time.Second)
	}})
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// freeOr returns addr when it can be listened on, else a free port on its
// host; port 0 is resolved to a concrete free port.
func freeOr(addr string) string {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		host, _, _ := net.SplitHostPort(addr)
		if l, err = net.Listen("tcp", net.JoinHostPort(host, "0")); err != nil {
			return addr
		}
	}
	defer l.Close()
	return l.Addr().String()
}

func redact(u string) string {
	if i := strings.Index(u, "@"); i > 0 {
		if j := strings.Index(u, "://"); j > 0 && j < i {
			return u[:j+3] + u[i+1:]
		}
	}
	return u
}

var idMu sync.Mutex

func newID() string {
	idMu.Lock()
	defer idMu.Unlock()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
