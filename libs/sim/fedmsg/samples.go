package fedmsgsim

import (
	"bytes"
	"embed"
	"fmt"
	"time"

	"github.com/fedora-eln/ebs/libs/fedmsg"
)

//go:embed samples/*.json
var samplesFS embed.FS

// SampleSentAt is the sent-at of the reference envelope, used for every sample.
var SampleSentAt = time.Date(2025, 7, 7, 8, 31, 2, 0, time.UTC)

// sampleTopics lists the reference bodies in a stable order.
var sampleTopics = []string{
	fedmsg.TopicTag, fedmsg.TopicUntag, fedmsg.TopicBuildStateChange,
	fedmsg.TopicTaskStateChange, fedmsg.TopicRepoInit, fedmsg.TopicRepoDone,
}

// Samples returns the reference messages (shared/reference/samples): the
// bodies byte for byte (trailing newline trimmed), headers as
// koji-fedoramessaging sets them, topic prefix as given ("" = prod), sent-at
// SampleSentAt, and stable ids (the tag sample keeps the reference
// envelope's id when the prefix is prod).
func Samples(prefix string) []fedmsg.Message {
	if prefix == "" {
		prefix = fedmsg.PrefixProd
	}
	var out []fedmsg.Message
	for _, suffix := range sampleTopics {
		raw, err := samplesFS.ReadFile("samples/" + suffix + ".json")
		if err != nil {
			panic(err) // embedded at build time
		}
		m, err := messageFromBody(prefix, suffix, raw)
		if err != nil {
			panic(fmt.Sprintf("fedmsgsim: sample %s: %v", suffix, err))
		}
		out = append(out, m)
	}
	return out
}

// SampleEnvelopeID is the message id of the reference AMQP envelope.
const SampleEnvelopeID = "0c5a6f3e-5d8b-4a49-9a57-2f1e8f3b7c11"

func messageFromBody(prefix, suffix string, raw []byte) (fedmsg.Message, error) {
	var typed any
	var err error
	switch suffix {
	case fedmsg.TopicTag, fedmsg.TopicUntag:
		var b fedmsg.TagBody
		err, typed = fedmsg.Decode(raw, &b), b
	case fedmsg.TopicBuildStateChange:
		var b fedmsg.BuildStateChangeBody
		err, typed = fedmsg.Decode(raw, &b), b
	case fedmsg.TopicTaskStateChange:
		var b fedmsg.TaskStateChangeBody
		err, typed = fedmsg.Decode(raw, &b), b
	default:
		var b fedmsg.RepoBody
		err, typed = fedmsg.Decode(raw, &b), b
	}
	if err != nil {
		return fedmsg.Message{}, err
	}
	m, err := fedmsg.KojiMessage(prefix, suffix, typed, SampleSentAt)
	if err != nil {
		return fedmsg.Message{}, err
	}
	m.Body = bytes.TrimSpace(raw)
	m.ID = StableID(prefix + "." + suffix)
	if suffix == fedmsg.TopicTag && prefix == fedmsg.PrefixProd {
		m.ID = SampleEnvelopeID
	}
	return m, nil
}

// Malformed returns messages the bridge must dead-letter, one per reason:
// a body that is not JSON, a JSON body that is not an object, a message
// without a message id, and a body over fedmsg.MaxBodySize. Ids (where set)
// are stable per prefix.
func Malformed(prefix string) []fedmsg.Message {
	if prefix == "" {
		prefix = fedmsg.PrefixProd
	}
	topic := prefix + "." + fedmsg.TopicTag
	headers := func() map[string]any {
		return map[string]any{fedmsg.HeaderSchema: "base.message", fedmsg.HeaderSeverity: fedmsg.SeverityDebug,
			fedmsg.HeaderSentAt: SampleSentAt.Format("2006-01-02T15:04:05+00:00")}
	}
	big := make([]byte, 0, fedmsg.MaxBodySize+64)
	big = append(big, `{"tag": "f45", "name": "huge", "padding": "`...)
	for len(big) < fedmsg.MaxBodySize+16 {
		big = append(big, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"...)
	}
	big = append(big, `"}`...)
	return []fedmsg.Message{
		{ID: StableID(prefix + ".malformed.not-json"), Topic: topic, Headers: headers(), Body: []byte("<tag>f45</tag>"), SentAt: SampleSentAt},
		{ID: StableID(prefix + ".malformed.array"), Topic: topic, Headers: headers(), Body: []byte(`["f45", "bash"]`), SentAt: SampleSentAt},
		{ID: "", Topic: topic, Headers: headers(), Body: []byte(`{"tag": "f45", "name": "no-message-id", "version": "1", "release": "1.fc45", "build_id": 1}`), SentAt: SampleSentAt},
		{ID: StableID(prefix + ".malformed.too-big"), Topic: topic, Headers: headers(), Body: big, SentAt: SampleSentAt},
	}
}
