package main

import (
	"bufio"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

func TestMain(m *testing.M) {
	if os.Getenv("KOJISIM_RUN_MAIN") == "1" {
		os.Args = append([]string{"kojisim"}, strings.Fields(os.Getenv("KOJISIM_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func command(ctx context.Context, args string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KOJISIM_RUN_MAIN=1", "KOJISIM_ARGS="+args)
	return cmd
}

func TestHelpDocumentsWorldAndScenario(t *testing.T) {
	out, err := command(context.Background(), "--help").CombinedOutput()
	if err != nil && !strings.Contains(err.Error(), "exit status 0") {
		// flag.ExitOnError exits 0 for -help.
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 0 {
			t.Fatalf("kojisim --help: %v\n%s", err, out)
		}
	}
	for _, want := range []string{"The world", "The scenario file", "outcome: fail, times: 2", "-scenario", "-packages", "-tls", "-amqp", "lossy", "faults:"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--help lacks %q:\n%s", want, out)
		}
	}
}

// kojisim serves a world from the example scenario file.
func TestServesScenarioFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := command(ctx, "-listen 127.0.0.1:0 -scenario ../../testdata/scenario.yaml -packages 50")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stderr)
	re := regexp.MustCompile(`url=(\S+)`)
	var url string
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
			break
		}
	}
	if url == "" {
		t.Fatal("kojisim printed no URL")
	}
	go func() {
		for sc.Scan() {
		}
	}()
	c, err := koji.New(koji.Options{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := c.GetBuildTarget(ctx, "eln")
	if err != nil || tg == nil || tg.DestTagName != "eln" {
		t.Fatalf("getBuildTarget = %+v, %v", tg, err)
	}
	b, err := c.GetBuild(ctx, "bash", false)
	if err != nil || b != nil {
		t.Fatalf("getBuild(bash) = %+v, %v", b, err)
	}
}

// The container health check: 0 while a hub answers (plain HTTP or HTTPS
// with its CA), 1 where nothing answers, 2 on bad flags.
func TestHealthcheck(t *testing.T) {
	plain := kojihub.Start(t, kojihub.Options{})
	secure := kojihub.Start(t, kojihub.Options{TLS: true})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, secure.Options().PKI.CAPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nothing := "http://" + l.Addr().String() + "/kojihub"
	l.Close()
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"-url", plain.URL()}, 0},
		{[]string{"-url", secure.URL(), "-ca", ca}, 0},
		{[]string{"-url", secure.URL()}, 1}, // unknown CA
		{[]string{"-url", nothing}, 1},
		{[]string{"-bogus"}, 2},
	} {
		if got := healthcheck(tc.args); got != tc.want {
			t.Errorf("healthcheck %v = %d, want %d", tc.args, got, tc.want)
		}
	}
}
