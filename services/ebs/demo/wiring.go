package demo

import (
	"strings"
	"time"

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
