package status_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	ebsstatus "github.com/fedora-eln/ebs/services/status/status"
	"github.com/fedora-eln/ebs/services/status/status/statustest"
)

// TestConfigFromSource loads the configuration from --config (here the
// production distrobaker.yaml with pause switched on): control.pause shows
// as a config pause, and open_id_connect: false leaves auth off.
func TestConfigFromSource(t *testing.T) {
	t.Parallel()
	path := pausedProductionConfig(t)
	var cfg ebsstatus.Config
	cfg.Config = path
	env := statustest.Start(t, statustest.Options{Config: cfg})
	st, err := dial(t, env.Server.GRPCAddr).GetStatus(context.Background(), &ebsv1.GetStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Paused || st.PauseSource != "config" || st.AuthEnabled {
		t.Fatalf("paused %v source %q auth %v", st.Paused, st.PauseSource, st.AuthEnabled)
	}
}

// TestRejectedRefreshIsReported breaks the configuration file under a running
// status service: the refresh is rejected and reported on ebs.config.rejected
// (like every service's), and the previous configuration stays in force.
func TestRejectedRefreshIsReported(t *testing.T) {
	t.Parallel()
	path := pausedProductionConfig(t)
	var cfg ebsstatus.Config
	cfg.Config, cfg.ConfigRefresh = path, 100*time.Millisecond
	env := statustest.Start(t, statustest.Options{Config: cfg})
	if err := os.WriteFile(path, []byte("configuration: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var rejected *ebsv1.ConfigEvent
		for _, e := range natstest.ByMsgID[ebsv1.ConfigEvent](t, natstest.Stored(t, env.Conn.JS, natsx.StreamEBS, natsx.SubjectConfigRejected)) {
			if e.Service == ebsstatus.Name {
				rejected = e
			}
		}
		if rejected != nil {
			if !strings.Contains(rejected.Error, "not valid YAML") {
				t.Fatalf("rejection does not say why: %q", rejected.Error)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no ebs.config.rejected event from status")
		}
		time.Sleep(50 * time.Millisecond)
	}
	st, err := dial(t, env.Server.GRPCAddr).GetStatus(context.Background(), &ebsv1.GetStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !st.Paused || st.PauseSource != "config" {
		t.Fatalf("the previous configuration is gone: paused %v source %q", st.Paused, st.PauseSource)
	}
}

// pausedProductionConfig writes the production distrobaker.yaml with
// control.pause switched on and returns its path.
func pausedProductionConfig(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("testdata/distrobaker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "distrobaker.yaml")
	paused := strings.Replace(string(raw), "pause: false", "pause: true", 1)
	if paused == string(raw) {
		t.Fatal("the production configuration has no pause: false to switch")
	}
	if err := os.WriteFile(path, []byte(paused), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
