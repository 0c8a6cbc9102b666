package kojihub_test

import (
	"testing"

	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

// BenchmarkGenerate25k: loading a 25,000-package world.
func BenchmarkGenerate25k(b *testing.B) {
	for i := 0; i < b.N; i++ {
		h, err := kojihub.New(kojihub.Options{Seed: uint64(i), Packages: 25000})
		if err != nil {
			b.Fatal(err)
		}
		h.Close()
	}
}
