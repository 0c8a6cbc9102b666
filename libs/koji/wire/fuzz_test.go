package wire_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/koji/wire"
)

// FuzzDecodeResponse: no input makes the response decoder (kolo/xmlrpc plus
// our wrapper) or the typed conversion panic. Seeds: every reference body.
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
		done := make(chan struct{})
		defer close(done)
		go func() {
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				panic(fmt.Sprintf("decoding took over 30s: %q", body))
			}
		}()
		v, err := wire.DecodeResponse(body)
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
		if items, ok := v.([]any); ok {
			for _, it := range items {
				wire.FaultFrom(it)
			}
		}
		// Whatever decoded must encode again.
		if _, err := wire.EncodeResponse(v); err != nil {
			t.Fatalf("re-encode %#v: %v", v, err)
		}
	})
}

// FuzzDecodeCall: the simulator's request decoder never panics.
func FuzzDecodeCall(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.request.xml"))
	for _, file := range files {
		b, _ := os.ReadFile(file)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, params, err := wire.DecodeCall(body)
		if err == nil {
			wire.SplitKwargs(params)
		}
	})
}
