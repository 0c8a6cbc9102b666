package check

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

var repoRoot = filepath.Join("..", "..")

// The services compose.yaml must run: the seven ebs services, the
// infrastructure and the simulators.
var (
	composeServices = []string{"bridge", "filter", "batcher", "koji-worker", "repo-watcher", "bodhi-publisher", "status"}
	composeInfra    = []string{"nats", "postgres", "rabbitmq", "kojisim", "bodhisim"}
)

// loadCompose loads a compose file the way `docker compose config` does
// (schema validation, interpolation, merges, normalisation) without an engine.
func loadCompose(t *testing.T, path string) (*types.Project, error) {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs(repoRoot)
	opts, err := cli.NewProjectOptions([]string{abs}, cli.WithWorkingDirectory(root), cli.WithName("ebs"),
		cli.WithEnv([]string{}), cli.WithResolvedPaths(true))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

func TestComposeFile(t *testing.T) {
	t.Parallel()
	p, err := loadCompose(t, filepath.Join(repoRoot, "compose.yaml"))
	if err != nil {
		t.Fatalf("compose.yaml does not load: %v", err)
	}
	if errs := checkCompose(p); len(errs) > 0 {
		for _, e := range errs {
			t.Error(e)
		}
	}
	names := p.ServiceNames()
	for _, want := range append(slices.Clone(composeServices), composeInfra...) {
		if !slices.Contains(names, want) {
			t.Errorf("compose.yaml has no service %q (has %v)", want, names)
		}
	}
}

// The rules catch what they are meant to catch: each case breaks
// compose.yaml one way and expects the loader or a rule to say so.
func TestComposeChecksRejectBrokenFiles(t *testing.T) {
	t.Parallel()
	orig, err := os.ReadFile(filepath.Join(repoRoot, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		edit    func(string) string
		wantErr string
	}{
		{"unknown key", func(s string) string {
			return strings.Replace(s, "    restart: unless-stopped\n    volumes:\n      - ./deploy/compose/nats.conf", "    restartt: unless-stopped\n    volumes:\n      - ./deploy/compose/nats.conf", 1)
		}, "restartt"},
		{"no health check", func(s string) string {
			return regexp.MustCompile(`(?s)(  postgres:.*?)    healthcheck:\n(      [^\n]*\n)+`).ReplaceAllString(s, "$1")
		}, "postgres: no health check"},
		{"disabled health check", func(s string) string {
			return strings.Replace(s, "      test: [\"CMD\", \"pg_isready\"", "      disable: true\n      test: [\"CMD\", \"pg_isready\"", 1)
		}, "postgres: no health check"},
		{"wrong SERVICE", func(s string) string {
			return strings.Replace(s, "args: {SERVICE: batcher}", "args: {SERVICE: batchr}", 1)
		}, "batcher: build.args.SERVICE"},
		{"missing config file", func(s string) string {
			return strings.Replace(s, "./deploy/compose/nats.conf:", "./deploy/compose/nats-missing.conf:", 1)
		}, "nats-missing.conf"},
		{"NATS without a volume", func(s string) string {
			return strings.Replace(s, "      - nats-data:/data\n", "", 1)
		}, "nats: JetStream store"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			edited := tc.edit(string(orig))
			if edited == string(orig) {
				t.Fatal("the edit did not change compose.yaml; update the test case")
			}
			// Written beside the original so relative paths resolve the same way.
			f, err := os.CreateTemp(repoRoot, ".compose-check-*.yaml")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = os.Remove(f.Name()) })
			if _, err := f.WriteString(edited); err != nil {
				t.Fatal(err)
			}
			_ = f.Close()
			var msgs []string
			p, err := loadCompose(t, f.Name())
			if err != nil {
				msgs = append(msgs, err.Error())
			} else {
				for _, e := range checkCompose(p) {
					msgs = append(msgs, e.Error())
				}
			}
			all := strings.Join(msgs, "\n")
			if !strings.Contains(all, tc.wantErr) {
				t.Fatalf("want an error mentioning %q, got:\n%s", tc.wantErr, all)
			}
		})
	}
}

// checkCompose applies ebs's rules to a loaded project.
func checkCompose(p *types.Project) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	dockerfile, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		return []error{err}
	}
	for name, s := range p.Services {
		if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) == 0 || s.HealthCheck.Test[0] == "NONE" {
			add("%s: no health check", name)
		}
		for _, v := range s.Volumes {
			if v.Type == types.VolumeTypeBind {
				if _, err := os.Stat(v.Source); err != nil {
					add("%s: bind mount source %s: %v", name, v.Source, err)
				}
			}
		}
		if s.Build != nil {
			svc := s.Build.Args["SERVICE"]
			if svc == nil || *svc == "" {
				add("%s: build without args.SERVICE", name)
				continue
			}
			if filepath.Base(s.Build.Dockerfile) != "Dockerfile" || filepath.Clean(s.Build.Context) != mustAbs(repoRoot) {
				add("%s: must build from the root Dockerfile (context %s, dockerfile %s)", name, s.Build.Context, s.Build.Dockerfile)
			}
			if !dockerfileBuilds(string(dockerfile), *svc) {
				add("%s: the Dockerfile cannot build SERVICE=%s", name, *svc)
			}
			if slices.Contains(composeServices, name) || slices.Contains(composeInfra, name) {
				if *svc != name {
					add("%s: build.args.SERVICE is %q, want %q", name, *svc, name)
				}
			}
		}
	}
	for _, name := range composeServices {
		s, ok := p.Services[name]
		if !ok {
			continue
		}
		errs = append(errs, checkEBSService(p, name, s)...)
	}
	if s, ok := p.Services["nats"]; ok {
		errs = append(errs, checkNATS(s)...)
	}
	return errs
}

func checkEBSService(p *types.Project, name string, s types.ServiceConfig) []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(name+": "+format, a...)) }
	env := func(k string) string {
		if v := s.Environment[k]; v != nil {
			return *v
		}
		return ""
	}
	if !strings.HasPrefix(env("EBS_NATS_URL"), "nats://nats:") {
		add("EBS_NATS_URL %q does not point at the nats service", env("EBS_NATS_URL"))
	}
	if env("EBS_ADMIN_ADDR") == "" {
		add("EBS_ADMIN_ADDR not set (the health check probes it)")
	}
	if hc := s.HealthCheck; hc != nil && !slices.Equal([]string(hc.Test), []string{"CMD", "/usr/local/bin/app", "healthcheck"}) {
		add("health check %v: want the binary's own `healthcheck` mode", hc.Test)
	}
	cfg := env("EBS_CONFIG")
	mounted := false
	for _, v := range s.Volumes {
		if v.Target == cfg {
			mounted = true
		}
	}
	if cfg == "" || !mounted {
		add("EBS_CONFIG %q is not a mounted file", cfg)
	}
	if d, ok := s.DependsOn["nats"]; !ok || d.Condition != types.ServiceConditionHealthy {
		add("must depend on nats being healthy")
	}
	for dep := range s.DependsOn {
		if _, ok := p.Services[dep]; !ok {
			add("depends on unknown service %s", dep)
		}
	}
	return errs
}

var maxPayload = regexp.MustCompile(`(?m)^\s*max_payload:\s*8MB\s*$`)

func checkNATS(s types.ServiceConfig) []error {
	var errs []error
	var conf string
	store := false
	for _, v := range s.Volumes {
		if v.Type == types.VolumeTypeBind && strings.HasSuffix(v.Target, ".conf") {
			b, err := os.ReadFile(v.Source)
			if err == nil {
				conf = string(b)
			}
		}
		if v.Type == types.VolumeTypeVolume && v.Target == "/data" {
			store = true
		}
	}
	if !store {
		errs = append(errs, fmt.Errorf("nats: JetStream store /data must be a named volume (persistent)"))
	}
	if !maxPayload.MatchString(conf) {
		errs = append(errs, fmt.Errorf("nats: the mounted config must set max_payload: 8MB (natsx.MaxPayload)"))
	}
	if !strings.Contains(conf, "jetstream") || !strings.Contains(conf, "store_dir: /data") {
		errs = append(errs, fmt.Errorf("nats: the mounted config must enable JetStream with store_dir /data"))
	}
	if !slices.Contains([]string(s.Command), "/etc/nats/nats.conf") {
		errs = append(errs, fmt.Errorf("nats: must run with -c /etc/nats/nats.conf"))
	}
	return errs
}

// dockerfileBuilds reports whether the root Dockerfile's build stage maps
// SERVICE=svc to a package that exists.
func dockerfileBuilds(dockerfile, svc string) bool {
	if m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(svc) + `\)\s*pkg=(\S+)\s*;;`).FindStringSubmatch(dockerfile); m != nil {
		_, err := os.Stat(filepath.Join(repoRoot, m[1]))
		return err == nil
	}
	if !strings.Contains(dockerfile, "pkg=./services/${SERVICE}") {
		return false
	}
	_, err := os.Stat(filepath.Join(repoRoot, "services", svc, "main.go"))
	return err == nil
}

func mustAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		panic(err)
	}
	return a
}

// Every command line and health check in compose.yaml is accepted by the
// binary it runs: each image's binary is built (as the Dockerfile does) and
// run with the service's command plus -h (flags parse, help exits 0), and
// each binary health check runs against nothing (it must fail as "not
// answering", exit 1, not as a usage error, exit 2).
func TestComposeCommandLinesParse(t *testing.T) {
	t.Parallel()
	p, err := loadCompose(t, filepath.Join(repoRoot, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dockerfile, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	built := map[string]string{}
	build := func(svc string) string {
		if b, ok := built[svc]; ok {
			return b
		}
		pkg := "./services/" + svc
		if m := regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(svc) + `\)\s*pkg=(\S+)\s*;;`).FindStringSubmatch(string(dockerfile)); m != nil {
			pkg = m[1]
		}
		out := filepath.Join(bin, svc)
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = repoRoot // the workspace builds it (this module runs with GOWORK=off)
		cmd.Env = append(os.Environ(), "GOWORK="+mustAbs(filepath.Join(repoRoot, "go.work")))
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
		built[svc] = out
		return out
	}
	names := p.ServiceNames()
	sort.Strings(names)
	for _, name := range names {
		s := p.Services[name]
		if s.Build == nil || s.Build.Args["SERVICE"] == nil {
			continue
		}
		exe := build(*s.Build.Args["SERVICE"])
		var env []string
		for k, v := range s.Environment {
			if v != nil && k != "EBS_ADMIN_ADDR" {
				env = append(env, k+"="+*v)
			}
		}
		// The command line parses.
		cmd := exec.Command(exe, append(append([]string(nil), s.Command...), "-h")...)
		cmd.Env = append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %s %s -h: %v\n%s", name, filepath.Base(exe), strings.Join(s.Command, " "), err, out)
		}
		// The health check runs (nothing listens on a fresh port).
		if hc := s.HealthCheck; hc != nil && len(hc.Test) > 1 && hc.Test[0] == "CMD" && hc.Test[1] == "/usr/local/bin/app" {
			cmd := exec.Command(exe, hc.Test[2:]...)
			cmd.Env = append(os.Environ(), "EBS_ADMIN_ADDR=127.0.0.1:1")
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Errorf("%s: health check %v against nothing: %v (want exit 1)\n%s", name, hc.Test[1:], err, out)
			}
		}
	}
}
