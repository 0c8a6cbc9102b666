// Command ebs is the all-in-one binary:
//
//	ebs demo [flags]          the whole pipeline on embedded defaults (make demo)
//	ebs run SERVICE... | all  chosen services in one process against external NATS and PostgreSQL
//	ebs world files|serve|feed   the demo world for compose.yaml and the end-to-end tests
//	ebs healthcheck           probe a running ebs process's /startup (container health checks)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/services/ebs/allinone"
	"github.com/fedora-eln/ebs/services/ebs/demo"
	"github.com/fedora-eln/ebs/services/ebs/world"
)

const usage = `usage: ebs <command> [flags] [args]

commands:
  demo                   run the whole pipeline on embedded defaults and show a batch (ebs demo -h)
  run SERVICE... | all   run the named services in this process (external NATS and PostgreSQL;
                         every setting from the services' EBS_* environment variables)
  world files DIR        write the demo world's kojisim scenario and ebs configuration
  world serve            serve the demo world's Content Resolver lists and feed its Rawhide builds
  world feed             tag the demo world's new Rawhide builds into f45 (once)
  healthcheck            probe EBS_ADMIN_ADDR/startup; exit 0 when ready

services: %s
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintf(os.Stderr, usage, strings.Join(allinone.Names(), ", "))
		os.Exit(2)
	}
	cmd := os.Args[1]
	os.Args = append(os.Args[:1], os.Args[2:]...)
	switch cmd {
	case "run":
		runServices()
	case "demo":
		os.Exit(runDemo(os.Args[1:]))
	case "world":
		os.Exit(runWorld(os.Args[1:]))
	case "healthcheck":
		os.Exit(lifecycle.Healthcheck(os.Getenv("EBS_ADMIN_ADDR")))
	case "-h", "--help", "help":
		fmt.Printf(usage, strings.Join(allinone.Names(), ", "))
	default:
		fmt.Fprintf(os.Stderr, "ebs: unknown command %q\n"+usage, cmd, strings.Join(allinone.Names(), ", "))
		os.Exit(2)
	}
}

func runServices() {
	var common lifecycle.Common
	fs := flag.NewFlagSet("ebs run", flag.ExitOnError)
	common.Flags(fs, "127.0.0.1:9100")
	// Several services share this process: no per-service memory limit.
	lifecycle.MemoryLimit = 0
	lifecycle.Main("ebs", fs, func(ctx context.Context, log *slog.Logger) error {
		// Every service logs through log, on lifecycle.LogLevel: this
		// admin's PUT /loglevel changes them all.
		admin := lifecycle.NewAdmin()
		errc := make(chan error, 1)
		go func() { errc <- admin.Serve(ctx, common.AdminAddr, log, nil) }()
		// /startup answers 200 once every chosen service has started.
		c := allinone.FromEnv(common)
		c.Ready = admin.Ready
		if err := allinone.Run(ctx, c, fs.Args(), log); err != nil {
			return err
		}
		return <-errc
	})
}

func runDemo(args []string) int {
	var cfg demo.Config
	var seed uint64
	fs := flag.NewFlagSet("ebs demo", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), `usage: ebs demo [flags]

Runs every ebs service in this process on embedded defaults — an embedded
nats-server with JetStream, PostgreSQL (EBS_DATABASE_URL, else 127.0.0.1:5432,
else a throwaway cluster from the system's initdb/pg_ctl), the Koji and Bodhi
simulators and a Content Resolver fixture on a generated world — with Fedora's
production configuration, tags the world's new Rawhide builds into f45
(through RabbitMQ on 127.0.0.1:5672 when one answers), and shows the batch.
Exit status with --exit-when-done: 0 when the batch ended as the scenario
expects, 1 otherwise.

A throwaway PostgreSQL cluster lives in a temporary directory ($TMPDIR, not
--data-dir) and is removed at the end. Run as root, ebs demo starts it as the
postgres user and adds o+x to every directory above it that others cannot
traverse (e.g. /root 0700 -> 0701; these stay), logging each change as a
warning in ebs-demo.log.

flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.DataDir, "data-dir", "", "keep NATS's store, the configuration and the log here after the run (default: a temporary directory; every run starts afresh)")
	fs.StringVar(&cfg.HTTPAddr, "http-addr", "127.0.0.1:8080", "status page and HTTP API (a free port when taken)")
	fs.StringVar(&cfg.GRPCAddr, "grpc-addr", "127.0.0.1:9090", "StatusService gRPC (a free port when taken)")
	fs.StringVar(&cfg.AMQPURL, "amqp-url", "amqp://guest:guest@127.0.0.1:5672/", `RabbitMQ used for Fedora messages when it answers ("off": straight into FEDMSG)`)
	fs.StringVar(&cfg.Database, "database", "ebs_demo", "PostgreSQL database of the status history (recreated by every run)")
	fs.BoolVar(&cfg.ExitWhenDone, "exit-when-done", false, "exit after the summary (status 0 only if the batch ended as expected)")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "give up waiting for the batches after this long")
	fs.StringVar(&cfg.Progress, "progress", "auto", "auto (a bar on a terminal), bar or plain")
	fs.Uint64Var(&seed, "seed", world.DefaultSeed, "seed of the generated world")
	fs.IntVar(&cfg.World.Packages, "packages", world.DefaultPackages, "packages generated in the Koji simulator")
	fs.IntVar(&cfg.World.Waves, "waves", 1, "waves of Rawhide builds (one batch each)")
	fs.DurationVar(&cfg.World.Build, "build-time", world.DefaultBuild, "mean duration of a simulated build")
	fs.DurationVar(&cfg.Lull, "lull", 3*time.Second, "quiet time before a batch starts (production: 60s)")
	fs.DurationVar(&cfg.Poll, "poll", 2*time.Second, "Koji polling interval of the workers (production: 5m)")
	fs.StringVar(&cfg.LogLevel, "log-level", "info", "level of the services' log file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "ebs demo: unexpected arguments %v\n", fs.Args())
		return 2
	}
	cfg.World.Seed = seed
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := demo.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ebs demo:", err)
		return 1
	}
	if !res.OK() {
		return 1
	}
	return 0
}

func runWorld(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, "usage: ebs world files DIR | serve | feed  (-h for flags)\n")
		return 2
	}
	var o world.Options
	fs := flag.NewFlagSet("ebs world "+args[0], flag.ContinueOnError)
	fs.Uint64Var(&o.Seed, "seed", world.DefaultSeed, "seed of the world")
	fs.IntVar(&o.Packages, "packages", world.DefaultPackages, "packages generated in Koji")
	fs.IntVar(&o.Waves, "waves", 1, "waves of Rawhide builds")
	fs.DurationVar(&o.Build, "build-time", world.DefaultBuild, "mean duration of a simulated build")
	// On the process's level: `world serve`'s admin port has /loglevel.
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lifecycle.LogLevel})).With("service", "world")
	switch args[0] {
	case "files":
		cr := fs.String("content-resolver", "http://world:8082", "Content Resolver URL written into the ebs configuration")
		if err := fs.Parse(args[1:]); errors.Is(err, flag.ErrHelp) {
			return 0
		} else if err != nil || fs.NArg() != 1 {
			fmt.Fprintln(os.Stderr, "usage: ebs world files [flags] DIR")
			return 2
		}
		w, err := world.New(o)
		if err == nil {
			err = w.WriteFiles(fs.Arg(0), *cr)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "ebs world:", err)
			return 1
		}
		return 0
	case "serve":
		var cfg world.ServeConfig
		lifecycle.StringVar(fs, &cfg.Listen, "listen", "EBS_WORLD_LISTEN", "127.0.0.1:8082", "serve the Content Resolver lists here")
		lifecycle.StringVar(fs, &cfg.AdminAddr, "admin-addr", "EBS_ADMIN_ADDR", "127.0.0.1:9100", "admin address (/startup for health checks)")
		lifecycle.StringVar(fs, &cfg.KojiURL, "koji-url", "EBS_KOJI_URL", "", "Koji simulator to feed (empty: serve the lists only)")
		lifecycle.StringVar(fs, &cfg.KojiCert, "koji-cert", "EBS_KOJI_CERT", "", "client certificate+key (PEM) of the tagger, for an https hub")
		lifecycle.StringVar(fs, &cfg.KojiCA, "koji-ca", "EBS_KOJI_CA", "", "CA of the hub's certificate")
		lifecycle.StringVar(fs, &cfg.AMQPURL, "amqp-url", "EBS_AMQP_URL", "", "broker holding the bridge's queue")
		lifecycle.StringVar(fs, &cfg.WaitQueue, "wait-queue", "EBS_WAIT_QUEUE", "", "feed only once this queue exists")
		lifecycle.DurationVar(fs, &cfg.Interval, "interval", "EBS_WORLD_INTERVAL", 2*time.Minute, "time between waves")
		if err := fs.Parse(args[1:]); err != nil {
			return usageExit(err)
		}
		cfg.Options, cfg.Waves = o, o.Waves
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := world.Serve(ctx, cfg, log); err != nil {
			log.Error("world failed", "error", err)
			return 1
		}
		return 0
	case "feed":
		kojiURL := fs.String("koji-url", "http://127.0.0.1:8081/kojihub", "Koji simulator")
		cert := fs.String("koji-cert", "", "client certificate+key (PEM) of the tagger, for an https hub")
		ca := fs.String("koji-ca", "", "CA of the hub's certificate")
		wave := fs.Int("wave", 0, "wave to feed (0 is the showcase)")
		if err := fs.Parse(args[1:]); err != nil {
			return usageExit(err)
		}
		w, err := world.New(o)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ebs world:", err)
			return 1
		}
		c, err := world.KojiClient(*kojiURL, world.Tagger)
		if *cert != "" || *ca != "" {
			c, err = world.KojiTLSClient(*kojiURL, *cert, *ca)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "ebs world:", err)
			return 1
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		n, err := world.Feed(ctx, c, w.Wave(*wave))
		if err != nil {
			fmt.Fprintln(os.Stderr, "ebs world:", err)
			return 1
		}
		fmt.Printf("tagged %d new Rawhide builds into %s\n", n, world.TriggerTag)
		return 0
	default:
		fmt.Fprintf(os.Stderr, "ebs world: unknown subcommand %q (files, serve, feed)\n", args[0])
		return 2
	}
}

// usageExit is the exit status after a flag parsing error: 0 for -h.
func usageExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}
