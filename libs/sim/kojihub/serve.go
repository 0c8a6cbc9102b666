package kojihub

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/fedora-eln/ebs/libs/koji"
)

// ServeConfig configures a standalone simulator (cmd/kojisim).
type ServeConfig struct {
	Listen       string // host:port
	ScenarioFile string // YAML (see ScenarioFile); optional
	// Packages, Seed and Lossy override the file's world.packages, seed
	// and lossy when set (nil: the file's value), zero included.
	Packages     *int
	Seed         *uint64
	TLS          bool
	TLSHosts     []string // extra host names of the server certificate (TLS)
	PKIDir       string   // where CA and client certificates are written (TLS)
	ClientUsers  []string
	AMQPURL      string // publish messages to this broker's amq.topic
	TopicPrefix  string
	Lossy        *float64
	BotUser      string
	SideTagLimit int
}

// Serve runs a simulator until ctx ends. ready, if set, receives the hub
// URL once it listens.
func Serve(ctx context.Context, cfg ServeConfig, log *slog.Logger, ready func(url string, h *Hub)) error {
	file := &ScenarioFile{}
	if cfg.ScenarioFile != "" {
		f, err := LoadScenarioFile(cfg.ScenarioFile)
		if err != nil {
			return err
		}
		file = f
	}
	opts := file.Options()
	if cfg.Packages != nil {
		opts.Packages = *cfg.Packages
	}
	if cfg.Seed != nil {
		opts.Seed = *cfg.Seed
	}
	if cfg.Lossy != nil {
		opts.Lossy = *cfg.Lossy
	}
	opts.TopicPrefix, opts.BotUser, opts.SideTagLimit, opts.Logger = cfg.TopicPrefix, cfg.BotUser, cfg.SideTagLimit, log
	if cfg.AMQPURL != "" {
		sink, err := NewAMQPSink(cfg.AMQPURL, "")
		if err != nil {
			return err
		}
		defer sink.Close()
		opts.Sink = sink
	}
	if cfg.TLS {
		pki, err := NewPKI(cfg.TLSHosts...)
		if err != nil {
			return err
		}
		opts.TLS, opts.PKI = true, pki
		if cfg.PKIDir != "" {
			if err := os.MkdirAll(cfg.PKIDir, 0o755); err != nil {
				return err
			}
			users := cfg.ClientUsers
			if len(users) == 0 {
				users = []string{"eln-buildsync"}
			}
			for _, u := range users {
				cert, ca, err := pki.WriteClientFiles(cfg.PKIDir, u)
				if err != nil {
					return err
				}
				log.Info("client certificate written", "user", u, "cert", cert, "ca", ca)
			}
			log.Info("TLS", "ca", filepath.Join(cfg.PKIDir, "ca.pem"))
		}
	}
	h, err := New(opts)
	if err != nil {
		return err
	}
	for _, rule := range file.Faults {
		h.InjectFault(rule)
	}
	url, err := h.Listen(ctx, cfg.Listen)
	if err != nil {
		return fmt.Errorf("kojisim: listen %s: %w", cfg.Listen, err)
	}
	log.Info("kojisim listening", "url", url, "packages", len(h.Packages()), "seed", opts.Seed)
	if ready != nil {
		ready(url, h)
	}
	<-ctx.Done()
	h.Close()
	return nil
}

// Options turns a scenario file into hub options.
func (f *ScenarioFile) Options() Options {
	s := f.Scenario
	o := Options{Seed: f.Seed, Packages: f.World.Packages, ELNFraction: f.World.ELNFraction, Scenario: &s,
		Lossy: f.Lossy, extraUsers: f.World.Users}
	for _, b := range f.World.Builds {
		o.Builds = append(o.Builds, BuildSpec{NVR: b.NVR, Owner: b.Owner, Source: b.Source, Tags: b.Tags,
			State: koji.BuildComplete, WithTask: true})
	}
	return o
}
