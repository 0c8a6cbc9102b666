package filter

import (
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/rpmver"
)

func TestPick(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 6, 1, 10, 0, 0, 0, time.UTC)
	b := func(nvr, epoch string, created time.Time) *KojiBuild {
		n, v, r, err := rpmver.ParseNVR(nvr)
		if err != nil {
			t.Fatal(err)
		}
		return &KojiBuild{ID: int64(len(nvr)), Name: n, Version: v, Release: r, NVR: nvr, Epoch: epoch, CreationTime: created}
	}
	tests := []struct {
		name       string
		rawhide    *KojiBuild
		eln        *KojiBuild
		ok         bool
		wantNVR    string
		wantELN    bool
		noteSubstr string
	}{
		{"rawhide newer", b("grep-3.11-11.fc45", "", t0), b("grep-3.11-10.eln150", "", t0.Add(time.Hour)), true, "grep-3.11-11.fc45", false, "newer than ELN"},
		{"eln newer (marshalparser, #122)", b("marshalparser-0.3-1.fc45", "", t0), b("marshalparser-0.4-1.eln150", "", t0), true, "marshalparser-0.4-1.eln150", true, "newer than Rawhide"},
		{"dist tags stripped: tie, rawhide created later", b("grep-3.11-10.fc45", "", t0.Add(time.Minute)), b("grep-3.11-10.eln150", "", t0), true, "grep-3.11-10.fc45", false, "created later"},
		{"tie, eln created later", b("grep-3.11-10.fc45", "", t0), b("grep-3.11-10.eln150", "", t0.Add(time.Minute)), true, "grep-3.11-10.eln150", true, "created later or at the same time"},
		{"exact tie: eln wins", b("grep-3.11-10.fc45", "", t0), b("grep-3.11-10.eln150", "", t0), true, "grep-3.11-10.eln150", true, "same time"},
		{"epoch beats version", b("perl-5.40-1.fc45", "4", t0), b("perl-6.0-1.eln150", "", t0), true, "perl-5.40-1.fc45", false, "newer"},
		{"only rawhide", b("bash-5.3-1.fc45", "", t0), nil, true, "bash-5.3-1.fc45", false, "no ELN build"},
		{"only eln (renamed)", nil, b("ipa-4.12-1.eln150", "", t0), true, "ipa-4.12-1.eln150", true, "no Rawhide build"},
		{"neither", nil, nil, false, "", false, ""},
		{"tilde pre-release older", b("foo-1.0~rc1-1.fc45", "", t0), b("foo-1.0-1.eln150", "", t0), true, "foo-1.0-1.eln150", true, "newer than Rawhide"},
	}
	for _, tt := range tests {
		c, ok := Pick(tt.rawhide, tt.eln)
		if ok != tt.ok {
			t.Errorf("%s: ok %v", tt.name, ok)
			continue
		}
		if !ok {
			continue
		}
		if c.Build.NVR != tt.wantNVR || c.FromELN != tt.wantELN || !strings.Contains(c.Note, tt.noteSubstr) {
			t.Errorf("%s: %+v", tt.name, c)
		}
	}
}
