package check

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
)

var chartDir = filepath.Join("..", "helm", "ebs")

func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	out, errOut, err := runHelm(t, args...)
	if err != nil {
		t.Fatalf("helm %s: %v\n%s%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

func runHelm(t *testing.T, args ...string) (stdout, stderr []byte, err error) {
	t.Helper()
	path, err := exec.LookPath("helm")
	if err != nil {
		t.Fatalf("helm is not installed: run `make tools` (go install helm.sh/helm/v3/cmd/helm@v3.22.0): %v", err)
	}
	var out, errb bytes.Buffer
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.Bytes(), errb.Bytes(), err
}

func TestHelmLint(t *testing.T) {
	t.Parallel()
	out := helm(t, "lint", "--strict", chartDir)
	if !bytes.Contains(out, []byte("0 chart(s) failed")) {
		t.Fatalf("helm lint:\n%s", out)
	}
}

// render returns the chart's objects decoded strictly (unknown fields fail).
// A set is passed as --set, or as it is when it starts with "--" (e.g.
// --set-file).
func render(t *testing.T, sets ...string) []runtime.Object {
	t.Helper()
	args := []string{"template", "ebs", chartDir}
	for _, s := range sets {
		if strings.HasPrefix(s, "--") {
			args = append(args, s)
		} else {
			args = append(args, "--set", s)
		}
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
			"koji.principal=eln-buildsync@FEDORAPROJECT.ORG", "--set-string=koji.krb5Conf=[realms]", "nats.credsSecret=nats", "status.ingress.enabled=true",
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
			var ings []*networkingv1.Ingress
			for _, o := range objs {
				switch x := o.(type) {
				case *appsv1.Deployment:
					deps[x.Labels["app.kubernetes.io/name"]] = x
				case *policyv1.PodDisruptionBudget:
					pdbs[x.Labels["app.kubernetes.io/name"]] = x
				case *corev1.Service:
					svc = x
				case *networkingv1.Ingress:
					ings = append(ings, x)
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
			wantIngress := slices.Contains(tc.sets, "status.ingress.enabled=true")
			if !wantIngress {
				if len(ings) != 0 {
					t.Fatalf("%d Ingresses rendered with status.ingress.enabled unset", len(ings))
				}
				return
			}
			if len(ings) != 1 {
				t.Fatalf("status.ingress.enabled: %d Ingresses, want 1", len(ings))
			}
			if err := checkIngressReaches(ings[0], svc); err != nil {
				t.Error(err)
			}
		})
	}
}

// checkIngressReaches: every path of the Ingress goes to the status Service
// on a port it has, the HTTP one.
func checkIngressReaches(ing *networkingv1.Ingress, svc *corev1.Service) error {
	if len(ing.Spec.Rules) == 0 {
		return fmt.Errorf("ingress %s has no rules", ing.Name)
	}
	for _, r := range ing.Spec.Rules {
		if r.HTTP == nil || len(r.HTTP.Paths) == 0 {
			return fmt.Errorf("ingress %s: rule for %q has no paths", ing.Name, r.Host)
		}
		for _, p := range r.HTTP.Paths {
			b := p.Backend.Service
			if b == nil || b.Name != svc.Name {
				return fmt.Errorf("ingress %s: path %s goes to %v, not Service %s", ing.Name, p.Path, b, svc.Name)
			}
			var port *corev1.ServicePort
			for i, sp := range svc.Spec.Ports {
				if (b.Port.Name != "" && sp.Name == b.Port.Name) || (b.Port.Number != 0 && sp.Port == b.Port.Number) {
					port = &svc.Spec.Ports[i]
				}
			}
			if port == nil {
				return fmt.Errorf("ingress %s: Service %s has no port %+v", ing.Name, svc.Name, b.Port)
			}
			if port.TargetPort.String() != "http" {
				return fmt.Errorf("ingress %s: Service port %s targets %s, not the status HTTP port", ing.Name, port.Name, port.TargetPort.String())
			}
		}
	}
	return nil
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
	if c.Resources.Requests.Cpu().IsZero() {
		return fmt.Errorf("CPU request required")
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
		"koji-worker":     {"EBS_KOJI_KEYTAB|EBS_KOJI_CERT"}, // keytab or cert login
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
			if !slices.ContainsFunc(strings.Split(e, "|"), func(k string) bool { return have[k] }) {
				return fmt.Errorf("%s mounts its secret but lacks %s", name, e)
			}
		}
	}
	return nil
}

// fedoraKrb5 is a krb5.conf as an operator would give it.
const fedoraKrb5 = `[libdefaults]
  default_realm = FEDORAPROJECT.ORG
  dns_lookup_kdc = false
[realms]
  FEDORAPROJECT.ORG = {
    kdc = kdc.example.org:88
  }
`

// koji-worker logs in to Koji with a keytab (and the krb5.conf it needs,
// which the image lacks) or a client certificate; the Koji secret and the
// krb5.conf reach koji-worker and nothing else.
func TestChartKojiAuth(t *testing.T) {
	t.Parallel()
	krb5File := filepath.Join(t.TempDir(), "krb5.conf")
	if err := os.WriteFile(krb5File, []byte(fedoraKrb5), 0o644); err != nil {
		t.Fatal(err)
	}
	keytab := []string{"secrets.koji=koji", "koji.principal=eln-buildsync@FEDORAPROJECT.ORG", "--set-file=koji.krb5Conf=" + krb5File}
	cases := []struct {
		name     string
		sets     []string
		wantEnv  map[string]string // koji-worker's environment
		noEnv    []string          // must not be set in koji-worker
		wantKrb5 bool
	}{
		{"keytab", keytab, map[string]string{
			"EBS_KOJI_KEYTAB":    "/etc/ebs/secrets/koji/keytab",
			"EBS_KOJI_PRINCIPAL": "eln-buildsync@FEDORAPROJECT.ORG",
			"KRB5_CONFIG":        "/etc/ebs/krb5/krb5.conf",
		}, []string{"EBS_KOJI_CERT", "EBS_KOJI_KEY"}, true},
		{"cert", []string{"koji.auth=cert", "secrets.koji=koji"}, map[string]string{
			"EBS_KOJI_CERT": "/etc/ebs/secrets/koji/client.crt",
			"EBS_KOJI_KEY":  "/etc/ebs/secrets/koji/client.key",
		}, []string{"EBS_KOJI_KEYTAB", "EBS_KOJI_PRINCIPAL", "KRB5_CONFIG"}, false},
		// A krb5.conf given with cert login is not mounted: nothing reads it.
		{"cert-ignores-krb5", []string{"koji.auth=cert", "secrets.koji=koji", "--set-file=koji.krb5Conf=" + krb5File}, map[string]string{
			"EBS_KOJI_CERT": "/etc/ebs/secrets/koji/client.crt",
		}, []string{"EBS_KOJI_KEYTAB", "KRB5_CONFIG"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			deps := map[string]*appsv1.Deployment{}
			var krb5 *corev1.ConfigMap
			for _, o := range render(t, tc.sets...) {
				switch x := o.(type) {
				case *appsv1.Deployment:
					deps[x.Labels["app.kubernetes.io/name"]] = x
				case *corev1.ConfigMap:
					if _, ok := x.Data["krb5.conf"]; ok {
						krb5 = x
					}
				}
			}
			if err := checkSecretsStayWithTheirService(deps); err != nil {
				t.Error(err)
			}
			kw := deps["koji-worker"]
			if kw == nil {
				t.Fatal("no koji-worker Deployment")
			}
			c := kw.Spec.Template.Spec.Containers[0]
			env := map[string]string{}
			for _, e := range c.Env {
				env[e.Name] = e.Value
			}
			for k, v := range tc.wantEnv {
				if env[k] != v {
					t.Errorf("koji-worker %s=%q, want %q", k, env[k], v)
				}
			}
			for _, k := range tc.noEnv {
				if _, ok := env[k]; ok {
					t.Errorf("koji-worker sets %s with this login", k)
				}
			}
			// Every path koji-worker is pointed at lies under one of its mounts.
			for _, k := range []string{"EBS_KOJI_KEYTAB", "EBS_KOJI_CERT", "EBS_KOJI_KEY", "KRB5_CONFIG"} {
				if p, ok := env[k]; ok && mountOf(kw, p) == "" {
					t.Errorf("koji-worker %s=%s is under no volume mount", k, p)
				}
			}
			if !tc.wantKrb5 {
				if krb5 != nil {
					t.Errorf("ConfigMap %s with a krb5.conf rendered for %s login", krb5.Name, tc.name)
				}
				if mountOf(kw, "/etc/ebs/krb5/krb5.conf") != "" {
					t.Error("koji-worker mounts a krb5.conf it does not use")
				}
				return
			}
			if krb5 == nil {
				t.Fatal("no ConfigMap holding krb5.conf")
			}
			if strings.TrimSpace(krb5.Data["krb5.conf"]) != strings.TrimSpace(fedoraKrb5) {
				t.Errorf("krb5.conf in the ConfigMap:\n%s\nwant:\n%s", krb5.Data["krb5.conf"], fedoraKrb5)
			}
			vol := mountOf(kw, env["KRB5_CONFIG"])
			if src := volumeConfigMap(kw, vol); src != krb5.Name {
				t.Errorf("KRB5_CONFIG is on volume %q from ConfigMap %q, want ConfigMap %s", vol, src, krb5.Name)
			}
			if kw.Spec.Template.Annotations["checksum/krb5"] == "" {
				t.Error("koji-worker pods do not roll when krb5.conf changes (no checksum/krb5 annotation)")
			}
			for name, d := range deps {
				if name == "koji-worker" {
					continue
				}
				if volumeOfConfigMap(d, krb5.Name) {
					t.Errorf("%s mounts the krb5.conf ConfigMap, which only koji-worker uses", name)
				}
				for _, e := range d.Spec.Template.Spec.Containers[0].Env {
					if e.Name == "KRB5_CONFIG" {
						t.Errorf("%s sets KRB5_CONFIG", name)
					}
				}
			}
		})
	}
}

// Misconfigured Koji login fails at render time, naming the value to set.
func TestChartRejectsIncompleteKojiAuth(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		sets []string
		want string
	}{
		{"keytab without krb5.conf", []string{"secrets.koji=koji", "koji.principal=eln-buildsync@FEDORAPROJECT.ORG"}, "koji.krb5Conf"},
		{"keytab without principal", []string{"secrets.koji=koji", "koji.krb5Conf=x"}, "koji.principal"},
		{"unknown auth", []string{"koji.auth=password"}, "koji.auth must be keytab or cert"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := []string{"template", "ebs", chartDir}
			for _, s := range tc.sets {
				args = append(args, "--set", s)
			}
			out, errOut, err := runHelm(t, args...)
			if err == nil {
				t.Fatalf("helm template succeeded:\n%s", out)
			}
			if !strings.Contains(string(errOut), tc.want) {
				t.Fatalf("helm template failed without naming %s:\n%s", tc.want, errOut)
			}
		})
	}
}

// mountOf names the volume mounted at the deepest mount path holding path
// in d's container ("" when none does).
func mountOf(d *appsv1.Deployment, path string) string {
	best, name := -1, ""
	for _, m := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
		dir := strings.TrimSuffix(m.MountPath, "/") + "/"
		if strings.HasPrefix(path, dir) && len(dir) > best {
			best, name = len(dir), m.Name
		}
	}
	return name
}

// volumeConfigMap names the ConfigMap behind volume vol ("" if none).
func volumeConfigMap(d *appsv1.Deployment, vol string) string {
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == vol && v.ConfigMap != nil {
			return v.ConfigMap.Name
		}
	}
	return ""
}

func volumeOfConfigMap(d *appsv1.Deployment, cm string) bool {
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.ConfigMap != nil && v.ConfigMap.Name == cm {
			return true
		}
	}
	return false
}

// The bridge's outbound completions link to the status page: an explicit
// statusURL, else the ingress host, else no link.
func TestChartOutboundStatusLink(t *testing.T) {
	t.Parallel()
	outbound := "fedoraMessaging.outboundTopic=org.fedoraproject.prod.eln.buildsync.batch.complete"
	cases := []struct {
		name string
		sets []string
		want string // EBS_STATUS_URL of the bridge; "" = unset
	}{
		{"no-ingress", []string{outbound}, ""},
		{"ingress-host", []string{outbound, "status.ingress.enabled=true", "status.ingress.host=ebs.fedoraproject.org"}, "https://ebs.fedoraproject.org/"},
		{"explicit", []string{outbound, "status.ingress.enabled=true", "fedoraMessaging.statusURL=https://status.example/"}, "https://status.example/"},
		{"outbound-off", []string{"status.ingress.enabled=true"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var bridge *appsv1.Deployment
			for _, o := range render(t, tc.sets...) {
				if d, ok := o.(*appsv1.Deployment); ok && d.Labels["app.kubernetes.io/name"] == "bridge" {
					bridge = d
				}
			}
			if bridge == nil {
				t.Fatal("no bridge Deployment rendered")
			}
			got, outboundSet := "", false
			for _, e := range bridge.Spec.Template.Spec.Containers[0].Env {
				switch e.Name {
				case "EBS_STATUS_URL":
					got = e.Value
				case "EBS_OUTBOUND_TOPIC":
					outboundSet = true
				}
			}
			if got != tc.want {
				t.Errorf("EBS_STATUS_URL = %q, want %q", got, tc.want)
			}
			if wantOutbound := tc.name != "outbound-off"; outboundSet != wantOutbound {
				t.Errorf("EBS_OUTBOUND_TOPIC set = %v, want %v", outboundSet, wantOutbound)
			}
		})
	}
}
