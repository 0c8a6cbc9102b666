package filter

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedora-eln/ebs/libs/bodhi"
)

// ReleaseResolver resolves the trigger tag "rawhide" to Rawhide's current
// stable tag (e.g. f45): the pending release whose branch is rawhide, as the
// original read it from GET /releases/?state=pending. *bodhi.Client
// implements it.
type ReleaseResolver interface {
	RawhideStableTag(ctx context.Context) (string, error)
}

// DefaultBodhiURL is production Bodhi.
const DefaultBodhiURL = "https://bodhi.fedoraproject.org"

// NewReleaseResolver returns an anonymous (read-only) Bodhi client for
// baseURL with the original's fetch limits: timeout per request and a total
// retry budget. Its ebs_bodhi_client_* counters go to reg when it is not nil.
func NewReleaseResolver(baseURL string, timeout, retryFor time.Duration, transport http.RoundTripper, reg prometheus.Registerer, log *slog.Logger) (*bodhi.Client, error) {
	o := bodhi.Options{BaseURL: baseURL, RequestTimeout: timeout, RetryFor: retryFor, Transport: transport, Logger: log}
	if reg != nil {
		m, err := bodhi.NewMetrics(reg)
		if err != nil {
			return nil, fmt.Errorf("filter: bodhi metrics: %w", err)
		}
		o.Metrics = m
	}
	c, err := bodhi.New(o)
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	return c, nil
}
