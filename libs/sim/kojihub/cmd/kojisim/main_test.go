package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
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
	for _, want := range []string{"The world", "The scenario file", "outcome: fail, times: 2", "-scenario", "-packages", "-tls", "-amqp", "lossy", "faults:",
		"kojisim -listen 127.0.0.1:8081 -scenario scenario.yaml -packages 2000", "inside multiCall"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--help lacks %q:\n%s", want, out)
		}
	}
}

// -packages, -seed and -lossy are overrides only when given, 0 included.
func TestParseFlagsOverrides(t *testing.T) {
	for _, tc := range []struct {
		args                  string
		packages, seed, lossy string // "" for not set
	}{
		{"-listen 127.0.0.1:0", "", "", ""},
		{"-packages 0 -seed 0 -lossy 0", "0", "0", "0"},
		{"-packages 20 -lossy 0.5", "20", "", "0.5"},
	} {
		cfg, level, err := parseFlags(strings.Fields(tc.args), flag.ContinueOnError)
		if err != nil || level != "info" {
			t.Fatalf("%s: level %q, %v", tc.args, level, err)
		}
		str := func(p any) string {
			switch v := p.(type) {
			case *int:
				if v != nil {
					return fmt.Sprint(*v)
				}
			case *uint64:
				if v != nil {
					return fmt.Sprint(*v)
				}
			case *float64:
				if v != nil {
					return fmt.Sprint(*v)
				}
			}
			return ""
		}
		if got := [3]string{str(cfg.Packages), str(cfg.Seed), str(cfg.Lossy)}; got != [3]string{tc.packages, tc.seed, tc.lossy} {
			t.Errorf("%s: packages, seed, lossy = %q", tc.args, got)
		}
	}
	if _, _, err := parseFlags([]string{"-packages", "x"}, flag.ContinueOnError); err == nil {
		t.Error("-packages x accepted")
	}
}

// kojisim serves the world, outcomes and faults of the example scenario
// file, with -packages overriding its world size.
func TestServesScenarioFile(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := command(ctx, "-listen 127.0.0.1:0 -scenario ../../testdata/scenario.yaml -packages 50 -lossy 0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(stderr)
	re := regexp.MustCompile(`url=(\S+) packages=(\d+) seed=(\d+)`)
	var url, packages, seed string
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			url, packages, seed = m[1], m[2], m[3]
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
	// The world: 50 generated packages (the file says 300), the file's seed.
	if packages != "50" || seed != "7" {
		t.Fatalf("kojisim world: packages=%s seed=%s, want 50 and the file's 7", packages, seed)
	}
	anon, err := koji.New(koji.Options{URL: url, RetryBudget: -1})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := anon.GetBuildTarget(ctx, "eln")
	if err != nil || tg == nil || tg.DestTagName != "eln" {
		t.Fatalf("getBuildTarget = %+v, %v", tg, err)
	}
	rawhide, err := anon.ListTagged(ctx, "f45", koji.ListTaggedOpts{Latest: true})
	if err != nil || len(rawhide) < 45 || len(rawhide) > 50 {
		t.Fatalf("f45 holds %d builds (%v), want about 50", len(rawhide), err)
	}
	nvrs := map[string]string{}
	for _, b := range rawhide {
		nvrs[b.Name] = b.NVR
	}
	// The file's faults: the first multiCall gets ServerOffline.
	var f *koji.Fault
	if _, err := anon.GetBuilds(ctx, []any{rawhide[0].NVR}, true); !errors.As(err, &f) || f.Code != koji.CodeServerOffline {
		t.Fatalf("first multicall: %v, want the scripted ServerOffline", err)
	}
	if res, err := anon.GetBuilds(ctx, []any{rawhide[0].NVR}, true); err != nil || res[0].Err != nil {
		t.Fatalf("second multicall: %+v, %v", res, err)
	}
	// The file's outcomes: bash nvr-exists, gcc fails (twice); an unlisted
	// package succeeds.
	c, err := koji.New(koji.Options{URL: url, Auth: koji.SSLAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pkg     string
		state   koji.TaskState
		message string
	}{
		{"bash", koji.TaskFailed, "Build already exists"},
		{"gcc", koji.TaskFailed, "BuildError"},
		{"coreutils", koji.TaskClosed, ""},
	} {
		b, err := anon.GetBuild(ctx, nvrs[tc.pkg], true)
		if err != nil || b.SCMURL() == "" {
			t.Fatalf("Rawhide build of %s: %+v, %v", tc.pkg, b, err)
		}
		id, err := c.Build(ctx, koji.BuildRequest{Source: b.SCMURL(), Target: "eln"})
		if err != nil {
			t.Fatalf("build %s: %v", tc.pkg, err)
		}
		var ti *koji.Task
		for ti == nil || !ti.State.Finished() {
			if ctx.Err() != nil {
				t.Fatalf("build %s did not finish", tc.pkg)
			}
			time.Sleep(5 * time.Millisecond)
			if ti, err = c.GetTaskInfo(ctx, id, false); err != nil {
				t.Fatal(err)
			}
		}
		_, err = c.GetTaskResult(ctx, id)
		if ti.State != tc.state || (tc.message == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.message)) {
			t.Errorf("build %s: task %v, result %v; want %v %q", tc.pkg, ti.State, err, tc.state, tc.message)
		}
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
