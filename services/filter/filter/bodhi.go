package filter

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

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
// retry budget.
func NewReleaseResolver(baseURL string, timeout, retryFor time.Duration, transport http.RoundTripper, log *slog.Logger) (*bodhi.Client, error) {
	c, err := bodhi.New(bodhi.Options{BaseURL: baseURL, RequestTimeout: timeout, RetryFor: retryFor, Transport: transport, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("filter: %w", err)
	}
	return c, nil
}
