package kojiworker

import (
	"errors"
	"fmt"
	"testing"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/kojibatch"
)

// Only errors that may hide a committed call send a command looking for
// what the hub did; a definite Koji fault means it did nothing.
func TestMayHaveRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"transport error or 5xx after retries", &kojibatch.Fault{Msg: "koji multiCall: HTTP 502", Transient: true}, true},
		{"4xx", &kojibatch.Fault{Msg: "koji multiCall: HTTP 403", Transient: false}, false},
		{"RetryError", &kojibatch.Fault{Code: koji.CodeRetryError, Msg: "unable to retry call 3"}, true},
		{"ServerOffline", &kojibatch.Fault{Code: koji.CodeServerOffline, Msg: "server is offline", Transient: true}, true},
		{"wrapped RetryError", fmt.Errorf("tagging: %w", &kojibatch.Fault{Code: koji.CodeRetryError}), true},
		{"TagError", &kojibatch.Fault{Code: koji.CodeTagError, Msg: "build not complete"}, false},
		{"ParameterError", &kojibatch.Fault{Code: koji.CodeParameterError}, false},
		{"GenericError", &kojibatch.Fault{Code: koji.CodeGenericError, Msg: "No such build"}, false},
		{"not a Koji error", errors.New("connection reset"), true},
	} {
		if got := mayHaveRun(tc.err); got != tc.want {
			t.Errorf("%s: mayHaveRun(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}

func TestDraftBuildID(t *testing.T) {
	t.Parallel()
	for nvr, want := range map[string]int64{
		"bash-5.3-1.eln150,draft_42": 42,
		"bash-5.3-1.eln150":          0,
		"bash-5.3-1.eln150,draft_x":  0,
	} {
		if got, ok := draftBuildID(nvr); got != want || ok != (want != 0) {
			t.Errorf("draftBuildID(%q) = %d, %v; want %d", nvr, got, ok, want)
		}
	}
}
