package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"google.golang.org/protobuf/proto"

	"github.com/fedora-eln/ebs/libs/benchkit"
	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/contentresolver"
	"github.com/fedora-eln/ebs/libs/contentresolver/crfixture"
	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/oidctest"
	bodhisim "github.com/fedora-eln/ebs/libs/sim/bodhi"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// productionConfig is Fedora's production distrobaker.yaml (the
// elnbuildsync-config repository), used unchanged but for the Content
// Resolver URL: real skip_tag, exclude and ordering rules, Bodhi chunks of 750.
//
//go:embed distrobaker.yaml
var productionConfig string

// Services are the seven ebs services, in start order.
var Services = []string{"status", "bridge", "filter", "batcher", "koji-worker", "repo-watcher", "bodhi-publisher"}

const (
	amqpURL     = "amqp://guest:guest@127.0.0.1:5672/"
	postgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	botUser     = "eln-buildsync"
	bodhiUser   = "bodhi"
)

// System is ebs running as processes (the e2e layout) with its
// dependencies: nats-server as a process, the Koji and Bodhi simulators,
// the OIDC provider and the Content Resolver fixture in the harness.
type System struct {
	opts   Options
	log    *slog.Logger
	Dir    string
	BinDir string
	NATS   *benchkit.Proc
	Procs  map[string]*benchkit.Proc
	Conn   *natsx.Conn
	Hub    *kojihub.Hub
	World  *kojihub.Generated
	Config *config.Config
	Bodhi  *bodhisim.Server

	NATSURL, KojiURL, DBName, Prefix, Queue, StatusURL string

	// Listed are world packages in the Content Resolver lists (eligible:
	// not excluded, not renamed); Unlisted are the other world packages.
	Listed, Unlisted []string

	sinkFailed *atomic.Int64
	pending    jetstream.KeyValue
	control    jetstream.KeyValue
	closers    []func()
}

// buildBinaries builds the seven services and nats-server (from the module
// cache: libs requires it) without -race.
func buildBinaries(ctx context.Context, repo, dir string) error {
	pkgs := []string{}
	for _, s := range Services {
		pkgs = append(pkgs, "github.com/fedora-eln/ebs/services/"+s)
	}
	build := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "go", append([]string{"build"}, args...)...)
		cmd.Dir = repo
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := build(append([]string{"-o", dir + "/"}, pkgs...)...); err != nil {
		return err
	}
	return build("-o", filepath.Join(dir, "nats-server"), "github.com/nats-io/nats-server/v2")
}

// preflight fails with how to start what is missing.
func preflight() error {
	c, err := amqp.DialConfig(amqpURL, amqp.Config{Dial: func(network, addr string) (net.Conn, error) {
		return net.DialTimeout(network, addr, 3*time.Second)
	}})
	if err != nil {
		return fmt.Errorf("RabbitMQ does not answer on 127.0.0.1:5672 (%v): start it with `rabbitmq-server -detached` (see DEVELOPERS.md)", err)
	}
	_ = c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	pc, err := pgx.Connect(ctx, postgresURL)
	if err != nil {
		return fmt.Errorf("PostgreSQL does not answer on 127.0.0.1:5432 (%v): start it with "+
			"`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` (see DEVELOPERS.md)", err)
	}
	_ = pc.Close(ctx)
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// asyncSink stores the Koji simulator's messages straight into FEDMSG, as
// the bridge would (subject without the environment prefix, Nats-Msg-Id =
// message id), with asynchronous publishes in order on one connection so
// that the simulator's message queue never holds the batch back.
type asyncSink struct {
	js     jetstream.JetStream
	prefix string
	failed *atomic.Int64
}

func newAsyncSink(nc *nats.Conn, prefix string, log *slog.Logger) (asyncSink, error) {
	s := asyncSink{prefix: prefix, failed: new(atomic.Int64)}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			s.failed.Add(1)
			log.Warn("storing a Koji message failed", "subject", m.Subject, "error", err)
		}))
	s.js = js
	return s, err
}

func (s asyncSink) Publish(ctx context.Context, m fedmsg.Message) error {
	data, err := proto.Marshal(m.ToProto(time.Now()))
	if err != nil {
		return err
	}
	msg := &nats.Msg{Subject: natsx.FedmsgSubject(m.Topic, s.prefix), Data: data, Header: nats.Header{}}
	msg.Header.Set(natsx.HeaderType, string((&ebsv1.FedoraMessage{}).ProtoReflect().Descriptor().FullName()))
	msg.Header.Set(natsx.HeaderContentType, natsx.ContentTypeProto)
	_, err = s.js.PublishMsgAsync(msg, jetstream.WithMsgID(m.ID), jetstream.WithStallWait(time.Minute))
	return err
}

// bodhiKoji is Bodhi's view of Koji: reads over XML-RPC as Bodhi's own
// account (its calls are counted apart from ebs's), and the stable push's
// tagging done in the simulator directly (Bodhi's cost, not ebs's).
type bodhiKoji struct {
	bodhisim.KojiXMLRPC
	hub *kojihub.Hub
}

func (k bodhiKoji) TagBuild(_ context.Context, tag, nvr string) error {
	if err := k.hub.Tag(tag, nvr, bodhiUser); err != nil && !strings.Contains(err.Error(), "already tagged") {
		return err
	}
	return nil
}

// Start brings the whole system up and waits until every service is ready.
func Start(ctx context.Context, o Options, log *slog.Logger) (*System, error) {
	s := &System{opts: o, log: log, Procs: map[string]*benchkit.Proc{}}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	var err error
	if s.Dir, err = os.MkdirTemp("", "ebsbench-"); err != nil {
		return nil, err
	}
	s.BinDir = o.BinDir
	if s.BinDir == "" {
		s.BinDir = filepath.Join(s.Dir, "bin")
		t0 := time.Now()
		log.Info("building the services and nats-server")
		if err := buildBinaries(ctx, o.Repo, s.BinDir); err != nil {
			return nil, err
		}
		log.Info("built", "seconds", time.Since(t0).Seconds())
	}
	id := fmt.Sprintf("%d", time.Now().UnixNano()%1e9)
	s.Prefix = "org.fedoraproject.bench" + id
	s.Queue = "ebs-bench-" + id

	// nats-server: JetStream on file storage, ebs's max_payload.
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	conf := filepath.Join(s.Dir, "nats.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "server_name: ebs-bench\nlisten: 127.0.0.1:%d\nmax_payload: %d\n"+
		"jetstream {\n  store_dir: %q\n}\n", port, natsx.MaxPayload, filepath.Join(s.Dir, "jetstream")), 0o644); err != nil {
		return nil, err
	}
	s.NATSURL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	s.NATS = &benchkit.Proc{Name: "nats-server", Bin: filepath.Join(s.BinDir, "nats-server"), Args: []string{"-c", conf},
		Log: filepath.Join(s.Dir, "nats-server.log")}
	if err := s.NATS.Start(); err != nil {
		return nil, err
	}
	if err := s.NATS.WaitReady(ctx, func() error {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		return nil, err
	}
	if s.Conn, err = natsx.Connect(ctx, natsx.ConnectOptions{URL: s.NATSURL, Name: "ebsbench", Logger: slog.New(slog.DiscardHandler)}); err != nil {
		return nil, err
	}
	if err := natsx.Provision(ctx, s.Conn.JS, natsx.ProvisionOptions{}); err != nil {
		return nil, err
	}
	if s.pending, err = s.Conn.JS.KeyValue(ctx, natsx.BucketPending); err != nil {
		return nil, err
	}
	if s.control, err = s.Conn.JS.KeyValue(ctx, natsx.BucketControl); err != nil {
		return nil, err
	}
	// Batches wait until the harness says so.
	if err := s.SetPause(ctx, true); err != nil {
		return nil, err
	}

	// The configuration (Fedora's production file) and the component
	// universe: a share of the world's packages is listed.
	if err := s.world(ctx); err != nil {
		return nil, err
	}

	// PostgreSQL for status.
	s.DBName = "ebs_bench_" + id
	if err := s.createDB(ctx); err != nil {
		return nil, err
	}

	// The seven services.
	if err := s.startServices(ctx); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

func (s *System) world(ctx context.Context) error {
	// Koji: HTTPS with client-certificate login, a 25,000-package world,
	// builds and repos that take no time.
	pki, err := kojihub.NewPKI()
	if err != nil {
		return err
	}
	pkiDir := filepath.Join(s.Dir, "pki")
	if err := os.MkdirAll(pkiDir, 0o755); err != nil {
		return err
	}
	for _, u := range []string{botUser, bodhiUser} {
		if _, _, err := pki.WriteClientFiles(pkiDir, u); err != nil {
			return err
		}
	}
	sink, err := newAsyncSink(s.Conn.NC, fedmsg.PrefixProd, s.log)
	if err != nil {
		return err
	}
	s.sinkFailed = sink.failed
	// Zero-time builds, tagging and repos (1 ns: the simulator reads 0 as
	// its 20 ms default).
	instant := kojihub.Duration(time.Nanosecond)
	s.Hub, err = kojihub.New(kojihub.Options{Seed: 9, TLS: true, PKI: pki, Sink: sink,
		Scenario: &kojihub.Scenario{Default: kojihub.Outcome{Result: kojihub.ResultSucceed, Duration: instant},
			TagDelay: instant, RepoDelay: instant}})
	if err != nil {
		return err
	}
	if s.World, err = s.Hub.Generate(kojihub.GenerateOptions{Packages: s.opts.WorldPackages, ELNFraction: 0.1}); err != nil {
		return err
	}
	hctx, stopHub := context.WithCancel(context.Background())
	s.closers = append(s.closers, stopHub)
	if s.KojiURL, err = s.Hub.Listen(hctx, "127.0.0.1:0"); err != nil {
		return err
	}

	// Content Resolver lists: the first ListedPackages world packages that
	// the production configuration neither excludes nor renames.
	cfg0, err := config.Parse("distrobaker.yaml", []byte(productionConfig))
	if err != nil {
		return err
	}
	renamed := map[string]bool{}
	for down, ov := range cfg0.Components.Overrides {
		renamed[down], renamed[ov.UpstreamName] = true, true
	}
	for _, p := range s.World.Packages {
		switch {
		case renamed[p]:
		case len(s.Listed) < s.opts.ListedPackages && !cfg0.Control.Excluded(p) && s.World.Rawhide[p] != "":
			s.Listed = append(s.Listed, p)
		default:
			s.Unlisted = append(s.Unlisted, p)
		}
	}
	half := len(s.Listed) * 3 / 4
	lists := []contentresolver.List{
		{View: "eln", Source: "source", Names: append([]string(nil), s.Listed[:half]...)},
		{View: "eln", Source: "buildroot-source", Names: append([]string(nil), s.Listed[half:]...)},
		{View: "eln-extras", Source: "source", Names: []string{}},
		{View: "eln-extras", Source: "buildroot-source", Names: []string{}},
	}
	cr, err := crfixture.Start("127.0.0.1:0", lists...)
	if err != nil {
		return err
	}
	s.closers = append(s.closers, cr.Close)
	yaml := strings.Replace(productionConfig, "content_resolver: https://tiny.distro.builders", "content_resolver: "+cr.URL, 1)
	if yaml == productionConfig {
		return errors.New("ebsbench: the embedded configuration has no content_resolver line to point at the fixture")
	}
	if s.Config, err = config.Parse("ebs.yaml", []byte(yaml)); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(s.Dir, "ebs.yaml"), []byte(yaml), 0o644); err != nil {
		return err
	}

	// OIDC provider and Bodhi: updates go testing then stable quickly.
	idp, err := oidctest.New(oidctest.Options{ClientID: botUser, ServiceGroups: []string{"packager"}, TokenTTL: 24 * time.Hour})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, idp.Close)
	idp.AddClient("bodhi", oidctest.Client{Secret: "bodhi-secret"})
	if err := os.WriteFile(filepath.Join(s.Dir, "bodhi.token"), []byte(idp.Token(botUser)+"\n"), 0o600); err != nil {
		return err
	}
	tc, err := koji.TLSConfig(filepath.Join(pkiDir, bodhiUser+".pem"), "", filepath.Join(pkiDir, "ca.pem"))
	if err != nil {
		return err
	}
	bc, err := koji.New(koji.Options{URL: s.KojiURL, HTTPClient: koji.HTTPClientFor(tc), Auth: koji.SSLAuth{}})
	if err != nil {
		return err
	}
	s.Bodhi, err = bodhisim.New(bodhisim.Options{Koji: bodhiKoji{KojiXMLRPC: bodhisim.KojiXMLRPC{Client: bc}, hub: s.Hub},
		OIDCIssuer: idp.Issuer(), OIDCClientID: "bodhi", OIDCClientSecret: "bodhi-secret",
		TestingAfter: s.opts.BodhiStep, StableAfter: s.opts.BodhiStep, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	s.closers = append(s.closers, s.Bodhi.Close)
	return nil
}

func (s *System) createDB(ctx context.Context) error {
	c, err := pgx.Connect(ctx, postgresURL)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "CREATE DATABASE "+s.DBName); err != nil {
		return fmt.Errorf("create database %s: %w", s.DBName, err)
	}
	return nil
}

func (s *System) dropDB() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, postgresURL)
	if err != nil {
		return
	}
	defer c.Close(ctx)
	_, _ = c.Exec(ctx, "DROP DATABASE IF EXISTS "+s.DBName+" WITH (FORCE)")
}

func (s *System) serviceEnv() (map[string][]string, error) {
	pki := filepath.Join(s.Dir, "pki")
	common := []string{
		"EBS_NATS_URL=" + s.NATSURL,
		"EBS_CONFIG=" + filepath.Join(s.Dir, "ebs.yaml"),
		"EBS_KOJI_URL=" + s.KojiURL,
		"EBS_KOJI_CA=" + filepath.Join(pki, "ca.pem"),
		"EBS_BODHI_URL=" + s.Bodhi.URL() + "/",
		"EBS_LOG_LEVEL=info",
		"SSL_CERT_FILE=" + filepath.Join(pki, "ca.pem"),
	}
	env := map[string][]string{
		"bridge": {"EBS_AMQP_URL=" + amqpURL, "EBS_AMQP_QUEUE=" + s.Queue, "EBS_AMQP_ROUTING_KEYS=" + s.Prefix + ".buildsys.#",
			"EBS_TOPIC_PREFIX=" + s.Prefix},
		"filter":          {"EBS_RECONCILE_INTERVAL=-1s"},
		"batcher":         {"EBS_LULL=" + s.opts.Lull.String(), "EBS_LOCK_TTL=" + s.opts.LockTTL.String(), "EBS_DRAFT_BUILDS=true"},
		"koji-worker":     {"EBS_KOJI_CERT=" + filepath.Join(pki, botUser+".pem")},
		"repo-watcher":    {},
		"bodhi-publisher": {"EBS_BODHI_TOKEN_FILE=" + filepath.Join(s.Dir, "bodhi.token")},
		"status": {"EBS_DATABASE_URL=" + strings.Replace(postgresURL, "/postgres?", "/"+s.DBName+"?", 1),
			"EBS_GRPC_ADDR=127.0.0.1:0"},
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s.StatusURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	env["status"] = append(env["status"], fmt.Sprintf("EBS_HTTP_ADDR=127.0.0.1:%d", port))
	out := map[string][]string{}
	for _, name := range Services {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		out[name] = append(append(append([]string(nil), common...), env[name]...), fmt.Sprintf("EBS_ADMIN_ADDR=127.0.0.1:%d", port))
	}
	return out, nil
}

func (s *System) startServices(ctx context.Context) error {
	env, err := s.serviceEnv()
	if err != nil {
		return err
	}
	for _, name := range Services {
		admin := ""
		for _, e := range env[name] {
			if a, ok := strings.CutPrefix(e, "EBS_ADMIN_ADDR="); ok {
				admin = a
			}
		}
		p := &benchkit.Proc{Name: name, Bin: filepath.Join(s.BinDir, name), Env: env[name], Admin: admin,
			Log: filepath.Join(s.Dir, name+".log")}
		s.Procs[name] = p
		if err := p.Start(); err != nil {
			return err
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for _, name := range Services {
		if err := s.Procs[name].WaitReady(rctx, nil); err != nil {
			return err
		}
	}
	if err := s.waitQueue(rctx); err != nil {
		return err
	}
	// status.json is generated from Koji at start-up (listBuilds of every
	// listed component): measurements start once it is done, so its Koji
	// calls are not counted as a batch's.
	return s.Procs["status"].WaitReady(rctx, func() error {
		resp, err := http.Get(s.StatusURL + "/status.json")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("/status.json: %s", resp.Status)
		}
		return nil
	})
}

// waitQueue waits until the bridge declared its queue.
func (s *System) waitQueue(ctx context.Context) error {
	for {
		c, err := amqp.Dial(amqpURL)
		if err == nil {
			ch, cerr := c.Channel()
			if cerr == nil {
				_, err = ch.QueueDeclarePassive(s.Queue, true, false, false, false, nil)
			} else {
				err = cerr
			}
			_ = c.Close()
			if err == nil {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the bridge's queue %s was not declared: %w", s.Queue, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ServicePids maps each running service to its pid.
func (s *System) ServicePids() map[string]int {
	out := map[string]int{}
	for n, p := range s.Procs {
		if pid := p.Pid(); pid > 0 && p.Running() {
			out[n] = pid
		}
	}
	return out
}

// Crashes lists service exits the harness did not cause.
func (s *System) Crashes() []string {
	var out []string
	for _, n := range Services {
		if p := s.Procs[n]; p != nil {
			out = append(out, p.Crashes()...)
		}
	}
	if s.NATS != nil {
		out = append(out, s.NATS.Crashes()...)
	}
	return out
}

// SetPause sets the runtime pause in KV ebs_control, as status does.
func (s *System) SetPause(ctx context.Context, paused bool) error {
	b, err := proto.Marshal(&ebsv1.ControlState{Paused: paused, Reason: "ebsbench"})
	if err != nil {
		return err
	}
	_, err = s.control.Put(ctx, natsx.KeyPause, b)
	return err
}

// PendingKeys lists KV ebs_pending.
func (s *System) PendingKeys(ctx context.Context) ([]string, error) {
	keys, err := s.pending.Keys(ctx)
	if errors.Is(err, jetstream.ErrNoKeysFound) {
		return nil, nil
	}
	sort.Strings(keys)
	return keys, err
}

// PurgePending empties KV ebs_pending.
func (s *System) PurgePending(ctx context.Context) error {
	keys, err := s.PendingKeys(ctx)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := s.pending.Purge(ctx, k); err != nil {
			return err
		}
	}
	return nil
}

// PendingWatch counts the distinct keys put into KV ebs_pending.
type PendingWatch struct {
	n       atomic.Int64
	changed chan struct{}
	stop    func()
}

// WatchPending starts counting.
func (s *System) WatchPending(ctx context.Context) (*PendingWatch, error) {
	w, err := s.pending.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, err
	}
	pw := &PendingWatch{changed: make(chan struct{}, 1), stop: func() { _ = w.Stop() }}
	go func() {
		seen := map[string]bool{}
		for e := range w.Updates() {
			if e == nil || e.Operation() != jetstream.KeyValuePut || seen[e.Key()] {
				continue
			}
			seen[e.Key()] = true
			pw.n.Store(int64(len(seen)))
			select {
			case pw.changed <- struct{}{}:
			default:
			}
		}
	}()
	return pw, nil
}

// Wait waits until n keys were seen; it returns when that happened.
func (pw *PendingWatch) Wait(ctx context.Context, n int) (time.Time, error) {
	for {
		if pw.n.Load() >= int64(n) {
			return time.Now(), nil
		}
		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("%d of %d requests pending: %w", pw.n.Load(), n, ctx.Err())
		case <-pw.changed:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Count is the number of keys seen so far.
func (pw *PendingWatch) Count() int { return int(pw.n.Load()) }

// Stop ends the watch.
func (pw *PendingWatch) Stop() { pw.stop() }

// Close stops everything and removes what the run made.
func (s *System) Close() {
	for i := len(Services) - 1; i >= 0; i-- {
		if p := s.Procs[Services[i]]; p != nil {
			p.Stop()
		}
	}
	if s.Conn != nil {
		_ = s.Conn.Close()
	}
	if s.NATS != nil {
		s.NATS.Stop()
	}
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
	if s.Queue != "" {
		if c, err := amqp.Dial(amqpURL); err == nil {
			if ch, err := c.Channel(); err == nil {
				_, _ = ch.QueueDelete(s.Queue, false, false, false)
			}
			_ = c.Close()
		}
	}
	if s.DBName != "" {
		s.dropDB()
	}
	if s.Dir != "" && !s.opts.Keep {
		_ = os.RemoveAll(s.Dir)
	}
}
