package kojihub

import (
	"math/rand/v2"
	"sync"

	"github.com/fedora-eln/ebs/libs/koji/wire"
)

// FaultRule injects a failure into calls of one method (or all).
//
// A rule naming a method also matches the elements of a multiCall that call
// it (ebs makes most of its writes that way). A Fault rule then faults just
// that element (the others run); an HTTPStatus, Latency or ExpireSession
// rule applies to the whole multiCall request when any element matches
// (with AfterCall the multicall runs and commits, then its answer is lost).
// "" and "*" match each HTTP request once (a multiCall as a whole), not its
// elements.
type FaultRule struct {
	// Method is the XML-RPC method ("multiCall" for multicalls, "sslLogin"
	// for logins, or a method called inside multiCall); "" or "*" matches
	// every request.
	Method string `yaml:"method,omitempty"`
	// Rate is the probability (0..1] that a matching call is hit (default 1).
	Rate float64 `yaml:"rate,omitempty"`
	// Count limits how many calls are hit (0 = no limit).
	Count int `yaml:"count,omitempty"`
	// Latency delays the call (then it proceeds unless another effect is set).
	Latency Duration `yaml:"latency,omitempty"`
	// HTTPStatus answers with this status and a text/plain body (502, 503...).
	HTTPStatus int `yaml:"http_status,omitempty"`
	// Fault answers with this fault code (e.g. 1014 ServerOffline).
	Fault   int    `yaml:"fault,omitempty"`
	Message string `yaml:"message,omitempty"`
	// AfterCall applies HTTPStatus only after the hub has run (and
	// committed) the call: the answer is lost, as when a proxy times out.
	AfterCall bool `yaml:"after_call,omitempty"`
	// ExpireSession expires the caller's session first, so the call faults
	// with AuthExpired (1007).
	ExpireSession bool `yaml:"expire_session,omitempty"`
}

type ruleState struct {
	FaultRule
	hits int
	id   int
}

type faultTable struct {
	mu    sync.Mutex
	rules []*ruleState
	next  int
	rng   *rand.Rand
}

// elementFault reports whether r, matched by a multicall element, faults
// only that element (rather than the whole request).
func (r *FaultRule) elementFault() bool { return r.Fault != 0 && r.HTTPStatus == 0 }

// pick returns the first rule that hits an HTTP request of method.
func (ft *faultTable) pick(method string) *FaultRule {
	return ft.pickWhere(func(r *ruleState) bool { return r.Method == "" || r.Method == "*" || r.Method == method })
}

// pickElement returns the first rule naming method that hits a multicall
// element calling it.
func (ft *faultTable) pickElement(method string) *FaultRule {
	return ft.pickWhere(func(r *ruleState) bool { return method != "" && r.Method == method })
}

// injection is what the fault rules decided for one HTTP request.
type injection struct {
	req   *FaultRule         // applies to the whole request (nil: none)
	elems map[int]*FaultRule // multicall element index -> its fault
}

// pickRequest applies the rules to a request: first to its method, then,
// for a multicall that no rule hit as a whole, to each element's method.
// An element's Fault rule faults that element; any other rule hit by an
// element becomes the request's and ends the scan.
func (ft *faultTable) pickRequest(method string, params []any) injection {
	var inj injection
	if inj.req = ft.pick(method); inj.req != nil {
		return inj
	}
	if method != "multiCall" && method != "system.multicall" {
		return inj
	}
	for i, name := range multicallMethods(params) {
		r := ft.pickElement(name)
		if r == nil {
			continue
		}
		if r.elementFault() {
			if inj.elems == nil {
				inj.elems = map[int]*FaultRule{}
			}
			inj.elems[i] = r
			continue
		}
		inj.req = r
		break
	}
	return inj
}

// multicallMethods lists the methodName of each element of a multiCall's
// params ("" where an element has none).
func multicallMethods(params []any) []string {
	pos, _ := wire.SplitKwargs(params)
	if len(pos) != 1 {
		return nil
	}
	calls, _ := pos[0].([]any)
	names := make([]string, len(calls))
	for i, raw := range calls {
		m, _ := raw.(map[string]any)
		names[i], _ = m["methodName"].(string)
	}
	return names
}

func (ft *faultTable) pickWhere(match func(*ruleState) bool) *FaultRule {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	for _, r := range ft.rules {
		if !match(r) {
			continue
		}
		if r.Count > 0 && r.hits >= r.Count {
			continue
		}
		if r.Rate > 0 && r.Rate < 1 && ft.rng.Float64() >= r.Rate {
			continue
		}
		r.hits++
		rule := r.FaultRule
		return &rule
	}
	return nil
}

// InjectFault adds a rule; the returned function removes it. Rules are
// tried in the order added; the first that hits applies.
func (h *Hub) InjectFault(r FaultRule) (remove func()) {
	ft := &h.faults
	ft.mu.Lock()
	ft.next++
	rs := &ruleState{FaultRule: r, id: ft.next}
	ft.rules = append(ft.rules, rs)
	ft.mu.Unlock()
	return func() {
		ft.mu.Lock()
		defer ft.mu.Unlock()
		for i, x := range ft.rules {
			if x.id == rs.id {
				ft.rules = append(ft.rules[:i], ft.rules[i+1:]...)
				return
			}
		}
	}
}

// ClearFaults removes every rule.
func (h *Hub) ClearFaults() {
	h.faults.mu.Lock()
	h.faults.rules = nil
	h.faults.mu.Unlock()
}

// FaultHits reports how many calls each rule hit, in order.
func (h *Hub) FaultHits() []int {
	h.faults.mu.Lock()
	defer h.faults.mu.Unlock()
	out := make([]int, len(h.faults.rules))
	for i, r := range h.faults.rules {
		out[i] = r.hits
	}
	return out
}
