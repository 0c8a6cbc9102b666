package config_test

import (
	"testing"

	"github.com/fedora-eln/ebs/libs/config"
)

func TestProductionConfigLoads(t *testing.T) {
	t.Parallel()
	c, err := config.LoadFile("testdata/distrobaker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Control.TriggerTag != "f45" || c.Koji.BuildTarget != "eln" || c.Koji.StableTag != "eln" || !c.Koji.FailFast || c.Bodhi.BatchSize != 750 {
		t.Fatalf("resolved: %+v", c)
	}
	if c.OIDC != nil || c.Email != nil {
		t.Fatal("open_id_connect and email are false in production")
	}
	if len(c.Control.SkipTag) != 20 || len(c.Control.Ordering) != 6 || len(c.Components.Overrides) != 4 {
		t.Fatalf("skip_tag %d ordering %d overrides %d", len(c.Control.SkipTag), len(c.Control.Ordering), len(c.Components.Overrides))
	}
	tests := []struct {
		name     string
		ordering int
		skipped  bool
		excluded bool
	}{
		{"llvm", 0, true, false},
		{"llvm19", 0, true, false},
		{"clang", 1, true, false},
		{"ocaml-srpm-macros", 0, true, false},
		{"ocaml", 1, true, false},
		{"nettle", 500, true, false},
		{"ipa", 1001, false, false},
		{"bash", 1000, false, false},
		{"kernel", 1000, false, true},
		{"shim-unsigned-x64", 1000, false, true},
		{"texlive-collection-basic", 1000, false, true},
		{"texlive-base", 1000, false, true},
	}
	for _, tt := range tests {
		if got := c.Control.OrderingOf(tt.name); got != tt.ordering {
			t.Errorf("OrderingOf(%s) = %d, want %d", tt.name, got, tt.ordering)
		}
		if got := c.Control.Skipped(tt.name); got != tt.skipped {
			t.Errorf("Skipped(%s) = %v", tt.name, got)
		}
		if got := c.Control.Excluded(tt.name); got != tt.excluded {
			t.Errorf("Excluded(%s) = %v", tt.name, got)
		}
	}
	if c.Components.Overrides["ipa"].UpstreamName != "freeipa" {
		t.Fatal("override ipa <- freeipa")
	}
}
