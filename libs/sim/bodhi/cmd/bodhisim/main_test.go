package main

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/bodhi"
	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// The standalone simulator with its built-in provider accepts the token it
// writes: a client signs in and reads the releases.
func TestRunWithBuiltinOIDC(t *testing.T) {
	addr := freeAddr(t)
	hub := kojihub.Start(t, kojihub.Options{})
	bot := hub.NewClient(t, "eln-buildsync")
	tokenFile := filepath.Join(t.TempDir(), "token")
	r, w, _ := os.Pipe()
	stdout := os.Stdout
	os.Stdout = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, config{listen: addr, oidcClientID: "bodhi", oidcBuiltin: true, oidcListen: "127.0.0.1:0",
			serviceAccount: "eln-buildsync", tokenFile: tokenFile, kojiURL: hub.URL(), kojiUser: "bodhi", testingAfter: 50 * time.Millisecond, stableAfter: 50 * time.Millisecond},
			slog.New(slog.DiscardHandler))
	}()
	lines := bufio.NewScanner(r)
	var out []string
	for lines.Scan() {
		out = append(out, lines.Text())
		if strings.HasPrefix(lines.Text(), "Bodhi ") {
			break
		}
	}
	os.Stdout = stdout
	go func() { _, _ = io.Copy(io.Discard, r) }()
	if len(out) == 0 || out[len(out)-1] != "Bodhi http://"+addr {
		t.Fatalf("output %q", out)
	}
	c, err := bodhi.New(bodhi.Options{BaseURL: "http://" + addr, Tokens: bodhi.TokenFile(tokenFile), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Login(ctx); err != nil {
		t.Fatalf("login with the written token: %v", err)
	}
	tag, err := c.RawhideStableTag(ctx)
	if err != nil || tag != "f45" {
		t.Fatalf("rawhide: %q %v", tag, err)
	}
	// The container health check: 0 while it answers, 1 where nothing
	// listens, 2 on bad flags.
	if code := healthcheck([]string{"-url", "http://" + addr + "/releases/"}); code != 0 {
		t.Errorf("healthcheck of the running simulator: exit %d", code)
	}
	if code := healthcheck([]string{"-url", "http://" + freeAddr(t) + "/releases/"}); code != 1 {
		t.Errorf("healthcheck of nothing: exit %d, want 1", code)
	}
	if code := healthcheck([]string{"-no-such-flag"}); code != 2 {
		t.Errorf("healthcheck with a bad flag: exit %d, want 2", code)
	}
	// An update from a side tag of the Koji simulator reaches stable.
	st, err := bot.CreateSideTag(ctx, "eln-build")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hub.AddBuild(kojihub.BuildSpec{NVR: "bash-5.3-1.eln150", State: koji.BuildComplete, Tags: []string{st.Name}}); err != nil {
		t.Fatal(err)
	}
	got, err := c.CreateUpdate(ctx, bodhi.NewUpdate{FromTag: st.Name, Notes: "Automatic update for ELN rebuild batch", Type: "unspecified"})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); !slices.Contains(hub.Tagged("eln"), "bash-5.3-1.eln150"); {
		if time.Now().After(deadline) {
			t.Fatalf("update %s never tagged its build into eln", got.Updates[0].Alias)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	w.Close()
}
