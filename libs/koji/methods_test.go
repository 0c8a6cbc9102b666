package koji_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

// Typed methods and batch helpers not covered by the build flow, each
// against the simulator.
func TestTypedMethods(t *testing.T) {
	t.Parallel()
	h := startHub(t, kojihub.Options{Scenario: &kojihub.Scenario{
		Packages: map[string]kojihub.Outcome{"zlib": {Result: kojihub.ResultHang}},
	}})
	if _, err := h.AddBuild(kojihub.BuildSpec{NVR: "zlib-1.3.1-2.fc45", Owner: "jridky", State: koji.BuildComplete, Tags: []string{"f45"}}); err != nil {
		t.Fatal(err)
	}
	c := h.NewClient(t, "eln-buildsync")
	ctx := ctxT(t)
	grep, err := c.GetBuild(ctx, "grep-3.11-10.fc45", true)
	if err != nil {
		t.Fatal(err)
	}
	requests, err := c.GetBuild(ctx, nvrRequests, true)
	if err != nil {
		t.Fatal(err)
	}
	nvrsOf := func(bs []koji.Build) []string {
		var out []string
		for _, b := range bs {
			out = append(out, b.NVR)
		}
		return out
	}

	t.Run("ListBuilds by user, package and queryOpts", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			opts koji.ListBuildsOpts
			want []string
		}{
			// jridky owns both grep builds and zlib.
			{"user, by nvr", koji.ListBuildsOpts{UserID: grep.OwnerID, Query: &koji.QueryOpts{Order: "nvr"}},
				[]string{"grep-3.11-10.fc45", "grep-3.11-9.fc45", "zlib-1.3.1-2.fc45"}},
			{"user, by -nvr, limit 2", koji.ListBuildsOpts{UserID: grep.OwnerID, Query: &koji.QueryOpts{Order: "-nvr", Limit: 2}},
				[]string{"zlib-1.3.1-2.fc45", "grep-3.11-9.fc45"}},
			{"user, offset 1", koji.ListBuildsOpts{UserID: grep.OwnerID, Query: &koji.QueryOpts{Order: "nvr", Offset: 1}},
				[]string{"grep-3.11-9.fc45", "zlib-1.3.1-2.fc45"}},
			{"package", koji.ListBuildsOpts{PackageID: requests.PackageID}, []string{nvrRequests}},
			{"package and user", koji.ListBuildsOpts{PackageID: grep.PackageID, UserID: grep.OwnerID, Query: &koji.QueryOpts{Order: "-nvr"}},
				[]string{"grep-3.11-9.fc45", "grep-3.11-10.fc45"}},
			{"package of another user", koji.ListBuildsOpts{PackageID: requests.PackageID, UserID: grep.OwnerID}, nil},
		} {
			bs, err := c.ListBuilds(ctx, tc.opts)
			if err != nil || !slices.Equal(nvrsOf(bs), tc.want) {
				t.Errorf("%s: %v, %v; want %v", tc.name, nvrsOf(bs), err, tc.want)
			}
		}
	})

	t.Run("BuildOpts.SkipTag reaches the hub", func(t *testing.T) {
		id, err := c.Build(ctx, koji.BuildRequest{Source: scmRequests, Target: "eln", Opts: koji.BuildOpts{SkipTag: true}})
		if err != nil {
			t.Fatal(err)
		}
		ti := waitTask(t, c, id)
		if ti.State != koji.TaskClosed || ti.Opts()["skip_tag"] != true {
			t.Fatalf("task %v, opts %v", ti.State, ti.Opts())
		}
		bs, err := c.ListBuilds(ctx, koji.ListBuildsOpts{TaskID: id})
		if err != nil || len(bs) != 1 || bs[0].State != koji.BuildComplete {
			t.Fatalf("build of the task: %+v, %v", bs, err)
		}
		// Not tagged into the target's destination.
		tags, err := c.ListTags(ctx, bs[0].NVR)
		if err != nil || len(tags) != 0 {
			t.Fatalf("skip_tag build tagged into %+v, %v", tags, err)
		}
	})

	t.Run("PromoteBuild", func(t *testing.T) {
		id, err := c.Build(ctx, koji.BuildRequest{Source: "git+https://src.fedoraproject.org/rpms/grep.git#abc", Target: "eln",
			Opts: koji.BuildOpts{Draft: true}})
		if err != nil {
			t.Fatal(err)
		}
		if ti := waitTask(t, c, id); ti.State != koji.TaskClosed {
			t.Fatalf("draft build task %v", ti.State)
		}
		bs, err := c.ListBuilds(ctx, koji.ListBuildsOpts{TaskID: id})
		if err != nil || len(bs) != 1 || !bs[0].Draft {
			t.Fatalf("draft build: %+v, %v", bs, err)
		}
		b, err := c.PromoteBuild(ctx, bs[0].NVR)
		if err != nil || b.Draft || b.NVR != "grep-3.11-10.eln150" || b.ID != bs[0].ID {
			t.Fatalf("promoteBuild(%s) = %+v, %v", bs[0].NVR, b, err)
		}
		if _, err := c.PromoteBuild(ctx, b.ID); !errors.Is(err, koji.ErrGenericError) {
			t.Fatalf("promoting it again: %v", err)
		}
	})

	t.Run("CancelTasks", func(t *testing.T) {
		var ids []int64
		for range 2 {
			id, err := c.Build(ctx, koji.BuildRequest{Source: scmOf(t, h, "zlib"), Target: "eln", Opts: koji.BuildOpts{Scratch: true}})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, id)
		}
		res, err := c.CancelTasks(ctx, append(ids, 999999999))
		if err != nil || len(res) != 3 || res[0].Err != nil || res[1].Err != nil || res[2].Err == nil {
			t.Fatalf("cancelTasks = %+v, %v", res, err)
		}
		for _, id := range ids {
			if ti := waitTask(t, c, id); ti.State != koji.TaskCanceled {
				t.Fatalf("task %d %v after cancel", id, ti.State)
			}
		}
	})

	t.Run("UntagBuilds", func(t *testing.T) {
		st, err := c.CreateSideTag(ctx, "eln-build")
		if err != nil {
			t.Fatal(err)
		}
		tagged := []string{nvrRequests, "grep-3.11-10.fc45"}
		res, err := c.TagBuilds(ctx, st.Name, tagged)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil || waitTask(t, c, r.Value).State != koji.TaskClosed {
				t.Fatalf("tagBuild %+v", r)
			}
		}
		out, err := c.UntagBuilds(ctx, st.Name, append(tagged, "zlib-1.3.1-2.fc45"), true)
		if err != nil || out[0].Err != nil || out[1].Err != nil || !errors.Is(out[2].Err, koji.ErrTagError) {
			t.Fatalf("untagBuilds = %+v, %v", out, err)
		}
		if left, err := c.ListTagged(ctx, st.Name, koji.ListTaggedOpts{}); err != nil || len(left) != 0 {
			t.Fatalf("still tagged: %v, %v", nvrsOf(left), err)
		}
		// Not strict: untagging what is not tagged is no error.
		out, err = c.UntagBuilds(ctx, st.Name, tagged[:1], false)
		if err != nil || out[0].Err != nil {
			t.Fatalf("non-strict untag = %+v, %v", out, err)
		}
	})
}

// scmOf is the SCM URL of a package's newest build.
func scmOf(t *testing.T, h *kojihub.Hub, pkg string) string {
	t.Helper()
	bs := h.BuildsOfPackage(pkg)
	if len(bs) == 0 {
		t.Fatalf("no builds of %s", pkg)
	}
	if bs[0].SCMURL() == "" {
		t.Fatalf("build %s has no source", bs[0].NVR)
	}
	return bs[0].SCMURL()
}
