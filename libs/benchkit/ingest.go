package benchkit

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/fedora-eln/ebs/libs/fedmsg"
	fedmsgsim "github.com/fedora-eln/ebs/libs/sim/fedmsg"
)

// IngestOptions shape the ingest traffic.
type IngestOptions struct {
	// Total messages (default 25,000).
	Total int
	// Fractions of Total: eligible triggers (default 0.10), redelivered
	// duplicates (0.05) and malformed messages (0.01). The rest are
	// ordinary buildsys.tag traffic ebs must ignore.
	Eligible, Duplicates, Malformed float64
	// Prefix of topics (the environment, e.g. org.fedoraproject.prod).
	Prefix string
	// TriggerTag is the Rawhide tag (default f45).
	TriggerTag string
	// Listed are Fedora names in the Content Resolver lists and not
	// excluded (each eligible message names a different one); Unlisted are
	// names ebs does not know. Both must be long enough.
	Listed, Unlisted []string
	Seed             uint64
	SentAt           time.Time
}

// IngestTraffic is a generated message sequence.
type IngestTraffic struct {
	Messages []fedmsg.Message
	// EligibleNames are the components every eligible message names (one
	// each): what must end up in the pending set.
	EligibleNames                               []string
	Eligible, Ineligible, Duplicates, Malformed int
}

// The tags of ordinary buildsys.tag traffic on Fedora's bus besides the
// trigger, with their weights: candidate tags of every release, signing and
// testing steps, ELN's own tag, EPEL.
var otherTags = []struct {
	tag    string
	weight int
}{
	{"f45-updates-candidate", 30}, {"f45-signing-pending", 12}, {"f45-updates-testing-pending", 6},
	{"f44-updates-candidate", 10}, {"f44-signing-pending", 5}, {"f44-updates-testing", 5},
	{"f43-updates-candidate", 6}, {"eln", 8}, {"epel10.2-testing-candidate", 6}, {"epel9-testing-candidate", 4},
	{"f45", 8}, // the trigger tag, but for packages ebs does not know
}

var users = []string{"bodhi", "churchyard", "kdudka", "sgallagh", "mhroncok", "ppisar", "releng", "eln-buildsync"}

// IngestMessages generates realistic buildsys.tag traffic: eligible
// triggers (the trigger tag, a listed package), ordinary tag traffic
// (other tags, unlisted packages), redeliveries of earlier messages (same
// message id) and malformed messages (bodies that are not JSON objects, or
// tag bodies without name or build). Deterministic for a seed.
func IngestMessages(o IngestOptions) (*IngestTraffic, error) {
	if o.Total <= 0 {
		o.Total = 25000
	}
	if o.Eligible == 0 {
		o.Eligible = 0.10
	}
	if o.Duplicates == 0 {
		o.Duplicates = 0.05
	}
	if o.Malformed == 0 {
		o.Malformed = 0.01
	}
	if o.Prefix == "" {
		o.Prefix = fedmsg.PrefixProd
	}
	if o.TriggerTag == "" {
		o.TriggerTag = "f45"
	}
	if o.SentAt.IsZero() {
		o.SentAt = time.Now()
	}
	nElig := int(float64(o.Total) * o.Eligible)
	nDup := int(float64(o.Total) * o.Duplicates)
	nBad := int(float64(o.Total) * o.Malformed)
	nOther := o.Total - nElig - nDup - nBad
	if nElig > len(o.Listed) {
		return nil, fmt.Errorf("benchkit: %d eligible messages need as many listed names (have %d)", nElig, len(o.Listed))
	}
	if len(o.Unlisted) == 0 {
		return nil, fmt.Errorf("benchkit: no unlisted names")
	}
	rng := rand.New(rand.NewPCG(o.Seed, 0x1e57))
	kinds := make([]byte, 0, o.Total)
	for range nElig {
		kinds = append(kinds, 'e')
	}
	for range nOther {
		kinds = append(kinds, 'o')
	}
	for range nBad {
		kinds = append(kinds, 'm')
	}
	for range nDup {
		kinds = append(kinds, 'd')
	}
	rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	// A redelivery follows its original: the first message is never one.
	for i := 0; i < len(kinds) && kinds[0] == 'd'; i++ {
		if kinds[i] != 'd' {
			kinds[0], kinds[i] = kinds[i], kinds[0]
		}
	}
	totalWeight := 0
	for _, t := range otherTags {
		totalWeight += t.weight
	}
	tr := &IngestTraffic{}
	nextListed := 0
	buildID := int64(3_100_000)
	for i, k := range kinds {
		var m fedmsg.Message
		var err error
		at := o.SentAt.Add(time.Duration(i) * 100 * time.Millisecond)
		id := fedmsgsim.StableID(fmt.Sprintf("bench-%d-%d", o.Seed, i))
		switch k {
		case 'd':
			m = tr.Messages[rng.IntN(len(tr.Messages))]
			tr.Duplicates++
		case 'm':
			m = malformed(o.Prefix, i, at)
			m.ID = id
			tr.Malformed++
		case 'e':
			name := o.Listed[nextListed]
			nextListed++
			buildID++
			m, err = tagMessage(o.Prefix, o.TriggerTag, name, buildID, users[rng.IntN(len(users))], at)
			m.ID = id
			tr.EligibleNames = append(tr.EligibleNames, name)
			tr.Eligible++
		default:
			pick := rng.IntN(totalWeight)
			tag := otherTags[0].tag
			for _, t := range otherTags {
				if pick < t.weight {
					tag = t.tag
					break
				}
				pick -= t.weight
			}
			name := o.Unlisted[rng.IntN(len(o.Unlisted))]
			if tag != o.TriggerTag && rng.IntN(2) == 0 {
				name = o.Listed[rng.IntN(len(o.Listed))] // known packages move through other tags too
			}
			buildID++
			m, err = tagMessage(o.Prefix, tag, name, buildID, users[rng.IntN(len(users))], at)
			m.ID = id
			tr.Ineligible++
		}
		if err != nil {
			return nil, err
		}
		tr.Messages = append(tr.Messages, m)
	}
	return tr, nil
}

func tagMessage(prefix, tag, name string, buildID int64, user string, at time.Time) (fedmsg.Message, error) {
	dist := "fc45"
	switch {
	case tag == "eln":
		dist = "eln150"
	case len(tag) > 3 && tag[:3] == "f44":
		dist = "fc44"
	case len(tag) > 3 && tag[:3] == "f43":
		dist = "fc43"
	case len(tag) > 4 && tag[:4] == "epel":
		dist = "el10_2"
	}
	b := fedmsg.TagBody{BaseURL: "https://koji.fedoraproject.org", Tag: tag, TagID: 40000 + int64(len(tag)), Name: name,
		Version: fmt.Sprintf("%d.%d.%d", 1+buildID%7, buildID%13, buildID%5), Release: fmt.Sprintf("%d.%s", 1+buildID%4, dist),
		BuildID: buildID, User: fedmsg.FlexString(user), Owner: fedmsg.FlexString(user), Instance: "primary"}
	return fedmsg.KojiMessage(prefix, fedmsg.TopicTag, b, at)
}

// malformed returns one of the shapes of bad input seen on a bus: not
// JSON, JSON that is not an object (the bridge dead-letters both), and tag
// bodies lacking what a trigger needs (the filter dead-letters those).
func malformed(prefix string, i int, at time.Time) fedmsg.Message {
	topic := prefix + "." + fedmsg.TopicTag
	h := map[string]any{fedmsg.HeaderSchema: "koji_fedoramessaging.tag.TagV1", fedmsg.HeaderSeverity: fedmsg.SeverityDebug,
		fedmsg.HeaderSentAt: at.UTC().Format("2006-01-02T15:04:05+00:00")}
	var body string
	switch i % 4 {
	case 0:
		body = fmt.Sprintf("<tag>f45</tag><n>%d</n>", i)
	case 1:
		body = fmt.Sprintf(`["f45", "pkg-%d"]`, i)
	case 2:
		body = fmt.Sprintf(`{"tag": "f45", "name": "pkg-%d", "version": "1", "release": "1.fc45", "build_id": 0, "instance": "primary"}`, i)
	default:
		body = fmt.Sprintf(`{"tag": "f45", "build_id": %d, "instance": "primary"}`, 3_000_000+i)
	}
	return fedmsg.Message{Topic: topic, Headers: h, Body: []byte(body), SentAt: at.UTC().Truncate(time.Second)}
}
