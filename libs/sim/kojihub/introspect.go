package kojihub

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// The read-only introspection API a simulator in another process offers to
// tests and the demo (GET only, JSON):
//
//	GET /sim/counters                  Counters
//	GET /sim/calls?method=M&user=U     the call log (CallRecord), filtered
//
// A real hub has no such paths; nothing here changes the hub.
func (h *Hub) serveSim(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	var v any
	switch strings.TrimSuffix(r.URL.Path, "/") {
	case "/sim/counters":
		v = h.Counters()
	case "/sim/calls":
		method, user := r.URL.Query().Get("method"), r.URL.Query().Get("user")
		out := []simCall{}
		for _, c := range h.CallLog() {
			if (method == "" || c.Method == method) && (user == "" || c.User == user) {
				out = append(out, simCall{Time: c.Time.UTC().Format("2006-01-02T15:04:05.000000Z"), Method: c.Method,
					Params: jsonable(c.Params), User: c.User, HTTPStatus: c.HTTPStatus, FaultCode: c.FaultCode,
					Injected: c.Injected, InMulticall: c.InMulticall})
			}
		}
		v = out
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

type simCall struct {
	Time        string `json:"time"`
	Method      string `json:"method"`
	Params      []any  `json:"params"`
	User        string `json:"user"`
	HTTPStatus  int    `json:"http_status"`
	FaultCode   int    `json:"fault_code"`
	Injected    bool   `json:"injected"`
	InMulticall bool   `json:"in_multicall"`
}

// jsonable turns decoded XML-RPC values into values encoding/json accepts
// (structs with non-string keys do not occur; unknown types print as text).
func jsonable(ps []any) []any {
	out := make([]any, len(ps))
	for i, p := range ps {
		out[i] = jsonValue(p)
	}
	return out
}

func jsonValue(v any) any {
	switch x := v.(type) {
	case nil, bool, string, int, int32, int64, float64:
		return x
	case []any:
		return jsonable(x)
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = jsonValue(e)
		}
		return m
	default:
		if b, err := json.Marshal(x); err == nil {
			return json.RawMessage(b)
		}
		return fmt.Sprint(x)
	}
}
