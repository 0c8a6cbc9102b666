package bridge

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/natsx"
	fedmsgsim "github.com/fedora-eln/ebs/libs/sim/fedmsg"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// ReplayStats counts what a replay did.
type ReplayStats struct {
	Stored, Duplicates, DeadLettered int
}

// Replay imports recorded messages (see fedmsgsim.ScanRecorded: JSON lines
// in the datagrepper or fedora-messaging shape) into FEDMSG, dead-lettering
// the unusable ones as the AMQP path does. A record that cannot even be read
// (not JSON, truncated, the wrong shape) is dead-lettered too, with its line
// number and the reason, and the import goes on with the next one. Replaying
// a file twice stores nothing new while the ids are inside the stream's
// de-duplication window, and gives the same dead letters.
func (b *Bridge) Replay(ctx context.Context, r io.Reader) (ReplayStats, error) {
	var st ReplayStats
	i := 0
	err := fedmsgsim.ScanRecorded(r, func(rec fedmsgsim.Recorded) error {
		i++
		if rec.Err != nil {
			if err := b.deadLetterRecord(ctx, rec); err != nil {
				return fmt.Errorf("bridge: replay record %d (line %d): %w", i, rec.Line, err)
			}
			st.DeadLettered++
			return nil
		}
		out, err := b.Store(ctx, rec.Message, "replay", 1)
		if err != nil {
			return fmt.Errorf("bridge: replay message %d (%s, line %d): %w", i, rec.Message.ID, rec.Line, err)
		}
		switch out {
		case Stored:
			st.Stored++
		case Duplicate:
			st.Duplicates++
		case DeadLettered:
			st.DeadLettered++
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("bridge: replay: %w", err)
	}
	return st, nil
}

// deadLetterRecord records an unreadable recorded record on ebs.deadletter.
// Its id comes from its line and text, so replaying the same file again
// gives the same dead letter.
func (b *Bridge) deadLetterRecord(ctx context.Context, rec fedmsgsim.Recorded) error {
	sum := sha256.New()
	fmt.Fprintf(sum, "%d\x00", rec.Line)
	sum.Write(rec.Raw)
	id := "replay-" + hex.EncodeToString(sum.Sum(nil))[:32]
	payload, text := rec.Raw, fmt.Sprintf("%s: line %d: %v", reasonMalformed, rec.Line, rec.Err)
	if len(payload) > maxDeadLetterPayload {
		payload = payload[:maxDeadLetterPayload]
		text += fmt.Sprintf(" (payload truncated to %d of %d bytes)", maxDeadLetterPayload, len(rec.Raw))
	}
	dl := &ebsv1.DeadLetter{Id: id, Service: Name, Stream: "replay", Reason: text, Payload: payload,
		Headers: map[string]string{"line": strconv.Itoa(rec.Line)}, At: timestamppb.New(b.now()), Deliveries: 1}
	if _, err := natsx.Publish(ctx, b.js, natsx.SubjectDeadLetter, id, dl); err != nil {
		return err
	}
	b.metrics.DeadLetters.WithLabelValues(reasonMalformed).Inc()
	b.metrics.Messages.WithLabelValues("replay", string(DeadLettered)).Inc()
	b.log.Warn("recorded record dead-lettered", "source", "replay", "line", rec.Line, "reason", rec.Err)
	return nil
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
