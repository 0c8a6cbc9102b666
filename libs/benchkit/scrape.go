package benchkit

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Samples are the series of a Prometheus text exposition: the full series
// name with its labels as printed (`name{a="b"}`) to its value.
type Samples map[string]float64

// Scrape reads a /metrics endpoint.
func Scrape(url string) (Samples, error) {
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, fmt.Errorf("benchkit: scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("benchkit: scrape %s: %s", url, resp.Status)
	}
	return ParseText(resp.Body)
}

// ParseText parses the Prometheus text format (comments skipped; label
// values must not contain spaces followed by a number, which ebs's don't).
func ParseText(r io.Reader) (Samples, error) {
	out := Samples{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, '}')
		if i < 0 {
			i = strings.IndexByte(line, ' ')
		} else {
			i++
		}
		if i <= 0 || i >= len(line) {
			return nil, fmt.Errorf("benchkit: metrics line %q", line)
		}
		fields := strings.Fields(line[i:])
		if len(fields) == 0 {
			return nil, fmt.Errorf("benchkit: metrics line %q has no value", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("benchkit: metrics line %q: %w", line, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// Sum adds every series of metric whose labels include all of match
// (`key="value"` strings).
func (s Samples) Sum(metric string, match ...string) float64 {
	var total float64
	for k, v := range s {
		name, labels := k, ""
		if i := strings.IndexByte(k, '{'); i >= 0 {
			name, labels = k[:i], k[i:]
		}
		if name != metric {
			continue
		}
		ok := true
		for _, m := range match {
			if !strings.Contains(labels, m) {
				ok = false
				break
			}
		}
		if ok {
			total += v
		}
	}
	return total
}

// ByLabel sums metric per value of label (series without it are skipped).
func (s Samples) ByLabel(metric, label string) map[string]float64 {
	out := map[string]float64{}
	prefix := label + `="`
	for k, v := range s {
		i := strings.IndexByte(k, '{')
		if i < 0 || k[:i] != metric {
			continue
		}
		j := strings.Index(k[i:], prefix)
		if j < 0 {
			continue
		}
		rest := k[i+j+len(prefix):]
		end := strings.IndexByte(rest, '"')
		if end < 0 {
			continue
		}
		out[rest[:end]] += v
	}
	return out
}

// Keys lists the series names, sorted (for debugging output).
func (s Samples) Keys() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
