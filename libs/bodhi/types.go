package bodhi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Update statuses (Bodhi's UpdateStatus).
const (
	StatusPending        = "pending"
	StatusTesting        = "testing"
	StatusStable         = "stable"
	StatusUnpushed       = "unpushed"
	StatusObsolete       = "obsolete"
	StatusSideTagActive  = "side_tag_active"
	StatusSideTagExpired = "side_tag_expired"
)

// Final reports whether an update in status s will not move on by itself.
func Final(s string) bool {
	return s == StatusStable || s == StatusObsolete || s == StatusUnpushed
}

// Update types.
const (
	TypeUnspecified = "unspecified"
	TypeBugfix      = "bugfix"
	TypeEnhancement = "enhancement"
	TypeNewPackage  = "newpackage"
	TypeSecurity    = "security"
)

// TimeLayout is how Bodhi writes datetimes (UTC, no zone).
const TimeLayout = "2006-01-02 15:04:05"

// Time is a Bodhi datetime; the zero value is JSON null.
type Time struct{ time.Time }

// UnmarshalJSON accepts null, Bodhi's layout and RFC 3339.
func (t *Time) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		t.Time = time.Time{}
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == "" {
		t.Time = time.Time{}
		return nil
	}
	for _, layout := range []string{TimeLayout, time.RFC3339Nano, "2006-01-02T15:04:05"} {
		if v, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			t.Time = v
			return nil
		}
	}
	return fmt.Errorf("bodhi: bad datetime %q", s)
}

// MarshalJSON writes Bodhi's layout, or null.
func (t Time) MarshalJSON() ([]byte, error) {
	if t.IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(t.UTC().Format(TimeLayout))
}

// Release is a Bodhi release (Release.__json__).
type Release struct {
	Name                   string `json:"name"`
	LongName               string `json:"long_name"`
	Version                string `json:"version"`
	IDPrefix               string `json:"id_prefix"`
	Branch                 string `json:"branch"`
	DistTag                string `json:"dist_tag"`
	StableTag              string `json:"stable_tag"`
	TestingTag             string `json:"testing_tag"`
	CandidateTag           string `json:"candidate_tag"`
	PendingSigningTag      string `json:"pending_signing_tag"`
	PendingTestingTag      string `json:"pending_testing_tag"`
	PendingStableTag       string `json:"pending_stable_tag"`
	OverrideTag            string `json:"override_tag"`
	State                  string `json:"state"`
	ComposedByBodhi        bool   `json:"composed_by_bodhi"`
	CreateAutomaticUpdates bool   `json:"create_automatic_updates"`
	PackageManager         string `json:"package_manager"`
	TestingRepository      string `json:"testing_repository"`
	MailTemplate           string `json:"mail_template"`
	Eol                    string `json:"eol"`
	SettingStatus          string `json:"setting_status"`
}

// Build is one build of an update.
type Build struct {
	NVR    string `json:"nvr"`
	Signed bool   `json:"signed"`
	Type   string `json:"type"`
}

// User is the submitter of an update.
type User struct {
	Name   string `json:"name"`
	Email  string `json:"email"`
	Groups []struct {
		Name string `json:"name"`
	} `json:"groups"`
}

// Update is a Bodhi update (Update.__json__), the fields ebs reads.
type Update struct {
	Alias            string  `json:"alias"`
	Title            string  `json:"title"`
	DisplayName      string  `json:"display_name"`
	Status           string  `json:"status"`
	Request          *string `json:"request"`
	Type             string  `json:"type"`
	Severity         string  `json:"severity"`
	Notes            string  `json:"notes"`
	FromTag          string  `json:"from_tag"`
	Builds           []Build `json:"builds"`
	Release          Release `json:"release"`
	User             User    `json:"user"`
	URL              string  `json:"url"`
	Autokarma        bool    `json:"autokarma"`
	Autotime         bool    `json:"autotime"`
	StableKarma      int     `json:"stable_karma"`
	StableDays       int     `json:"stable_days"`
	Karma            int     `json:"karma"`
	Pushed           bool    `json:"pushed"`
	Locked           bool    `json:"locked"`
	TestGatingStatus *string `json:"test_gating_status"`
	DateSubmitted    Time    `json:"date_submitted"`
	DateModified     Time    `json:"date_modified"`
	DateTesting      Time    `json:"date_testing"`
	DateStable       Time    `json:"date_stable"`
	DatePushed       Time    `json:"date_pushed"`
}

// NVRs lists the update's builds.
func (u *Update) NVRs() []string {
	out := make([]string, len(u.Builds))
	for i, b := range u.Builds {
		out[i] = b.NVR
	}
	return out
}

// NewUpdate is the body of POST /updates/ for a side-tag update. Optional
// fields left nil are not sent (Bodhi's defaults apply).
type NewUpdate struct {
	FromTag string
	// Builds, if set, must all be tagged in FromTag; normally left empty so
	// Bodhi takes listTagged(FromTag, latest=True).
	Builds      []string
	Notes       string
	Type        string
	Severity    string
	DisplayName string
	Autokarma   *bool
	StableKarma *int
	Autotime    *bool
	StableDays  *int
	// ExpectedNVRs is not sent: it narrows the look-up of an existing update
	// for FromTag (GET /updates/?builds=<nvr>) when Bodhi says one exists.
	ExpectedNVRs []string
}

func (n NewUpdate) body(csrf string) map[string]any {
	b := map[string]any{
		"from_tag":   n.FromTag,
		"notes":      n.Notes,
		"type":       n.Type,
		"csrf_token": csrf,
	}
	if len(n.Builds) > 0 {
		b["builds"] = n.Builds
	}
	if n.Severity != "" {
		b["severity"] = n.Severity
	}
	if n.DisplayName != "" {
		b["display_name"] = n.DisplayName
	}
	if n.Autokarma != nil {
		b["autokarma"] = *n.Autokarma
	}
	if n.StableKarma != nil {
		b["stable_karma"] = *n.StableKarma
	}
	if n.Autotime != nil {
		b["autotime"] = *n.Autotime
	}
	if n.StableDays != nil {
		b["stable_days"] = *n.StableDays
	}
	return b
}

// Caveat is a warning Bodhi attached to a created update.
type Caveat struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Created is the outcome of CreateUpdate.
type Created struct {
	// Updates holds one update (more only if the side tag's builds spanned
	// releases and Bodhi split it).
	Updates []Update
	Caveats []Caveat
	// Existing is true when Bodhi already had an update for the side tag (an
	// earlier attempt succeeded) and it was looked up instead.
	Existing bool
}

// ErrorDetail is one entry of Bodhi's error list.
type ErrorDetail struct {
	Location    string `json:"location"`
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Error is a Bodhi error answer: the HTTP status and Bodhi's
// {"status":"error","errors":[...]} list. Body holds the start of a body
// that was not Bodhi's JSON (an HTML error page from a proxy).
type Error struct {
	Method string
	Path   string
	Status int
	Errors []ErrorDetail
	Body   string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bodhi: %s %s: HTTP %d", e.Method, e.Path, e.Status)
	for i, d := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s.%s: %s", d.Location, d.Name, d.Description)
	}
	if len(e.Errors) == 0 && e.Body != "" {
		fmt.Fprintf(&b, ": %s", e.Body)
	}
	return b.String()
}

// Has reports whether an entry named name has a description containing substr
// ("" matches any entry of that name; name "" matches any name).
func (e *Error) Has(name, substr string) bool {
	for _, d := range e.Errors {
		if (name == "" || d.Name == name) && strings.Contains(d.Description, substr) {
			return true
		}
	}
	return false
}

// Messages Bodhi 8 uses that the client acts on.
const (
	msgSideTagInUse = "Update already exists using this side tag"
	msgCSRF         = "CSRF tokens do not match"
)

// AsError returns the *Error inside err, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// IsStatus reports whether err is a Bodhi answer with HTTP status.
func IsStatus(err error, status int) bool {
	e, ok := AsError(err)
	return ok && e.Status == status
}

// IsNotFound reports a 404 (e.g. an unknown update alias).
func IsNotFound(err error) bool { return IsStatus(err, 404) }

// IsSideTagInUse reports Bodhi's "Update already exists using this side tag".
func IsSideTagInUse(err error) bool {
	e, ok := AsError(err)
	return ok && e.Status == 400 && e.Has("from_tag", msgSideTagInUse)
}

// IsCSRF reports a CSRF token mismatch.
func IsCSRF(err error) bool {
	e, ok := AsError(err)
	return ok && e.Status == 400 && (e.Has("csrf_token", "") || e.Has("", msgCSRF))
}

// ErrNotFound is returned when a look-up finds nothing.
var ErrNotFound = errors.New("bodhi: not found")

// RetryError is returned when transient failures outlasted the retry budget.
type RetryError struct {
	Attempts int
	Elapsed  time.Duration
	Last     error
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("bodhi: gave up after %d attempts in %s: %v", e.Attempts, e.Elapsed.Round(time.Millisecond), e.Last)
}

func (e *RetryError) Unwrap() error { return e.Last }

// IsTransient reports whether err is the kind of failure that may pass by
// itself (a retry budget ran out, a 5xx, a timeout), as opposed to a
// rejection that repeating will not change.
func IsTransient(err error) bool {
	var re *RetryError
	if errors.As(err, &re) {
		return true
	}
	if e, ok := AsError(err); ok {
		return retryableStatus(e.Status) || kojiTrouble(e)
	}
	return false
}
