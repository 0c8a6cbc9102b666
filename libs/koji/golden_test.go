package koji_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/fedora-eln/ebs/libs/koji"
)

// goldenServer answers every POST with one reference response and records
// the request body.
type goldenServer struct {
	mu       sync.Mutex
	response []byte
	request  []byte
	headers  http.Header
}

func (g *goldenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	g.mu.Lock()
	g.request, g.headers = b, r.Header.Clone()
	resp := g.response
	g.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	w.Write(resp)
}

func readGolden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "koji-wire", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every reference case: the client sends exactly Koji's request body and
// decodes the reference response into the typed result.
func TestGoldenWire(t *testing.T) {
	gs := &goldenServer{}
	srv := httptest.NewServer(gs)
	defer srv.Close()
	c, err := koji.New(koji.Options{URL: srv.URL + "/kojihub", RetryBudget: -1})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	prio := 5
	tests := []struct {
		name  string
		call  func() (any, error)
		check func(t *testing.T, v any, err error)
	}{
		{"01-getAPIVersion", func() (any, error) { return c.GetAPIVersion(ctx) }, func(t *testing.T, v any, err error) {
			if err != nil || v.(int) != 1 {
				t.Fatalf("%v %v", v, err)
			}
		}},
		{"02-getBuildTarget", func() (any, error) { return c.GetBuildTarget(ctx, "eln") }, func(t *testing.T, v any, err error) {
			tg := v.(*koji.Target)
			if err != nil || tg.ID != 1234 || tg.BuildTag != 42000 || tg.BuildTagName != "eln-build" || tg.DestTag != 42001 || tg.DestTagName != "eln" {
				t.Fatalf("%+v %v", tg, err)
			}
		}},
		{"03-getBuild-strict", func() (any, error) { return c.GetBuild(ctx, int64(2741190), true) }, func(t *testing.T, v any, err error) {
			b := v.(*koji.Build)
			if err != nil || b.ID != 2741190 || b.NVR != "python-requests-2.32.4-2.fc45" || b.Epoch != nil || b.Draft ||
				b.State != koji.BuildComplete || *b.TaskID != 135790123 || b.OwnerName != "churchyard" || b.PromoterID != nil ||
				b.CreationTime.Format("2006-01-02 15:04:05.000000") != "2026-11-20 08:25:12.397820" || b.CreationTS != 1763627112.39782 ||
				!b.PromotionTime.IsZero() || b.SCMURL() != scmRequests {
				t.Fatalf("%+v %v", b, err)
			}
		}},
		{"04-listTagged-latest-inherit", func() (any, error) {
			return c.ListTagged(ctx, "f45", koji.ListTaggedOpts{Latest: true, Inherit: true, Package: "python-requests"})
		}, func(t *testing.T, v any, err error) {
			bs := v.([]koji.Build)
			if err != nil || len(bs) != 1 || bs[0].BuildID != 2741190 || bs[0].ID != 2741190 || bs[0].TagName != "f45" || bs[0].TagID != 30215 || bs[0].CreateEvent != 140000555 {
				t.Fatalf("%+v %v", bs, err)
			}
		}},
		{"05-createSideTag", func() (any, error) { return c.CreateSideTag(ctx, "eln-build") }, func(t *testing.T, v any, err error) {
			st := v.(*koji.SideTag)
			if err != nil || st.Name != "eln-build-side-112240" || st.ID != 99001 || st.TaskID != nil || st.Repo != nil {
				t.Fatalf("%+v %v", st, err)
			}
		}},
		{"06-build-opts-priority", func() (any, error) {
			return c.Build(ctx, koji.BuildRequest{Source: scmRequests, Target: "eln-build-side-112240",
				Opts: koji.BuildOpts{FailFast: true, WaitRepo: true}, Priority: &prio})
		}, func(t *testing.T, v any, err error) {
			if err != nil || v.(int64) != 135790500 {
				t.Fatalf("%v %v", v, err)
			}
		}},
		{"07-getTaskInfo-request", func() (any, error) { return c.GetTaskInfo(ctx, 135790500, true) }, func(t *testing.T, v any, err error) {
			tk := v.(*koji.Task)
			if err != nil || tk.State != koji.TaskFailed || !tk.State.Finished() || tk.Parent != nil || tk.Owner != 5566 ||
				tk.Priority != 25 || tk.Weight != 0.2 || *tk.HostID != 77 || tk.SCMURL() != scmRequests ||
				tk.Target() != "eln-build-side-112240" || tk.Opts()["fail_fast"] != true || tk.CompletionTS != 1763630400 {
				t.Fatalf("%+v %v", tk, err)
			}
		}},
		{"08-getTaskResult-fault", func() (any, error) { return c.GetTaskResult(ctx, 135790500) }, func(t *testing.T, v any, err error) {
			var f *koji.Fault
			if !errors.As(err, &f) || f.Code != koji.CodeBuildError || f.Name() != "BuildError" || !errors.Is(err, koji.ErrBuildError) ||
				f.Message != "BuildError: error building package (arch x86_64), mock exited with status 1; see build.log for more information" {
				t.Fatalf("%v", err)
			}
		}},
		{"09-cancelTask-recurse", func() (any, error) { return nil, c.CancelTask(ctx, 135790500) }, func(t *testing.T, v any, err error) {
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"10-getRepo", func() (any, error) { return c.GetRepo(ctx, "eln-build-side-112240") }, func(t *testing.T, v any, err error) {
			r := v.(*koji.Repo)
			if err != nil || r.ID != 7654321 || r.State != koji.RepoReady || r.TagID != 99001 || r.CreateEvent != 140001000 ||
				r.EndEvent != nil || *r.TaskState != koji.TaskClosed || r.Opts["debuginfo"] != false {
				t.Fatalf("%+v %v", r, err)
			}
		}},
		{"11-removeSideTag", func() (any, error) { return nil, c.RemoveSideTag(ctx, "eln-build-side-112240") }, func(t *testing.T, v any, err error) {
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"12-listBuilds-taskID", func() (any, error) { return c.ListBuilds(ctx, koji.ListBuildsOpts{TaskID: 135790500}) }, func(t *testing.T, v any, err error) {
			bs := v.([]koji.Build)
			if err != nil || len(bs) != 1 || bs[0].NVR != "python-requests-2.32.4-2.fc45" {
				t.Fatalf("%+v %v", bs, err)
			}
		}},
		{"13-fault-authexpired", func() (any, error) { return c.GetLoggedInUser(ctx) }, func(t *testing.T, v any, err error) {
			if !errors.Is(err, koji.ErrAuthExpired) || !errors.Is(err, koji.ErrAuthError) || errors.Is(err, koji.ErrTagError) {
				t.Fatalf("%v", err)
			}
		}},
		{"14-bigint-i8", func() (any, error) { return c.GetLastEvent(ctx) }, func(t *testing.T, v any, err error) {
			ev := v.(koji.Event)
			if err != nil || ev.ID != 5000000000 || ev.TS != 1763629300.25 {
				t.Fatalf("%+v %v", ev, err)
			}
		}},
		{"15-multicall-tagBuild-mixed", func() (any, error) {
			return c.TagBuilds(ctx, "eln-build-side-112240", []string{"python-requests-2.32.4-2.fc45", "grep-3.11-10.eln150"})
		}, func(t *testing.T, v any, err error) {
			res := v.([]koji.BatchResult[int64])
			if err != nil || res[0].Err != nil || res[0].Value != 135790600 || !errors.Is(res[1].Err, koji.ErrTagError) ||
				res[1].Err.(*koji.Fault).Message != "build grep-3.11-10.eln150 not complete: state FAILED" {
				t.Fatalf("%+v %v", res, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs.mu.Lock()
			gs.response = readGolden(t, tt.name+".response.xml")
			gs.mu.Unlock()
			v, err := tt.call()
			tt.check(t, v, err)
			gs.mu.Lock()
			defer gs.mu.Unlock()
			if want := readGolden(t, tt.name+".request.xml"); string(gs.request) != string(want) {
				t.Errorf("request body differs\n--- sent\n%s\n--- koji sends\n%s", gs.request, want)
			}
			if gs.headers.Get("User-Agent") != "koji/1" || gs.headers.Get("Content-Type") != "text/xml" {
				t.Errorf("headers %v", gs.headers)
			}
		})
	}
}
