package kojihub_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

// kojisim's -packages, -seed and -lossy override the scenario file when
// given, zero included; when not given the file's values hold.
func TestServeOverridesTheScenarioFile(t *testing.T) {
	t.Parallel()
	zeroInt, zeroSeed, zeroLossy, five := 0, uint64(0), 0.0, 5
	for _, tc := range []struct {
		name          string
		packages      *int
		seed          *uint64
		lossy         *float64
		wantPackages  int
		wantSeed      uint64
		wantLossy     float64
		wantGenerated int
	}{
		{"file values", nil, nil, nil, 300, 7, 0.1, 300},
		{"zero overrides", &zeroInt, &zeroSeed, &zeroLossy, 0, 0, 0, 0},
		{"packages only", &five, nil, nil, 5, 7, 0.1, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cfg := kojihub.ServeConfig{Listen: "127.0.0.1:0", ScenarioFile: "testdata/scenario.yaml",
				Packages: tc.packages, Seed: tc.seed, Lossy: tc.lossy, BotUser: "eln-buildsync", SideTagLimit: 10}
			var got kojihub.Options
			generated := -1
			err := kojihub.Serve(ctx, cfg, slog.New(slog.DiscardHandler), func(_ string, h *kojihub.Hub) {
				got, generated = h.Options(), len(h.Packages())
				cancel()
			})
			if err != nil {
				t.Fatal(err)
			}
			if got.Packages != tc.wantPackages || got.Seed != tc.wantSeed || got.Lossy != tc.wantLossy || generated != tc.wantGenerated {
				t.Fatalf("packages %d (%d generated), seed %d, lossy %v; want %d (%d), %d, %v",
					got.Packages, generated, got.Seed, got.Lossy, tc.wantPackages, tc.wantGenerated, tc.wantSeed, tc.wantLossy)
			}
		})
	}
}
