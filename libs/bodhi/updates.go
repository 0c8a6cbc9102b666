package bodhi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// CreateUpdate files an update from a side tag (POST /updates/). If Bodhi
// says an update already uses the side tag (an earlier attempt succeeded
// without us learning it), the existing update is looked up and returned
// with Created.Existing set: calling CreateUpdate again for the same side tag
// never files a second update.
func (c *Client) CreateUpdate(ctx context.Context, n NewUpdate) (*Created, error) {
	if n.FromTag == "" && len(n.Builds) == 0 {
		return nil, errors.New("bodhi: CreateUpdate needs FromTag or Builds")
	}
	var raw json.RawMessage
	err := c.call(ctx, request{op: "create update", method: http.MethodPost, path: "/updates/", body: n.body}, &raw)
	if err != nil {
		if n.FromTag != "" && IsSideTagInUse(err) {
			hint := n.ExpectedNVRs
			if len(n.Builds) > 0 {
				hint = n.Builds
			}
			u, lerr := c.FindUpdateByFromTag(ctx, n.FromTag, hint)
			if lerr != nil {
				c.o.Metrics.failed("create update", lerr)
				return nil, fmt.Errorf("bodhi: update for side tag %s exists but look-up failed: %w", n.FromTag, lerr)
			}
			c.log.Info("Bodhi already had an update for the side tag", "from_tag", n.FromTag, "alias", u.Alias)
			return &Created{Updates: []Update{*u}, Existing: true}, nil
		}
		c.o.Metrics.failed("create update", err)
		return nil, err
	}
	created, err := decodeCreated(raw)
	c.o.Metrics.failed("create update", err)
	return created, err
}

// decodeCreated accepts both answers: the update object (with caveats) or,
// when Bodhi split the builds by release, {"updates": [...], "caveats": [...]}.
func decodeCreated(raw json.RawMessage) (*Created, error) {
	var multi struct {
		Updates []Update `json:"updates"`
		Caveats []Caveat `json:"caveats"`
	}
	if err := json.Unmarshal(raw, &multi); err == nil && len(multi.Updates) > 0 {
		return &Created{Updates: multi.Updates, Caveats: multi.Caveats}, nil
	}
	var single struct {
		Update
		Caveats []Caveat `json:"caveats"`
	}
	if err := json.Unmarshal(raw, &single); err != nil {
		return nil, fmt.Errorf("bodhi: decode created update: %w", err)
	}
	if single.Alias == "" {
		return nil, fmt.Errorf("bodhi: created update has no alias: %s", truncate(string(raw), 200))
	}
	return &Created{Updates: []Update{single.Update}, Caveats: single.Caveats}, nil
}

// Update returns one update by alias (GET /updates/{alias}). An unknown
// alias is an *Error with status 404 (IsNotFound).
func (c *Client) Update(ctx context.Context, alias string) (*Update, error) {
	var out struct {
		Update Update `json:"update"`
	}
	if err := c.get(ctx, "get update", "/updates/"+url.PathEscape(alias), nil, &out); err != nil {
		return nil, err
	}
	return &out.Update, nil
}

// UpdateQuery selects updates for ListUpdates (GET /updates/).
type UpdateQuery struct {
	Builds      []string
	Users       []string
	Statuses    []string
	Releases    []string
	Aliases     []string
	FromSideTag *bool
	Page        int // 1-based; 0 means 1
	RowsPerPage int // <= 1000; 0 means Bodhi's default (20)
}

func (q UpdateQuery) values() url.Values {
	v := url.Values{}
	for _, b := range q.Builds {
		v.Add("builds", b)
	}
	for _, u := range q.Users {
		v.Add("user", u)
	}
	for _, s := range q.Statuses {
		v.Add("status", s)
	}
	for _, r := range q.Releases {
		v.Add("releases", r)
	}
	for _, a := range q.Aliases {
		v.Add("alias", a)
	}
	if q.FromSideTag != nil {
		v.Set("from_side_tag", strconv.FormatBool(*q.FromSideTag))
	}
	if q.Page > 0 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if q.RowsPerPage > 0 {
		v.Set("rows_per_page", strconv.Itoa(q.RowsPerPage))
	}
	return v
}

// UpdatePage is one page of ListUpdates.
type UpdatePage struct {
	Updates     []Update `json:"updates"`
	Page        int      `json:"page"`
	Pages       int      `json:"pages"`
	RowsPerPage int      `json:"rows_per_page"`
	Total       int      `json:"total"`
}

// ListUpdates returns one page of updates matching q, newest first.
func (c *Client) ListUpdates(ctx context.Context, q UpdateQuery) (*UpdatePage, error) {
	var out UpdatePage
	if err := c.get(ctx, "list updates", "/updates/", q.values(), &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// FindUpdateByFromTag finds the update created from side tag tag. Bodhi 8
// cannot filter by side-tag name, so it searches by one of nvrs when given
// (an NVR is in at most one live update), and otherwise pages through
// side-tag updates (of Options.Username when set), newest first, matching
// from_tag. ErrNotFound when nothing matches.
func (c *Client) FindUpdateByFromTag(ctx context.Context, tag string, nvrs []string) (*Update, error) {
	yes := true
	match := func(p *UpdatePage) *Update {
		for i := range p.Updates {
			if p.Updates[i].FromTag == tag {
				return &p.Updates[i]
			}
		}
		return nil
	}
	if len(nvrs) > 0 {
		p, err := c.ListUpdates(ctx, UpdateQuery{Builds: nvrs[:1], FromSideTag: &yes, RowsPerPage: 100})
		if err != nil {
			return nil, err
		}
		if u := match(p); u != nil {
			return u, nil
		}
	}
	q := UpdateQuery{FromSideTag: &yes, RowsPerPage: 100}
	if c.o.Username != "" {
		q.Users = []string{c.o.Username}
	}
	for page := 1; page <= c.o.LookupPages; page++ {
		q.Page = page
		p, err := c.ListUpdates(ctx, q)
		if err != nil {
			return nil, err
		}
		if u := match(p); u != nil {
			return u, nil
		}
		if page >= p.Pages {
			break
		}
	}
	return nil, fmt.Errorf("%w: no update from side tag %s", ErrNotFound, tag)
}

// Releases returns every release in one of states ("pending", "current",
// "frozen", "archived"; none means all), following pages.
func (c *Client) Releases(ctx context.Context, states ...string) ([]Release, error) {
	var all []Release
	for page := 1; ; page++ {
		q := url.Values{"page": {strconv.Itoa(page)}, "rows_per_page": {"100"}}
		for _, s := range states {
			q.Add("state", s)
		}
		var out struct {
			Releases []Release `json:"releases"`
			Page     int       `json:"page"`
			Pages    int       `json:"pages"`
		}
		if err := c.get(ctx, "list releases", "/releases/", q, &out); err != nil {
			return nil, err
		}
		all = append(all, out.Releases...)
		if page >= out.Pages {
			return all, nil
		}
	}
}

// PendingReleases is Releases(ctx, "pending") (GET /releases/?state=pending).
func (c *Client) PendingReleases(ctx context.Context) ([]Release, error) {
	return c.Releases(ctx, "pending")
}

// RawhideStableTag resolves the trigger tag value "rawhide" the way
// ELNBuildSync does: the pending release whose branch is "rawhide" gives its
// stable tag (e.g. "f45"). With several such releases (container, flatpak)
// the RPM one (id_prefix FEDORA) wins.
func (c *Client) RawhideStableTag(ctx context.Context) (string, error) {
	rels, err := c.PendingReleases(ctx)
	if err != nil {
		return "", err
	}
	return RawhideStableTag(rels)
}

// RawhideStableTag picks the rawhide stable tag from a list of releases.
func RawhideStableTag(rels []Release) (string, error) {
	var found *Release
	for i := range rels {
		r := &rels[i]
		if r.Branch != "rawhide" || r.StableTag == "" {
			continue
		}
		if found == nil || (r.IDPrefix == "FEDORA" && found.IDPrefix != "FEDORA") {
			found = r
		}
	}
	if found == nil {
		return "", fmt.Errorf("%w: no pending release with branch rawhide", ErrNotFound)
	}
	return found.StableTag, nil
}
