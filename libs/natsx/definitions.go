package natsx

import (
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// MaxPayload is the largest message ebs publishes. A BatchCompleted event of a
// mass rebuild (10,000 outcomes) is several MiB, so servers must allow it:
// embedded servers set it and deploy/README.md says to set max_payload.
const MaxPayload = 8 << 20

// StreamDef is one stream of the table.
type StreamDef struct {
	Name        string
	Description string
	Subjects    []string
	MaxAge      time.Duration
	Duplicates  time.Duration
}

// BucketDef is one KV bucket of the table.
type BucketDef struct {
	Bucket      string
	Description string
	History     uint8
	// TTL expires values not written for this long (0 keeps them).
	TTL time.Duration
	// LimitMarkerTTL enables per-key TTLs (the lock uses them).
	LimitMarkerTTL time.Duration
}

// ConsumerDef is one durable pull consumer of the table.
type ConsumerDef struct {
	Stream         string
	Durable        string
	Description    string
	FilterSubjects []string
	AckWait        time.Duration
	// MaxDeliver bounds redeliveries; the consumer helper dead-letters the
	// message on its last delivery instead of letting the server drop it.
	MaxDeliver    int
	MaxAckPending int
}

// Streams lists every stream ebs uses.
var Streams = []StreamDef{
	{
		Name:        StreamFedmsg,
		Description: "Fedora Messaging messages (FedoraMessage envelopes), de-duplicated by message id",
		Subjects:    []string{SubjectFedmsgAll},
		MaxAge:      7 * 24 * time.Hour,
		Duplicates:  2 * time.Hour,
	},
	{
		Name:        StreamEBS,
		Description: "ebs requests, commands, events and dead letters",
		Subjects:    []string{SubjectEBSAll},
		MaxAge:      30 * 24 * time.Hour,
		Duplicates:  2 * time.Hour,
	},
}

// Buckets lists every KV bucket ebs uses.
var Buckets = []BucketDef{
	{Bucket: BucketPending, Description: "pending rebuild requests, one key per ELN component", History: 5},
	{Bucket: BucketBatches, Description: "batch saga checkpoints", History: 5},
	{Bucket: BucketLock, Description: "the batch lock (lease with per-key TTL)", History: 1, LimitMarkerTTL: time.Minute},
	{Bucket: BucketControl, Description: "runtime controls (pause)", History: 20},
	{Bucket: BucketFailed, Description: "denylisted SCM URLs", History: 1},
	{Bucket: BucketTasks, Description: "tracked Koji tasks", History: 2, TTL: 30 * 24 * time.Hour},
	{Bucket: BucketWaits, Description: "open tag and repo waits", History: 2, TTL: 30 * 24 * time.Hour},
	{Bucket: BucketResults, Description: "worker command outcomes by command id", History: 1, TTL: 30 * 24 * time.Hour},
	{Bucket: BucketUpdates, Description: "Bodhi updates bodhi-publisher follows to stable, by command id", History: 1, TTL: 30 * 24 * time.Hour},
}

// Consumers lists every durable consumer ebs uses.
var Consumers = []ConsumerDef{
	{Stream: StreamFedmsg, Durable: ConsumerFilter, Description: "filter: trigger tag messages",
		FilterSubjects: []string{SubjectFedmsgTag}},
	{Stream: StreamFedmsg, Durable: ConsumerKojiWorkerFed, Description: "koji-worker: build and task state changes",
		FilterSubjects: []string{SubjectFedmsgBuildStateChange, SubjectFedmsgTaskStateChange}},
	// repo-watcher reads tag and repo messages with an ordered consumer per
	// replica (every replica must see every message), not a durable one.
	{Stream: StreamEBS, Durable: ConsumerFilterManual, Description: "filter: manual rebuilds",
		FilterSubjects: []string{SubjectRebuildManual}},
	{Stream: StreamEBS, Durable: ConsumerBatcher, Description: "batcher: rebuild requests into the pending set",
		FilterSubjects: []string{SubjectRebuildRequested}},
	{Stream: StreamEBS, Durable: ConsumerKojiWorkerCmd, Description: "koji-worker: Koji commands",
		FilterSubjects: []string{SubjectKojiCmdPrefix + ">"}, AckWait: 2 * time.Minute},
	{Stream: StreamEBS, Durable: ConsumerRepoWatcherCmd, Description: "repo-watcher: wait commands",
		FilterSubjects: []string{SubjectWatchCmdPrefix + ">"}},
	{Stream: StreamEBS, Durable: ConsumerBodhiPublisher, Description: "bodhi-publisher: Bodhi commands",
		FilterSubjects: []string{SubjectBodhiCmdPrefix + ">"}, AckWait: 2 * time.Minute},
	{Stream: StreamEBS, Durable: ConsumerStatus, Description: "status: history projection of every event",
		FilterSubjects: []string{SubjectEBSAll}},
	{Stream: StreamEBS, Durable: ConsumerStatusMail, Description: "status: failure mail",
		FilterSubjects: []string{SubjectBatchCompleted}},
	{Stream: StreamEBS, Durable: ConsumerBridgeOutbound, Description: "bridge: batch completions to Fedora Messaging",
		FilterSubjects: []string{SubjectBatchCompleted}},
}

// Defaults for ConsumerDef fields left zero.
const (
	DefaultAckWait       = 30 * time.Second
	DefaultMaxDeliver    = 50
	DefaultMaxAckPending = 1000
)

// ConsumerFor returns the definition of a durable consumer on a stream.
func ConsumerFor(stream, durable string) (ConsumerDef, bool) {
	for _, c := range Consumers {
		if c.Stream == stream && c.Durable == durable {
			return c.withDefaults(), true
		}
	}
	return ConsumerDef{}, false
}

func (c ConsumerDef) withDefaults() ConsumerDef {
	if c.AckWait == 0 {
		c.AckWait = DefaultAckWait
	}
	if c.MaxDeliver == 0 {
		c.MaxDeliver = DefaultMaxDeliver
	}
	if c.MaxAckPending == 0 {
		c.MaxAckPending = DefaultMaxAckPending
	}
	return c
}

func (c ConsumerDef) config() jetstream.ConsumerConfig {
	c = c.withDefaults()
	cfg := jetstream.ConsumerConfig{
		Durable:       c.Durable,
		Description:   c.Description,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       c.AckWait,
		MaxDeliver:    c.MaxDeliver,
		MaxAckPending: c.MaxAckPending,
	}
	if len(c.FilterSubjects) == 1 {
		cfg.FilterSubject = c.FilterSubjects[0]
	} else {
		cfg.FilterSubjects = c.FilterSubjects
	}
	return cfg
}
