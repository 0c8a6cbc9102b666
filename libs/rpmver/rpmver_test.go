package rpmver

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
)

// Cases from rpm's own rpmvercmp test table (tests/rpmvercmp.at) and the
// dist-tag situations ebs meets. Each row is also checked reversed.
func TestCompare(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		want int
	}{
		{"1.0", "1.0", 0},
		{"1.0", "2.0", -1},
		{"2.0", "1.0", 1},
		{"2.0.1", "2.0.1", 0},
		{"2.0", "2.0.1", -1},
		{"2.0.1", "2.0", 1},
		{"2.0.1a", "2.0.1a", 0},
		{"2.0.1a", "2.0.1", 1},
		{"2.0.1", "2.0.1a", -1},
		{"5.5p1", "5.5p1", 0},
		{"5.5p1", "5.5p2", -1},
		{"5.5p2", "5.5p1", 1},
		{"5.5p10", "5.5p10", 0},
		{"5.5p1", "5.5p10", -1},
		{"5.5p10", "5.5p1", 1},
		{"10xyz", "10.1xyz", -1},
		{"10.1xyz", "10xyz", 1},
		{"xyz10", "xyz10", 0},
		{"xyz10", "xyz10.1", -1},
		{"xyz10.1", "xyz10", 1},
		{"xyz.4", "xyz.4", 0},
		{"xyz.4", "8", -1},
		{"8", "xyz.4", 1},
		{"xyz.4", "2", -1},
		{"2", "xyz.4", 1},
		{"5.5p2", "5.6p1", -1},
		{"5.6p1", "5.5p2", 1},
		{"5.6p1", "6.5p1", -1},
		{"6.5p1", "5.6p1", 1},
		{"6.0.rc1", "6.0", 1},
		{"6.0", "6.0.rc1", -1},
		{"10b2", "10a1", 1},
		{"10a2", "10b2", -1},
		{"1.0aa", "1.0aa", 0},
		{"1.0a", "1.0aa", -1},
		{"1.0aa", "1.0a", 1},
		{"10.0001", "10.0001", 0},
		{"10.0001", "10.1", 0},
		{"10.1", "10.0001", 0},
		{"10.0001", "10.0039", -1},
		{"10.0039", "10.0001", 1},
		{"4.999.9", "5.0", -1},
		{"5.0", "4.999.9", 1},
		{"20101121", "20101121", 0},
		{"20101121", "20101122", -1},
		{"20101122", "20101121", 1},
		{"2_0", "2_0", 0},
		{"2.0", "2_0", 0},
		{"2_0", "2.0", 0},
		{"a", "a", 0},
		{"a+", "a+", 0},
		{"a+", "a_", 0},
		{"a_", "a+", 0},
		{"+a", "+a", 0},
		{"+a", "_a", 0},
		{"_a", "+a", 0},
		{"+_", "+_", 0},
		{"_+", "+_", 0},
		{"_+", "_+", 0},
		{"+", "_", 0},
		{"_", "+", 0},
		{"1.0~rc1", "1.0~rc1", 0},
		{"1.0~rc1", "1.0", -1},
		{"1.0", "1.0~rc1", 1},
		{"1.0~rc1", "1.0~rc2", -1},
		{"1.0~rc2", "1.0~rc1", 1},
		{"1.0~rc1~git123", "1.0~rc1~git123", 0},
		{"1.0~rc1~git123", "1.0~rc1", -1},
		{"1.0~rc1", "1.0~rc1~git123", 1},
		{"1.0^", "1.0^", 0},
		{"1.0^", "1.0", 1},
		{"1.0", "1.0^", -1},
		{"1.0^git1", "1.0^git1", 0},
		{"1.0^git1", "1.0", 1},
		{"1.0", "1.0^git1", -1},
		{"1.0^git1", "1.0^git2", -1},
		{"1.0^git2", "1.0^git1", 1},
		{"1.0^git1", "1.01", -1},
		{"1.01", "1.0^git1", 1},
		{"1.0^20160101", "1.0^20160101", 0},
		{"1.0^20160101", "1.0.1", -1},
		{"1.0.1", "1.0^20160101", 1},
		{"1.0^20160101^git1", "1.0^20160101^git1", 0},
		{"1.0^20160102", "1.0^20160101^git1", 1},
		{"1.0^20160101^git1", "1.0^20160102", -1},
		{"1.0~rc1^git1", "1.0~rc1^git1", 0},
		{"1.0~rc1^git1", "1.0~rc1", 1},
		{"1.0~rc1", "1.0~rc1^git1", -1},
		{"1.0^git1~pre", "1.0^git1~pre", 0},
		{"1.0^git1", "1.0^git1~pre", 1},
		{"1.0^git1~pre", "1.0^git1", -1},
		// Dist tags: .fc and .eln compare alphabetically, the #97 problem.
		{"2.fc45", "2.eln150", 1},
		{"10.eln150", "10.fc45", -1},
	}
	for _, tt := range tests {
		if got := Compare(tt.a, tt.b); got != tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := Compare(tt.b, tt.a); got != -tt.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", tt.b, tt.a, got, -tt.want)
		}
	}
}

// TestCompareMatchesRPM replays pairs whose results rpm 4.18 computed
// (rpm.vercmp through rpm's Lua interpreter; testdata/README says how).
func TestCompareMatchesRPM(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/rpm-4.18-vercmp.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), "\t")
		if len(fields) != 3 {
			t.Fatalf("line %d: %q is not a\tb\tresult", n+1, sc.Text())
		}
		want, err := strconv.Atoi(fields[2])
		if err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if got := Compare(fields[0], fields[1]); got != want {
			t.Errorf("Compare(%q, %q) = %d, rpm says %d", fields[0], fields[1], got, want)
		}
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 1000 {
		t.Fatalf("only %d pairs in the golden file", n)
	}
}

func FuzzCompareIsAntisymmetric(f *testing.F) {
	for _, s := range [][2]string{{"1.0~rc1", "1.0"}, {"1.0^git1", "1.0.1"}, {"a1", "1a"}, {"", "~"}, {"^", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if x, y := Compare(a, b), Compare(b, a); x != -y || x < -1 || x > 1 {
			t.Fatalf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, x, b, a, y)
		}
		if Compare(a, a) != 0 {
			t.Fatalf("Compare(%q, itself) != 0", a)
		}
	})
}

func TestParseNVR(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		nvr, n, v, r string
		ok           bool
	}{
		{"python-requests-2.32.4-2.fc43", "python-requests", "2.32.4", "2.fc43", true},
		{"grep-3.11-10.eln150", "grep", "3.11", "10.eln150", true},
		{"a-1-1", "a", "1", "1", true},
		{"grep-3.11", "", "", "", false},
		{"grep", "", "", "", false},
		{"-1-1", "", "", "", false},
		{"grep--1", "", "", "", false},
		{"grep-1-", "", "", "", false},
		{"", "", "", "", false},
	} {
		n, v, r, err := ParseNVR(tt.nvr)
		if (err == nil) != tt.ok || n != tt.n || v != tt.v || r != tt.r {
			t.Errorf("ParseNVR(%q) = %q %q %q %v, want %q %q %q ok=%v", tt.nvr, n, v, r, err, tt.n, tt.v, tt.r, tt.ok)
		}
	}
}

func TestLabelCompareAndStripDistTag(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b EVR
		want int
	}{
		{EVR{"", "1.0", "1"}, EVR{"0", "1.0", "1"}, 0}, // no epoch is epoch 0
		{EVR{"1", "1.0", "1"}, EVR{"", "2.0", "1"}, 1}, // epoch first
		{EVR{"", "1.0", "2"}, EVR{"", "1.0", "10"}, -1},
		{EVR{"", "3.11", StripDistTag("10.fc45")}, EVR{"", "3.11", StripDistTag("10.eln150")}, 0},
		{EVR{"", "3.11", StripDistTag("11.fc45")}, EVR{"", "3.11", StripDistTag("10.eln150")}, 1},
		{EVR{"", "3.11", StripDistTag("10.fc45.1")}, EVR{"", "3.11", StripDistTag("10.eln150")}, 1},
	}
	for _, tt := range tests {
		if got := LabelCompare(tt.a, tt.b); got != tt.want {
			t.Errorf("LabelCompare(%v, %v) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
	for in, want := range map[string]string{
		"2.fc45":               "2",
		"10.eln150":            "10",
		"1.fc45.1":             "1.1",
		"0.3.20250101git.fc45": "0.3.20250101git",
		"5.el10":               "5.el10", // RHEL dist tags are not ELN's
		"1.fc45.eln150":        "1",
	} {
		if got := StripDistTag(in); got != want {
			t.Errorf("StripDistTag(%q) = %q, want %q", in, got, want)
		}
	}
}
