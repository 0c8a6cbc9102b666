package kojihub_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

// Rules naming a method reach the calls made inside multiCall, which is how
// ebs makes its builds and tags (libs/kojibatch).
func TestFaultRulesReachMulticallElements(t *testing.T) {
	t.Parallel()
	h := kojihub.Start(t, kojihub.Options{Scenario: &kojihub.Scenario{TagDelay: kojihub.Duration(time.Millisecond)}})
	nvrs := []string{"a-1-1.eln150", "b-1-1.eln150", "c-1-1.eln150", "d-1-1.eln150"}
	for _, nvr := range nvrs {
		if _, err := h.AddBuild(kojihub.BuildSpec{NVR: nvr, State: koji.BuildComplete}); err != nil {
			t.Fatal(err)
		}
	}
	// No retries: each test sees the first answer.
	c, err := h.Client("kojiadmin", koji.Options{RetryBudget: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	waitTagged := func(t *testing.T, nvr string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !slices.Contains(h.Tagged("eln"), nvr); time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s never tagged into eln", nvr)
			}
		}
	}
	httpStatus := func(err error) int {
		var he *koji.HTTPError
		if errors.As(err, &he) {
			return he.StatusCode
		}
		return 0
	}

	t.Run("fault rule faults only its element", func(t *testing.T) {
		defer h.ClearFaults()
		h.InjectFault(kojihub.FaultRule{Method: "tagBuild", Fault: koji.CodeServerOffline, Count: 1})
		h.ResetCounters()
		res, err := c.TagBuilds(ctx, "eln", nvrs[:2])
		if err != nil {
			t.Fatal(err)
		}
		var f *koji.Fault
		if !errors.As(res[0].Err, &f) || f.Code != koji.CodeServerOffline {
			t.Fatalf("element 0: %v, want the injected ServerOffline", res[0].Err)
		}
		if res[1].Err != nil || res[1].Value == 0 {
			t.Fatalf("element 1: %+v", res[1])
		}
		waitFinished(t, h, res[1].Value)
		waitTagged(t, nvrs[1])
		if slices.Contains(h.Tagged("eln"), nvrs[0]) {
			t.Fatalf("the faulted element ran: %s tagged", nvrs[0])
		}
		if hits := h.FaultHits(); !slices.Equal(hits, []int{1}) {
			t.Fatalf("hits %v", hits)
		}
		log := h.CallsTo("tagBuild")
		if len(log) != 2 || !log[0].Injected || log[0].FaultCode != koji.CodeServerOffline || log[1].Injected || log[1].FaultCode != 0 {
			t.Fatalf("call log %+v", log)
		}
	})

	t.Run("HTTP status rule fails the whole multicall", func(t *testing.T) {
		defer h.ClearFaults()
		h.InjectFault(kojihub.FaultRule{Method: "getBuild", HTTPStatus: 503, Count: 1})
		if _, err := c.GetBuilds(ctx, []any{nvrs[0], nvrs[1]}, false); httpStatus(err) != 503 {
			t.Fatalf("getBuild multicall: %v, want HTTP 503", err)
		}
		res, err := c.GetBuilds(ctx, []any{nvrs[0]}, false)
		if err != nil || res[0].Err != nil || res[0].Value.NVR != nvrs[0] {
			t.Fatalf("after the rule's count: %+v, %v", res, err)
		}
	})

	t.Run("after_call commits, then loses the answer", func(t *testing.T) {
		defer h.ClearFaults()
		h.InjectFault(kojihub.FaultRule{Method: "tagBuild", HTTPStatus: 502, AfterCall: true, Count: 1})
		if _, err := c.TagBuilds(ctx, "eln", nvrs[2:3]); httpStatus(err) != 502 {
			t.Fatalf("tagBuild multicall: %v, want HTTP 502", err)
		}
		waitTagged(t, nvrs[2])
	})

	t.Run("latency and expire_session rules apply to the request", func(t *testing.T) {
		defer h.ClearFaults()
		h.InjectFault(kojihub.FaultRule{Method: "getBuild", Latency: kojihub.Duration(time.Millisecond), Count: 1})
		h.InjectFault(kojihub.FaultRule{Method: "tagBuild", ExpireSession: true, Count: 1})
		if _, err := c.GetBuilds(ctx, []any{nvrs[0]}, false); err != nil {
			t.Fatal(err)
		}
		// The expired session faults the multicall (AuthExpired); the client
		// renews it and replays, so the element runs once.
		res, err := c.TagBuilds(ctx, "eln", nvrs[3:4])
		if err != nil || res[0].Err != nil {
			t.Fatalf("tagBuild after renewal: %+v, %v", res, err)
		}
		if hits := h.FaultHits(); !slices.Equal(hits, []int{1, 1}) {
			t.Fatalf("hits %v", hits)
		}
		if h.Counters().Faults[koji.CodeAuthExpired] == 0 {
			t.Fatalf("no AuthExpired answered (faults %v)", h.Counters().Faults)
		}
		waitTagged(t, nvrs[3])
	})

	t.Run("a * rule hits a multicall once, as a whole", func(t *testing.T) {
		defer h.ClearFaults()
		h.InjectFault(kojihub.FaultRule{Method: "*", Fault: koji.CodeServerOffline, Count: 5})
		_, err := c.GetBuilds(ctx, []any{nvrs[0], nvrs[1], nvrs[2]}, false)
		var f *koji.Fault
		if !errors.As(err, &f) || f.Code != koji.CodeServerOffline {
			t.Fatalf("multicall: %v, want ServerOffline for the request", err)
		}
		if hits := h.FaultHits(); !slices.Equal(hits, []int{1}) {
			t.Fatalf("hits %v, want one for the request", hits)
		}
	})
}
