package check

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
)

var chartDir = filepath.Join("..", "helm", "ebs")

func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	path, err := exec.LookPath("helm")
	if err != nil {
		t.Fatalf("helm is not installed: run `make tools` (go install helm.sh/helm/v3/cmd/helm@v3.22.0): %v", err)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.Bytes()
}

func TestHelmLint(t *testing.T) {
	t.Parallel()
	out := helm(t, "lint", "--strict", chartDir)
	if !bytes.Contains(out, []byte("0 chart(s) failed")) {
		t.Fatalf("helm lint:\n%s", out)
	}
}

// render returns the chart's objects decoded strictly (unknown fields fail).
func render(t *testing.T, sets ...string) []runtime.Object {
	t.Helper()
	args := []string{"template", "ebs", chartDir}
	for _, s := range sets {
		args = append(args, "--set", s)
	}
	out := helm(t, args...)
	dec := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	var objs []runtime.Object
	for i, doc := range bytes.Split(out, []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(doc))) == 0 {
			continue
		}
		obj, _, err := dec.Decode(doc, nil, nil)
		if err != nil {
			t.Fatalf("document %d does not decode strictly: %v\n%s", i, err, doc)
		}
		objs = append(objs, obj)
	}
	return objs
}

func stripComments(b []byte) []byte {
	var out [][]byte
	for _, l := range bytes.Split(b, []byte("\n")) {
		if !bytes.HasPrefix(bytes.TrimSpace(l), []byte("#")) {
			out = append(out, l)
		}
	}
	return bytes.Join(out, []byte("\n"))
}

var services = []string{"bridge", "filter", "batcher", "koji-worker", "repo-watcher", "bodhi-publisher", "status"}

func TestChartRendersEveryServiceSafely(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		sets []string
	}{
		{"defaults", nil},
		{"all-secrets-ingress", []string{"secrets.database=db", "secrets.koji=koji", "secrets.fedoraMessaging=fm",
			"secrets.oidc=oidc", "secrets.smtp=smtp", "secrets.bodhi=bodhi", "bodhi.clientID=ebs",
			"koji.principal=eln-buildsync@FEDORAPROJECT.ORG", "nats.credsSecret=nats", "status.ingress.enabled=true",
			"status.oidcIssuer=https://id.fedoraproject.org/openidc",
			"config.source=git+https://example.org/config.git#main:distrobaker.yaml"}},
		{"single-replicas", []string{"services.batcher.replicas=1", "services.status.replicas=1"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			objs := render(t, tc.sets...)
			deps := map[string]*appsv1.Deployment{}
			pdbs := map[string]*policyv1.PodDisruptionBudget{}
			var svc *corev1.Service
			for _, o := range objs {
				switch x := o.(type) {
				case *appsv1.Deployment:
					deps[x.Labels["app.kubernetes.io/name"]] = x
				case *policyv1.PodDisruptionBudget:
					pdbs[x.Labels["app.kubernetes.io/name"]] = x
				case *corev1.Service:
					svc = x
				}
			}
			for _, name := range services {
				d := deps[name]
				if d == nil {
					t.Fatalf("no Deployment for %s", name)
				}
				if err := checkDeployment(d); err != nil {
					t.Errorf("%s: %v", name, err)
				}
				if *d.Spec.Replicas > 1 && pdbs[name] == nil {
					t.Errorf("%s has %d replicas but no PodDisruptionBudget", name, *d.Spec.Replicas)
				}
			}
			if err := checkSecretsStayWithTheirService(deps); err != nil {
				t.Error(err)
			}
			if svc == nil || len(svc.Spec.Ports) != 2 {
				t.Fatalf("status Service with http and grpc ports expected, got %v", svc)
			}
		})
	}
}

func checkDeployment(d *appsv1.Deployment) error {
	ps := d.Spec.Template.Spec
	if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot {
		return fmt.Errorf("pod does not require non-root")
	}
	if len(ps.Containers) != 1 {
		return fmt.Errorf("%d containers", len(ps.Containers))
	}
	c := ps.Containers[0]
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/alive" {
		return fmt.Errorf("liveness probe must GET /alive")
	}
	if c.StartupProbe == nil || c.StartupProbe.HTTPGet == nil || c.StartupProbe.HTTPGet.Path != "/startup" {
		return fmt.Errorf("startup probe must GET /startup")
	}
	if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		return fmt.Errorf("memory request and limit required")
	}
	if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
		return fmt.Errorf("root filesystem must be read-only")
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	for _, k := range []string{"EBS_NATS_URL", "EBS_CONFIG", "EBS_ADMIN_ADDR"} {
		if env[k] == "" {
			return fmt.Errorf("env %s not set", k)
		}
	}
	return nil
}

// secretUsers says which service may mount each secret volume.
var secretUsers = map[string]string{
	"secret-database": "status", "secret-smtp": "status", "secret-oidc": "status",
	"secret-koji": "koji-worker", "secret-bodhi": "bodhi-publisher", "secret-fedoramessaging": "bridge",
}

// checkSecretsStayWithTheirService: a secret is mounted only into the pod that
// uses it, and the environment points that service at it.
func checkSecretsStayWithTheirService(deps map[string]*appsv1.Deployment) error {
	for name, d := range deps {
		for _, v := range d.Spec.Template.Spec.Volumes {
			if user, ok := secretUsers[v.Name]; ok && user != name {
				return fmt.Errorf("%s mounts %s, which only %s needs", name, v.Name, user)
			}
		}
	}
	want := map[string][]string{
		"koji-worker":     {"EBS_KOJI_KEYTAB", "EBS_KOJI_PRINCIPAL"},
		"status":          {"EBS_DB_PASSWORD_FILE", "EBS_DATABASE_URL"},
		"bodhi-publisher": {"EBS_BODHI_CLIENT_ID", "EBS_BODHI_CLIENT_SECRET_FILE"},
		"bridge":          {"EBS_AMQP_CERT", "EBS_AMQP_QUEUE"},
	}
	for name, envs := range want {
		d := deps[name]
		mounted := false
		for _, v := range d.Spec.Template.Spec.Volumes {
			if secretUsers[v.Name] == name {
				mounted = true
			}
		}
		if !mounted {
			continue // this case sets no secret for it
		}
		have := map[string]bool{}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			have[e.Name] = true
		}
		for _, e := range envs {
			if !have[e] {
				return fmt.Errorf("%s mounts its secret but lacks %s", name, e)
			}
		}
	}
	return nil
}
