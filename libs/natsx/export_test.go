package natsx

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"
)

// StopRenewing makes the holder behave like a hung process: it stops renewing.
func (l *Lease) StopRenewing() { l.paused.Store(true) }

// ForceRenew renews once, bypassing the keep-alive loop (as a stale holder would).
func (l *Lease) ForceRenew() error { return l.renew(context.Background()) }

// ForceRelease deletes the key at the holder's last revision, bypassing the
// lease state (as a stale holder would).
func (l *Lease) ForceRelease(ctx context.Context) error {
	return l.kv.Delete(ctx, l.key, jetstream.LastRevision(l.Revision()))
}
