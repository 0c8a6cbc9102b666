package koji_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

// A logged-in call stuck in its retries holds the session, but a second
// call gives up when its own context ends, and Session/LoggedIn do not wait.
func TestWaitingForTheSessionHonoursTheContext(t *testing.T) {
	t.Parallel()
	h := startHub(t, kojihub.Options{})
	// A long budget and backoff: the first call retries until cancelled.
	c, err := h.Client("eln-buildsync", koji.Options{RetryBudget: time.Hour, RetryBase: 20 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t)
	if err := c.Login(ctx); err != nil {
		t.Fatal(err)
	}
	h.InjectFault(kojihub.FaultRule{Method: "getBuild", HTTPStatus: 503})
	stuckCtx, unstick := context.WithCancel(ctx)
	defer unstick()
	stuck := make(chan error, 1)
	go func() {
		_, err := c.GetBuild(stuckCtx, nvrRequests, true)
		stuck <- err
	}()
	// Wait until the first call is in its retries (it holds the session).
	for len(h.FaultHits()) == 0 || h.FaultHits()[0] < 2 {
		select {
		case err := <-stuck:
			t.Fatalf("the stuck call returned early: %v", err)
		case <-ctx.Done():
			t.Fatal("the first call never reached the hub")
		case <-time.After(time.Millisecond):
		}
	}

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.GetAPIVersion(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second call: %v, want context.DeadlineExceeded", err)
	}
	// A login waits for the session the same way.
	short2, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	if err := c.Login(short2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("login: %v, want context.DeadlineExceeded", err)
	}
	if !c.LoggedIn() || c.Session() == nil {
		t.Fatal("no session reported during the stuck call")
	}
	select {
	case err := <-stuck:
		t.Fatalf("the first call ended (%v) before the others returned: they waited for it", err)
	default:
	}
	unstick()
	if err := <-stuck; !errors.Is(err, context.Canceled) {
		t.Fatalf("stuck call: %v, want context.Canceled", err)
	}
	// The session is free again.
	if _, err := c.GetAPIVersion(ctx); err != nil {
		t.Fatal(err)
	}
}
