package filter

import (
	"regexp"
	"strings"
)

// RPMVerCmp compares two version (or release) strings the way rpm's
// rpmvercmp does and returns -1, 0 or 1:
//
//   - the strings are split into runs of ASCII digits and runs of ASCII
//     letters; any other character only separates runs;
//   - '~' sorts before everything, even the end of the string (1.0~rc1 < 1.0);
//   - '^' sorts after the end of the string but before anything else
//     (1.0 < 1.0^git1 < 1.0.1);
//   - numeric runs compare as numbers (leading zeros ignored, longer wins),
//     alphabetic runs compare bytewise, and a numeric run is newer than an
//     alphabetic one;
//   - when every run compared equal, the string with runs left over wins.
func RPMVerCmp(a, b string) int {
	if a == b {
		return 0
	}
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	isAlpha := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isSep := func(c byte) bool { return !isDigit(c) && !isAlpha(c) && c != '~' && c != '^' }
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && isSep(a[i]) {
			i++
		}
		for j < len(b) && isSep(b[j]) {
			j++
		}
		ca, cb := byte(0), byte(0)
		if i < len(a) {
			ca = a[i]
		}
		if j < len(b) {
			cb = b[j]
		}
		if ca == '~' || cb == '~' {
			if ca != '~' {
				return 1
			}
			if cb != '~' {
				return -1
			}
			i, j = i+1, j+1
			continue
		}
		if ca == '^' || cb == '^' {
			switch {
			case i >= len(a):
				return -1
			case j >= len(b):
				return 1
			case ca != '^':
				return 1
			case cb != '^':
				return -1
			}
			i, j = i+1, j+1
			continue
		}
		if i >= len(a) || j >= len(b) {
			break
		}
		// Take one run from each: numeric if a's run is numeric, else alphabetic.
		numeric := isDigit(a[i])
		class := isAlpha
		if numeric {
			class = isDigit
		}
		ei, ej := i, j
		for ei < len(a) && class(a[ei]) {
			ei++
		}
		for ej < len(b) && class(b[ej]) {
			ej++
		}
		ra, rb := a[i:ei], b[j:ej]
		if rb == "" {
			// Different kinds of run: a number is newer than letters.
			if numeric {
				return 1
			}
			return -1
		}
		if numeric {
			ra, rb = strings.TrimLeft(ra, "0"), strings.TrimLeft(rb, "0")
			if len(ra) != len(rb) {
				if len(ra) > len(rb) {
					return 1
				}
				return -1
			}
		}
		if c := strings.Compare(ra, rb); c != 0 {
			return c
		}
		i, j = ei, ej
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	default:
		return 1
	}
}

// EVR is an epoch, version and release. An empty Epoch is epoch 0, as
// rpm.labelCompare treats None.
type EVR struct {
	Epoch, Version, Release string
}

// LabelCompare compares two EVRs like rpm.labelCompare: epoch, then version,
// then release, each with RPMVerCmp.
func LabelCompare(a, b EVR) int {
	ea, eb := a.Epoch, b.Epoch
	if ea == "" {
		ea = "0"
	}
	if eb == "" {
		eb = "0"
	}
	if c := RPMVerCmp(ea, eb); c != 0 {
		return c
	}
	if c := RPMVerCmp(a.Version, b.Version); c != 0 {
		return c
	}
	return RPMVerCmp(a.Release, b.Release)
}

// distTag is the original's nodist pattern: Fedora and ELN dist tags.
var distTag = regexp.MustCompile(`((\.fc|\.eln)\d+)`)

// StripDistTag removes every .fcNN / .elnNNN from s (re.sub semantics).
func StripDistTag(s string) string { return distTag.ReplaceAllString(s, "") }
