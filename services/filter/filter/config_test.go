package filter

import (
	"testing"
	"time"
)

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.KojiURL != DefaultKojiURL || c.BodhiURL != DefaultBodhiURL || c.ConfigRefresh != 15*time.Minute ||
		c.ReconcileInterval != 12*time.Hour || c.HTTPTimeout != 15*time.Second || c.HTTPRetry != time.Minute {
		t.Fatalf("%+v", c)
	}
	t.Setenv("EBS_KOJI_URL", "http://127.0.0.1:1/kojihub")
	t.Setenv("EBS_RECONCILE_INTERVAL", "-1s")
	c = Config{BodhiURL: "http://explicit"}.withDefaults()
	if c.KojiURL != "http://127.0.0.1:1/kojihub" || c.ReconcileInterval != -time.Second || c.BodhiURL != "http://explicit" {
		t.Fatalf("%+v", c)
	}
}
