package natsx

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ProvisionOptions adjust the table for a deployment.
type ProvisionOptions struct {
	// Replicas for streams and buckets (1 in tests and the demo, 3 in production).
	Replicas int
	// Storage defaults to file storage.
	Storage jetstream.StorageType
	// FedmsgMaxAge and EBSMaxAge override the streams' retention when non-zero.
	FedmsgMaxAge time.Duration
	EBSMaxAge    time.Duration
}

// Provision creates or updates every stream, KV bucket and durable consumer of
// the table. It is idempotent and safe to run from every service at start-up.
func Provision(ctx context.Context, js jetstream.JetStream, opts ProvisionOptions) error {
	if opts.Replicas <= 0 {
		opts.Replicas = 1
	}
	for _, s := range Streams {
		cfg := jetstream.StreamConfig{
			Name:        s.Name,
			Description: s.Description,
			Subjects:    s.Subjects,
			Retention:   jetstream.LimitsPolicy,
			Storage:     opts.Storage,
			Replicas:    opts.Replicas,
			MaxAge:      s.MaxAge,
			Duplicates:  s.Duplicates,
			MaxMsgSize:  MaxPayload,
			Discard:     jetstream.DiscardOld,
		}
		switch {
		case s.Name == StreamFedmsg && opts.FedmsgMaxAge > 0:
			cfg.MaxAge = opts.FedmsgMaxAge
		case s.Name == StreamEBS && opts.EBSMaxAge > 0:
			cfg.MaxAge = opts.EBSMaxAge
		}
		if _, err := js.CreateOrUpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("natsx: provision stream %s: %w", s.Name, err)
		}
	}
	for _, b := range Buckets {
		cfg := jetstream.KeyValueConfig{
			Bucket:         b.Bucket,
			Description:    b.Description,
			History:        b.History,
			TTL:            b.TTL,
			LimitMarkerTTL: b.LimitMarkerTTL,
			Storage:        opts.Storage,
			Replicas:       opts.Replicas,
			MaxValueSize:   MaxPayload,
		}
		if _, err := js.CreateOrUpdateKeyValue(ctx, cfg); err != nil {
			return fmt.Errorf("natsx: provision bucket %s: %w", b.Bucket, err)
		}
	}
	for _, c := range Consumers {
		if _, err := js.CreateOrUpdateConsumer(ctx, c.Stream, c.config()); err != nil {
			return fmt.Errorf("natsx: provision consumer %s/%s: %w", c.Stream, c.Durable, err)
		}
	}
	return nil
}
