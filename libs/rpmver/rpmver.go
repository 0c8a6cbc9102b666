package rpmver

import (
	"fmt"
	"regexp"
	"strings"
)

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isSep reports whether c only separates segments: rpm skips every byte that
// is not an ASCII letter or digit, '~' or '^'.
func isSep(c byte) bool { return !isDigit(c) && !isAlpha(c) && c != '~' && c != '^' }

// Compare compares two version (or release) strings as rpm's rpmvercmp does
// and returns -1, 0 or 1:
//
//   - the strings are split into runs of ASCII digits and runs of ASCII
//     letters; any other byte only separates runs;
//   - '~' sorts before everything, even the end of the string (1.0~rc1 < 1.0);
//   - '^' sorts after the end of the string but before anything else
//     (1.0 < 1.0^git1 < 1.0.1);
//   - numeric runs compare as numbers of any length (leading zeros ignored),
//     alphabetic runs bytewise, and a numeric run is newer than an
//     alphabetic one;
//   - when every run compared equal, the string with runs left over wins.
func Compare(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && isSep(a[i]) {
			i++
		}
		for j < len(b) && isSep(b[j]) {
			j++
		}
		endA, endB := i >= len(a), j >= len(b)
		if (!endA && a[i] == '~') || (!endB && b[j] == '~') {
			switch {
			case endA || a[i] != '~':
				return 1
			case endB || b[j] != '~':
				return -1
			}
			i, j = i+1, j+1
			continue
		}
		if (!endA && a[i] == '^') || (!endB && b[j] == '^') {
			switch {
			case endA:
				return -1
			case endB:
				return 1
			case a[i] != '^':
				return 1
			case b[j] != '^':
				return -1
			}
			i, j = i+1, j+1
			continue
		}
		if endA || endB {
			break
		}
		// One run from each, of the kind a's run is.
		numeric := isDigit(a[i])
		class := isAlpha
		if numeric {
			class = isDigit
		}
		si, sj := i, j
		for i < len(a) && class(a[i]) {
			i++
		}
		for j < len(b) && class(b[j]) {
			j++
		}
		ra, rb := a[si:i], b[sj:j]
		if rb == "" {
			// Runs of different kinds: a number is newer than letters.
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
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	}
	return 1
}

// EVR is an epoch, version and release. An empty Epoch is epoch 0, as
// rpm.labelCompare treats None.
type EVR struct {
	Epoch, Version, Release string
}

// LabelCompare compares two EVRs like rpm.labelCompare: epoch, then version,
// then release, each with Compare.
func LabelCompare(a, b EVR) int {
	ea, eb := a.Epoch, b.Epoch
	if ea == "" {
		ea = "0"
	}
	if eb == "" {
		eb = "0"
	}
	if c := Compare(ea, eb); c != 0 {
		return c
	}
	if c := Compare(a.Version, b.Version); c != 0 {
		return c
	}
	return Compare(a.Release, b.Release)
}

// ParseNVR splits name-version-release at its last two dashes (names may
// contain dashes, versions and releases may not).
func ParseNVR(nvr string) (name, version, release string, err error) {
	i := strings.LastIndexByte(nvr, '-')
	if i <= 0 || i == len(nvr)-1 {
		return "", "", "", fmt.Errorf("rpmver: %q is not a name-version-release", nvr)
	}
	j := strings.LastIndexByte(nvr[:i], '-')
	if j <= 0 || j+1 == i {
		return "", "", "", fmt.Errorf("rpmver: %q is not a name-version-release", nvr)
	}
	return nvr[:j], nvr[j+1 : i], nvr[i+1:], nil
}

// distTag is the original's nodist pattern: Fedora and ELN dist tags.
var distTag = regexp.MustCompile(`((\.fc|\.eln)\d+)`)

// StripDistTag removes every .fcNN / .elnNNN from a release (re.sub
// semantics, as the original), so that a Rawhide and an ELN build of the same
// spec compare equal.
func StripDistTag(release string) string { return distTag.ReplaceAllString(release, "") }
