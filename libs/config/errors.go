package config

import (
	"fmt"
	"strings"
)

// Error is one configuration problem: where it is (document, key path, line)
// and what was expected there.
type Error struct {
	// File names the document: a file path, URL or git location.
	File string
	// Path is the key path, e.g. "configuration.bodhi.max_single_batch_size".
	Path string
	// Line is the 1-based line in File (0 when unknown).
	Line int
	// Msg says what was expected.
	Msg string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Path == "" {
		return fmt.Sprintf("config %s: %s", loc, e.Msg)
	}
	return fmt.Sprintf("config %s: %s: %s", loc, e.Path, e.Msg)
}

// Errors is every problem found in one configuration, in document order.
type Errors []*Error

func (es Errors) Error() string {
	if len(es) == 1 {
		return es[0].Error()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d configuration errors:", len(es))
	for _, e := range es {
		b.WriteString("\n  ")
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap lets errors.As find each *Error.
func (es Errors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}
