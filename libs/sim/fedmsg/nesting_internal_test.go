package fedmsgsim

import "testing"

// nesting closes only when the brackets outside strings balance, whatever
// strings hold (brackets, escaped quotes, escaped backslashes).
func TestNestingFollowsBracketsOutsideStrings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		pieces []string
		closed []bool // after each piece
	}{
		{"one line", []string{`{"a": [1, 2]}` + "\n"}, []bool{true}},
		{"pretty-printed", []string{"{\n", `  "a": [` + "\n", "    1\n", "  ]\n", "}\n"}, []bool{false, false, false, false, true}},
		{"brackets in strings", []string{`{"a": "}]"` + "\n", `, "b": "{"}` + "\n"}, []bool{false, true}},
		{"escaped quote", []string{`{"a": "say \"}\" "` + "\n", "}\n"}, []bool{false, true}},
		{"escaped backslash ends the string", []string{`{"a": "c:\\"}` + "\n"}, []bool{true}},
		{"string across pieces", []string{`{"a": "x`, `}"`, "}"}, []bool{false, false, true}},
		{"not JSON", []string{"garbage\n"}, []bool{true}},
		{"unbalanced close", []string{"]\n"}, []bool{true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var n nesting
			for i, p := range tt.pieces {
				if got := n.feed([]byte(p)); got != tt.closed[i] {
					t.Fatalf("after piece %d %q: closed = %v, want %v", i, p, got, tt.closed[i])
				}
			}
		})
	}
}
