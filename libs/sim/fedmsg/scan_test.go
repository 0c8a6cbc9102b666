package fedmsgsim_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	fedmsgsim "github.com/fedora-eln/ebs/libs/sim/fedmsg"
)

// One unreadable record costs that record only: ScanRecorded reports it
// with its line and reason and reads on.
func TestScanRecordedReadsPastBadRecords(t *testing.T) {
	t.Parallel()
	page, err := os.ReadFile("testdata/datagrepper-page.json")
	if err != nil {
		t.Fatal(err)
	}
	msg := func(id string) string {
		return `{"id": "` + id + `", "topic": "org.fedoraproject.prod.buildsys.tag", "body": {}}`
	}
	brokenPage := strings.Replace(string(page), `"topic": "org.fedoraproject.prod.buildsys.repo.done",`, `"topic": "org.fedoraproject.prod.buildsys.repo.done" oops`, 1)
	if brokenPage == string(page) {
		t.Fatal("the page fixture changed; the broken page is not broken")
	}
	pageLines := strings.Count(string(page), "\n")
	tests := []struct {
		name  string
		input string
		want  []string // "id@line" for messages, "!line:reason" for unreadable records
	}{
		{"JSON lines with a bad line", msg("a") + "\n{nope\n" + msg("b") + "\n", []string{"a@1", "!2:invalid character", "b@3"}},
		{"a truncated line does not swallow the next", msg("a") + "\n" + `{"id": "t", "topic":` + "\n" + msg("b") + "\n" + msg("c") + "\n",
			[]string{"a@1", "!2:incomplete JSON value", "b@3", "c@4"}},
		{"truncated at the end", msg("a") + "\n" + `{"id": "z"`, []string{"a@1", "!2:end of the input"}},
		{"a record of the wrong shape", `{"id": "a", "topic": 5}` + "\n" + msg("b") + "\n", []string{"!1:cannot unmarshal", "b@2"}},
		{"not an object", "42\n" + msg("b") + "\n", []string{"!1:cannot unmarshal", "b@2"}},
		{"two values on a line, then garbage", msg("x") + " " + msg("y") + " {nope\n" + msg("z") + "\n", []string{"x@1", "y@1", "!1:invalid character", "z@2"}},
		{"blank lines and CRLF", "\n\r\n" + msg("a") + "\r\n\r\n" + msg("b") + "\r\n", []string{"a@3", "b@5"}},
		{"a pretty-printed page, then a line", string(page) + msg("after") + "\n",
			[]string{"6f7a1c52-2a8e-4f6a-9c1e-0d9a1b6e7c10@1", "9d3e8b71-55c4-4d1f-8a6b-3c2f7e9a0b21@1", fmt.Sprintf("after@%d", pageLines+1)}},
		{"a broken page is one record up to the next one", msg("a") + "\n" + brokenPage + msg("b") + "\n",
			[]string{"a@1", "!2:invalid character", fmt.Sprintf("b@%d", pageLines+2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			err := fedmsgsim.ScanRecorded(strings.NewReader(tt.input), func(r fedmsgsim.Recorded) error {
				if r.Err != nil {
					if len(r.Raw) == 0 {
						t.Errorf("line %d: unreadable record without its text", r.Line)
					}
					got = append(got, fmt.Sprintf("!%d:%v", r.Line, r.Err))
					return nil
				}
				got = append(got, fmt.Sprintf("%s@%d", r.Message.ID, r.Line))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %q\nwant %q", got, tt.want)
			}
			for i := range got {
				if !matches(got[i], tt.want[i]) {
					t.Errorf("item %d: got %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

// matches compares "id@line" exactly, and "!line:reason" by line and a
// substring of the reason.
func matches(got, want string) bool {
	if !strings.HasPrefix(want, "!") {
		return got == want
	}
	wl, wr, _ := strings.Cut(want, ":")
	gl, gr, _ := strings.Cut(got, ":")
	return gl == wl && strings.Contains(gr, wr)
}
