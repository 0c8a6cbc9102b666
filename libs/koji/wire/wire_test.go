package wire_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fedora-eln/ebs/libs/koji/wire"
)

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const scm = "git+https://src.fedoraproject.org/rpms/python-requests.git#5f1b0c3d2e4a6b8c9d0e1f2a3b4c5d6e7f8a9b0c"

// The encoder writes the reference request bodies byte for byte.
func TestEncodeCallMatchesGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file   string
		method string
		params []any
	}{
		{"01-getAPIVersion.request.xml", "getAPIVersion", nil},
		{"02-getBuildTarget.request.xml", "getBuildTarget", []any{"eln"}},
		{"03-getBuild-strict.request.xml", "getBuild", []any{2741190, wire.KW("strict", true)}},
		{"04-listTagged-latest-inherit.request.xml", "listTagged", []any{"f45", wire.KW("latest", true, "inherit", true, "package", "python-requests")}},
		{"05-createSideTag.request.xml", "createSideTag", []any{"eln-build"}},
		{"06-build-opts-priority.request.xml", "build", []any{scm, "eln-build-side-112240",
			wire.Struct{{"fail_fast", true}, {"wait_repo", true}, {"draft", false}}, wire.KW("priority", 5)}},
		{"07-getTaskInfo-request.request.xml", "getTaskInfo", []any{int64(135790500), wire.KW("request", true)}},
		{"08-getTaskResult-fault.request.xml", "getTaskResult", []any{135790500}},
		{"09-cancelTask-recurse.request.xml", "cancelTask", []any{135790500, wire.KW("recurse", true)}},
		{"10-getRepo.request.xml", "getRepo", []any{"eln-build-side-112240"}},
		{"11-removeSideTag.request.xml", "removeSideTag", []any{"eln-build-side-112240"}},
		{"12-listBuilds-taskID.request.xml", "listBuilds", []any{wire.KW("taskID", 135790500)}},
		{"13-fault-authexpired.request.xml", "getLoggedInUser", nil},
		{"14-bigint-i8.request.xml", "getLastEvent", nil},
		{"15-multicall-tagBuild-mixed.request.xml", "multiCall", []any{[]any{
			wire.Struct{{"methodName", "tagBuild"}, {"params", []any{"eln-build-side-112240", "python-requests-2.32.4-2.fc45"}}},
			wire.Struct{{"methodName", "tagBuild"}, {"params", []any{"eln-build-side-112240", "grep-3.11-10.eln150"}}},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			got, err := wire.EncodeCall(tt.method, tt.params...)
			if err != nil {
				t.Fatal(err)
			}
			if want := golden(t, tt.file); string(got) != string(want) {
				t.Fatalf("encoded body differs\n--- got\n%s\n--- want\n%s", got, want)
			}
			// And the request decodes back to the same method and params.
			m, params, err := wire.DecodeCall(got)
			if err != nil || m != tt.method || len(params) != len(tt.params) {
				t.Fatalf("DecodeCall = %q %v %v", m, params, err)
			}
		})
	}
}

func TestDecodeKwargs(t *testing.T) {
	t.Parallel()
	_, params, err := wire.DecodeCall(golden(t, "04-listTagged-latest-inherit.request.xml"))
	if err != nil {
		t.Fatal(err)
	}
	pos, kw := wire.SplitKwargs(params)
	want := map[string]any{"latest": true, "inherit": true, "package": "python-requests"}
	if !reflect.DeepEqual(pos, []any{"f45"}) || !reflect.DeepEqual(kw, want) {
		t.Fatalf("pos %v kw %v", pos, kw)
	}
	// A plain struct (the build opts) is positional, not kwargs.
	_, params, _ = wire.DecodeCall(golden(t, "06-build-opts-priority.request.xml"))
	pos, kw = wire.SplitKwargs(params)
	if len(pos) != 3 || kw["priority"] != int64(5) {
		t.Fatalf("pos %v kw %v", pos, kw)
	}
}

func TestDecodeResponses(t *testing.T) {
	t.Parallel()
	v, err := wire.DecodeResponse(golden(t, "14-bigint-i8.response.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var ev struct {
		ID int64   `koji:"id"`
		TS float64 `koji:"ts"`
	}
	if err := wire.Into(v, &ev); err != nil || ev.ID != 5000000000 || ev.TS != 1763629300.25 {
		t.Fatalf("event %+v %v", ev, err)
	}
	_, err = wire.DecodeResponse(golden(t, "13-fault-authexpired.response.xml"))
	var f *wire.Fault
	if !errors.As(err, &f) || f.Code != 1007 || f.String != `session "48213377" has expired` {
		t.Fatalf("fault: %v", err)
	}
	v, err = wire.DecodeResponse(golden(t, "09-cancelTask-recurse.response.xml"))
	if err != nil || v != nil {
		t.Fatalf("nil result: %v %v", v, err)
	}
	v, err = wire.DecodeResponse(golden(t, "15-multicall-tagBuild-mixed.response.xml"))
	if err != nil {
		t.Fatal(err)
	}
	items := v.([]any)
	if r, ok := items[0].([]any); !ok || r[0] != int64(135790600) {
		t.Fatalf("item 0: %#v", items[0])
	}
	if f, ok := wire.FaultFrom(items[1]); !ok || f.Code != 1003 {
		t.Fatalf("item 1: %#v", items[1])
	}
}

func TestEncodeResponseMatchesGolden(t *testing.T) {
	t.Parallel()
	cases := map[string]any{
		"01-getAPIVersion.response.xml":       1,
		"06-build-opts-priority.response.xml": 135790500,
		"09-cancelTask-recurse.response.xml":  nil,
		"14-bigint-i8.response.xml":           wire.Struct{{"id", int64(5000000000)}, {"ts", 1763629300.25}},
		"05-createSideTag.response.xml":       wire.Struct{{"name", "eln-build-side-112240"}, {"id", 99001}, {"task_id", nil}, {"request", nil}},
		"15-multicall-tagBuild-mixed.response.xml": []any{[]any{135790600},
			wire.Struct{{"faultCode", 1003}, {"faultString", "build grep-3.11-10.eln150 not complete: state FAILED"}}},
	}
	for file, v := range cases {
		got, err := wire.EncodeResponse(v)
		if err != nil {
			t.Fatal(err)
		}
		if want := golden(t, file); string(got) != string(want) {
			t.Errorf("%s differs\n--- got\n%s\n--- want\n%s", file, got, want)
		}
	}
	if got, want := wire.EncodeFault(1007, `session "48213377" has expired`), golden(t, "13-fault-authexpired.response.xml"); string(got) != string(want) {
		t.Errorf("fault differs\n%s", got)
	}
}

func TestPyFloat(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		f    float64
		want string
	}{
		{1763629200, "1763629200.0"}, {1763627112.39782, "1763627112.39782"}, {0.2, "0.2"}, {1e16, "1e+16"},
		{1.5e-5, "1.5e-05"}, {0, "0.0"}, {-2.5, "-2.5"},
		// Python's repr of the non-finite floats.
		{math.NaN(), "nan"}, {math.Inf(1), "inf"}, {math.Inf(-1), "-inf"},
	} {
		if got := wire.PyFloat(tt.f); got != tt.want {
			t.Errorf("PyFloat(%v) = %s, want %s", tt.f, got, tt.want)
		}
	}
}

// Non-finite doubles decode (kolo uses strconv.ParseFloat) and so must encode
// again, as Python writes them, and decode to the same value.
func TestNonFiniteDoublesRoundTrip(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"NaN", "nan", "Inf", "+inf", "-Infinity"} {
		body := "<methodResponse><params><param><value><double>" + in + "</double></value></param></params></methodResponse>"
		v, err := wire.DecodeResponse([]byte(body))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		out, err := wire.EncodeResponse(v)
		if err != nil {
			t.Fatalf("%s: re-encode: %v", in, err)
		}
		back, err := wire.DecodeResponse(out)
		if err != nil {
			t.Fatalf("%s: decode %s: %v", in, out, err)
		}
		f, g := v.(float64), back.(float64)
		if !(math.IsNaN(f) && math.IsNaN(g)) && f != g {
			t.Errorf("%s: %v became %v (%s)", in, f, g, out)
		}
	}
}

func TestEncodeRefusesDeepValues(t *testing.T) {
	t.Parallel()
	var v any = int64(1)
	for range wire.MaxDepth {
		v = []any{v}
	}
	if _, err := wire.EncodeValue(v); err != nil {
		t.Fatalf("depth %d: %v", wire.MaxDepth, err)
	}
	if _, err := wire.EncodeValue([]any{v}); err == nil {
		t.Fatalf("depth %d encoded", wire.MaxDepth+1)
	}
}

func TestRecoveredPanicIsDistinct(t *testing.T) {
	t.Parallel()
	err := wire.Recovered("boom")
	if !errors.Is(err, wire.ErrMalformed) || !errors.Is(err, wire.ErrDecoderPanic) || wire.PanicStack(err) == "" {
		t.Fatalf("recovered panic error %v does not wrap both sentinels with a stack", err)
	}
	if _, err := wire.DecodeResponse([]byte("<methodResponse><params>")); !errors.Is(err, wire.ErrMalformed) || errors.Is(err, wire.ErrDecoderPanic) {
		t.Fatalf("truncated body: %v", err)
	}
}
