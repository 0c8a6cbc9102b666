package bodhisim

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fedora-eln/ebs/libs/bodhi"
)

// csrfMessage is Bodhi's validators.csrf_error_message.
const csrfMessage = "CSRF tokens do not match.  This happens if you have the page open for a long time. " +
	"Please reload the page and try to submit your data again. Make sure to save your input somewhere before reloading. "

var (
	updateTypes = []string{"bugfix", "security", "newpackage", "enhancement", "unspecified"}
	severities  = []string{"unspecified", "urgent", "high", "medium", "low"}
)

// saveUpdate is the SaveUpdateSchema subset the simulator validates.
type saveUpdate struct {
	csrf        string
	fromTag     string
	builds      []string
	notes       string
	typ         string
	severity    string
	displayName string
	autokarma   bool
	stableKarma int
	autotime    bool
	stableDays  int
	edited      string
}

// parseSave reads a JSON or form body, collecting colander-style errors.
func parseSave(r *http.Request) (saveUpdate, *apiError) {
	errs := &apiError{status: http.StatusBadRequest}
	vals := map[string]any{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 8<<20)).Decode(&vals); err != nil {
			errs.add("body", "body", "Invalid JSON")
			return saveUpdate{}, errs
		}
	} else {
		if err := r.ParseForm(); err != nil {
			errs.add("body", "body", err.Error())
			return saveUpdate{}, errs
		}
		for k, v := range r.PostForm {
			if len(v) == 1 {
				vals[k] = v[0]
			} else {
				vals[k] = v
			}
		}
	}
	str := func(k string) (string, bool) {
		v, ok := vals[k]
		if !ok || v == nil {
			return "", false
		}
		switch t := v.(type) {
		case string:
			return t, true
		default:
			return fmt.Sprint(t), true
		}
	}
	boolean := func(k string, def bool) bool {
		s, ok := str(k)
		if !ok {
			return def
		}
		switch strings.ToLower(s) {
		case "true", "1", "yes", "on":
			return true
		case "false", "0", "no", "off", "":
			return false
		}
		errs.add("body", k, fmt.Sprintf("\"%s\" is neither in (false, 0) nor in (true, 1)", s))
		return def
	}
	integer := func(k string, def int) int {
		s, ok := str(k)
		if !ok || s == "" {
			return def
		}
		n, err := strconv.Atoi(s)
		if err != nil {
			errs.add("body", k, fmt.Sprintf("\"%s\" is not a number", s))
			return def
		}
		return n
	}
	var u saveUpdate
	u.csrf, _ = str("csrf_token")
	if u.csrf == "" {
		errs.add("body", "csrf_token", "Required")
	}
	u.fromTag, _ = str("from_tag")
	switch b := vals["builds"].(type) {
	case []any:
		for _, x := range b {
			u.builds = append(u.builds, fmt.Sprint(x))
		}
	case []string:
		u.builds = b
	case string:
		u.builds = strings.FieldsFunc(b, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' })
	}
	var ok bool
	if u.notes, ok = str("notes"); !ok {
		errs.add("body", "notes", "Required")
	} else if n := len([]rune(u.notes)); n < 2 {
		errs.add("body", "notes", "Shorter than minimum length 2")
	} else if n > 10000 {
		errs.add("body", "notes", "Longer than maximum length 10000")
	}
	if u.typ, ok = str("type"); !ok {
		errs.add("body", "type", "Required")
	} else if !slices.Contains(updateTypes, u.typ) {
		errs.add("body", "type", fmt.Sprintf("\"%s\" is not one of %s", u.typ, strings.Join(updateTypes, ", ")))
	}
	u.severity = "unspecified"
	if s, ok := str("severity"); ok && s != "" {
		if !slices.Contains(severities, s) {
			errs.add("body", "severity", fmt.Sprintf("\"%s\" is not one of %s", s, strings.Join(severities, ", ")))
		}
		u.severity = s
	}
	u.displayName, _ = str("display_name")
	u.autokarma = boolean("autokarma", true)
	u.autotime = boolean("autotime", true)
	u.stableKarma = integer("stable_karma", 3)
	if u.stableKarma < 1 {
		errs.add("body", "stable_karma", fmt.Sprintf("%d is less than minimum value 1", u.stableKarma))
	}
	u.stableDays = integer("stable_days", 0)
	if u.stableDays < 0 {
		errs.add("body", "stable_days", fmt.Sprintf("%d is less than minimum value 0", u.stableDays))
	}
	u.edited, _ = str("edited")
	if len(errs.errors) > 0 {
		return u, errs
	}
	return u, nil
}

func (s *Server) inGroups(a account, groups []string) bool {
	for _, g := range groups {
		if slices.Contains(a.groups, g) {
			return true
		}
	}
	return false
}

func (s *Server) createUpdate(w http.ResponseWriter, r *http.Request) {
	s.count("create")
	// Pyramid's permission check comes before any validator.
	acct, ok := s.identity(r)
	if !ok || !hasAll(acct.groups, s.o.PackagerGroups) {
		writeError(w, r, errorf(http.StatusForbidden, "body", "HTTPForbidden", "Unauthorized: new_update failed permission check"))
		return
	}
	su, perr := parseSave(r)
	ss := s.sessionFor(w, r)
	s.mu.Lock()
	csrfOK := su.csrf != "" && su.csrf == ss.csrf
	s.mu.Unlock()
	if !csrfOK && su.csrf != "" {
		if perr == nil {
			perr = &apiError{status: http.StatusBadRequest}
		}
		perr.add("body", "csrf_token", csrfMessage)
	}
	if perr != nil {
		writeError(w, r, perr)
		return
	}
	if su.edited != "" {
		writeError(w, r, errorf(http.StatusNotImplemented, "body", "edited", "the simulator does not edit updates"))
		return
	}
	if su.fromTag == "" {
		writeError(w, r, errorf(http.StatusBadRequest, "body", "builds,from_tag", "You must specify either builds or from_tag."))
		return
	}
	if su.typ == "security" && su.severity == "unspecified" {
		writeError(w, r, errorf(http.StatusBadRequest, "body", "severity", "Must specify severity for a security update"))
		return
	}
	if s.fromTagUsed(su.fromTag) {
		writeError(w, r, errorf(http.StatusBadRequest, "body", "from_tag", "Update already exists using this side tag"))
		return
	}
	if s.o.Koji == nil {
		writeError(w, r, errorf(http.StatusInternalServerError, "body", "BodhiException", "%v", errNoKoji))
		return
	}
	ctx := r.Context()
	tag, err := s.o.Koji.GetTag(ctx, su.fromTag)
	if err != nil {
		writeError(w, r, errorf(http.StatusInternalServerError, "body", "BodhiException", "Koji error getting tag %s: %v", su.fromTag, err))
		return
	}
	if tag == nil {
		writeError(w, r, errorf(http.StatusBadRequest, "body", "from_tag", "The supplied from_tag doesn't exist."))
		return
	}
	if !tag.SideTag {
		writeError(w, r, errorf(http.StatusBadRequest, "body", "from_tag", "The supplied tag is not a side tag."))
		return
	}
	tagged, err := s.o.Koji.ListTagged(ctx, su.fromTag)
	if err != nil {
		writeError(w, r, errorf(http.StatusInternalServerError, "body", "BodhiException",
			"Encountered error while requesting tagged builds from Koji: '%v'", err))
		return
	}
	builds := su.builds
	if len(builds) == 0 {
		builds = tagged
		if len(builds) == 0 {
			writeError(w, r, errorf(http.StatusBadRequest, "body", "from_tag", "The supplied from_tag doesn't contain any builds."))
			return
		}
	} else {
		for _, b := range builds {
			if !slices.Contains(tagged, b) {
				writeError(w, r, errorf(http.StatusBadRequest, "body", "builds", "Invalid build: %s not tagged in %s", b, su.fromTag))
				return
			}
		}
	}
	// Group by release; one build per package per release.
	byRelease := map[*ReleaseSpec][]string{}
	var order []*ReleaseSpec
	seen := map[string]string{}
	for _, nvr := range builds {
		rel := s.releaseFor(nvr)
		if rel == nil {
			writeError(w, r, errorf(http.StatusBadRequest, "body", "builds", "Cannot find release associated with build: %s, tags: ['%s']", nvr, su.fromTag))
			return
		}
		pkg := packageOf(nvr)
		if other, dup := seen[rel.Name+"/"+pkg]; dup && other != nvr {
			writeError(w, r, errorf(http.StatusBadRequest, "body", "builds", "Multiple %s builds specified in %s", pkg, rel.Name))
			return
		}
		seen[rel.Name+"/"+pkg] = nvr
		if _, ok := byRelease[rel]; !ok {
			order = append(order, rel)
		}
		byRelease[rel] = append(byRelease[rel], nvr)
	}
	// ACLs for side-tag updates: admins may, otherwise only the tag's owner.
	if !s.inGroups(acct, s.o.AdminGroups) && tag.SideTagUser != acct.name {
		if tag.SideTagUser == "" {
			writeError(w, r, errorf(http.StatusBadRequest, "body", "builds", "Update appear to be from side-tag, but we cannot determine the side-tag owner"))
			return
		}
		writeError(w, r, errorf(http.StatusForbidden, "body", "builds", "%s does not own %s side-tag", acct.name, su.fromTag))
		return
	}

	now := time.Now().UTC().Truncate(time.Second)
	s.mu.Lock()
	// Checked again under the lock: two concurrent requests for one tag.
	if s.fromTagUsedLocked(su.fromTag) {
		s.mu.Unlock()
		writeError(w, r, errorf(http.StatusBadRequest, "body", "from_tag", "Update already exists using this side tag"))
		return
	}
	live := s.liveNVRsLocked()
	for _, nvr := range builds {
		if live[nvr] {
			s.mu.Unlock()
			writeError(w, r, errorf(http.StatusBadRequest, "body", "builds", "Update for %s already exists", nvr))
			return
		}
	}
	var created []bodhi.Update
	for _, rel := range order {
		nvrs := byRelease[rel]
		u := bodhi.Update{
			Alias:         fmt.Sprintf("%s-%d-%s", rel.IDPrefix, now.Year(), randHex(5)),
			Title:         title(nvrs),
			DisplayName:   su.displayName,
			Status:        bodhi.StatusPending,
			Type:          su.typ,
			Severity:      su.severity,
			Notes:         su.notes,
			FromTag:       su.fromTag,
			Release:       rel.Release,
			User:          bodhi.User{Name: acct.name, Email: acct.email},
			Autokarma:     su.autokarma,
			Autotime:      su.autotime,
			StableKarma:   su.stableKarma,
			StableDays:    su.stableDays,
			DateSubmitted: bodhi.Time{Time: now},
			DateModified:  bodhi.Time{Time: now},
		}
		if !rel.ComposedByBodhi {
			// Forced for releases not composed by Bodhi (rawhide, ELN).
			u.Autotime, u.StableDays = true, 0
		}
		for _, nvr := range nvrs {
			u.Builds = append(u.Builds, bodhi.Build{NVR: nvr, Type: "rpm"})
		}
		u.URL = s.o.PublicURL + "/updates/" + u.Alias
		waiting := "waiting"
		u.TestGatingStatus = &waiting
		s.updates = append(s.updates, &record{u: u, seq: len(s.updates), changed: time.Now(), release: rel})
		s.created++
		created = append(created, cloneUpdate(u))
	}
	hooks := slices.Clone(s.onCreate)
	s.mu.Unlock()
	for _, u := range created {
		s.log.Info("update created", "alias", u.Alias, "from_tag", u.FromTag, "builds", len(u.Builds), "user", acct.name)
		for _, f := range hooks {
			f(u)
		}
	}
	caveats := []bodhi.Caveat{}
	if len(created) > 1 {
		caveats = append(caveats, bodhi.Caveat{Name: "releases",
			Description: fmt.Sprintf("Your update is being split into %d, one for each release.", len(created))})
		ups := make([]map[string]any, len(created))
		for i, u := range created {
			ups[i] = updateJSON(u)
		}
		writeJSON(w, http.StatusOK, map[string]any{"updates": ups, "caveats": caveats})
		return
	}
	out := updateJSON(created[0])
	out["caveats"] = caveats
	writeJSON(w, http.StatusOK, out)
}

func hasAll(have, want []string) bool {
	for _, g := range want {
		if !slices.Contains(have, g) {
			return false
		}
	}
	return true
}

func (s *Server) fromTagUsed(tag string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fromTagUsedLocked(tag)
}

func (s *Server) fromTagUsedLocked(tag string) bool {
	for _, r := range s.updates {
		if r.u.FromTag == tag {
			return true
		}
	}
	return false
}

// liveNVRsLocked is the set of NVRs in updates that are not unpushed (one
// pass, however many builds the new update names).
func (s *Server) liveNVRsLocked() map[string]bool {
	out := map[string]bool{}
	for _, r := range s.updates {
		if r.u.Status == bodhi.StatusUnpushed {
			continue
		}
		for _, b := range r.u.Builds {
			out[b.NVR] = true
		}
	}
	return out
}

func (s *Server) releaseFor(nvr string) *ReleaseSpec {
	rel := nvr
	if i := strings.LastIndexByte(nvr, '-'); i >= 0 {
		rel = nvr[i:]
	}
	for i := range s.o.Releases {
		if m := s.o.Releases[i].DistMarker; m != "" && strings.Contains(rel, m) {
			return &s.o.Releases[i]
		}
	}
	return nil
}

// packageOf strips version and release from an NVR.
func packageOf(nvr string) string {
	parts := strings.Split(nvr, "-")
	if len(parts) < 3 {
		return nvr
	}
	return strings.Join(parts[:len(parts)-2], "-")
}

func title(nvrs []string) string {
	if len(nvrs) <= 3 {
		return strings.Join(nvrs, " ")
	}
	return fmt.Sprintf("%s, %s, and %d more", nvrs[0], nvrs[1], len(nvrs)-2)
}

// updateJSON renders an update like Update.__json__ (the fields ebs and the
// official client read, plus the empty collections Bodhi always sends).
func updateJSON(u bodhi.Update) map[string]any {
	b, _ := json.Marshal(u)
	m := map[string]any{}
	_ = json.Unmarshal(b, &m)
	builds := make([]map[string]any, len(u.Builds))
	for i, bd := range u.Builds {
		builds[i] = map[string]any{"nvr": bd.NVR, "signed": bd.Signed, "type": cmp.Or(bd.Type, "rpm"), "release_id": 1}
	}
	m["builds"] = builds
	m["comments"] = []any{}
	m["bugs"] = []any{}
	m["content_type"] = "rpm"
	m["critpath"] = false
	m["suggest"] = "unspecified"
	m["close_bugs"] = true
	m["require_bugs"] = true
	m["require_testcases"] = true
	m["unstable_karma"] = -3
	m["meets_testing_requirements"] = u.Status == bodhi.StatusTesting || u.Status == bodhi.StatusStable
	m["version_hash"] = randHex(20)
	m["date_approved"] = nil
	return m
}

func (s *Server) getUpdate(w http.ResponseWriter, r *http.Request) {
	s.count("get")
	u, ok := s.Update(r.PathValue("alias"))
	if !ok {
		writeError(w, r, errorf(http.StatusNotFound, "url", "id", "Invalid update id"))
		return
	}
	acct, signed := s.identity(r)
	writeJSON(w, http.StatusOK, map[string]any{"update": updateJSON(u), "can_edit": signed && acct.name == u.User.Name, "ci_allowed": false})
}

func paging(r *http.Request) (page, rows int, e *apiError) {
	page, rows = 1, 20
	q := r.URL.Query()
	if v := q.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return 0, 0, errorf(http.StatusBadRequest, "querystring", "page", "\"%s\" is less than minimum value 1", v)
		}
		page = n
	}
	if v := q.Get("rows_per_page"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			return 0, 0, errorf(http.StatusBadRequest, "querystring", "rows_per_page", "\"%s\" is not a number", v)
		case n < 1:
			return 0, 0, errorf(http.StatusBadRequest, "querystring", "rows_per_page", "%d is less than minimum value 1", n)
		case n > 1000:
			return 0, 0, errorf(http.StatusBadRequest, "querystring", "rows_per_page", "%d is greater than maximum value 1000", n)
		}
		rows = n
	}
	return page, rows, nil
}

// multi reads a querystring list: repeated keys or comma separated.
func multi(r *http.Request, key string) []string {
	var out []string
	for _, v := range r.URL.Query()[key] {
		for _, p := range strings.Split(v, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}

func (s *Server) listUpdates(w http.ResponseWriter, r *http.Request) {
	s.count("list")
	page, rows, perr := paging(r)
	if perr != nil {
		writeError(w, r, perr)
		return
	}
	builds, users, statuses := multi(r, "builds"), multi(r, "user"), multi(r, "status")
	releases, aliases := multi(r, "releases"), multi(r, "alias")
	var fromSideTag *bool
	if v := r.URL.Query().Get("from_side_tag"); v != "" {
		b := v == "true" || v == "1"
		fromSideTag = &b
	}
	s.mu.Lock()
	var match []*record
	for _, rec := range s.updates {
		u := rec.u
		if len(builds) > 0 && !slices.ContainsFunc(u.Builds, func(b bodhi.Build) bool { return slices.Contains(builds, b.NVR) }) {
			continue
		}
		if len(users) > 0 && !slices.Contains(users, u.User.Name) {
			continue
		}
		if len(statuses) > 0 && !slices.Contains(statuses, u.Status) {
			continue
		}
		if len(releases) > 0 && !slices.Contains(releases, u.Release.Name) {
			continue
		}
		if len(aliases) > 0 && !slices.Contains(aliases, u.Alias) {
			continue
		}
		if fromSideTag != nil && (u.FromTag != "") != *fromSideTag {
			continue
		}
		match = append(match, rec)
	}
	// Newest first (date_submitted desc).
	slices.SortFunc(match, func(a, b *record) int { return b.seq - a.seq })
	total := len(match)
	lo := min((page-1)*rows, total)
	hi := min(lo+rows, total)
	out := make([]map[string]any, 0, hi-lo)
	for _, rec := range match[lo:hi] {
		out = append(out, updateJSON(cloneUpdate(rec.u)))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"updates": out, "page": page, "pages": int(math.Ceil(float64(total) / float64(rows))),
		"rows_per_page": rows, "total": total, "chrome": true, "display_user": true, "display_request": true, "package": nil,
	})
}

func (s *Server) listReleases(w http.ResponseWriter, r *http.Request) {
	s.count("releases")
	page, rows, perr := paging(r)
	if perr != nil {
		writeError(w, r, perr)
		return
	}
	states := multi(r, "state")
	valid := []string{"disabled", "pending", "frozen", "current", "archived"}
	for _, st := range states {
		if !slices.Contains(valid, st) {
			writeError(w, r, errorf(http.StatusBadRequest, "querystring", "state", "Invalid state specified: %s", st))
			return
		}
	}
	name := r.URL.Query().Get("name")
	var match []bodhi.Release
	for _, rs := range s.o.Releases {
		if len(states) > 0 && !slices.Contains(states, rs.State) {
			continue
		}
		if name != "" && !strings.EqualFold(name, rs.Name) {
			continue
		}
		match = append(match, rs.Release)
	}
	slices.SortFunc(match, func(a, b bodhi.Release) int { return strings.Compare(a.Name, b.Name) })
	total := len(match)
	lo := min((page-1)*rows, total)
	hi := min(lo+rows, total)
	writeJSON(w, http.StatusOK, map[string]any{
		"releases": match[lo:hi], "page": page, "pages": int(math.Ceil(float64(total) / float64(rows))),
		"rows_per_page": rows, "total": total,
	})
}

// lifecycle moves updates along pending -> testing -> stable on the timers.
func (s *Server) lifecycle(ctx context.Context) {
	defer close(s.done)
	tick := max(min(s.o.TestingAfter, s.o.StableAfter)/4, 10*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.mu.Lock()
		if s.held {
			s.mu.Unlock()
			continue
		}
		var due []string
		now := time.Now()
		for _, r := range s.updates {
			switch {
			case r.u.Status == bodhi.StatusPending && now.Sub(r.changed) >= s.o.TestingAfter:
				due = append(due, r.u.Alias)
			case r.u.Status == bodhi.StatusTesting && now.Sub(r.changed) >= s.o.StableAfter:
				due = append(due, r.u.Alias)
			}
		}
		s.mu.Unlock()
		for _, alias := range due {
			if err := s.Advance(ctx, alias); err != nil {
				s.log.Warn("update did not advance; will retry", "alias", alias, "error", err)
			}
		}
	}
}

// Advance moves an update one step now: pending -> testing (builds signed,
// gating passed), testing -> stable (builds tagged into the release's stable
// tag in Koji, the side tag removed).
func (s *Server) Advance(ctx context.Context, alias string) error {
	s.mu.Lock()
	r := s.find(alias)
	if r == nil {
		s.mu.Unlock()
		return fmt.Errorf("no update %s", alias)
	}
	switch r.u.Status {
	case bodhi.StatusPending:
		now := time.Now().UTC().Truncate(time.Second)
		for i := range r.u.Builds {
			r.u.Builds[i].Signed = true
		}
		passed := "passed"
		r.u.TestGatingStatus = &passed
		r.u.Status = bodhi.StatusTesting
		r.u.DateTesting = bodhi.Time{Time: now}
		r.u.DateModified = bodhi.Time{Time: now}
		r.changed = time.Now()
		s.mu.Unlock()
		s.log.Info("update in testing", "alias", alias)
		return nil
	case bodhi.StatusTesting:
		s.mu.Unlock()
		return s.pushStable(ctx, alias)
	default:
		st := r.u.Status
		s.mu.Unlock()
		return fmt.Errorf("update %s is %s", alias, st)
	}
}

// pushStable does what Bodhi's approve_testing push does for a release not
// composed by Bodhi: tag every build into the stable tag, then delete the
// side tag, then mark the update stable.
func (s *Server) pushStable(ctx context.Context, alias string) error {
	s.mu.Lock()
	r := s.find(alias)
	if r == nil {
		s.mu.Unlock()
		return fmt.Errorf("no update %s", alias)
	}
	if r.pushing || r.u.Status == bodhi.StatusStable {
		s.mu.Unlock()
		return nil
	}
	r.pushing = true
	nvrs := r.u.NVRs()
	stableTag, fromTag := r.u.Release.StableTag, r.u.FromTag
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		r.pushing = false
		s.mu.Unlock()
	}()
	if s.o.Koji == nil {
		return errNoKoji
	}
	for _, nvr := range nvrs {
		if err := s.o.Koji.TagBuild(ctx, stableTag, nvr); err != nil {
			return fmt.Errorf("tag %s into %s: %w", nvr, stableTag, err)
		}
	}
	if fromTag != "" {
		if err := s.o.Koji.DeleteTag(ctx, fromTag); err != nil {
			return fmt.Errorf("delete side tag %s: %w", fromTag, err)
		}
	}
	now := time.Now().UTC().Truncate(time.Second)
	s.mu.Lock()
	r.u.Status = bodhi.StatusStable
	r.u.Pushed = true
	r.u.Request = nil
	r.u.DateStable = bodhi.Time{Time: now}
	r.u.DatePushed = bodhi.Time{Time: now}
	r.u.DateModified = bodhi.Time{Time: now}
	r.changed = time.Now()
	s.mu.Unlock()
	s.log.Info("update stable", "alias", alias, "stable_tag", stableTag, "builds", len(nvrs))
	return nil
}

// SetStatus forces an update's status (obsolete, unpushed, ...; "stable"
// runs the stable push).
func (s *Server) SetStatus(ctx context.Context, alias, status string) error {
	if status == bodhi.StatusStable {
		return s.pushStable(ctx, alias)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.find(alias)
	if r == nil {
		return fmt.Errorf("no update %s", alias)
	}
	r.u.Status = status
	r.u.DateModified = bodhi.Time{Time: time.Now().UTC().Truncate(time.Second)}
	r.changed = time.Now()
	return nil
}
