package wire_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/koji/wire"
)

// FuzzDecodeResponse: no input makes the response decoder (kolo/xmlrpc plus
// our wrapper) or the typed conversion panic, and whatever decodes encodes
// again. Seeds: every reference body, plus testdata/fuzz/FuzzDecodeResponse.
func FuzzDecodeResponse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.xml"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("<methodResponse><params><param><value><array><data><value><nil/></value></data></array></value></param></params></methodResponse>"))
	f.Add([]byte("<methodResponse><fault><value><int>1</int></value></fault></methodResponse>"))
	f.Fuzz(func(t *testing.T, body []byte) {
		defer watchdog(body)()
		v, err := wire.DecodeResponse(body)
		failOnPanic(t, err, body)
		if err != nil {
			return
		}
		var typed struct {
			ID    int64            `koji:"id"`
			Name  string           `koji:"name"`
			State int              `koji:"state"`
			Req   []any            `koji:"request"`
			Extra map[string]any   `koji:"extra"`
			Kids  []map[string]any `koji:"children"`
			TS    *float64         `koji:"ts"`
		}
		_ = wire.Into(v, &typed)
		var list []struct {
			ID int64 `koji:"id"`
		}
		_ = wire.Into(v, &list)
		// The client's real result types, with their time fields and the
		// helpers that dig into generic members.
		var b koji.Build
		if wire.Into(v, &b) == nil {
			_ = b.SCMURL()
		}
		var builds []koji.Build
		_ = wire.Into(v, &builds)
		var tk koji.Task
		if wire.Into(v, &tk) == nil {
			_, _, _ = tk.SCMURL(), tk.Target(), tk.CustomUserMetadata()
		}
		var r koji.Repo
		_ = wire.Into(v, &r)
		if items, ok := v.([]any); ok {
			for _, it := range items {
				wire.FaultFrom(it)
			}
		}
		// Whatever decoded must encode again, except what the encoder
		// refuses by design: values nested deeper than wire.MaxDepth.
		if depth(v) > wire.MaxDepth {
			return
		}
		out, err := wire.EncodeResponse(v)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", v, err)
		}
		// And what we encode decodes again.
		if _, err := wire.DecodeResponse(out); err != nil {
			t.Fatalf("decode of re-encoded %q: %v", out, err)
		}
	})
}

// FuzzDecodeCall: the simulator's request decoder never panics.
func FuzzDecodeCall(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.request.xml"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		defer watchdog(body)()
		_, params, err := wire.DecodeCall(body)
		failOnPanic(t, err, body)
		if err == nil {
			wire.SplitKwargs(params)
		}
	})
}

// failOnPanic fails when the decoder's recover turned a panic into an error:
// callers see ErrMalformed, but for the fuzzer it is a bug.
func failOnPanic(t *testing.T, err error, body []byte) {
	t.Helper()
	if errors.Is(err, wire.ErrDecoderPanic) {
		t.Fatalf("decoder panicked on %q: %v\n%s", body, err, wire.PanicStack(err))
	}
}

// watchdog panics (so the fuzzer reports the input) if decoding hangs.
func watchdog(body []byte) (stop func()) {
	done := make(chan struct{})
	go func() {
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			panic(fmt.Sprintf("decoding took over 30s: %q", body))
		}
	}()
	return func() { close(done) }
}

// depth is how deeply arrays and structs nest in a decoded value, counted as
// the encoder counts it.
func depth(v any) int {
	d := 0
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			d = max(d, depth(e)+1)
		}
	case map[string]any:
		for _, e := range x {
			d = max(d, depth(e)+1)
		}
	}
	return d
}
