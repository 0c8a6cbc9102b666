// Command kojisim runs the Koji hub simulator (libs/sim/kojihub) alone, for
// the demo, manual testing and end-to-end tests.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

const usage = `kojisim: a simulated Koji hub (XML-RPC over HTTP/HTTPS) for ebs.

Usage:
  kojisim [flags]
  kojisim healthcheck [-url URL] [-ca FILE]   exit 0 when a running hub answers

Example: 2,000 generated packages, the outcomes and faults of a scenario
file (its world.packages and lossy overridden), messages to RabbitMQ:
  kojisim -listen 127.0.0.1:8081 -scenario scenario.yaml -packages 2000 \
      -seed 42 -lossy 0 -amqp amqp://guest:guest@127.0.0.1:5672/

It serves POST <url>/kojihub (and /kojihub/ssllogin) with Koji's methods,
signatures, faults and states, and publishes buildsys.* messages the way
Fedora's koji-fedoramessaging plugin does.

The world
  Every hub has the Rawhide tree (f45 <- f45-build, f45-updates-candidate;
  targets f45, rawhide), the ELN tree (eln <- eln-build; target eln ->
  eln-build/eln) and users kojiadmin, bodhi (admin), kojira, releng and the
  bot (-bot-user). -packages N generates N packages (seeded by -seed) with
  realistic names, a COMPLETE Rawhide build each (SCM source, owner, task,
  creation time) tagged into f45; world.eln_fraction of them also have an
  older ELN build in eln, about 1% only an ELN build.

Introspection (read only, for tests and the demo)
  GET /sim/counters                  calls per method, faults, messages
  GET /sim/calls?method=M&user=U     the call log (multicall elements too)

Logging in
  Plain HTTP: /ssllogin logs in the user named by the X-Koji-Sim-Remote-User
  header, else the bot. -tls: HTTPS with a throwaway CA; the CA and client
  certificates (CN = user, cert+key in one PEM) are written to -pki-dir for
  each -client-users entry; /ssllogin takes the user from the certificate.
  Anonymous calls may read; writes need a login.

The scenario file (-scenario FILE, YAML)
  seed: 7
  world:
    packages: 300            # like -packages
    eln_fraction: 0.2
    users: [{name: releng-bot, perms: [tag]}]
  scenario:
    default: {outcome: succeed, duration: 20ms}
    fail_rate: 0             # fraction of unlisted builds that fail
    tag_delay: 5ms           # tagBuild task run time
    repo_delay: 10ms         # repo.init -> repo.done
    packages:
      gcc:   {outcome: fail, times: 2}   # fails twice, then succeeds
      glibc: {outcome: hang}             # open until cancelTask
      rust:  {outcome: srpm-fail}        # buildSRPMFromSCM fails, no build entry
      bash:  {outcome: nvr-exists}       # "Build already exists"
      kernel: {outcome: succeed, duration: 2s, nvr: kernel-6.18.0-1.eln150}
  faults:                    # injected before the hub sees the call
    - {method: getTaskInfo, rate: 0.05, http_status: 503}
    - {method: multiCall, count: 1, fault: 1014}       # ServerOffline once
    - {method: build, latency: 5ms}
    - {method: tagBuild, http_status: 502, after_call: true}  # committed, answer lost
    - {method: "*", rate: 0.01, expire_session: true}  # AuthExpired
  lossy: 0.1                 # drop 10% of messages (polling fallbacks)

  Fault rules naming a method also match it inside multiCall (ebs sends
  build and tagBuild that way): a fault rule faults just that element, the
  others run; an http_status, latency or expire_session rule applies to the
  whole multiCall request when any element matches (after_call: the calls
  run and commit, then the answer is lost). "*" matches each HTTP request
  once, a multiCall as a whole.

  Outcomes: succeed, fail (a buildArch fails with BuildError, the build is
  FAILED), hang, srpm-fail, nvr-exists. Durations are real time.

Flags:
`

func main() {
	if len(os.Args) > 1 && os.Args[1] == "healthcheck" {
		os.Exit(healthcheck(os.Args[2:]))
	}
	cfg, level, err := parseFlags(os.Args[1:], flag.ExitOnError)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kojisim:", err)
		os.Exit(2)
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		fmt.Fprintln(os.Stderr, "kojisim:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv})).With("component", "kojisim")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := kojihub.Serve(ctx, cfg, log, nil); err != nil {
		log.Error("kojisim failed", "err", err)
		os.Exit(1)
	}
}

// parseFlags reads kojisim's flags. -packages, -seed and -lossy override
// the scenario file only when given, so "-lossy 0" turns a file's lossy off.
func parseFlags(args []string, onError flag.ErrorHandling) (kojihub.ServeConfig, string, error) {
	var cfg kojihub.ServeConfig
	var users, level, hosts string
	var packages int
	var seed uint64
	var lossy float64
	fs := flag.NewFlagSet("kojisim", onError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8081", "address to listen on")
	fs.StringVar(&cfg.ScenarioFile, "scenario", "", "YAML scenario file (world, outcomes, faults)")
	fs.IntVar(&packages, "packages", 0, "generate this many packages (overrides world.packages when given)")
	fs.Uint64Var(&seed, "seed", 0, "seed for the world and scenario (overrides the file's seed when given)")
	fs.BoolVar(&cfg.TLS, "tls", false, "serve HTTPS and require client certificates for login")
	fs.StringVar(&hosts, "tls-hosts", "", "with -tls: extra comma-separated host names for the server certificate (e.g. kojisim)")
	fs.StringVar(&cfg.PKIDir, "pki-dir", "", "with -tls: write ca.pem and <user>.pem client certificates here")
	fs.StringVar(&users, "client-users", "eln-buildsync", "with -tls: comma-separated users to issue client certificates for")
	fs.StringVar(&cfg.AMQPURL, "amqp", "", "publish buildsys.* messages to this RabbitMQ (e.g. amqp://guest:guest@127.0.0.1:5672/)")
	fs.StringVar(&cfg.TopicPrefix, "topic-prefix", "org.fedoraproject.prod", "topic prefix of published messages")
	fs.Float64Var(&lossy, "lossy", 0, "drop this fraction of messages (overrides the file's lossy when given)")
	fs.StringVar(&cfg.BotUser, "bot-user", "eln-buildsync", "name of the ebs bot user")
	fs.IntVar(&cfg.SideTagLimit, "side-tag-limit", 10, "side tags per user")
	fs.StringVar(&level, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return cfg, "", err
	}
	if fs.NArg() > 0 {
		return cfg, "", fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "packages":
			cfg.Packages = &packages
		case "seed":
			cfg.Seed = &seed
		case "lossy":
			cfg.Lossy = &lossy
		}
	})
	if users != "" {
		cfg.ClientUsers = strings.Split(users, ",")
	}
	if hosts != "" {
		cfg.TLSHosts = strings.Split(hosts, ",")
	}
	return cfg, level, nil
}

// healthcheck calls getAPIVersion on a running simulator (container health
// checks: the image has no shell or curl) and exits 0 when it answers.
func healthcheck(args []string) int {
	fs := flag.NewFlagSet("kojisim healthcheck", flag.ContinueOnError)
	url := fs.String("url", "http://127.0.0.1:8081/kojihub", "hub URL")
	ca := fs.String("ca", "", "CA of the hub's certificate (https)")
	if fs.Parse(args) != nil {
		return 2
	}
	o := koji.Options{URL: *url, RetryBudget: time.Nanosecond}
	if *ca != "" {
		tc, err := koji.TLSConfig("", "", *ca)
		if err != nil {
			fmt.Fprintln(os.Stderr, "kojisim healthcheck:", err)
			return 1
		}
		o.HTTPClient = koji.HTTPClientFor(tc)
	}
	c, err := koji.New(o)
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_, err = c.GetAPIVersion(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kojisim healthcheck:", err)
		return 1
	}
	return 0
}
