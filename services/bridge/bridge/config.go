package bridge

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/lifecycle"
)

// Name is the service name used in logs, metrics and dead letters.
const Name = "bridge"

// DefaultRoutingKeys are bound on amq.topic when none are configured.
var DefaultRoutingKeys = []string{
	"#.buildsys.tag", "#.buildsys.untag", "#.buildsys.repo.init", "#.buildsys.repo.done",
	"#.buildsys.task.state.change", "#.buildsys.build.state.change",
}

// Config is the bridge service's configuration. A zero field beyond Common
// takes the value of its flag's environment variable, else the default.
type Config struct {
	lifecycle.Common

	// AMQPURL is the broker (amqp:// or amqps://); "" disables the inbound consumer.
	AMQPURL string
	// AMQPCA, AMQPCert and AMQPKey are PEM files. With a certificate the
	// bridge authenticates with SASL EXTERNAL (the certificate's CN).
	AMQPCA, AMQPCert, AMQPKey string
	// Exchange to bind to (default amq.topic).
	Exchange string
	// Queue is the queue name (see ResolveQueue for the default).
	Queue string
	// QueueTransient declares the queue non-durable, exclusive and
	// auto-deleted (fedora-messaging's default) instead of durable:
	// messages sent while no bridge runs are lost.
	QueueTransient bool
	// RoutingKeys bound on Exchange (default DefaultRoutingKeys).
	RoutingKeys []string
	// Prefetch is the AMQP QoS prefetch count (default 25).
	Prefetch int
	// TopicPrefix is the environment prefix removed from topics for FEDMSG
	// subjects (default org.fedoraproject.prod).
	TopicPrefix string
	// ReconnectMin and ReconnectMax bound the reconnect and JetStream
	// back-off (defaults 1 s and 30 s).
	ReconnectMin, ReconnectMax time.Duration

	// Outbound enables publishing ebs.batch.completed to the bus under
	// OutboundTopic, by default TopicPrefix + OutboundTopicSuffix.
	Outbound bool
	// OutboundTopic is the topic of batch completions, e.g.
	// org.fedoraproject.prod.eln.buildsync.batch.complete; set alone, it
	// also enables outbound.
	OutboundTopic string
	// OutboundURL is the broker for outbound messages (default AMQPURL, with
	// the same TLS files).
	OutboundURL string
	// StatusURL is the status service's public base URL, e.g.
	// https://ebs.example.org; completion messages then link the batch's
	// full record ("" = no links).
	StatusURL string

	// Replay, when set, imports the recorded messages of this file into
	// FEDMSG and exits instead of running the service.
	Replay string

	routingKeys string // the flag's value, used when RoutingKeys is empty
}

// Flags registers the configuration as flags with EBS_* environment fallbacks.
func (c *Config) Flags(fs *flag.FlagSet) {
	c.Common.Flags(fs, "127.0.0.1:9101")
	lifecycle.StringVar(fs, &c.AMQPURL, "amqp-url", "EBS_AMQP_URL", "", `Fedora Messaging broker, e.g. amqps://fedora:@rabbitmq.fedoraproject.org/%2Fpublic_pubsub ("" disables the inbound consumer)`)
	lifecycle.StringVar(fs, &c.AMQPCA, "amqp-ca", "EBS_AMQP_CA", "", "CA bundle (PEM) for the broker")
	lifecycle.StringVar(fs, &c.AMQPCert, "amqp-cert", "EBS_AMQP_CERT", "", "client certificate (PEM); enables SASL EXTERNAL")
	lifecycle.StringVar(fs, &c.AMQPKey, "amqp-key", "EBS_AMQP_KEY", "", "client key (PEM)")
	lifecycle.StringVar(fs, &c.Exchange, "amqp-exchange", "EBS_AMQP_EXCHANGE", fedmsg.Exchange, "exchange to bind to")
	lifecycle.StringVar(fs, &c.Queue, "amqp-queue", "EBS_AMQP_QUEUE", "", "durable queue name, stable across restarts (on Fedora's public broker a UUID unique to this deployment); default: the client certificate's user")
	lifecycle.BoolVar(fs, &c.QueueTransient, "amqp-queue-transient", "EBS_AMQP_QUEUE_TRANSIENT", false, "declare the queue non-durable, exclusive, auto-delete (server-named without --amqp-queue); messages sent while the bridge is down are lost")
	lifecycle.StringVar(fs, &c.routingKeys, "amqp-routing-keys", "EBS_AMQP_ROUTING_KEYS", strings.Join(DefaultRoutingKeys, ","), "comma-separated routing keys bound on the exchange")
	lifecycle.IntVar(fs, &c.Prefetch, "amqp-prefetch", "EBS_AMQP_PREFETCH", 25, "AMQP prefetch count")
	lifecycle.StringVar(fs, &c.TopicPrefix, "topic-prefix", "EBS_TOPIC_PREFIX", fedmsg.PrefixProd, "environment prefix removed from topics for FEDMSG subjects")
	lifecycle.DurationVar(fs, &c.ReconnectMin, "reconnect-min", "EBS_RECONNECT_MIN", time.Second, "first reconnect / JetStream back-off delay")
	lifecycle.DurationVar(fs, &c.ReconnectMax, "reconnect-max", "EBS_RECONNECT_MAX", 30*time.Second, "longest reconnect / JetStream back-off delay")
	lifecycle.BoolVar(fs, &c.Outbound, "outbound", "EBS_OUTBOUND", false, "publish batch completions to the bus under --outbound-topic, by default <topic-prefix>"+OutboundTopicSuffix)
	lifecycle.StringVar(fs, &c.OutboundTopic, "outbound-topic", "EBS_OUTBOUND_TOPIC", "", `topic of batch completions, e.g. org.fedoraproject.prod.eln.buildsync.batch.complete; set alone it also enables --outbound ("" and no --outbound = off)`)
	lifecycle.StringVar(fs, &c.OutboundURL, "outbound-amqp-url", "EBS_OUTBOUND_AMQP_URL", "", "broker for outbound messages (default --amqp-url)")
	lifecycle.StringVar(fs, &c.StatusURL, "status-url", "EBS_STATUS_URL", "", "public base URL of the status service; completion messages link the batch's full record there")
	lifecycle.StringVar(fs, &c.Replay, "replay", "EBS_REPLAY", "", "import recorded messages (JSON lines, datagrepper shape) from FILE into FEDMSG and exit")
}

// OutboundTopicSuffix follows --topic-prefix in the default topic of batch
// completions: org.fedoraproject.prod.eln.buildsync.batch.complete.
const OutboundTopicSuffix = ".eln.buildsync.batch.complete"

// PublicBrokerUser is the user of the certificate Fedora publishes for its
// public read-only broker: everyone shares it, so it names no queue.
const PublicBrokerUser = "fedora"

// ResolveQueue returns the queue the inbound consumer declares and why:
//
//   - --amqp-queue when set;
//   - transient (--amqp-queue-transient) without a name: "" (a server-named,
//     exclusive, auto-deleted queue; nothing survives a restart anyway);
//   - durable without a name: the client certificate's user (its Common
//     Name), Fedora's convention for an authenticated application's queue.
//
// A durable queue needs a name that is the same at every start: a fresh
// name per start would lose what was sent during a restart and leave the
// old queue bound and filling on the broker. So without --amqp-queue, a
// durable queue with no client certificate, or with Fedora's shared public
// one, is an error.
func (c Config) ResolveQueue() (queue, why string, err error) {
	switch {
	case c.Queue != "":
		return c.Queue, "--amqp-queue", nil
	case c.QueueTransient:
		return "", "transient, named by the broker", nil
	case c.AMQPCert == "":
		return "", "", errors.New("bridge: a durable queue needs a stable name: set --amqp-queue (EBS_AMQP_QUEUE; on Fedora's public broker a UUID unique to this deployment), " +
			"use a client certificate (--amqp-cert) whose user names it, or --amqp-queue-transient")
	}
	user, err := certUser(c.AMQPCert)
	if err != nil {
		return "", "", err
	}
	if user == "" || user == PublicBrokerUser {
		return "", "", fmt.Errorf("bridge: the client certificate's user %q is shared, not this deployment's: set --amqp-queue (EBS_AMQP_QUEUE) to a UUID unique to this deployment", user)
	}
	return user, "the client certificate's user", nil
}

// certUser returns the Common Name of the first certificate in a PEM file.
func certUser(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("bridge: client certificate: %w", err)
	}
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return "", fmt.Errorf("bridge: client certificate %s holds no PEM certificate", path)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return "", fmt.Errorf("bridge: client certificate %s: %w", path, err)
		}
		return cert.Subject.CommonName, nil
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// withDefaults fills zero fields from the environment variables of their
// flags (so services started in-process, e.g. by "ebs run", can be
// configured by env too), then from the defaults.
func (c Config) withDefaults() Config {
	for p, env := range map[*string]string{
		&c.AMQPURL: "EBS_AMQP_URL", &c.AMQPCA: "EBS_AMQP_CA", &c.AMQPCert: "EBS_AMQP_CERT", &c.AMQPKey: "EBS_AMQP_KEY",
		&c.Exchange: "EBS_AMQP_EXCHANGE", &c.Queue: "EBS_AMQP_QUEUE", &c.routingKeys: "EBS_AMQP_ROUTING_KEYS",
		&c.TopicPrefix: "EBS_TOPIC_PREFIX", &c.OutboundTopic: "EBS_OUTBOUND_TOPIC", &c.OutboundURL: "EBS_OUTBOUND_AMQP_URL",
		&c.StatusURL: "EBS_STATUS_URL",
	} {
		if *p == "" {
			*p = os.Getenv(env)
		}
	}
	if !c.QueueTransient {
		c.QueueTransient, _ = strconv.ParseBool(os.Getenv("EBS_AMQP_QUEUE_TRANSIENT"))
	}
	if !c.Outbound {
		c.Outbound, _ = strconv.ParseBool(os.Getenv("EBS_OUTBOUND"))
	}
	if c.Prefetch == 0 {
		c.Prefetch, _ = strconv.Atoi(os.Getenv("EBS_AMQP_PREFETCH"))
	}
	if c.Exchange == "" {
		c.Exchange = fedmsg.Exchange
	}
	if len(c.RoutingKeys) == 0 {
		c.RoutingKeys = splitList(c.routingKeys)
	}
	if len(c.RoutingKeys) == 0 {
		c.RoutingKeys = DefaultRoutingKeys
	}
	if c.Prefetch <= 0 {
		c.Prefetch = 25
	}
	if c.TopicPrefix == "" {
		c.TopicPrefix = fedmsg.PrefixProd
	}
	if c.Outbound && c.OutboundTopic == "" {
		c.OutboundTopic = strings.TrimSuffix(c.TopicPrefix, ".") + OutboundTopicSuffix
	}
	if c.ReconnectMin <= 0 {
		c.ReconnectMin = time.Second
	}
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = max(30*time.Second, c.ReconnectMin)
	}
	if c.OutboundURL == "" {
		c.OutboundURL = c.AMQPURL
	}
	return c
}
