package koji_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

// BenchmarkGetBuilds500 measures one 500-call getBuild multicall against a
// 25,000-package simulated world (client encode, hub, decode).
func BenchmarkGetBuilds500(b *testing.B) {
	h := kojihub.Start(b, kojihub.Options{Seed: 1})
	g, err := h.Generate(kojihub.GenerateOptions{Packages: 25000})
	if err != nil {
		b.Fatal(err)
	}
	var nvrs []any
	for _, p := range g.Packages {
		if nvr, ok := g.Rawhide[p]; ok && len(nvrs) < 500 {
			nvrs = append(nvrs, nvr)
		}
	}
	c := h.NewClient(b, "")
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := c.GetBuilds(ctx, nvrs, true)
		if err != nil || res[499].Err != nil {
			b.Fatal(err, res[499].Err)
		}
	}
	st := c.Stats()
	b.ReportMetric(float64(st.HTTPRequests)/float64(b.N), "http-requests/op")
	b.ReportMetric(float64(st.Calls["getBuild"])/float64(b.N), "calls/op")
}

// BenchmarkTagBuilds500 measures submitting 500 tagBuild calls as one
// logged-in multicall.
func BenchmarkTagBuilds500(b *testing.B) {
	h := kojihub.Start(b, kojihub.Options{Seed: 1, SideTagLimit: 1 << 30})
	g, err := h.Generate(kojihub.GenerateOptions{Packages: 600})
	if err != nil {
		b.Fatal(err)
	}
	var nvrs []string
	for _, p := range g.Packages {
		if nvr, ok := g.Rawhide[p]; ok && len(nvrs) < 500 {
			nvrs = append(nvrs, nvr)
		}
	}
	c := h.NewClient(b, "eln-buildsync")
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		st, err := c.CreateSideTag(ctx, "eln-build")
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		res, err := c.TagBuilds(ctx, st.Name, nvrs)
		if err != nil || res[0].Err != nil {
			b.Fatal(fmt.Sprint(err, res[0].Err))
		}
	}
}
