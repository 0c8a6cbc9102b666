package demo

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"github.com/fedora-eln/ebs/libs/kojibatch"
	"github.com/fedora-eln/ebs/services/ebs/world"
	"github.com/fedora-eln/ebs/services/koji-worker/kojiworker"

	"github.com/fedora-eln/ebs/libs/oidctest"
	"github.com/fedora-eln/ebs/services/ebs/allinone"
)

// wiring is what the services need from the demo's surroundings.
type wiring struct {
	kojiURL, bodhiURL  string
	oidc               *oidctest.Provider
	dbURL              string
	httpAddr, grpcAddr string
	lull, poll         time.Duration
}

// wireServices points every service at the simulators, with the demo's
// short lulls and polls (production values are the flags' defaults).
func wireServices(c *allinone.Configs, w wiring) {
	c.Batcher.Koji.URL, c.Batcher.Lull = w.kojiURL, w.lull
	c.RepoWatcher.Koji.URL, c.RepoWatcher.PollInterval = w.kojiURL, w.poll
	c.KojiWorker.Koji.URL, c.KojiWorker.PollInterval = w.kojiURL, w.poll
	// koji-worker changes Koji: it logs in as the bot. The simulator on
	// plain HTTP takes the account from a request header (Apache's
	// REMOTE_USER in front of a real hub), so the demo gives koji-worker a
	// client that sends it.
	kw := c.KojiWorker
	c.Override = map[string]allinone.Service{kojiworker.Name: func(ctx context.Context, log *slog.Logger) error {
		conn, err := kw.ConnectNATS(ctx, kojiworker.Name, log)
		if err != nil {
			return err
		}
		defer conn.Close()
		client, err := world.KojiClient(w.kojiURL, world.Builder)
		if err != nil {
			return err
		}
		return kojiworker.Serve(ctx, kw, kojiworker.Deps{JS: conn.JS, Hub: kojibatch.New(client),
			Ready: func() { allinone.MarkReady(ctx) }}, log.With("component", kojiworker.Name))
	}}
	c.Filter.KojiURL, c.Filter.BodhiURL = w.kojiURL, w.bodhiURL
	c.Filter.ReconcileInterval = -1 // it would request every listed package missing from eln

	c.BodhiPublisher.BodhiURL = w.bodhiURL
	c.BodhiPublisher.OIDCTokenURL = w.oidc.TokenURL()
	c.BodhiPublisher.OIDCClientID, c.BodhiPublisher.OIDCClientSecret = w.oidc.ClientID(), w.oidc.ClientSecret()
	c.BodhiPublisher.OIDCClientSecretFile, c.BodhiPublisher.TokenFile = "", ""
	c.BodhiPublisher.FollowInterval = time.Second

	c.Status.DatabaseURL = w.dbURL
	c.Status.HTTPAddr, c.Status.GRPCAddr = w.httpAddr, w.grpcAddr
	c.Status.KojiHubURL = w.kojiURL
	c.Status.KojiWebURL = strings.TrimSuffix(w.kojiURL, "hub")
}
