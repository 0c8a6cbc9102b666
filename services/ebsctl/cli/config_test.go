package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigCheck(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	prod, err := os.ReadFile("testdata/distrobaker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(string(prod), "    batch_size: 750\n", "    batch_size: 0\n    max_single_batch_size: 750\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	lookahead := filepath.Join(dir, "lookahead.yaml")
	if err := os.WriteFile(lookahead, []byte(strings.Replace(string(prod), "- ^kernel$", "- ^kernel(?!-tools)", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{"production", []string{"config", "check", "testdata/distrobaker.yaml"}, ExitOK,
			[]string{"testdata/distrobaker.yaml: valid (single-file layout)", "trigger tag:", "f45", "[configuration.koji.trigger_tag]",
				"build target:          eln", "exclude rules:         68", "skip_tag rules:        20", "ordering rules:        6",
				"overrides:             4 (ipa <- freeipa", "updates of at most 750 NVRs"}, nil},
		{"quiet", []string{"config", "check", "-q", "testdata/distrobaker.yaml"}, ExitOK, nil, nil},
		{"invalid chunking", []string{"config", "check", bad}, ExitFailure, nil,
			[]string{"invalid configuration", bad + ":11", "configuration.bodhi.max_single_batch_size", "batch_size is 0"}},
		{"python regex", []string{"config", "check", lookahead}, ExitFailure, nil,
			[]string{"configuration.control.exclude[1]", "negative look-ahead"}},
		{"missing file", []string{"config", "check", filepath.Join(dir, "nope.yaml")}, ExitFailure, nil, []string{"nope.yaml"}},
		{"no file", []string{"config", "check"}, ExitUsage, nil, []string{"usage: ebsctl config check"}},
		{"no subcommand", []string{"config"}, ExitUsage, nil, []string{"usage: ebsctl config check"}},
		{"unknown subcommand", []string{"config", "show"}, ExitUsage, nil, []string{"usage"}},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		code := Main(context.Background(), tt.args, &out, &errb)
		if code != tt.code {
			t.Errorf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tt.name, code, tt.code, out.String(), errb.String())
			continue
		}
		for _, s := range tt.stdout {
			if !strings.Contains(out.String(), s) {
				t.Errorf("%s: stdout lacks %q:\n%s", tt.name, s, out.String())
			}
		}
		for _, s := range tt.stderr {
			if !strings.Contains(errb.String(), s) {
				t.Errorf("%s: stderr lacks %q:\n%s", tt.name, s, errb.String())
			}
		}
		if tt.name == "quiet" && out.Len() != 0 {
			t.Errorf("quiet printed %q", out.String())
		}
	}
	// "config" is listed in the help.
	var out bytes.Buffer
	Main(context.Background(), []string{"help"}, &out, &out)
	if !strings.Contains(out.String(), "config") {
		t.Errorf("help: %s", out.String())
	}
}
