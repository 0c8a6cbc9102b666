package kojihub

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
)

// GenerateOptions size a generated world.
type GenerateOptions struct {
	Packages int
	// ELNFraction of packages also have an older ELN build in "eln".
	ELNFraction float64
	// ELNOnlyFraction of packages have only an ELN build (no Rawhide build).
	ELNOnlyFraction float64
}

// Generated summarises what Generate made.
type Generated struct {
	Packages []string
	Rawhide  map[string]string // package -> NVR tagged in Rawhide
	ELN      map[string]string // package -> NVR tagged in eln
}

// Well-known Fedora packages come first, then made-up but realistic names.
var corePackages = []string{
	"bash", "glibc", "gcc", "coreutils", "systemd", "kernel", "python3", "perl", "rpm", "dnf",
	"openssl", "curl", "grep", "sed", "gawk", "tar", "gzip", "xz", "zlib", "bzip2", "util-linux",
	"shadow-utils", "sudo", "vim", "emacs", "git", "make", "cmake", "autoconf", "automake", "libtool",
	"binutils", "gdb", "valgrind", "strace", "elfutils", "expat", "libxml2", "sqlite", "ncurses",
	"readline", "pcre2", "glib2", "gtk3", "firefox", "httpd", "nginx", "postgresql", "mariadb",
	"python-requests", "python-urllib3", "python-setuptools", "python-pip", "rust", "golang", "nodejs",
	"java-21-openjdk", "llvm", "clang", "redhat-rpm-config", "fedora-release", "selinux-policy",
}

var (
	prefixes = []string{"python-", "perl-", "rust-", "golang-github-", "ghc-", "nodejs-", "R-", "php-",
		"texlive-", "ocaml-", "lib", "mingw-", "java-", "rubygem-", "gnome-", "kf6-", "xorg-x11-", ""}
	syllables = []string{"ar", "bel", "cor", "dex", "el", "fin", "gra", "hu", "io", "jam", "ka", "lum",
		"mo", "nex", "or", "pix", "qua", "ro", "sil", "tor", "u", "vel", "wav", "xy", "zen", "ban",
		"cli", "dra", "ept", "flo"}
	suffixes = []string{"", "", "", "-utils", "-tools", "-devel-tools", "-plugin", "-core", "-cli", "2", "3"}
	owners   = []string{"churchyard", "kdudka", "sgallagh", "yselkowitz", "tstellar", "mhroncok", "pbrobinson",
		"ngompa", "dcavalca", "salimma", "jistone", "decathorpe", "ignatenkobrain", "lbalhar", "ppisar",
		"jridky", "zbyszek", "sergesanspaille", "fweimer", "codonell", "dmalcolm", "jakub", "psabata"}
)

// Generate adds opts.Packages packages with realistic names and NVRs, each
// with a COMPLETE Rawhide build (owner, SCM source, build task, creation
// time) tagged into the Rawhide tag; a fraction also get an older ELN build
// tagged into eln, a smaller one only an ELN build. The same seed gives the
// same world. No messages are published.
func (h *Hub) Generate(opts GenerateOptions) (*Generated, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if opts.ELNOnlyFraction == 0 {
		opts.ELNOnlyFraction = 0.01
	}
	rng := rand.New(rand.NewPCG(h.opts.Seed, 0x5eed))
	g := &Generated{Rawhide: map[string]string{}, ELN: map[string]string{}}
	used := map[string]bool{}
	for name := range h.w.pkgs {
		used[name] = true
	}
	fdist, edist := h.opts.FedoraDist, h.opts.ELNDist
	base := h.opts.BaseTime
	for i := 0; len(g.Packages) < opts.Packages; i++ {
		var name string
		if i < len(corePackages) {
			name = corePackages[i]
		} else {
			name = makeName(rng)
		}
		if used[name] {
			continue
		}
		used[name] = true
		g.Packages = append(g.Packages, name)
		ver := makeVersion(rng)
		rel := 1 + rng.IntN(12)
		owner := owners[rng.IntN(len(owners))]
		created := base.Add(-time.Duration(rng.IntN(90*24*60)) * time.Minute)
		r := rng.Float64()
		elnOnly := r < opts.ELNOnlyFraction
		withELN := !elnOnly && r < opts.ELNOnlyFraction+opts.ELNFraction
		if !elnOnly {
			nvr := fmt.Sprintf("%s-%s-%d.%s", name, ver, rel, fdist)
			b, err := h.addBuildLocked(BuildSpec{NVR: nvr, Owner: owner, State: koji.BuildComplete, WithTask: true,
				Tags: []string{h.opts.RawhideTag}, CreationTime: created,
				Source: fmt.Sprintf("git+https://src.fedoraproject.org/rpms/%s.git#%s", name, hexHash(rng))})
			if err != nil {
				return nil, err
			}
			g.Rawhide[name] = b.nvr()
		}
		if elnOnly || withELN {
			erel := rel
			if withELN && erel > 1 {
				erel-- // ELN lags Rawhide
			}
			nvr := fmt.Sprintf("%s-%s-%d.%s", name, ver, erel, edist)
			b, err := h.addBuildLocked(BuildSpec{NVR: nvr, Owner: h.opts.BotUser, State: koji.BuildComplete, WithTask: true,
				Tags: []string{"eln"}, CreationTime: created.Add(-time.Hour),
				Source: fmt.Sprintf("git+https://src.fedoraproject.org/rpms/%s.git#%s", name, hexHash(rng))})
			if err != nil {
				return nil, err
			}
			g.ELN[name] = b.nvr()
		}
	}
	return g, nil
}

func makeName(rng *rand.Rand) string {
	var b strings.Builder
	b.WriteString(prefixes[rng.IntN(len(prefixes))])
	n := 2 + rng.IntN(2)
	for i := 0; i < n; i++ {
		b.WriteString(syllables[rng.IntN(len(syllables))])
	}
	b.WriteString(suffixes[rng.IntN(len(suffixes))])
	return b.String()
}

func makeVersion(rng *rand.Rand) string {
	switch rng.IntN(4) {
	case 0:
		return fmt.Sprintf("%d.%d", rng.IntN(10), rng.IntN(30))
	case 1:
		return fmt.Sprintf("%d.%d.%d", rng.IntN(5), rng.IntN(20), rng.IntN(15))
	case 2:
		return fmt.Sprintf("%d", 1+rng.IntN(200))
	default:
		return fmt.Sprintf("%d.%d.%d", 20+rng.IntN(6), 1+rng.IntN(12), rng.IntN(30))
	}
}

func hexHash(rng *rand.Rand) string {
	return fmt.Sprintf("%016x%016x%08x", rng.Uint64(), rng.Uint64(), rng.Uint32())
}
