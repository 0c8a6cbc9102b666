package check

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The root Dockerfile downloads modules in a layer of its own, built from
// the workspace and module files alone, and a failed download fails the
// build.
func TestDockerfileDownloadsModulesFirst(t *testing.T) {
	t.Parallel()
	df, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	work, err := os.ReadFile(filepath.Join(repoRoot, "go.work"))
	if err != nil {
		t.Fatal(err)
	}
	mods := workspaceModules(string(work))
	if len(mods) < 3 {
		t.Fatalf("go.work uses %v: too few modules, is the parser broken?", mods)
	}
	for _, p := range checkDockerfile(string(df), mods) {
		t.Error(p)
	}
}

// checkDockerfile finds the gaps the test above guards against; each case
// below is a Dockerfile with one of them.
func TestCheckDockerfileFindsGaps(t *testing.T) {
	t.Parallel()
	mods := []string{"libs", "services/a"}
	good := `FROM golang AS build
COPY go.work go.work.sum ./
COPY libs/go.mod libs/go.sum libs/
COPY services/a/go.mod \
     services/a/go.sum services/a/
RUN go mod download
COPY . .
RUN go build ./services/a
`
	cases := []struct {
		name, dockerfile, want string
	}{
		{"good", good, ""},
		{"failure hidden", strings.Replace(good, "go mod download", "go mod download >/dev/null 2>&1 || true", 1), "|| true"},
		{"sources before download", strings.Replace(good, "COPY libs/go.mod libs/go.sum libs/", "COPY libs/ libs/", 1), "copies libs/ before"},
		{"module not copied", strings.Replace(good, "COPY libs/go.mod libs/go.sum libs/\n", "", 1), "libs/go.mod"},
		{"go.sum not copied", strings.Replace(good, "libs/go.mod libs/go.sum libs/", "libs/go.mod libs/", 1), "libs/go.sum"},
		{"copied to the wrong place", strings.Replace(good, "libs/go.mod libs/go.sum libs/", "libs/go.mod libs/go.sum ./", 1), "libs/go.mod"},
		{"no download", strings.Replace(good, "RUN go mod download\n", "", 1), "no RUN go mod download"},
		{"no go.work.sum", strings.Replace(good, "go.work go.work.sum ./", "go.work ./", 1), "go.work.sum"},
		{"service arg before download", strings.Replace(good, "FROM golang AS build\n", "FROM golang AS build\nARG SERVICE\n", 1), "ARG SERVICE"},
		{"service arg after download", strings.Replace(good, "COPY . .\n", "COPY . .\nARG SERVICE\n", 1), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := checkDockerfile(tc.dockerfile, mods)
			if tc.want == "" {
				if len(got) > 0 {
					t.Fatalf("a good Dockerfile fails: %v", got)
				}
				return
			}
			if !slices.ContainsFunc(got, func(p string) bool { return strings.Contains(p, tc.want) }) {
				t.Fatalf("want a problem mentioning %q, got %v", tc.want, got)
			}
		})
	}
}

// workspaceModules lists the directories go.work uses.
func workspaceModules(work string) []string {
	var out []string
	inUse := false
	for _, l := range strings.Split(work, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "use ("):
			inUse = true
		case inUse && l == ")":
			inUse = false
		case inUse && l != "" && !strings.HasPrefix(l, "//"):
			out = append(out, path.Clean(l))
		case strings.HasPrefix(l, "use "):
			out = append(out, path.Clean(strings.TrimSpace(strings.TrimPrefix(l, "use "))))
		}
	}
	return out
}

// instructions returns the Dockerfile's instructions, continuation lines
// joined and comments dropped.
func instructions(dockerfile string) []string {
	var out []string
	cur := ""
	for _, l := range strings.Split(dockerfile, "\n") {
		if t := strings.TrimSpace(l); strings.HasPrefix(t, "#") || (t == "" && cur == "") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			cur += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		cur += l
		if s := strings.TrimSpace(cur); s != "" {
			out = append(out, s)
		}
		cur = ""
	}
	return out
}

var modFile = regexp.MustCompile(`^(go\.work|go\.work\.sum|(.+/)?go\.(mod|sum))$`)

// checkDockerfile returns what is wrong with the build stage's module
// download: every used module's go.mod and go.sum (and go.work, go.work.sum)
// copied to its place before `RUN go mod download`, nothing else copied
// before it (so source edits keep the download layer), no failure hidden.
func checkDockerfile(dockerfile string, mods []string) []string {
	var problems []string
	copied := map[string]bool{}
	download := -1
	sawFrom := false
	ins := instructions(dockerfile)
	for i, in := range ins {
		if strings.Contains(in, "|| true") || strings.Contains(in, "|| :") {
			problems = append(problems, fmt.Sprintf("%q hides a failure (|| true)", in))
		}
		f := strings.Fields(in)
		switch strings.ToUpper(f[0]) {
		case "RUN":
			if download < 0 && strings.Contains(in, "go mod download") {
				download = i
			}
		case "ARG":
			// An ARG is in the environment of every later RUN of its stage:
			// the per-service SERVICE before the download would make one
			// download layer per service. ARGs before the first FROM are
			// global and do not count.
			if download < 0 && sawFrom && strings.HasPrefix(strings.TrimSpace(strings.TrimPrefix(in, f[0])), "SERVICE") {
				problems = append(problems, "ARG SERVICE before go mod download: one download layer per service")
			}
		case "FROM":
			sawFrom = true
		case "COPY":
			if download >= 0 {
				continue
			}
			var args []string
			for _, a := range f[1:] {
				if !strings.HasPrefix(a, "--") {
					args = append(args, a)
				}
			}
			if len(args) < 2 {
				problems = append(problems, fmt.Sprintf("%q: COPY without a destination", in))
				continue
			}
			dst := args[len(args)-1]
			for _, src := range args[:len(args)-1] {
				if !modFile.MatchString(src) {
					problems = append(problems, fmt.Sprintf("copies %s before go mod download: every source edit rebuilds the download layer", src))
					continue
				}
				// COPY a/go.mod a/ puts it at a/go.mod; COPY go.work ./ at go.work.
				copied[path.Join(dst, path.Base(src))] = copied[path.Join(dst, path.Base(src))] || path.Dir(src) == path.Clean(dst)
			}
		}
	}
	if download < 0 {
		return append(problems, "no RUN go mod download")
	}
	want := []string{"go.work", "go.work.sum"}
	for _, m := range mods {
		want = append(want, path.Join(m, "go.mod"), path.Join(m, "go.sum"))
	}
	for _, w := range want {
		if !copied[w] {
			problems = append(problems, w+" is not copied to its place before go mod download")
		}
	}
	return problems
}
