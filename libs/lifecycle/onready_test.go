package lifecycle_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fedora-eln/ebs/libs/lifecycle"
)

// An Admin from Common.NewAdmin tells OnReady when it is marked ready, once,
// and /startup agrees; without OnReady it behaves as before.
func TestCommonNewAdminReportsReady(t *testing.T) {
	t.Parallel()
	calls := 0
	c := lifecycle.Common{OnReady: func() { calls++ }}
	a := c.NewAdmin()
	startup := func(a *lifecycle.Admin) int {
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/startup", nil))
		return rec.Code
	}
	if got := startup(a); got != http.StatusServiceUnavailable || calls != 0 {
		t.Fatalf("before Ready: /startup %d, OnReady called %d times", got, calls)
	}
	a.Ready()
	a.Ready()
	if got := startup(a); got != http.StatusOK || calls != 1 {
		t.Fatalf("after Ready twice: /startup %d, OnReady called %d times, want 200 and once", got, calls)
	}
	plain := (&lifecycle.Common{}).NewAdmin()
	plain.Ready()
	if got := startup(plain); got != http.StatusOK {
		t.Fatalf("without OnReady: /startup %d after Ready", got)
	}
}
