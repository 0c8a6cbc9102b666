package wire

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/kolo/xmlrpc"
)

// Fault is an XML-RPC fault as it came off the wire (the koji package turns
// it into a typed error).
type Fault struct {
	Code      int
	String    string
	Traceback []string
}

func (f *Fault) Error() string { return fmt.Sprintf("Fault %d: %s", f.Code, f.String) }

// ErrMalformed wraps every decoding failure.
var ErrMalformed = errors.New("wire: malformed XML-RPC")

// ErrDecoderPanic is wrapped (beside ErrMalformed) when the decoder panicked
// and the panic was recovered. Callers treat it as malformed input; the
// fuzz targets treat it as a bug to fix.
var ErrDecoderPanic = errors.New("wire: decoder panic")

// panicError carries the recovered value and its stack (for the fuzz
// targets' failure reports; Error leaves the stack out).
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("%v: %v", ErrDecoderPanic, p.value) }
func (p *panicError) Unwrap() error { return ErrDecoderPanic }

func recovered(r any) error {
	return fmt.Errorf("%w: %w", ErrMalformed, &panicError{value: r, stack: debug.Stack()})
}

// DecodeResponse decodes a <methodResponse>. It returns the single result as
// a generic value (nil, bool, int64, float64, string, time.Time, []byte,
// []any, map[string]any), or a *Fault, or an error wrapping ErrMalformed.
//
// Values are decoded by github.com/kolo/xmlrpc into interface{}; it already
// understands <nil/>, <i8>, <int>, <i4>. What it lacks is handled here:
// telling a fault from a result without a regexp over the whole body, and
// never panicking on hostile input.
func DecodeResponse(body []byte) (v any, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, recovered(r)
		}
	}()
	kind, err := responseKind(body)
	if err != nil {
		return nil, err
	}
	if kind == "fault" {
		var raw any
		if err := xmlrpc.Response(body).Unmarshal(&raw); err != nil {
			return nil, fmt.Errorf("%w: fault: %v", ErrMalformed, err)
		}
		return nil, faultFrom(raw)
	}
	if err := xmlrpc.Response(body).Unmarshal(&v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return normalize(v), nil
}

// responseKind reads the first elements: methodResponse, then params or fault.
func responseKind(body []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(body))
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				return "", fmt.Errorf("%w: no methodResponse", ErrMalformed)
			}
			return "", fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		depth++
		switch {
		case depth == 1 && se.Name.Local != "methodResponse":
			return "", fmt.Errorf("%w: root element %q", ErrMalformed, se.Name.Local)
		case depth == 2 && (se.Name.Local == "params" || se.Name.Local == "fault"):
			if se.Name.Local == "params" {
				// A response must hold exactly one value.
				if !bytes.Contains(body, []byte("<value")) {
					return "", fmt.Errorf("%w: response without a value", ErrMalformed)
				}
			}
			return se.Name.Local, nil
		case depth == 2:
			return "", fmt.Errorf("%w: unexpected element %q", ErrMalformed, se.Name.Local)
		}
	}
}

// FaultFrom reads {faultCode, faultString[, traceback]} (a fault response,
// or a failed element of a multicall result).
func faultFrom(raw any) *Fault {
	m, _ := raw.(map[string]any)
	f := &Fault{Code: 1, String: "malformed fault"}
	if m == nil {
		return f
	}
	switch c := m["faultCode"].(type) {
	case int64:
		f.Code = int(c)
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(c)); err == nil {
			f.Code = n
		}
	}
	if s, ok := m["faultString"].(string); ok {
		f.String = s
	} else if m["faultString"] == nil {
		f.String = ""
	}
	if tb, ok := m["traceback"].([]any); ok {
		for _, l := range tb {
			if s, ok := l.(string); ok {
				f.Traceback = append(f.Traceback, s)
			}
		}
	}
	return f
}

// FaultFrom reports whether v (one element of a multicall response) is a
// fault struct, and returns it.
func FaultFrom(v any) (*Fault, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	if _, ok := m["faultCode"]; !ok {
		return nil, false
	}
	return faultFrom(m), true
}

// DecodeCall decodes a <methodCall> into its method name and generic params.
func DecodeCall(body []byte) (method string, params []any, err error) {
	defer func() {
		if r := recover(); r != nil {
			method, params, err = "", nil, recovered(r)
		}
	}()
	var mc struct {
		XMLName    xml.Name `xml:"methodCall"`
		MethodName string   `xml:"methodName"`
		Params     []struct {
			Inner []byte `xml:",innerxml"`
		} `xml:"params>param"`
	}
	if err := xml.Unmarshal(body, &mc); err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	method = strings.TrimSpace(mc.MethodName)
	if method == "" {
		return "", nil, fmt.Errorf("%w: no methodName", ErrMalformed)
	}
	params = make([]any, 0, len(mc.Params))
	for i, p := range mc.Params {
		if !bytes.Contains(p.Inner, []byte("<value")) {
			return "", nil, fmt.Errorf("%w: param %d has no value", ErrMalformed, i)
		}
		var v any
		if err := xmlrpc.Response(p.Inner).Unmarshal(&v); err != nil {
			return "", nil, fmt.Errorf("%w: param %d: %v", ErrMalformed, i, err)
		}
		params = append(params, normalize(v))
	}
	return method, params, nil
}

// normalize maps kolo's generic types onto the set documented above.
func normalize(v any) any {
	switch x := v.(type) {
	case []any:
		for i := range x {
			x[i] = normalize(x[i])
		}
		return x
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
		return x
	case int:
		return int64(x)
	default:
		return v
	}
}

// SplitKwargs separates Koji's trailing keyword struct from positional
// params, as koji.decode_args does.
func SplitKwargs(params []any) ([]any, map[string]any) {
	if len(params) == 0 {
		return params, nil
	}
	last, ok := params[len(params)-1].(map[string]any)
	if !ok {
		return params, nil
	}
	if b, _ := last[StarStar].(bool); !b {
		return params, nil
	}
	kw := make(map[string]any, len(last)-1)
	for k, v := range last {
		if k != StarStar {
			kw[k] = v
		}
	}
	return params[:len(params)-1], kw
}

// Into converts a generic value (as returned by DecodeResponse) into out, a
// pointer. Go structs use `koji:"name"` tags. Conversion is lenient where
// Koji's types drift: nil becomes the zero value, integers are accepted for
// strings and numeric strings for integers, datetime strings for time.Time.
func Into(v any, out any) error {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("wire: Into needs a non-nil pointer, got %T", out)
	}
	return assign(rv.Elem(), v, "")
}

var anyType = reflect.TypeOf((*any)(nil)).Elem()

func assign(dst reflect.Value, v any, path string) error {
	if v == nil {
		dst.Set(reflect.Zero(dst.Type()))
		return nil
	}
	if dst.Type() == anyType {
		dst.Set(reflect.ValueOf(v))
		return nil
	}
	if dst.Kind() == reflect.Pointer {
		p := reflect.New(dst.Type().Elem())
		if err := assign(p.Elem(), v, path); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	}
	if dst.Type() == timeType {
		switch x := v.(type) {
		case time.Time:
			dst.Set(reflect.ValueOf(x.UTC()))
		case string:
			t, err := ParseTime(x)
			if err != nil {
				return mismatch(path, v, dst)
			}
			dst.Set(reflect.ValueOf(t))
		case float64:
			sec, frac := math.Modf(x)
			dst.Set(reflect.ValueOf(time.Unix(int64(sec), int64(frac*1e9)).UTC()))
		default:
			return mismatch(path, v, dst)
		}
		return nil
	}
	switch dst.Kind() {
	case reflect.String:
		switch x := v.(type) {
		case string:
			dst.SetString(x)
		case int64:
			dst.SetString(strconv.FormatInt(x, 10))
		case bool:
			dst.SetString(strconv.FormatBool(x))
		default:
			return mismatch(path, v, dst)
		}
	case reflect.Bool:
		switch x := v.(type) {
		case bool:
			dst.SetBool(x)
		case int64:
			dst.SetBool(x != 0)
		default:
			return mismatch(path, v, dst)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case bool:
			if x {
				n = 1
			}
		case float64:
			if x != math.Trunc(x) {
				return mismatch(path, v, dst)
			}
			n = int64(x)
		case string:
			p, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			if err != nil {
				return mismatch(path, v, dst)
			}
			n = p
		default:
			return mismatch(path, v, dst)
		}
		if dst.OverflowInt(n) {
			return mismatch(path, v, dst)
		}
		dst.SetInt(n)
	case reflect.Float32, reflect.Float64:
		switch x := v.(type) {
		case float64:
			dst.SetFloat(x)
		case int64:
			dst.SetFloat(float64(x))
		default:
			return mismatch(path, v, dst)
		}
	case reflect.Slice:
		if dst.Type().Elem().Kind() == reflect.Uint8 {
			if b, ok := v.([]byte); ok {
				dst.SetBytes(b)
				return nil
			}
		}
		arr, ok := v.([]any)
		if !ok {
			return mismatch(path, v, dst)
		}
		s := reflect.MakeSlice(dst.Type(), len(arr), len(arr))
		for i, e := range arr {
			if err := assign(s.Index(i), e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		dst.Set(s)
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok || dst.Type().Key().Kind() != reflect.String {
			return mismatch(path, v, dst)
		}
		out := reflect.MakeMapWithSize(dst.Type(), len(m))
		for k, e := range m {
			ev := reflect.New(dst.Type().Elem()).Elem()
			if err := assign(ev, e, path+"."+k); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(dst.Type().Key()), ev)
		}
		dst.Set(out)
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return mismatch(path, v, dst)
		}
		t := dst.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _ := parseTag(f)
			if name == "-" {
				continue
			}
			e, ok := m[name]
			if !ok {
				continue
			}
			if err := assign(dst.Field(i), e, path+"."+name); err != nil {
				return err
			}
		}
	default:
		return mismatch(path, v, dst)
	}
	return nil
}

func mismatch(path string, v any, dst reflect.Value) error {
	if path == "" {
		path = "value"
	} else {
		path = strings.TrimPrefix(path, ".")
	}
	return fmt.Errorf("wire: %s: cannot use %T as %s", path, v, dst.Type())
}
