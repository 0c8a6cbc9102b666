package status_test

import (
	"net/http"
	"net/http/cookiejar"
	"testing"
)

func newJar(t *testing.T) http.CookieJar {
	t.Helper()
	j, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return j
}
