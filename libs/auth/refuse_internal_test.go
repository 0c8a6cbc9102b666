package auth

import (
	"fmt"
	"testing"
	"time"
)

// The refusal cache stays bounded under a flood of distinct tokens, and a
// full cache drops expired entries before live ones.
func TestRefusedCacheIsBounded(t *testing.T) {
	t.Parallel()
	a := &Authenticator{refused: map[string]time.Time{}}
	start := time.Now()
	for i := range refusedMax {
		a.refuse(fmt.Sprint("old", i), start)
	}
	later := start.Add(refusedTTL) // every "old" entry has expired
	a.refuse("live", later)
	if len(a.refused) != 1 {
		t.Fatalf("%d entries after expiry, want only the live one", len(a.refused))
	}
	for i := range 3 * refusedMax {
		a.refuse(fmt.Sprint("flood", i), later)
		if len(a.refused) > refusedMax {
			t.Fatalf("cache grew to %d entries, bound %d", len(a.refused), refusedMax)
		}
	}
}

func TestSessionShaped(t *testing.T) {
	t.Parallel()
	for tok, want := range map[string]bool{
		NewSessionID():                 true,
		NewSessionID()[:63]:            false,
		NewSessionID() + "0":           false,
		"g" + NewSessionID()[1:]:       false,
		"eyJhbGciOiJSUzI1NiJ9.e30.sig": false,
		"ABCDEF" + NewSessionID()[6:]:  false,
	} {
		if got := sessionShaped(tok); got != want {
			t.Errorf("sessionShaped(%q) = %v, want %v", tok, got, want)
		}
	}
}
