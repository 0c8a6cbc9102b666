package pglocal

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/fedora-eln/ebs/libs/lifecycle"
)

// searchable adds o+x where it is missing and keeps every other bit,
// including sticky and setgid, and world-write on shared directories.
func TestSearchableOnlyAddsOtherExecute(t *testing.T) {
	root := t.TempDir()
	tree := []struct {
		name       string
		mode, want fs.FileMode
	}{
		{"private", 0o700 | fs.ModeSetgid, 0o701 | fs.ModeSetgid},
		{"shared", 0o777 | fs.ModeSticky, 0o777 | fs.ModeSticky},
		{"group", 0o750 | fs.ModeSticky, 0o751 | fs.ModeSticky},
		{"open", 0o755, 0o755},
		{"leaf", 0o700, 0o701},
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
	if err := searchable(dir, lifecycle.Discard()); err != nil {
		t.Fatal(err)
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
	}
}
