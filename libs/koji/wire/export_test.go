package wire

import "errors"

// PanicStack returns the stack of a recovered decoder panic wrapped in err.
func PanicStack(err error) string {
	var p *panicError
	if errors.As(err, &p) {
		return string(p.stack)
	}
	return ""
}

// Recovered is the error a recovered decoder panic becomes.
func Recovered(r any) error { return recovered(r) }
