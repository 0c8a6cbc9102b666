package kojihub_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

// listBuilds resolves packageID and userID as Koji's get_package_id and
// get_user do (an id, a name, a struct), returns [] for unknown ones, and
// orders by queryOpts' field rather than by id.
func TestListBuildsByNameOrID(t *testing.T) {
	t.Parallel()
	h := kojihub.Start(t, kojihub.Options{})
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	userID := h.AddUser("eln-buildsync")
	add := func(nvr, owner string, created time.Time) {
		t.Helper()
		if _, err := h.AddBuild(kojihub.BuildSpec{NVR: nvr, Owner: owner, State: koji.BuildComplete, CreationTime: created}); err != nil {
			t.Fatal(err)
		}
	}
	// Ids ascend in this order; start times do not.
	add("zlib-1.3-1.eln150", "eln-buildsync", t0.Add(2*time.Hour))
	add("zlib-1.3-2.eln150", "eln-buildsync", t0)
	add("bash-5.3-1.eln150", "eln-buildsync", t0.Add(time.Hour))
	add("zlib-1.3-1.fc45", "releng", t0.Add(3*time.Hour))
	c, err := koji.New(koji.Options{URL: h.URL()})
	if err != nil {
		t.Fatal(err)
	}
	var zlib map[string]any
	if err := c.Call(ctxT(t), &zlib, "getBuild", "zlib-1.3-1.fc45"); err != nil {
		t.Fatal(err)
	}
	zlibID, _ := zlib["package_id"].(int64)
	tests := []struct {
		name string
		kw   []any
		want []string // NVRs in order
		code int      // fault code, 0 for none
	}{
		{"user by name, newest start first", []any{"userID", "eln-buildsync", "queryOpts", koji.KW("order", "-start_ts")},
			[]string{"zlib-1.3-1.eln150", "bash-5.3-1.eln150", "zlib-1.3-2.eln150"}, 0},
		{"user by id", []any{"userID", userID}, []string{"zlib-1.3-1.eln150", "zlib-1.3-2.eln150", "bash-5.3-1.eln150"}, 0},
		{"user by struct", []any{"userID", koji.KW("name", "releng")}, []string{"zlib-1.3-1.fc45"}, 0},
		{"unknown user", []any{"userID", "nobody"}, []string{}, 0},
		{"unknown user id", []any{"userID", int64(999999)}, []string{}, 0},
		{"package by name, oldest start first", []any{"packageID", "zlib", "queryOpts", koji.KW("order", "start_ts")},
			[]string{"zlib-1.3-2.eln150", "zlib-1.3-1.eln150", "zlib-1.3-1.fc45"}, 0},
		{"package by id", []any{"packageID", zlibID, "queryOpts", koji.KW("order", "-start_ts", "limit", int64(1))},
			[]string{"zlib-1.3-1.fc45"}, 0},
		{"package by struct", []any{"packageID", koji.KW("name", "bash")}, []string{"bash-5.3-1.eln150"}, 0},
		{"unknown package", []any{"packageID", "no-such-package"}, []string{}, 0},
		{"package and user", []any{"packageID", "zlib", "userID", "releng"}, []string{"zlib-1.3-1.fc45"}, 0},
		{"user of a bad type", []any{"userID", 1.5}, nil, koji.CodeGenericError},
		{"package of a bad type", []any{"packageID", []any{"zlib"}}, nil, koji.CodeParameterError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []map[string]any
			err := c.Call(ctxT(t), &got, "listBuilds", koji.KW(tt.kw...))
			if tt.code != 0 {
				var f *koji.Fault
				if !errors.As(err, &f) || f.Code != tt.code {
					t.Fatalf("listBuilds(%v): %v, want fault %d", tt.kw, err, tt.code)
				}
				return
			}
			if err != nil {
				t.Fatalf("listBuilds(%v): %v", tt.kw, err)
			}
			nvrs := []string{}
			for _, b := range got {
				nvrs = append(nvrs, b["nvr"].(string))
			}
			if !slices.Equal(nvrs, tt.want) {
				t.Fatalf("listBuilds(%v) = %v, want %v", tt.kw, nvrs, tt.want)
			}
		})
	}
}
