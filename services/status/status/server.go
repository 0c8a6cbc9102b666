package status

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/fedora-eln/ebs/libs/auth"
	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/contentresolver"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/store"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// Mutating is every StatusService method that needs an admin.
var Mutating = map[string]bool{
	ebsv1.StatusService_TriggerRebuild_FullMethodName:      true,
	ebsv1.StatusService_Pause_FullMethodName:               true,
	ebsv1.StatusService_Resume_FullMethodName:              true,
	ebsv1.StatusService_RemoveDenylistEntry_FullMethodName: true,
}

// Server is a started status service.
type Server struct {
	// HTTPAddr and GRPCAddr are the bound addresses.
	HTTPAddr, GRPCAddr string
	// Store is the status database (tests seed and inspect it).
	Store *store.Store

	cfg     Config
	secrets secrets
	log     *slog.Logger
	admin   *lifecycle.Admin
	conn    *natsx.Conn
	svc     *service
	auth    *auth.Authenticator
	m       *metrics
	json    statusJSON
	grpc    *grpc.Server
	http    *http.Server
	health  *health.Server
	ready   atomic.Bool
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	errc    chan error
}

// Run runs the service until ctx ends.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	s, err := Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	return s.Wait()
}

// Start connects to NATS and PostgreSQL (creating the database and applying
// migrations), starts the projection, the mailer, the gRPC and HTTP servers
// and the admin server, and returns once they listen. The service stops when
// ctx ends; Wait waits for that.
func Start(parent context.Context, cfg Config, log *slog.Logger) (*Server, error) {
	cfg.withDefaults()
	log = log.With("component", Name)
	sec, err := loadSecrets(cfg, os.LookupEnv, log)
	if err != nil {
		return nil, err
	}
	if cfg.DatabaseURL, err = withDBPassword(cfg.DatabaseURL, sec.dbPassword); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(parent)
	s := &Server{cfg: cfg, secrets: sec, log: log, admin: cfg.NewAdmin(), cancel: cancel, errc: make(chan error, 8)}
	ok := false
	defer func() {
		if !ok {
			cancel()
			s.closeAll()
		}
	}()
	s.m = newMetrics(s.admin.Registry)
	// The configuration: given, or loaded (file, https:// or git+ source)
	// and kept refreshed; OIDC and mail settings are read once at start.
	settings := func() *config.Config { return cfg.Settings }
	if cfg.Settings == nil && cfg.Config != "" {
		// NATS first: a rejected refresh is reported on ebs.config.rejected
		// like in every other service.
		if s.conn, err = cfg.ConnectNATS(ctx, Name, log); err != nil {
			return nil, err
		}
		w, err := config.NewWatcher(ctx, cfg.Config, config.WatchOptions{Service: Name, Interval: cfg.ConfigRefresh,
			Logger: log, Registerer: s.admin.Registry, JetStream: s.conn.JS})
		if err != nil {
			return nil, fmt.Errorf("status: configuration: %w", err)
		}
		s.cfg.Settings, cfg.Settings = w.Current(), w.Current()
		settings = w.Current
		s.goRun("config", func() error {
			if err := w.Run(ctx); err != nil && ctx.Err() == nil {
				return err
			}
			return nil
		})
	}
	if err := sec.requireFor(cfg.Settings); err != nil {
		return nil, err
	}
	if s.conn == nil {
		if s.conn, err = cfg.ConnectNATS(ctx, Name, log); err != nil {
			return nil, err
		}
	}
	s.Store, err = store.Open(ctx, cfg.DatabaseURL, store.Options{Logger: log, CreateDatabase: true})
	if err != nil {
		return nil, err
	}
	if cfg.ReplayHistory {
		if err := replay(ctx, s.Store, s.conn, cfg.Replicas, cfg.ReplayHistoryForce, log); err != nil {
			return nil, err
		}
		log.Warn("history emptied; replaying the EBS stream from its start")
	}
	kv := func(bucket string) (jetstream.KeyValue, error) { return s.conn.KV(ctx, bucket) }
	pendingKV, err := kv(natsx.BucketPending)
	if err != nil {
		return nil, err
	}
	controlKV, err := kv(natsx.BucketControl)
	if err != nil {
		return nil, err
	}
	failedKV, err := kv(natsx.BucketFailed)
	if err != nil {
		return nil, err
	}
	s.auth, err = newAuthenticator(ctx, cfg, sec.oidcClientSecret, s.Store, log)
	if err != nil {
		return nil, err
	}
	s.svc = &service{
		st: s.Store, js: s.conn.JS, settings: settings, auth: s.auth, kojiWebURL: cfg.KojiWebURL, log: log, now: time.Now, done: ctx.Done(),
		pending:  natsx.NewProtoKV(pendingKV, func() *ebsv1.PendingRequest { return new(ebsv1.PendingRequest) }),
		control:  natsx.NewProtoKV(controlKV, func() *ebsv1.ControlState { return new(ebsv1.ControlState) }),
		denylist: natsx.NewProtoKV(failedKV, func() *ebsv1.DenylistEntry { return new(ebsv1.DenylistEntry) }),
	}

	grpcLn, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return nil, fmt.Errorf("status: listen gRPC %s: %w", cfg.GRPCAddr, err)
	}
	s.GRPCAddr = grpcLn.Addr().String()
	httpLn, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		grpcLn.Close()
		return nil, fmt.Errorf("status: listen HTTP %s: %w", cfg.HTTPAddr, err)
	}
	s.HTTPAddr = httpLn.Addr().String()

	ai := auth.Interceptors{A: s.auth, Mutating: Mutating}
	s.grpc = grpc.NewServer(
		grpc.ChainUnaryInterceptor(s.unaryObserve, ai.Unary()),
		grpc.ChainStreamInterceptor(s.streamObserve, ai.Stream()),
	)
	ebsv1.RegisterStatusServiceServer(s.grpc, s.svc)
	s.health = health.NewServer()
	healthpb.RegisterHealthServer(s.grpc, s.health)
	reflection.Register(s.grpc)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)

	gw := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
		MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
		UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: true},
	}), runtime.WithForwardResponseOption(flushStreamHeaders))
	gwConn, err := grpc.NewClient("passthrough:///"+s.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("status: gateway client: %w", err)
	}
	if err := ebsv1.RegisterStatusServiceHandler(ctx, gw, gwConn); err != nil {
		return nil, fmt.Errorf("status: gateway: %w", err)
	}
	// No WriteTimeout (nor ReadTimeout): /v1/events, the status page's live
	// updates, is one response that lasts as long as the page is open, and
	// a write deadline would cut it off. ReadHeaderTimeout bounds slow
	// clients; an idle stream ended by a proxy is reopened by the page.
	s.http = &http.Server{Handler: s.routes(gw), ReadHeaderTimeout: 10 * time.Second}

	s.goRun("grpc", func() error {
		if err := s.grpc.Serve(grpcLn); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			return err
		}
		return nil
	})
	s.goRun("http", func() error {
		if err := s.http.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	s.goRun("projection", func() error {
		return s.Store.Project(ctx, s.conn.JS, store.ProjectOptions{Logger: log, OnEvent: s.m.observe})
	})
	if err := s.startMailer(ctx); err != nil {
		return nil, err
	}
	s.startStatusJSON(ctx)
	s.goRun("gauges", func() error { s.refreshGauges(ctx); return nil })
	s.goRun("admin", func() error { return s.admin.Serve(ctx, cfg.AdminAddr, log, nil) })
	s.goRun("shutdown", func() error {
		<-ctx.Done()
		s.health.Shutdown()
		sctx, c := context.WithTimeout(context.Background(), 10*time.Second)
		defer c()
		_ = s.http.Shutdown(sctx)
		stopped := make(chan struct{})
		go func() { s.grpc.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-sctx.Done():
			s.grpc.Stop()
		}
		_ = gwConn.Close()
		return nil
	})
	s.ready.Store(true)
	s.admin.Ready()
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(ebsv1.StatusService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	log.Info("connected to NATS and PostgreSQL; status service started", "http", s.HTTPAddr, "grpc", s.GRPCAddr, "auth", s.auth.Enabled(),
		"database", store.Redact(cfg.DatabaseURL))
	ok = true
	return s, nil
}

func (s *Server) goRun(name string, f func() error) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := f(); err != nil {
			s.log.Error("status: "+name+" stopped", "error", err)
			// The service stops: /alive says so while it shuts down.
			s.admin.SetAlive(false)
			s.errc <- fmt.Errorf("status %s: %w", name, err)
			s.cancel()
		}
	}()
}

// Metrics is the service's registry (served on /metrics of both the HTTP
// and the admin port).
func (s *Server) Metrics() *prometheus.Registry { return s.admin.Registry }

// Stop stops the service and waits for it.
func (s *Server) Stop() error {
	s.cancel()
	return s.Wait()
}

// Wait waits until the service stopped and returns the first error.
func (s *Server) Wait() error {
	s.wg.Wait()
	s.closeAll()
	select {
	case err := <-s.errc:
		return err
	default:
		return nil
	}
}

func (s *Server) closeAll() {
	if s.Store != nil {
		s.Store.Close()
	}
	if s.conn != nil {
		_ = s.conn.Close()
	}
}

// ErrReplayIncomplete: -replay-history was refused because the EBS stream
// no longer holds its first messages.
var ErrReplayIncomplete = errors.New("status: refusing to replay history")

// replay empties the projection and recreates its durable consumer, which
// then delivers the stream from its first message. The EBS stream keeps 30
// days (natsx.Streams), while the history tables keep everything projected;
// once messages have expired a replay would replace that older history with
// nothing, so it is refused unless forced.
func replay(ctx context.Context, st *store.Store, conn *natsx.Conn, replicas int, force bool, log *slog.Logger) error {
	stream, err := conn.JS.Stream(ctx, natsx.StreamEBS)
	if err != nil {
		return fmt.Errorf("status: replay: %w", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("status: replay: %w", err)
	}
	// An unused stream has FirstSeq 0; one that lost messages starts after 1.
	if first := info.State.FirstSeq; first > 1 {
		if !force {
			return fmt.Errorf("%w: the %s stream starts at message %d (messages 1-%d expired or were purged), "+
				"so replaying would drop the history projected from them; run with -replay-history-force "+
				"(EBS_REPLAY_HISTORY_FORCE=true) to replay anyway and keep only what the stream still holds",
				ErrReplayIncomplete, natsx.StreamEBS, first, first-1)
		}
		log.Warn("forced replay: history older than the stream's first message is dropped", "stream", natsx.StreamEBS, "first_seq", first)
	}
	if err := st.Reset(ctx); err != nil {
		return err
	}
	if err := conn.JS.DeleteConsumer(ctx, natsx.StreamEBS, natsx.ConsumerStatus); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return fmt.Errorf("status: replay: delete consumer: %w", err)
	}
	if err := natsx.Provision(ctx, conn.JS, natsx.ProvisionOptions{Replicas: replicas}); err != nil {
		return fmt.Errorf("status: replay: %w", err)
	}
	return nil
}

func newAuthenticator(ctx context.Context, cfg Config, secret string, st *store.Store, log *slog.Logger) (*auth.Authenticator, error) {
	ac := auth.Config{Logger: log, HTTPClient: cfg.OIDCHTTPClient}
	if cfg.Settings != nil && cfg.Settings.OIDC != nil {
		o := cfg.Settings.OIDC
		ac.Enabled = true
		ac.Issuer, ac.AuthURL, ac.TokenURL, ac.UserinfoURL = cfg.OIDCIssuer, o.AuthURL, o.TokenEndpoint, o.UserinfoEndpoint
		ac.ClientID, ac.ClientSecret, ac.Scopes, ac.AdminGroups = o.ClientID, secret, o.Scopes, o.AdminGroups
	}
	return auth.New(ctx, ac, st)
}

// refreshGauges keeps the pending-size, pause and running-batch gauges
// current, and purges expired sessions.
func (s *Server) refreshGauges(ctx context.Context) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	n := 0
	for {
		if items, err := s.svc.pendingItems(ctx); err == nil {
			s.m.pending.Set(float64(len(items)))
		}
		if c, err := s.svc.controlState(ctx); err == nil {
			p := 0.0
			if c.GetPaused() || s.svc.configPaused() {
				p = 1
			}
			s.m.paused.Set(p)
		}
		if run, err := s.Store.RunningBatch(ctx); err == nil {
			s.m.batchRunning.Set(1)
			s.m.batchPhase.Set(float64(run.Phase))
		} else if errors.Is(err, store.ErrNotFound) {
			s.m.batchRunning.Set(0)
			s.m.batchPhase.Set(0)
		}
		if n%720 == 0 { // hourly
			if k, err := s.Store.PurgeExpired(ctx); err == nil && k > 0 {
				s.log.Info("purged expired sessions", "rows", k)
			}
		}
		n++
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) startStatusJSON(ctx context.Context) {
	koji := s.cfg.Koji
	if koji == nil {
		var err error
		if koji, err = defaultKojiReader(s.cfg.KojiHubURL, s.admin.Registry); err != nil {
			s.log.Error("/status.json stays 503: no Koji client", "error", err)
			return
		}
	}
	if koji == nil {
		s.log.Warn("no Koji hub configured: /status.json stays 503 (set --koji-url / EBS_KOJI_URL)")
		return
	}
	comps := s.cfg.Components
	if comps == nil && s.cfg.Settings != nil && s.cfg.Settings.Components.AutoPackageList != nil {
		comps = ContentResolverComponents(&contentresolver.Client{}, s.cfg.Settings.Components)
	}
	if comps == nil {
		comps = s.knownComponents
	}
	g := &statusGenerator{koji: koji, components: comps, kojiWebURL: s.cfg.KojiWebURL, now: time.Now, log: s.log}
	interval := 10 * time.Minute
	if st := s.cfg.Settings; st != nil {
		g.stableTag, g.user = st.Koji.StableTag, st.Koji.Username
		if st.Control.StatusInterval > 0 {
			interval = st.Control.StatusInterval
		}
	}
	if g.stableTag == "" {
		g.stableTag = "eln"
	}
	if g.user == "" {
		// The original falls back to getLoggedInUser(); status reads Koji
		// anonymously, so it has no user to fall back to.
		s.log.Warn("koji.username is not set: status.json looks every component up with listBuilds(packageID=...), one Koji call each")
	}
	s.goRun("status.json", func() error { g.refresh(ctx, &s.json, interval, s.m); return nil })
}

// ContentResolverComponents lists every desired ELN component with its view
// (the original's status.json keys): the Content Resolver lists and the
// overrides, fetched at each status run.
func ContentResolverComponents(c *contentresolver.Client, comps config.Components) ComponentSource {
	return func(ctx context.Context) ([]Component, error) {
		u, err := c.Load(ctx, comps)
		if err != nil {
			return nil, fmt.Errorf("content resolver: %w", err)
		}
		var out []Component
		for _, e := range u.Components() {
			c := Component{Name: e.Downstream, View: e.View}
			if e.Upstream != e.Downstream {
				c.Upstream = e.Upstream
			}
			out = append(out, c)
		}
		return sortedNames(out), nil
	}
}

// knownComponents is the fallback component list: every component the
// history has seen, with the view of its newest request.
func (s *Server) knownComponents(ctx context.Context) ([]Component, error) {
	names, err := s.Store.KnownComponents(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Component, 0, len(names))
	for _, n := range names {
		out = append(out, Component{Name: n, View: "UNKNOWN"})
	}
	if st := s.cfg.Settings; st != nil {
		for eln, o := range st.Components.Overrides {
			out = append(out, Component{Name: eln, Upstream: o.UpstreamName, View: "override"})
		}
	}
	return sortedNames(dedupe(out)), nil
}

func dedupe(cs []Component) []Component {
	seen := map[string]int{}
	var out []Component
	for _, c := range cs {
		if i, ok := seen[c.Name]; ok {
			if c.View != "UNKNOWN" {
				out[i] = c
			}
			continue
		}
		seen[c.Name] = len(out)
		out = append(out, c)
	}
	return out
}
