package pglocal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedora-eln/ebs/libs/lifecycle"
)

// searchable adds o+x where it is missing and keeps every other bit,
// including sticky and setgid, and world-write on shared directories; each
// directory it changes is logged once at WARN with its old and new mode, and
// none it leaves alone is.
func TestSearchableOnlyAddsOtherExecute(t *testing.T) {
	root := t.TempDir()
	tree := []struct {
		name       string
		mode, want fs.FileMode
		logged     string // "old -> new" in the WARN record; "": no record
	}{
		{"private", 0o700 | fs.ModeSetgid, 0o701 | fs.ModeSetgid, "2700 -> 2701"},
		{"shared", 0o777 | fs.ModeSticky, 0o777 | fs.ModeSticky, ""},
		{"group", 0o750 | fs.ModeSticky, 0o751 | fs.ModeSticky, "1750 -> 1751"},
		{"open", 0o755, 0o755, ""},
		{"leaf", 0o700, 0o701, "0700 -> 0701"},
	}
	dir := root
	for _, d := range tree {
		dir = filepath.Join(dir, d.name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		// Chmod, not Mkdir's mode, so the umask does not interfere.
		if err := os.Chmod(dir, d.mode); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	log, err := lifecycle.NewLogger(&buf, "debug", "json")
	if err != nil {
		t.Fatal(err)
	}
	if err := searchable(dir, log); err != nil {
		t.Fatal(err)
	}
	// The records of the directories under root, by directory. Directories
	// above root are the machine's: whatever happens to them is not checked.
	logged := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		d, _ := r["dir"].(string)
		if !strings.HasPrefix(d, root+string(filepath.Separator)) {
			continue
		}
		if r["level"] != "WARN" || r["cluster"] != dir {
			t.Errorf("record %s: want level WARN, cluster %q", line, dir)
		}
		if _, dup := logged[d]; dup {
			t.Errorf("%s logged twice", d)
		}
		logged[d] = fmt.Sprint(r["old_mode"], " -> ", r["new_mode"])
	}
	dir = root
	for _, d := range tree {
		dir = filepath.Join(dir, d.name)
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() &^ fs.ModeDir; got != d.want {
			t.Errorf("%s: mode %v, want %v", d.name, got, d.want)
		}
		if got := logged[dir]; got != d.logged {
			t.Errorf("%s: logged %q, want %q", d.name, got, d.logged)
		}
	}
}
