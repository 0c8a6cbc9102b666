package filter

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ReleaseResolver resolves the trigger tag "rawhide" to Rawhide's current
// stable tag (e.g. f45).
type ReleaseResolver interface {
	RawhideStableTag(ctx context.Context) (string, error)
}

// BodhiReleases resolves rawhide the way the original did: GET
// /releases/?state=pending on Bodhi, take the release whose branch is
// "rawhide", use its stable_tag. It is a plain read of a public route (no
// login), so it needs no Bodhi client session.
type BodhiReleases struct {
	// BaseURL is Bodhi's base URL (default https://bodhi.fedoraproject.org).
	BaseURL string
	HTTP    *http.Client
	// Timeout per request (default 15 s), RetryFor the total retry budget
	// (default 60 s), Backoff the first retry delay (default 1 s).
	Timeout, RetryFor, Backoff time.Duration
}

// DefaultBodhiURL is production Bodhi.
const DefaultBodhiURL = "https://bodhi.fedoraproject.org"

// bodhiRelease is the part of Bodhi's release object ebs reads.
type bodhiRelease struct {
	Name      string `json:"name"`
	Branch    string `json:"branch"`
	StableTag string `json:"stable_tag"`
	State     string `json:"state"`
}

type bodhiReleasesPage struct {
	Releases []bodhiRelease `json:"releases"`
	Page     int            `json:"page"`
	Pages    int            `json:"pages"`
}

// RawhideStableTag implements ReleaseResolver.
func (b *BodhiReleases) RawhideStableTag(ctx context.Context) (string, error) {
	base := strings.TrimRight(b.BaseURL, "/")
	if base == "" {
		base = DefaultBodhiURL
	}
	var seen []string
	for page := 1; ; page++ {
		q := url.Values{"state": {"pending"}, "rows_per_page": {"100"}, "page": {fmt.Sprint(page)}}
		var p bodhiReleasesPage
		if err := b.getJSON(ctx, base+"/releases/?"+q.Encode(), &p); err != nil {
			return "", fmt.Errorf("bodhi: pending releases: %w", err)
		}
		for _, r := range p.Releases {
			if r.Branch == "rawhide" {
				if r.StableTag == "" {
					return "", fmt.Errorf("bodhi: release %s (branch rawhide) has no stable_tag", r.Name)
				}
				return r.StableTag, nil
			}
			seen = append(seen, r.Name)
		}
		if p.Pages <= page || len(p.Releases) == 0 {
			break
		}
	}
	return "", fmt.Errorf("bodhi: no pending release on branch rawhide (pending: %s)", strings.Join(seen, ", "))
}

func (b *BodhiReleases) getJSON(ctx context.Context, u string, out any) error {
	timeout, budget, backoff := b.Timeout, b.RetryFor, b.Backoff
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	if budget <= 0 {
		budget = 60 * time.Second
	}
	if backoff <= 0 {
		backoff = time.Second
	}
	client := b.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	deadline := time.Now().Add(budget)
	for attempt := 1; ; attempt++ {
		retryable, err := getJSONOnce(ctx, client, u, timeout, out)
		if err == nil {
			return nil
		}
		if !retryable || time.Now().Add(backoff).After(deadline) {
			return fmt.Errorf("%s: %w (attempt %d)", u, err, attempt)
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 16*time.Second)
	}
}

func getJSONOnce(ctx context.Context, client *http.Client, u string, timeout time.Duration, out any) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	// Without it Bodhi answers HTML.
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return true, err
	}
	if resp.StatusCode != http.StatusOK {
		retryable := resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests
		return retryable, fmt.Errorf("HTTP %s: %.200s", resp.Status, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return false, fmt.Errorf("not Bodhi's JSON: %w", err)
	}
	return false, nil
}
