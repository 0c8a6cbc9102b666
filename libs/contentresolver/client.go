package contentresolver

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/fedora-eln/ebs/libs/config"
)

// Client fetches Content Resolver lists.
type Client struct {
	// HTTP is the client (default http.DefaultClient; the timeout is per request).
	HTTP *http.Client
	// Timeout bounds one request (default 15 s, as the original).
	Timeout time.Duration
	// RetryFor is the total retry budget with exponential backoff from 1 s
	// (default 60 s, as the original). Network errors, 5xx, 408 and 429 are
	// retried; other statuses fail at once.
	RetryFor time.Duration
	// Backoff is the first retry delay (default 1 s), doubling up to 16 s.
	Backoff time.Duration
	Logger  *slog.Logger
}

// MaxListSize bounds one list (the real ones are about 100 KiB).
const MaxListSize = 16 << 20

// FetchList GETs {base}/view-{source}-package-name-list--view-{view}.txt and
// returns its non-empty lines.
func (c *Client) FetchList(ctx context.Context, base, source, view string) ([]string, error) {
	url := strings.TrimRight(base, "/") + "/" + ListName(source, view)
	timeout, budget := c.Timeout, c.RetryFor
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	if budget <= 0 {
		budget = 60 * time.Second
	}
	client := c.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	deadline := time.Now().Add(budget)
	backoff := c.Backoff
	if backoff <= 0 {
		backoff = time.Second
	}
	for attempt := 1; ; attempt++ {
		names, retryable, err := fetchOnce(ctx, client, url, timeout)
		if err == nil {
			return names, nil
		}
		if !retryable || time.Now().Add(backoff).After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("contentresolver: %s: %w (attempt %d)", url, err, attempt)
		}
		log.Warn("Content Resolver fetch failed, retrying", "component", "contentresolver", "url", url, "attempt", attempt, "delay", backoff, "error", err)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("contentresolver: %s: %w", url, errors.Join(err, ctx.Err()))
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 16*time.Second)
	}
}

func fetchOnce(ctx context.Context, client *http.Client, url string, timeout time.Duration) ([]string, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, false, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, true, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		retryable := resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests
		return nil, retryable, fmt.Errorf("HTTP %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxListSize+1))
	if err != nil {
		return nil, true, err
	}
	if len(body) > MaxListSize {
		return nil, false, fmt.Errorf("list larger than %d bytes", MaxListSize)
	}
	return ParseList(body), false, nil
}

// ParseList returns the names of a list: one per line, blank lines skipped.
func ParseList(body []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64*1024), MaxListSize)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Load fetches every list the configuration names and builds the universe.
// Without an autopackagelist it is built from the overrides alone.
func (c *Client) Load(ctx context.Context, comps config.Components) (*Universe, error) {
	apl := comps.AutoPackageList
	var lists []List
	if apl != nil {
		for _, view := range apl.Views {
			for _, source := range apl.Sources {
				names, err := c.FetchList(ctx, apl.ContentResolver, source, view)
				if err != nil {
					return nil, err
				}
				lists = append(lists, List{View: view, Source: source, Names: names})
			}
		}
	}
	return Build(apl, lists, comps)
}
