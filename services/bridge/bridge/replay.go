package bridge

import (
	"context"
	"fmt"
	"io"
	"os"

	fedmsgsim "github.com/fedora-eln/ebs/libs/sim/fedmsg"
)

// ReplayStats counts what a replay did.
type ReplayStats struct {
	Stored, Duplicates, DeadLettered int
}

// Replay imports recorded messages (see fedmsgsim.ReadRecorded: JSON lines
// in the datagrepper or fedora-messaging shape) into FEDMSG, dead-lettering
// the unusable ones as the AMQP path does. Replaying a file twice stores
// nothing new while the ids are inside the stream's de-duplication window.
func (b *Bridge) Replay(ctx context.Context, r io.Reader) (ReplayStats, error) {
	var st ReplayStats
	msgs, err := fedmsgsim.ReadRecorded(r)
	if err != nil {
		return st, fmt.Errorf("bridge: replay: %w", err)
	}
	for i, m := range msgs {
		out, err := b.Store(ctx, m, "replay", 1)
		if err != nil {
			return st, fmt.Errorf("bridge: replay message %d (%s): %w", i+1, m.ID, err)
		}
		switch out {
		case Stored:
			st.Stored++
		case Duplicate:
			st.Duplicates++
		case DeadLettered:
			st.DeadLettered++
		}
	}
	return st, nil
}

// ReplayFile is Replay of a file.
func (b *Bridge) ReplayFile(ctx context.Context, path string) (ReplayStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return ReplayStats{}, fmt.Errorf("bridge: replay: %w", err)
	}
	defer f.Close()
	return b.Replay(ctx, f)
}
