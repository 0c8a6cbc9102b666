package kojihub

import (
	"math/rand/v2"
	"sync"
)

// FaultRule injects a failure into calls of one method (or all).
type FaultRule struct {
	// Method is the XML-RPC method ("multiCall" for multicalls, "sslLogin"
	// for logins); "" or "*" matches every call.
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

func (ft *faultTable) pick(method string) *FaultRule {
	ft.mu.Lock()
	defer ft.mu.Unlock()
	for _, r := range ft.rules {
		if r.Method != "" && r.Method != "*" && r.Method != method {
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
