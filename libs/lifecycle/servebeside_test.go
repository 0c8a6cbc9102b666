package lifecycle_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/lifecycle"
)

// ServeBeside ties the admin server's life to the service's work: failed
// work ends the call (no idling behind a healthy admin port), and an admin
// server that cannot listen stops the work.
func TestServeBeside(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { taken.Close() })
	boom := errors.New("consumer failed")
	tests := []struct {
		name    string
		addr    string
		run     func(ctx context.Context) error
		cancel  bool   // cancel the parent context once run is running
		want    error  // errors.Is, when set
		wantMsg string // substring of the error, when set
	}{
		{"work fails", "127.0.0.1:0", func(context.Context) error { return boom }, false, boom, ""},
		{"work fails, admin off", "off", func(context.Context) error { return boom }, false, boom, ""},
		{"admin port taken", taken.Addr().String(), func(ctx context.Context) error { <-ctx.Done(); return nil }, false, nil, "listen"},
		{"shutdown", "127.0.0.1:0", func(ctx context.Context) error { <-ctx.Done(); return nil }, true, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// The parent context outlives the test unless the case cancels
			// it: only ServeBeside itself may end the call.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			running := make(chan struct{})
			done := make(chan error, 1)
			go func() {
				done <- lifecycle.NewAdmin().ServeBeside(ctx, tt.addr, lifecycle.Discard(), func(ctx context.Context) error {
					close(running)
					return tt.run(ctx)
				})
			}()
			<-running
			if tt.cancel {
				cancel()
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("ServeBeside did not return")
			}
			switch {
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Fatalf("error %v, want %v", err, tt.want)
			case tt.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.wantMsg)):
				t.Fatalf("error %v, want one mentioning %q", err, tt.wantMsg)
			case tt.want == nil && tt.wantMsg == "" && err != nil:
				t.Fatalf("error %v, want none", err)
			}
		})
	}
}
