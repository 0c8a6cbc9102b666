package config_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/config"
)

// minimal is a valid single-file configuration; cases below edit it.
const minimal = `configuration:
  koji:
    profile: koji
    trigger_tag: f45
    build_target: eln
    stable_tag: eln
    scratch_build: false
    fail_fast: true
  bodhi:
    batch_size: 750
  db:
    host: db.example
    port: 5432
    name: elnbuildsync
    driver: postgresql+asyncpg
    user: elnbuildsync
  open_id_connect: false
  email: false
  control:
    pause: false
    skip_tag: ['^gcc$']
    exclude: ['^kernel$']
    ordering:
      '^llvm$': 0
components:
  autopackagelist:
    view: [eln, eln-extras]
    source: [source, buildroot-source]
  overrides:
    ipa:
      upstream_name: freeipa
`

func TestMinimalDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.Parse("minimal.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if c.Layout != config.LayoutSingleFile || c.TriggerTagKey != "configuration.koji.trigger_tag" {
		t.Errorf("layout %s key %s", c.Layout, c.TriggerTagKey)
	}
	if !c.Koji.WaitRepo || c.Koji.Instance != "primary" || c.Bodhi.MaxSingleBatchSize != 750 || c.Bodhi.Staging ||
		c.Bodhi.WarnTimeout != 3*time.Hour || c.DB.PageSize != 500 || c.Control.StatusInterval != 600*time.Second {
		t.Errorf("defaults: %+v %+v %+v %+v", c.Koji, c.Bodhi, c.DB, c.Control)
	}
	if c.Components.AutoPackageList.ContentResolver != "https://tiny.distro.builders" {
		t.Errorf("content resolver default %q", c.Components.AutoPackageList.ContentResolver)
	}
	if c.Timers != config.DefaultTimers() || c.Timers.Lull != time.Minute || c.Timers.Reconcile != 12*time.Hour {
		t.Errorf("timers %+v", c.Timers)
	}
	if len(c.Digest) != 64 {
		t.Errorf("digest %q", c.Digest)
	}
	if !hasWarning(c, "configuration.bodhi.staging") {
		t.Errorf("no warning for the inferred bodhi.staging: %v", c.Warnings)
	}
}

func hasWarning(c *config.Config, substr string) bool {
	for _, w := range c.Warnings {
		if strings.Contains(w, substr) {
			return true
		}
	}
	return false
}

func TestValidationErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		old, new string
		path     string // key path of the first error
		line     int    // its line (0: do not check)
		msg      string // substring of the message
	}{
		{"missing koji", "  koji:\n    profile: koji\n    trigger_tag: f45\n    build_target: eln\n    stable_tag: eln\n    scratch_build: false\n    fail_fast: true\n", "",
			"configuration.koji", 1, "required"},
		{"missing profile", "    profile: koji\n", "", "configuration.koji.profile", 2, "required"},
		{"missing build target", "    build_target: eln\n", "", "configuration.koji.build_target", 2, "required"},
		{"koji not a mapping", "  koji:\n    profile: koji\n    trigger_tag: f45\n    build_target: eln\n    stable_tag: eln\n    scratch_build: false\n    fail_fast: true\n", "  koji: yes\n",
			"configuration.koji", 2, "want a mapping"},
		{"wait_repo false in production", "    fail_fast: true\n", "    fail_fast: true\n    wait_repo: false\n", "configuration.koji.wait_repo", 9, "cannot be false"},
		{"scratch not bool", "    scratch_build: false\n", "    scratch_build: maybe\n", "configuration.koji.scratch_build", 7, "want true or false"},
		{"max single without batch size", "    batch_size: 750\n", "    batch_size: 0\n    max_single_batch_size: 750\n",
			"configuration.bodhi.max_single_batch_size", 11, "batch_size is 0"},
		{"negative batch size", "    batch_size: 750\n", "    batch_size: -1\n", "configuration.bodhi.batch_size", 10, "positive"},
		{"batch size not int", "    batch_size: 750\n", "    batch_size: lots\n", "configuration.bodhi.batch_size", 10, "want an integer"},
		{"staging contradicts koji", "    batch_size: 750\n", "    batch_size: 750\n    staging: true\n", "configuration.bodhi.staging", 11, "production Koji"},
		{"staging contradicts stg", "    profile: koji\n", "    profile: stg\n", "", 0, ""}, // valid: stg infers staging
		{"staging required for other profile", "    profile: koji\n", "    profile: mykoji\n", "configuration.bodhi.staging", 0, "required when koji.profile"},
		{"negative warn timeout", "    batch_size: 750\n", "    batch_size: 750\n    warn_timeout: -5\n", "configuration.bodhi.warn_timeout", 11, "non-negative"},
		{"bodhi missing", "  bodhi:\n    batch_size: 750\n", "", "configuration.bodhi", 1, "may be empty"},
		{"db port missing", "    port: 5432\n", "", "configuration.db.port", 11, "required"},
		{"db port not int", "    port: 5432\n", "    port: fivefourthreetwo\n", "configuration.db.port", 13, "want an integer"},
		{"db page size zero", "    user: elnbuildsync\n", "    user: elnbuildsync\n    page_size: 0\n", "configuration.db.page_size", 17, "positive"},
		{"db password in yaml", "    user: elnbuildsync\n", "    user: elnbuildsync\n    password: hunter2\n", "configuration.db.password", 17, "EBS_DB_PASSWORD"},
		{"oidc missing", "  open_id_connect: false\n", "", "configuration.open_id_connect", 0, "want false (disabled)"},
		{"oidc true", "  open_id_connect: false\n", "  open_id_connect: true\n", "configuration.open_id_connect", 17, "want false (disabled) or a mapping"},
		{"oidc missing fields", "  open_id_connect: false\n", "  open_id_connect:\n    auth_url: https://id/auth\n",
			"configuration.open_id_connect.client_id", 17, "required"},
		{"oidc client secret in yaml", "  open_id_connect: false\n",
			"  open_id_connect:\n    auth_url: a\n    client_id: b\n    token_endpoint: c\n    admin_groups: [eln]\n    client_secret: s3cret\n",
			"configuration.open_id_connect.client_secret", 22, "EBS_OIDC_CLIENT_SECRET"},
		{"email empty recipients", "  email: false\n",
			"  email:\n    smtp_host: smtp\n    smtp_port: 587\n    smtp_username: ebs\n    from: ebs@example\n    recipients: []\n",
			"configuration.email.recipients", 23, "non-empty"},
		{"email port not int", "  email: false\n",
			"  email:\n    smtp_host: smtp\n    smtp_port: x\n    smtp_username: ebs\n    from: ebs@example\n    recipients: [a@b]\n",
			"configuration.email.smtp_port", 20, "want an integer"},
		{"smtp password in yaml", "  email: false\n",
			"  email:\n    smtp_host: smtp\n    smtp_port: 25\n    smtp_username: ebs\n    from: ebs@example\n    recipients: [a@b]\n    smtp_password: x\n",
			"configuration.email.smtp_password", 24, "EBS_SMTP_PASSWORD"},
		{"pause missing", "    pause: false\n", "", "configuration.control.pause", 19, "required"},
		{"pause not bool", "    pause: false\n", "    pause: sometimes\n", "configuration.control.pause", 20, "want true or false"},
		{"no trigger tag", "    trigger_tag: f45\n", "", "configuration.control.trigger_tag", 18, "required (or configuration.koji.trigger_tag"},
		{"status interval zero", "    pause: false\n", "    pause: false\n    status_interval: 0\n", "configuration.control.status_interval", 21, "positive"},
		{"look-ahead exclude", "['^kernel$']", "['^kernel(?!-tools)']", "configuration.control.exclude[0]", 22, "look-ahead"},
		{"back-reference skip_tag", "['^gcc$']", `['^(a)\1$']`, "configuration.control.skip_tag[0]", 21, "back-reference"},
		{"broken regex", "['^kernel$']", "['^kernel[']", "configuration.control.exclude[0]", 22, "RE2"},
		{"POSIX class", "['^kernel$']", "['^kernel-[[:digit:]]']", "configuration.control.exclude[0]", 22, "POSIX class [:digit:]"},
		{"ordering not int", "'^llvm$': 0", "'^llvm$': first", "configuration.control.ordering.^llvm$", 24, "want an integer"},
		{"ordering look-behind", "'^llvm$': 0", "'(?<=x)llvm': 0", "configuration.control.ordering.(?<=x)llvm", 24, "look-behind"},
		{"ordering list", "    ordering:\n      '^llvm$': 0\n", "    ordering: ['^llvm$']\n", "configuration.control.ordering", 23, "want a mapping"},
		{"components missing", "components:\n  autopackagelist:\n    view: [eln, eln-extras]\n    source: [source, buildroot-source]\n  overrides:\n    ipa:\n      upstream_name: freeipa\n", "",
			"components", 1, "required"},
		{"components empty", "  autopackagelist:\n    view: [eln, eln-extras]\n    source: [source, buildroot-source]\n  overrides:\n    ipa:\n      upstream_name: freeipa\n", "  {}\n",
			"components", 25, "at least one of autopackagelist or overrides"},
		{"view missing", "    view: [eln, eln-extras]\n", "", "components.autopackagelist.view", 26, "required"},
		{"view mapping", "    view: [eln, eln-extras]\n", "    view: {a: b}\n", "components.autopackagelist.view", 27, "a string or a list"},
		{"bad content resolver", "    source: [source, buildroot-source]\n", "    source: [source, buildroot-source]\n    content_resolver: tiny.distro.builders\n",
			"components.autopackagelist.content_resolver", 29, "http(s) URL"},
		{"override not mapping", "    ipa:\n      upstream_name: freeipa\n", "    ipa: freeipa\n", "components.overrides.ipa", 30, "want a mapping"},
		{"override upstream list", "      upstream_name: freeipa\n", "      upstream_name: [freeipa]\n", "components.overrides.ipa.upstream_name", 31, "want a string"},
		{"gen A layout", "  control:\n", "  trigger:\n    rpms: f45\n  control:\n", "configuration", 1, "old DistroBuildSync layout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if !strings.Contains(minimal, tt.old) {
				t.Fatalf("test bug: %q not in the base config", tt.old)
			}
			doc := strings.Replace(minimal, tt.old, tt.new, 1)
			_, err := config.Parse("case.yaml", []byte(doc))
			if tt.path == "" && tt.msg == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted:\n%s", doc)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *config.Error", err, err)
			}
			var found *config.Error
			var all config.Errors
			if errors.As(err, &all) {
				for _, e := range all {
					if e.Path == tt.path {
						found = e
						break
					}
				}
			} else if ce.Path == tt.path {
				found = ce
			}
			if found == nil {
				t.Fatalf("no error at %s in: %v", tt.path, err)
			}
			if found.File != "case.yaml" {
				t.Errorf("file %q", found.File)
			}
			if tt.line != 0 && found.Line != tt.line {
				t.Errorf("line %d, want %d (%v)", found.Line, tt.line, found)
			}
			if !strings.Contains(found.Msg, tt.msg) {
				t.Errorf("message %q does not contain %q", found.Msg, tt.msg)
			}
			if !strings.Contains(err.Error(), "case.yaml") || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("error text %q does not name the file and key", err)
			}
		})
	}
}

func TestAllErrorsReportedTogether(t *testing.T) {
	t.Parallel()
	doc := strings.Replace(strings.Replace(minimal, "    pause: false\n", "", 1), "    port: 5432\n", "    port: x\n", 1)
	_, err := config.Parse("two.yaml", []byte(doc))
	var all config.Errors
	if !errors.As(err, &all) || len(all) != 2 {
		t.Fatalf("want 2 errors, got %v", err)
	}
	if !strings.HasPrefix(err.Error(), "2 configuration errors:") {
		t.Errorf("text %q", err)
	}
}

func TestSyntaxErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, doc, msg string }{
		{"empty", "", "empty"},
		{"not yaml", "configuration: [\n", "not valid YAML"},
		{"list", "- a\n- b\n", "must be a mapping"},
		{"two documents", minimal + "---\n" + minimal, "more than one YAML document"},
	}
	for _, tt := range tests {
		_, err := config.Parse("bad.yaml", []byte(tt.doc))
		if err == nil || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("%s: got %v", tt.name, err)
		}
	}
}

func TestUnknownKeysWarn(t *testing.T) {
	t.Parallel()
	doc := strings.Replace(minimal, "    pause: false\n", "    pause: false\n    exlude: ['^x$']\n", 1)
	c, err := config.Parse("typo.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !hasWarning(c, "configuration.control.exlude: unknown key") {
		t.Fatalf("warnings %v", c.Warnings)
	}
}

func TestPyYAMLBooleansAndOptionalForms(t *testing.T) {
	t.Parallel()
	doc := strings.NewReplacer(
		"    pause: false\n", "    pause: yes\n",
		"  bodhi:\n    batch_size: 750\n", "  bodhi:\n",
		"    view: [eln, eln-extras]\n", "    view: eln\n",
	).Replace(minimal)
	c, err := config.Parse("forms.yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Control.Pause || c.Bodhi.BatchSize != 0 || len(c.Components.AutoPackageList.Views) != 1 {
		t.Fatalf("pause %v bodhi %+v views %v", c.Control.Pause, c.Bodhi, c.Components.AutoPackageList.Views)
	}
	if got := c.Bodhi.ChunkSizes(5000); len(got) != 1 || got[0] != 5000 {
		t.Fatalf("batch_size 0 must never split: %v", got)
	}
}

// The split layout: static file (koji, bodhi, db, oidc, email) and dynamic
// file (control with trigger_tag, components), as 2.1.0 reads them.
func TestSplitLayout(t *testing.T) {
	t.Parallel()
	c, err := config.LoadFile("testdata/split/static.yaml", "testdata/split/dynamic.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Layout != config.LayoutSplit || c.Control.TriggerTag != "rawhide" || c.TriggerTagKey != "configuration.control.trigger_tag" {
		t.Fatalf("layout %s trigger %s (%s)", c.Layout, c.Control.TriggerTag, c.TriggerTagKey)
	}
	if c.OIDC == nil || c.OIDC.ClientID != "elnbuildsync" || len(c.OIDC.Scopes) != 3 || c.Email == nil || c.Email.SMTPPort != 587 {
		t.Fatalf("static: %+v %+v", c.OIDC, c.Email)
	}
	if c.Bodhi.BatchSize != 500 || c.Bodhi.MaxSingleBatchSize != 750 {
		t.Fatalf("bodhi %+v", c.Bodhi)
	}
	if got := c.Bodhi.ChunkSizes(751); len(got) != 2 || got[0] != 500 || got[1] != 251 {
		t.Fatalf("chunks of 751: %v", got)
	}
	if got := c.Bodhi.ChunkSizes(750); len(got) != 1 {
		t.Fatalf("750 must be one update: %v", got)
	}
	if c.Control.OrderingOf("ipa") != 1001 || !c.Control.Skipped("nettle") || !c.Control.Excluded("texlive-collection-basic") {
		t.Fatal("dynamic control not applied")
	}
	if c.Source != "testdata/split/static.yaml+testdata/split/dynamic.yaml" {
		t.Fatalf("source %q", c.Source)
	}
	// An error in the dynamic file names the dynamic file.
	_, err = config.Parse("static.yaml+dynamic.yaml", mustRead(t, "testdata/split/static.yaml"), []byte("configuration:\n  control:\n    trigger_tag: rawhide\ncomponents:\n  overrides: {x: {}}\n"))
	var e *config.Error
	if !errors.As(err, &e) || e.File != "dynamic.yaml" || e.Path != "configuration.control.pause" || e.Line != 2 {
		t.Fatalf("got %v", err)
	}
}

func TestChunkSizes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		b     config.Bodhi
		total int
		want  []int
	}{
		{config.Bodhi{}, 10, []int{10}},
		{config.Bodhi{BatchSize: 2, MaxSingleBatchSize: 10}, 10, []int{10}},
		{config.Bodhi{BatchSize: 2, MaxSingleBatchSize: 10}, 11, []int{2, 2, 2, 2, 2, 1}},
		{config.Bodhi{BatchSize: 2, MaxSingleBatchSize: 2}, 5, []int{2, 2, 1}},
		{config.Bodhi{BatchSize: 750, MaxSingleBatchSize: 750}, 0, nil},
	}
	for _, tt := range tests {
		got := tt.b.ChunkSizes(tt.total)
		if len(got) != len(tt.want) {
			t.Errorf("%+v.ChunkSizes(%d) = %v, want %v", tt.b, tt.total, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%+v.ChunkSizes(%d) = %v, want %v", tt.b, tt.total, got, tt.want)
			}
		}
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	d := config.Defaults()
	if d.Control.TriggerTag != "rawhide" || d.Koji.BuildTarget != "eln" || !d.Koji.WaitRepo || d.Timers.ConfigRefresh != 15*time.Minute ||
		d.Control.OrderingOf("anything") != config.DefaultOrdering || d.DB.PageSize != 500 {
		t.Fatalf("%+v", d)
	}
	// Defaults returns a fresh value each time.
	d.Components.Overrides["x"] = config.Override{}
	if len(config.Defaults().Components.Overrides) != 0 {
		t.Fatal("Defaults shares state")
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
