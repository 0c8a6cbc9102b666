package wire

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Member is one member of an ordered XML-RPC struct.
type Member struct {
	Name  string
	Value any
}

// Struct is an XML-RPC struct whose members are written in order, the way a
// Python dict keeps insertion order. Koji's golden bodies depend on that
// order (kwargs first, "__starstar" last). Maps are written sorted by key.
type Struct []Member

// Get returns the value of the first member called name.
func (s Struct) Get(name string) (any, bool) {
	for _, m := range s {
		if m.Name == name {
			return m.Value, true
		}
	}
	return nil, false
}

// KW builds the trailing keyword-argument struct of a Koji call from
// name/value pairs, appending "__starstar": true as koji.encode_args does.
// It panics on an odd number of arguments or a non-string name (a
// programming error).
func KW(pairs ...any) Struct {
	if len(pairs)%2 != 0 {
		panic("wire.KW: odd number of arguments")
	}
	s := make(Struct, 0, len(pairs)/2+1)
	for i := 0; i < len(pairs); i += 2 {
		s = append(s, Member{Name: pairs[i].(string), Value: pairs[i+1]})
	}
	return append(s, Member{Name: StarStar, Value: true})
}

// StarStar is the marker member of a keyword-argument struct.
const StarStar = "__starstar"

// DateTime is written as <dateTime.iso8601> (the hub itself never sends
// one: it renders datetimes as strings).
type DateTime time.Time

// Base64 is written as <base64>.
type Base64 []byte

const xmlHeader = "<?xml version='1.0'?>\n"

// EncodeCall writes a <methodCall> exactly as Koji's Python client does
// (koji.xmlrpcplus.dumps): same declaration, newlines, <nil/>, <i8>.
func EncodeCall(method string, params ...any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xmlHeader)
	b.WriteString("<methodCall>\n<methodName>")
	escape(&b, method)
	b.WriteString("</methodName>\n<params>\n")
	for _, p := range params {
		b.WriteString("<param>\n")
		if err := encodeValue(&b, reflect.ValueOf(p), 0); err != nil {
			return nil, fmt.Errorf("wire: encode %s param: %w", method, err)
		}
		b.WriteString("</param>\n")
	}
	b.WriteString("</params>\n</methodCall>\n")
	return b.Bytes(), nil
}

// EncodeResponse writes a successful <methodResponse> with one param, as the
// hub's marshaller does.
func EncodeResponse(v any) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(xmlHeader)
	b.WriteString("<methodResponse>\n<params>\n<param>\n")
	if err := encodeValue(&b, reflect.ValueOf(v), 0); err != nil {
		return nil, fmt.Errorf("wire: encode response: %w", err)
	}
	b.WriteString("</param>\n</params>\n</methodResponse>\n")
	return b.Bytes(), nil
}

// EncodeFault writes a fault <methodResponse>.
func EncodeFault(code int, message string) []byte {
	var b bytes.Buffer
	b.WriteString(xmlHeader)
	b.WriteString("<methodResponse>\n<fault>\n")
	_ = encodeValue(&b, reflect.ValueOf(Struct{{"faultCode", code}, {"faultString", message}}), 0)
	b.WriteString("</fault>\n</methodResponse>\n")
	return b.Bytes()
}

// EncodeValue writes one <value> element (used by tests and fuzzers).
func EncodeValue(v any) ([]byte, error) {
	var b bytes.Buffer
	err := encodeValue(&b, reflect.ValueOf(v), 0)
	return b.Bytes(), err
}

// MaxDepth is how deeply arrays and structs may nest in a value the encoder
// writes (it also stops a cyclic value). Decoded values may nest deeper.
const MaxDepth = 64

var (
	structType   = reflect.TypeOf(Struct(nil))
	timeType     = reflect.TypeOf(time.Time{})
	dateTimeType = reflect.TypeOf(DateTime{})
	base64Type   = reflect.TypeOf(Base64(nil))
)

func encodeValue(b *bytes.Buffer, v reflect.Value, depth int) error {
	if depth > MaxDepth {
		return fmt.Errorf("value nested deeper than %d", MaxDepth)
	}
	for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) {
		if v.IsNil() {
			v = reflect.Value{}
			break
		}
		v = v.Elem()
	}
	if !v.IsValid() {
		b.WriteString("<value><nil/></value>")
		return nil
	}
	switch v.Type() {
	case structType:
		s := v.Interface().(Struct)
		b.WriteString("<value><struct>\n")
		for _, m := range s {
			b.WriteString("<member>\n<name>")
			escape(b, m.Name)
			b.WriteString("</name>\n")
			if err := encodeValue(b, reflect.ValueOf(m.Value), depth+1); err != nil {
				return err
			}
			b.WriteString("</member>\n")
		}
		b.WriteString("</struct></value>\n")
		return nil
	case timeType:
		// The hub's marshaller renders datetimes as isoformat(' ') strings.
		writeString(b, FormatTime(v.Interface().(time.Time)))
		return nil
	case dateTimeType:
		b.WriteString("<value><dateTime.iso8601>")
		b.WriteString(time.Time(v.Interface().(DateTime)).Format("20060102T15:04:05"))
		b.WriteString("</dateTime.iso8601></value>\n")
		return nil
	case base64Type:
		b.WriteString("<value><base64>\n")
		b.WriteString(base64.StdEncoding.EncodeToString(v.Bytes()))
		b.WriteString("\n</base64></value>\n")
		return nil
	}
	switch v.Kind() {
	case reflect.Bool:
		if v.Bool() {
			b.WriteString("<value><boolean>1</boolean></value>\n")
		} else {
			b.WriteString("<value><boolean>0</boolean></value>\n")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		writeInt(b, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u := v.Uint()
		if u > math.MaxInt64 {
			return fmt.Errorf("int %d exceeds XML-RPC limits", u)
		}
		writeInt(b, int64(u))
	case reflect.Float32, reflect.Float64:
		// NaN and infinities are written as Python's repr writes them
		// ("nan", "inf", "-inf"); both Python and kolo read them back.
		f := v.Float()
		b.WriteString("<value><double>")
		b.WriteString(PyFloat(f))
		b.WriteString("</double></value>\n")
	case reflect.String:
		writeString(b, v.String())
	case reflect.Slice, reflect.Array:
		b.WriteString("<value><array><data>\n")
		for i := 0; i < v.Len(); i++ {
			if err := encodeValue(b, v.Index(i), depth+1); err != nil {
				return err
			}
		}
		b.WriteString("</data></array></value>\n")
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return fmt.Errorf("struct keys must be strings, not %s", v.Type().Key())
		}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		b.WriteString("<value><struct>\n")
		for _, k := range keys {
			b.WriteString("<member>\n<name>")
			escape(b, k.String())
			b.WriteString("</name>\n")
			if err := encodeValue(b, v.MapIndex(k), depth+1); err != nil {
				return err
			}
			b.WriteString("</member>\n")
		}
		b.WriteString("</struct></value>\n")
	case reflect.Struct:
		return encodeValue(b, reflect.ValueOf(structOf(v)), depth)
	default:
		return fmt.Errorf("cannot encode %s", v.Type())
	}
	return nil
}

// structOf turns a Go struct into an ordered Struct using `koji:"name"` tags
// (",omitempty" skips zero values; "-" skips the field).
func structOf(v reflect.Value) Struct {
	t := v.Type()
	s := make(Struct, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, omit := parseTag(f)
		if name == "-" {
			continue
		}
		fv := v.Field(i)
		if omit && fv.IsZero() {
			continue
		}
		s = append(s, Member{Name: name, Value: fv.Interface()})
	}
	return s
}

func parseTag(f reflect.StructField) (name string, omitempty bool) {
	tag := f.Tag.Get("koji")
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, opts == "omitempty"
}

func writeInt(b *bytes.Buffer, n int64) {
	if n > math.MaxInt32 || n < math.MinInt32 {
		b.WriteString("<value><i8>")
		b.WriteString(strconv.FormatInt(n, 10))
		b.WriteString("</i8></value>\n")
		return
	}
	b.WriteString("<value><int>")
	b.WriteString(strconv.FormatInt(n, 10))
	b.WriteString("</int></value>\n")
}

func writeString(b *bytes.Buffer, s string) {
	b.WriteString("<value><string>")
	escape(b, s)
	b.WriteString("</string></value>\n")
}

// escape is Python's xmlrpc.client.escape: only &, < and > are replaced.
// Characters XML 1.0 cannot carry at all are replaced by U+FFFD so that the
// body stays parseable.
func escape(b *bytes.Buffer, s string) {
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '\t' || r == '\n' || r == '\r':
			b.WriteRune(r)
		case r < 0x20 || r == 0xFFFE || r == 0xFFFF || (r >= 0xD800 && r <= 0xDFFF):
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
}

// PyFloat formats f like Python's repr(float).
func PyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		// Python writes at least two exponent digits, as Go does.
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// TimeLayout is how the hub renders datetimes: Python's isoformat(' ') with
// microseconds and a UTC offset.
const TimeLayout = "2006-01-02 15:04:05.000000-07:00"

// FormatTime renders t as the hub does.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// ParseTime accepts the hub's datetime strings (with or without fraction,
// offset, or the 'T' separator).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{
		"2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999",
		time.RFC3339Nano,
		"2006-01-02T15:04:05.999999999",
		"20060102T15:04:05",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("wire: unparsable datetime %q", s)
}
