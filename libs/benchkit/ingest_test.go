package benchkit

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/fedmsg"
)

func names(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}

func TestIngestMessages(t *testing.T) {
	t.Parallel()
	o := IngestOptions{Total: 2000, Prefix: "org.fedoraproject.bench", Listed: names("listed", 500), Unlisted: names("other", 300),
		Seed: 7, SentAt: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)}
	tr, err := IngestMessages(o)
	if err != nil {
		t.Fatal(err)
	}
	if len(tr.Messages) != 2000 || tr.Eligible != 200 || tr.Duplicates != 100 || tr.Malformed != 20 || tr.Ineligible != 1680 {
		t.Fatalf("mix: %d messages, %d eligible, %d duplicates, %d malformed, %d others",
			len(tr.Messages), tr.Eligible, tr.Duplicates, tr.Malformed, tr.Ineligible)
	}
	ids := map[string]int{}
	eligible := map[string]bool{}
	bad := 0
	for i, m := range tr.Messages {
		if first, dup := ids[m.ID]; dup {
			if !reflect.DeepEqual(tr.Messages[first], m) {
				t.Fatalf("message %d reuses the id of %d with another content", i, first)
			}
			continue
		}
		ids[m.ID] = i
		if m.Topic != "org.fedoraproject.bench.buildsys.tag" {
			t.Fatalf("topic %s", m.Topic)
		}
		var b fedmsg.TagBody
		if m.Validate() != nil || fedmsg.Decode(m.Body, &b) != nil || b.Validate() != nil {
			bad++
			continue
		}
		if b.Tag == "f45" && b.Name[:6] == "listed" {
			if eligible[b.Name] {
				t.Fatalf("%s is eligible twice", b.Name)
			}
			eligible[b.Name] = true
		}
	}
	if len(ids) != 1900 || bad != 20 || len(eligible) != 200 || len(tr.EligibleNames) != 200 {
		t.Fatalf("%d distinct ids, %d malformed, %d eligible (%d named)", len(ids), bad, len(eligible), len(tr.EligibleNames))
	}
	for _, n := range tr.EligibleNames {
		if !eligible[n] {
			t.Fatalf("%s named eligible but has no trigger message", n)
		}
	}
	again, err := IngestMessages(o)
	if err != nil || !reflect.DeepEqual(again.Messages, tr.Messages) {
		t.Fatal("the same seed gave other messages")
	}
	if _, err := IngestMessages(IngestOptions{Total: 2000, Listed: names("l", 10), Unlisted: names("o", 10)}); err == nil {
		t.Fatal("too few listed names for the eligible share was accepted")
	}
}
