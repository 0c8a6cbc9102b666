package config_test

import (
	"strings"
	"testing"

	"github.com/fedora-eln/ebs/libs/config"
)

// Patterns behave like Python's re.search on package names.
func TestPatternSearchSemantics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		pattern string
		name    string
		match   bool
	}{
		{"^llvm[0-9\\.]*$", "llvm", true},
		{"^llvm[0-9\\.]*$", "llvm19", true},
		{"^llvm[0-9\\.]*$", "llvm19.1", true},
		{"^llvm[0-9\\.]*$", "llvm-libs", false},
		{"antlr", "antlr3", true}, // unanchored: search, not match (why "Guard all package names" anchored them)
		{"antlr", "python-antlr", true},
		{"^ocaml.*", "ocaml-srpm-macros", true},
		{"^shim.*", "shim-unsigned-x64", true},
		{"^kernel$", "kernel-headers", false},
		{`^java-.*-openjdk-portable$`, "java-21-openjdk-portable", true},
		{`^python-(?P<rest>rpds)-py$`, "python-rpds-py", true}, // named groups are shared syntax
		{`kernel\Z`, "kernel", true},                           // Python \Z is RE2 \z
		{`kernel\Z`, "kernel-tools", false},
		{`^a{,2}b$`, "aab", true}, // Python {,n} is {0,n}
		{`^a{,2}b$`, "b", true},
		{`^a{,2}b$`, "aaab", false},
		{`^[{,2}]+$`, "{,2}", true}, // not a repetition inside a class
		{`^[]x]+$`, "]x", true},     // ']' first in a class is literal
		{`(?i)^KERNEL$`, "kernel", true},
		{`^[[:]+$`, "[:", true},     // '[' and ':' in a set, not a POSIX class
		{`^[:a-z:]+$`, "a:b", true}, // ':' members at both ends of a set
		{`^\[:alpha:\]$`, "[:alpha:]", true},
		// \d and \w are ASCII in RE2 (Unicode in Python 3); package names are ASCII.
		{`^perl\d+$`, "perl5", true},
		{`^\w+$`, "python3_x", true},
		{`^\d$`, "٣", false},
	}
	for _, tt := range tests {
		p, err := config.CompilePattern(tt.pattern)
		if err != nil {
			t.Errorf("%q: %v", tt.pattern, err)
			continue
		}
		if got := p.Match(tt.name); got != tt.match {
			t.Errorf("%q on %q = %v, want %v", tt.pattern, tt.name, got, tt.match)
		}
		if p.String() != tt.pattern {
			t.Errorf("String() = %q", p.String())
		}
	}
}

func TestPatternRejectsWhatRE2CannotDo(t *testing.T) {
	t.Parallel()
	tests := []struct{ pattern, msg string }{
		{"^foo(?=bar)", "look-ahead"},
		{"^foo(?!bar)", "negative look-ahead"},
		{"(?<=x)y", "look-behind"},
		{"(?<!x)y", "negative look-behind"},
		{`^(a)\1$`, "back-reference"},
		{`^(?P<n>a)(?P=n)$`, "named back-reference"},
		{"(?>a+)b", "atomic group"},
		{"a(?#comment)b", "comment group"},
		{"(?(1)a|b)", "conditional"},
		{"(?x) a b", "verbose"},
		{"^[[:digit:]]+$", "POSIX class [:digit:]"},
		{"^python-[^[:upper:]]", "POSIX class [:upper:]"},
		{"^x[a[:alpha:]]", "spell the set out"},
		{"^kernel[", "RE2"},
		{"a**", "RE2"},
	}
	for _, tt := range tests {
		_, err := config.CompilePattern(tt.pattern)
		if err == nil || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), tt.pattern) {
			t.Errorf("%q: got %v, want an error mentioning %q", tt.pattern, err, tt.msg)
		}
	}
	// A back-reference-looking escape inside a class is an octal escape in
	// Python, allowed; RE2 rejects \1 in a class too, with its own message.
	if _, err := config.CompilePattern(`[\1]`); err == nil {
		t.Error(`[\1] accepted`)
	}
}

// Every pattern of the production file compiles and the first match wins.
func TestProductionPatterns(t *testing.T) {
	t.Parallel()
	c, err := config.LoadFile("testdata/distrobaker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Control.Exclude) != 68 {
		t.Errorf("exclude rules: %d", len(c.Control.Exclude))
	}
	if p := c.Control.ExcludedBy("texlive-collection-latex"); p == nil || p.Source != "^texlive-collection-.*" {
		t.Errorf("ExcludedBy = %v", p)
	}
	if p := c.Control.ExcludedBy("bash"); p != nil {
		t.Errorf("bash excluded by %v", p)
	}
	// linux-system-roles is both excluded and an override's upstream name.
	if !c.Control.Excluded("linux-system-roles") || c.Components.Overrides["rhel-system-roles"].UpstreamName != "linux-system-roles" {
		t.Error("linux-system-roles")
	}
	// nettle is both skip_tag and ordered at 500.
	if !c.Control.Skipped("nettle") || c.Control.OrderingOf("nettle") != 500 {
		t.Error("nettle")
	}
}
