package auth

import (
	"context"
	"strings"
	"testing"
)

// The issuer (and with it the keys ID tokens are checked with) is never
// discovered over plain HTTP from another machine.
func TestDiscoveryNeedsHTTPS(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		authURL string
		refused bool
	}{
		{"http://id.example.org/openidc/Authorization", true},
		{"http://10.1.2.3/openidc/Authorization", true},
		// Loopback (tests, the demo) may use plain HTTP: nothing answers
		// on this port, so discovery runs and fails for another reason.
		{"http://127.0.0.1:1/openidc/Authorization", false},
		{"http://localhost:1/openidc/Authorization", false},
	} {
		_, _, err := discoverIssuer(context.Background(), tt.authURL)
		if err == nil {
			t.Fatalf("%s: discovery succeeded", tt.authURL)
		}
		if got := strings.Contains(err.Error(), "not https"); got != tt.refused {
			t.Errorf("%s: refused for plain HTTP = %v, want %v (%v)", tt.authURL, got, tt.refused, err)
		}
	}
}
