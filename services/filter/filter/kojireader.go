package filter

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-eln/ebs/libs/koji"
)

// KojiClient is the KojiReader over libs/koji: anonymous reads (listTagged,
// getBuildTarget), with the client's retries (60 s budget, as the original's
// call_koji).
type KojiClient struct {
	C *koji.Client
}

// NewKojiReader returns an anonymous KojiReader for the hub at url; the
// client's counters go to reg when it is not nil.
func NewKojiReader(url string, hc *http.Client, reg prometheus.Registerer, log *slog.Logger) (*KojiClient, error) {
	opts := koji.Options{URL: url, HTTPClient: hc, Logger: log}
	if reg != nil {
		m, err := koji.NewMetrics(reg)
		if err != nil {
			return nil, fmt.Errorf("filter: koji metrics: %w", err)
		}
		opts.Metrics = m
	}
	c, err := koji.New(opts)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	return &KojiClient{C: c}, nil
}

// ListTaggedLatest implements KojiReader.
func (k *KojiClient) ListTaggedLatest(ctx context.Context, tag string, inherit bool) ([]KojiBuild, error) {
	bs, err := k.C.ListTagged(ctx, tag, koji.ListTaggedOpts{Latest: true, Inherit: inherit})
	if err != nil {
		return nil, err
	}
	out := make([]KojiBuild, 0, len(bs))
	for _, b := range bs {
		kb := KojiBuild{ID: b.BuildID, Name: b.Name, Version: b.Version, Release: b.Release, NVR: b.NVR,
			CreationTime: b.CreationTime, Owner: b.OwnerName}
		if kb.ID == 0 {
			kb.ID = b.ID
		}
		if b.Epoch != nil {
			kb.Epoch = fmt.Sprint(*b.Epoch)
		}
		if kb.NVR == "" {
			kb.NVR = b.Name + "-" + b.Version + "-" + b.Release
		}
		out = append(out, kb)
	}
	return out, nil
}

// BuildTargetDestTag implements KojiReader.
func (k *KojiClient) BuildTargetDestTag(ctx context.Context, target string) (string, error) {
	t, err := k.C.GetBuildTarget(ctx, target)
	if err != nil {
		return "", err
	}
	if t == nil {
		return "", fmt.Errorf("no build target %q", target)
	}
	return t.DestTagName, nil
}
