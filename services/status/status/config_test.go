package status_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	ebsstatus "github.com/fedora-eln/ebs/services/status/status"
	"github.com/fedora-eln/ebs/services/status/status/statustest"
)

// TestConfigFromSource loads the configuration from --config (here the
// production distrobaker.yaml with pause switched on): control.pause shows
// as a config pause, and open_id_connect: false leaves auth off.
func TestConfigFromSource(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/distrobaker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "distrobaker.yaml")
	paused := strings.Replace(string(raw), "pause: false", "pause: true", 1)
	if err := os.WriteFile(path, []byte(paused), 0o644); err != nil {
		t.Fatal(err)
	}
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
