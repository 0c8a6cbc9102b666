package config

import (
	"fmt"
	"regexp"
	"strings"
)

// Pattern is a Python-style regular expression used with re.search semantics
// (unanchored unless the pattern anchors itself).
type Pattern struct {
	Source string
	re     *regexp.Regexp
}

// Match reports whether the pattern matches anywhere in name.
func (p Pattern) Match(name string) bool { return p.re != nil && p.re.MatchString(name) }

// String returns the pattern as written in the configuration.
func (p Pattern) String() string { return p.Source }

// OrderingRule maps a pattern on the ELN name to a slice ordering value.
type OrderingRule struct {
	Pattern
	Value int
}

// CompilePattern compiles a Python regex for Go's RE2. The few Python forms
// RE2 spells differently are translated (\Z -> \z, {,n} -> {0,n}); what RE2
// cannot express (look-arounds, back-references, conditionals, atomic groups,
// comments, verbose mode) is rejected with an error saying so, and so is what
// both accept with different meanings: a POSIX class such as [[:digit:]] is a
// digit in RE2 but, in Python, the set of the characters '[', ':', 'd', 'i',
// 'g', 't' followed by a literal ']'.
//
// One difference is accepted: in RE2 \d, \w, \s and \b are ASCII-only
// (\d is [0-9], \w is [0-9A-Za-z_]), where Python 3 matches any Unicode
// digit, word character or space. Koji package names are ASCII, so the
// patterns match the same names.
func CompilePattern(src string) (Pattern, error) {
	translated, err := translatePython(src)
	if err != nil {
		return Pattern{}, fmt.Errorf("pattern \"%s\": %w", src, err)
	}
	re, err := regexp.Compile(translated)
	if err != nil {
		return Pattern{}, fmt.Errorf("pattern \"%s\" is not valid in Go's RE2 syntax: %w", src, err)
	}
	return Pattern{Source: src, re: re}, nil
}

// translatePython rewrites Python-only spellings and rejects Python features
// RE2 lacks, walking the pattern outside and inside character classes.
func translatePython(src string) (string, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case c == '\\' && i+1 < len(src):
			n := src[i+1]
			if !inClass {
				switch {
				case n == 'Z':
					b.WriteString(`\z`)
					i++
					continue
				case n >= '1' && n <= '9':
					return "", fmt.Errorf(`back-reference \%c is not supported by Go's RE2 (it cannot match what an earlier group matched)`, n)
				}
			}
			b.WriteByte(c)
			b.WriteByte(n)
			i++
		case inClass:
			if c == '[' {
				if m := posixClass.FindString(src[i:]); m != "" {
					return "", fmt.Errorf("POSIX class %s is a character category in Go's RE2 but, in Python, the characters %q and the end of the set; "+
						"spell the set out instead (e.g. [0-9] for [:digit:], [a-zA-Z] for [:alpha:])", m, m[:len(m)-1])
				}
			}
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
			// A ']' right after '[' or '[^' is a literal member.
			if i+1 < len(src) && src[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(src) && src[i+1] == ']' {
				b.WriteByte(']')
				i++
			}
		case c == '(' && strings.HasPrefix(src[i:], "(?"):
			rest := src[i+2:]
			for _, f := range []struct{ prefix, what string }{
				{"=", "look-ahead (?=...)"},
				{"!", "negative look-ahead (?!...)"},
				{"<=", "look-behind (?<=...)"},
				{"<!", "negative look-behind (?<!...)"},
				{">", "atomic group (?>...)"},
				{"#", "comment group (?#...)"},
				{"(", "conditional group (?(...)...)"},
				{"P=", "named back-reference (?P=name)"},
			} {
				if strings.HasPrefix(rest, f.prefix) {
					return "", fmt.Errorf("%s is not supported by Go's RE2; rewrite the pattern without it", f.what)
				}
			}
			if flags := leadingFlags(rest); strings.ContainsRune(flags, 'x') {
				return "", fmt.Errorf("verbose mode (?x) is not supported by Go's RE2")
			}
			b.WriteByte(c)
		case c == '{' && !inClass:
			// Python reads {,n} as {0,n}; RE2 would read it as a literal.
			j := i + 1
			if j < len(src) && src[j] == ',' {
				k := j + 1
				for k < len(src) && src[k] >= '0' && src[k] <= '9' {
					k++
				}
				if k > j+1 && k < len(src) && src[k] == '}' {
					b.WriteString("{0")
					continue
				}
			}
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// posixClass is what RE2 reads as a POSIX class inside a character class.
var posixClass = regexp.MustCompile(`^\[:\^?[a-z]+:\]`)

// leadingFlags returns the inline-flag letters at the start of s (after "(?").
func leadingFlags(s string) string {
	n := 0
	for n < len(s) && strings.IndexByte("aiLmsux-", s[n]) >= 0 {
		n++
	}
	if n < len(s) && (s[n] == ')' || s[n] == ':') {
		return s[:n]
	}
	return ""
}
