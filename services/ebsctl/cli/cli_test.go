package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/auth"
	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/store/pgtest"
	"github.com/fedora-eln/ebs/libs/store/storetest"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/ebsctl/cli"
	"github.com/fedora-eln/ebs/services/status/status"
	"github.com/fedora-eln/ebs/services/status/status/statustest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func run(ctx context.Context, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cli.Main(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestCommandsAgainstLiveServer runs every command against a real status
// service (NATS, PostgreSQL, gRPC) seeded with a batch in progress.
func TestCommandsAgainstLiveServer(t *testing.T) {
	t.Parallel()
	env := statustest.Start(t, statustest.Options{Seed: true})
	srv := "--server=" + env.Server.GRPCAddr
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		args []string
		code int
		out  []string
	}{
		{"status", []string{"status", srv}, cli.ExitOK, []string{"running:   " + storetest.RunningBatch, "phase building (slice 3 of 4)", "pending:   2", "last:      " + storetest.FinishedBatch, "warning: authentication is disabled"}},
		{"queue", []string{"queue", srv}, cli.ExitOK, []string{"POS", "1    kernel", "2    bash"}},
		{"batches", []string{"batches", srv, "--limit", "1"}, cli.ExitOK, []string{storetest.RunningBatch, "running", "more: ebsctl batches --page-token"}},
		{"batch", []string{"batch", storetest.RunningBatch, srv}, cli.ExitOK, []string{"slice 2 (ordering 1000) running", "rust-serde", "7005", "mock exited with status 1", "in-progress"}},
		{"batch finished", []string{"batch", srv, storetest.FinishedBatch}, cli.ExitOK, []string{"partial", "FEDORA-2026-abc123", "5002,5003"}},
		{"batch unknown", []string{"batch", srv, "b-nope"}, cli.ExitNotFound, nil},
		{"batch without id", []string{"batch", srv}, cli.ExitUsage, nil},
		{"package", []string{"package", srv, "python-broken"}, cli.ExitOK, []string{"latest:   failed", "denylisted", "task-finished", "Koji task 5003 failed"}},
		{"package pending", []string{"package", srv, "kernel"}, cli.ExitOK, []string{"pending:  position 1"}},
		{"package unknown", []string{"package", srv, "no-such-package"}, cli.ExitNotFound, nil},
		{"denylist", []string{"denylist", srv}, cli.ExitOK, []string{storetest.FailingSCM}},
		{"denylist remove", []string{"denylist", srv, "remove", storetest.FailingSCM}, cli.ExitOK, []string{"is no longer denylisted"}},
		{"denylist removed", []string{"denylist", srv, "--json"}, cli.ExitOK, []string{"{}"}},
		{"denylist remove again", []string{"denylist", srv, "remove", storetest.FailingSCM}, cli.ExitNotFound, nil},
		{"denylist remove without url", []string{"denylist", srv, "remove"}, cli.ExitUsage, nil},
		{"trigger", []string{"trigger", srv, "zlib", "bash"}, cli.ExitOK, []string{"User anonymous requesting builds of:\nbash\nzlib"}},
		{"trigger nothing", []string{"trigger", srv}, cli.ExitUsage, nil},
		{"trigger bad name", []string{"trigger", srv, "not a name"}, cli.ExitUsage, nil},
		{"pause", []string{"pause", srv, "F46", "branching"}, cli.ExitOK, []string{"paused by anonymous"}},
		{"status paused", []string{"status", srv}, cli.ExitOK, []string{"PAUSED (runtime) by anonymous", ": F46 branching"}},
		{"resume", []string{"resume", srv}, cli.ExitOK, []string{"runtime pause cleared"}},
		{"unknown command", []string{"frobnicate"}, cli.ExitUsage, nil},
		{"bad flag", []string{"status", "--nope"}, cli.ExitUsage, nil},
		{"server down", []string{"status", "--server=127.0.0.1:1", "--timeout=2s"}, cli.ExitUnavailable, nil},
	} {
		code, out, errOut := run(ctx, tt.args...)
		if code != tt.code {
			t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", tt.name, code, tt.code, out, errOut)
			continue
		}
		for _, w := range tt.out {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", tt.name, w, out)
			}
		}
	}

	// The removal is in the package's history.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, out, _ := run(ctx, "package", srv, "python-broken")
		if strings.Contains(out, "undenylisted") && strings.Contains(out, "taken off the denylist by anonymous") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("history lacks the denylist removal:\n%s", out)
		}
	}

	// --json is protojson a script can parse.
	code, out, _ := run(ctx, "status", srv, "--json")
	var st map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || st["running"].(map[string]any)["batchId"] != storetest.RunningBatch {
		t.Fatalf("status --json: %d %s", code, out)
	}

	// watch replays from a sequence and follows until interrupted.
	wctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	code, out, errOut := run(wctx, "watch", srv, "--since", "1")
	if code != cli.ExitOK || !strings.Contains(out, "batch "+storetest.FinishedBatch+" started with 2 package(s)") ||
		!strings.Contains(out, "batch "+storetest.RunningBatch+" slice 2 started") {
		t.Fatalf("watch: %d\n%s\n%s", code, out, errOut)
	}

	// The trigger reached the stream as one ManualRebuild.
	stream, err := env.Conn.JS.Stream(ctx, natsx.StreamEBS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.GetLastMsgForSubject(ctx, natsx.SubjectRebuildManual); err != nil {
		t.Fatalf("no manual rebuild published: %v", err)
	}
}

// TestTokensAndAuthExitCodes runs the admin commands against a server with
// OIDC on: no token, a non-admin token, an expired one, a valid admin one.
func TestTokensAndAuthExitCodes(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "oidc-secret")
	if err := os.WriteFile(secret, []byte("unused\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := statustest.Start(t, statustest.Options{Config: status.Config{OIDCClientSecretFile: secret, Settings: &config.Config{OIDC: &config.OIDC{
		AuthURL: "http://127.0.0.1:1/authorize", TokenEndpoint: "http://127.0.0.1:1/token", ClientID: "ebs",
		AdminGroups: []string{"eln-admins"}}}}})
	ctx := context.Background()
	mk := func(groups []string, ttl time.Duration) string {
		s := auth.Session{ID: auth.NewSessionID(), Username: "u-" + strings.Join(groups, ""), Groups: groups,
			CreatedAt: time.Now().Add(-time.Minute), ExpiresAt: time.Now().Add(ttl)}
		if err := env.Server.Store.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	admin, other, expired := mk([]string{"eln-admins"}, time.Hour), mk([]string{"packager"}, time.Hour), mk([]string{"eln-admins"}, -time.Minute)
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(admin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EBS_SERVER", env.Server.GRPCAddr)

	t.Setenv("EBS_TOKEN", "")
	if code, _, errOut := run(ctx, "pause"); code != cli.ExitAuth || !strings.Contains(errOut, "EBS_TOKEN") {
		t.Errorf("pause without token: %d %s", code, errOut)
	}
	t.Setenv("EBS_TOKEN", other)
	if code, _, errOut := run(ctx, "trigger", "zlib"); code != cli.ExitAuth || !strings.Contains(errOut, "admin group") {
		t.Errorf("trigger as non-admin: %d %s", code, errOut)
	}
	if code, _, _ := run(ctx, "denylist", "remove", "git+https://src.fedoraproject.org/rpms/x.git#1"); code != cli.ExitAuth {
		t.Errorf("denylist remove as non-admin: %d", code)
	}
	t.Setenv("EBS_TOKEN", expired)
	if code, _, _ := run(ctx, "resume"); code != cli.ExitAuth {
		t.Errorf("resume with expired session: %d", code)
	}
	// Reads need no token.
	if code, out, _ := run(ctx, "status"); code != cli.ExitOK || strings.Contains(out, "authentication is disabled") {
		t.Errorf("status: %d %s", code, out)
	}
	// --token-file wins over the environment.
	if code, out, errOut := run(ctx, "pause", "--token-file", tokenFile, "maintenance"); code != cli.ExitOK || !strings.Contains(out, "paused by u-eln-admins") {
		t.Errorf("pause with admin token file: %d %s %s", code, out, errOut)
	}
	t.Setenv("EBS_TOKEN", admin)
	code, out, _ := run(ctx, "resume", "--json")
	var rr struct {
		Control struct {
			ChangedBy string `json:"changedBy"`
		} `json:"control"`
	}
	if code != cli.ExitOK || json.Unmarshal([]byte(out), &rr) != nil || rr.Control.ChangedBy != "u-eln-admins" {
		t.Errorf("resume --json: %d %s", code, out)
	}
	if code, _, _ := run(ctx, "pause", "--token-file", filepath.Join(t.TempDir(), "missing")); code != cli.ExitFailure {
		t.Errorf("missing token file: %d", code)
	}
	_ = ebsv1.PackageState_PACKAGE_STATE_BUILT
}
