package lifecycle

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"
)

// Each *Var registers a flag whose default comes from the environment
// variable env when it is set, so every setting works as a flag or as env.

func usage(u, env string) string { return fmt.Sprintf("%s (env %s)", u, env) }

// StringVar registers a string flag with an env fallback.
func StringVar(fs *flag.FlagSet, p *string, name, env, def, u string) {
	if v, ok := os.LookupEnv(env); ok {
		def = v
	}
	fs.StringVar(p, name, def, usage(u, env))
}

// IntVar registers an int flag with an env fallback.
func IntVar(fs *flag.FlagSet, p *int, name, env string, def int, u string) {
	if v, ok := os.LookupEnv(env); ok {
		if n, err := strconv.Atoi(v); err == nil {
			def = n
		} else {
			fmt.Fprintf(os.Stderr, "ignoring %s=%q: not an integer\n", env, v)
		}
	}
	fs.IntVar(p, name, def, usage(u, env))
}

// BoolVar registers a bool flag with an env fallback.
func BoolVar(fs *flag.FlagSet, p *bool, name, env string, def bool, u string) {
	if v, ok := os.LookupEnv(env); ok {
		if b, err := strconv.ParseBool(v); err == nil {
			def = b
		} else {
			fmt.Fprintf(os.Stderr, "ignoring %s=%q: not a boolean\n", env, v)
		}
	}
	fs.BoolVar(p, name, def, usage(u, env))
}

// DurationVar registers a duration flag with an env fallback.
func DurationVar(fs *flag.FlagSet, p *time.Duration, name, env string, def time.Duration, u string) {
	if v, ok := os.LookupEnv(env); ok {
		if d, err := time.ParseDuration(v); err == nil {
			def = d
		} else {
			fmt.Fprintf(os.Stderr, "ignoring %s=%q: not a duration\n", env, v)
		}
	}
	fs.DurationVar(p, name, def, usage(u, env))
}
