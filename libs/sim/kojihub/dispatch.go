package kojihub

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/koji/wire"
)

// param is one parameter of a hub method, as in its Python signature.
type param struct {
	name     string
	required bool
	def      any
}

type method struct {
	sig    string // as registered, for system.methodHelp
	params []param
	fn     func(c *call) (any, error)
}

var methods = map[string]*method{}

// register declares a method with a Python-like signature, e.g.
// "tagInfo, strict=False, event=None". Defaults are None/False/True/ints.
func register(name, sig string, fn func(c *call) (any, error)) {
	m := &method{fn: fn, sig: sig}
	for _, p := range strings.Split(sig, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		n, def, hasDef := strings.Cut(p, "=")
		pp := param{name: n, required: !hasDef}
		if hasDef {
			switch def {
			case "None":
				pp.def = nil
			case "False":
				pp.def = false
			case "True":
				pp.def = true
			default:
				var i int64
				if _, err := fmt.Sscan(def, &i); err != nil {
					panic("kojihub: bad default " + p)
				}
				pp.def = i
			}
		}
		m.params = append(m.params, pp)
	}
	methods[name] = m
}

// dispatch binds params to the method's signature the way Python does and
// raises ParameterError for mismatches.
func (h *Hub) dispatch(c *call, name string, params []any) (any, error) {
	m, ok := methods[name]
	if !ok {
		return nil, fault(koji.CodeGenericError, "Invalid method: %s", name)
	}
	pos, kw := wire.SplitKwargs(params)
	if len(pos) > len(m.params) {
		return nil, fault(koji.CodeParameterError, "%s() takes %s positional arguments but %d were given",
			name, arity(m.params), len(pos))
	}
	args := make(map[string]any, len(m.params))
	for i, v := range pos {
		args[m.params[i].name] = v
	}
	for k, v := range kw {
		found := false
		for _, p := range m.params {
			if p.name == k {
				found = true
				break
			}
		}
		if !found {
			return nil, fault(koji.CodeParameterError, "%s() got an unexpected keyword argument '%s'", name, k)
		}
		if _, dup := args[k]; dup {
			return nil, fault(koji.CodeParameterError, "%s() got multiple values for argument '%s'", name, k)
		}
		args[k] = v
	}
	for _, p := range m.params {
		if _, ok := args[p.name]; ok {
			continue
		}
		if p.required {
			return nil, fault(koji.CodeParameterError, "%s() missing 1 required positional argument: '%s'", name, p.name)
		}
		args[p.name] = p.def
	}
	c.method = name
	c.args = args
	return m.fn(c)
}

func arity(ps []param) string {
	req := 0
	for _, p := range ps {
		if p.required {
			req++
		}
	}
	if req == len(ps) {
		return fmt.Sprint(req)
	}
	return fmt.Sprintf("from %d to %d", req, len(ps))
}

// Argument accessors: wrong types are ParameterErrors.

func (c *call) raw(name string) any { return c.args[name] }

func (c *call) isNil(name string) bool { return c.args[name] == nil }

func (c *call) str(name string) (string, error) {
	switch v := c.args[name].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	default:
		return "", fault(koji.CodeParameterError, "Invalid type for value '%v': %T", v, v)
	}
}

func (c *call) int(name string) (int64, error) {
	switch v := c.args[name].(type) {
	case nil:
		return 0, nil
	case int64:
		return v, nil
	case string:
		var n int64
		if _, err := fmt.Sscan(v, &n); err == nil {
			return n, nil
		}
	case bool:
		if v {
			return 1, nil
		}
		return 0, nil
	}
	return 0, fault(koji.CodeParameterError, "Invalid type for value '%v': %T", c.args[name], c.args[name])
}

func (c *call) bool(name string) bool {
	switch v := c.args[name].(type) {
	case bool:
		return v
	case int64:
		return v != 0
	case string:
		return v != ""
	}
	return false
}

func (c *call) assertLogin() error {
	if c.user == nil {
		return fault(koji.CodeActionNotAllowed, "you must be logged in for this operation")
	}
	return nil
}

func (c *call) assertPerm(p string) error {
	if err := c.assertLogin(); err != nil {
		return err
	}
	if !c.user.hasPerm(p) {
		return fault(koji.CodeActionNotAllowed, "%s permission required (logged in as %s)", p, c.user.Name)
	}
	return nil
}

// CallRecord is one entry of the call log.
type CallRecord struct {
	Time        time.Time
	Method      string
	Params      []any // generic values as decoded
	User        string
	HTTPStatus  int
	FaultCode   int
	Injected    bool
	InMulticall bool
}

type callLog struct {
	mu      sync.Mutex
	entries []CallRecord
}

const maxCallLog = 200000

// logCall records a request; elems are how its multicall elements ended
// (none when the multicall did not run).
func (h *Hub) logCall(method string, params []any, user string, status, code int, note string, elems ...elemOutcome) {
	rec := CallRecord{Time: time.Now(), Method: method, Params: params, User: user, HTTPStatus: status,
		FaultCode: code, Injected: note == "injected"}
	h.log_.mu.Lock()
	if len(h.log_.entries) >= maxCallLog {
		h.log_.entries = append(h.log_.entries[:0], h.log_.entries[maxCallLog/2:]...)
	}
	h.log_.entries = append(h.log_.entries, rec)
	if method == "multiCall" || method == "system.multicall" {
		if len(params) == 1 {
			if calls, ok := params[0].([]any); ok {
				for i, raw := range calls {
					m, _ := raw.(map[string]any)
					name, _ := m["methodName"].(string)
					ps, _ := m["params"].([]any)
					e := CallRecord{Time: rec.Time, Method: name, Params: ps, User: user, HTTPStatus: status, InMulticall: true}
					if i < len(elems) {
						e.FaultCode, e.Injected = elems[i].code, elems[i].injected
					}
					h.log_.entries = append(h.log_.entries, e)
				}
			}
		}
	}
	h.log_.mu.Unlock()
	h.counters.method(method)
	if code != 0 {
		h.counters.fault(code)
	}
}

// CallLog returns the calls received so far (multicall elements follow
// their multiCall entry with InMulticall set; their faults are not
// recorded there but counted in Counters.Faults).
func (h *Hub) CallLog() []CallRecord {
	h.log_.mu.Lock()
	defer h.log_.mu.Unlock()
	return append([]CallRecord(nil), h.log_.entries...)
}

// CallsTo returns the logged calls of one method.
func (h *Hub) CallsTo(method string) []CallRecord {
	var out []CallRecord
	for _, r := range h.CallLog() {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

type counters struct {
	http   atomic.Int64
	mu     sync.Mutex
	calls  map[string]int64
	faults map[int]int64
}

func (c *counters) method(name string) {
	c.mu.Lock()
	if c.calls == nil {
		c.calls = map[string]int64{}
	}
	c.calls[name]++
	c.mu.Unlock()
}

func (c *counters) fault(code int) {
	c.mu.Lock()
	if c.faults == nil {
		c.faults = map[int]int64{}
	}
	c.faults[code]++
	c.mu.Unlock()
}

// Methods lists the XML-RPC methods the simulator implements.
func Methods() []string {
	out := make([]string, 0, len(methods)+2)
	for n := range methods {
		out = append(out, n)
	}
	out = append(out, "multiCall", "system.multicall")
	sort.Strings(out)
	return out
}
