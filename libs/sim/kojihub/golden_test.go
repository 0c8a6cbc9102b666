package kojihub_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/fedmsg"
	"github.com/fedora-eln/ebs/libs/koji"
	"github.com/fedora-eln/ebs/libs/koji/wire"
	"github.com/fedora-eln/ebs/libs/sim/kojihub"
)

var nameRE = regexp.MustCompile(`<name>([^<]*)</name>`)

func memberNames(body []byte) []string {
	var out []string
	for _, m := range nameRE.FindAllSubmatch(body, -1) {
		out = append(out, string(m[1]))
	}
	return out
}

func golden(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The simulator answers the reference requests with the reference shapes:
// the same struct members in the same order (the simulator may add members
// the real hub also sends, e.g. listTagged's "id").
func TestGoldenResponseShapes(t *testing.T) {
	t.Parallel()
	h := kojihub.Start(t, kojihub.Options{})
	scm := "git+https://src.fedoraproject.org/rpms/python-requests.git#5f1b0c3d2e4a6b8c9d0e1f2a3b4c5d6e7f8a9b0c"
	bid, err := h.AddBuild(kojihub.BuildSpec{NVR: "python-requests-2.32.4-2.fc45", Owner: "churchyard", Source: scm,
		State: koji.BuildComplete, Tags: []string{"f45"}, WithTask: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddBuild(kojihub.BuildSpec{NVR: "grep-3.11-10.eln150", State: koji.BuildFailed}); err != nil {
		t.Fatal(err)
	}
	c := h.NewClient(t, "eln-buildsync")
	ctx := ctxT(t)
	st, err := c.CreateSideTag(ctx, "eln-build")
	if err != nil {
		t.Fatal(err)
	}
	task, err := c.Build(ctx, koji.BuildRequest{Source: scm, Target: st.Name, Opts: koji.BuildOpts{FailFast: true, WaitRepo: true}})
	if err != nil {
		t.Fatal(err)
	}
	// Wait for the side tag's repo.
	deadline := time.Now().Add(20 * time.Second)
	for s, ok := h.RepoState(st.Name); !ok || s != koji.RepoReady; s, ok = h.RepoState(st.Name) {
		if time.Now().After(deadline) {
			t.Fatal("no repo")
		}
		time.Sleep(5 * time.Millisecond)
	}
	sess := c.Session()
	replace := strings.NewReplacer("eln-build-side-112240", st.Name, "2741190", fmt.Sprint(bid), "135790500", fmt.Sprint(task))
	for _, name := range []string{"02-getBuildTarget", "03-getBuild-strict", "04-listTagged-latest-inherit", "07-getTaskInfo-request",
		"10-getRepo", "12-listBuilds-taskID", "14-bigint-i8", "15-multicall-tagBuild-mixed", "05-createSideTag"} {
		t.Run(name, func(t *testing.T) {
			req := replace.Replace(string(golden(t, "koji-wire", name+".request.xml")))
			if name == "12-listBuilds-taskID" {
				req = strings.Replace(req, fmt.Sprint(task), fmt.Sprint(mustBuild(t, h, "python-requests-2.32.4-2.fc45").TaskID()), 1)
			}
			r, _ := http.NewRequest("POST", h.URL(), strings.NewReader(req))
			r.Header.Set("Content-Type", "text/xml")
			if strings.HasPrefix(name, "15") || strings.HasPrefix(name, "05") {
				// Writes: use the client's session (callnum omitted).
				r.Header.Set("Koji-Session-Id", fmt.Sprint(sess.ID))
				r.Header.Set("Koji-Session-Key", sess.Key)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := memberNames(golden(t, "koji-wire", name+".response.xml"))
			got := memberNames(body)
			// Keep the members the reference has, in the simulator's order.
			var common []string
			for _, g := range got {
				if slices.Contains(want, g) {
					common = append(common, g)
				}
			}
			if !slices.Equal(common, want) {
				t.Fatalf("members\n got  %v\n want %v\nbody %s", got, want, body)
			}
			if _, err := wire.DecodeResponse(body); err != nil && !strings.HasPrefix(name, "15") {
				t.Fatalf("decode: %v", err)
			}
		})
	}
}

type buildTask interface{ TaskID() int64 }

type kb struct{ b koji.Build }

func (k kb) TaskID() int64 { return *k.b.TaskID }

func mustBuild(t *testing.T, h *kojihub.Hub, nvr string) buildTask {
	b, ok := h.Build(nvr)
	if !ok || b.TaskID == nil {
		t.Fatalf("no build %s", nvr)
	}
	return kb{b}
}

// The messages the simulator publishes have the reference bodies' keys.
func TestGoldenMessageBodies(t *testing.T) {
	t.Parallel()
	h := kojihub.Start(t, kojihub.Options{})
	scm := "git+https://src.fedoraproject.org/rpms/grep.git#799f88f953393ea45f722b71669744948c12a422"
	if _, err := h.AddBuild(kojihub.BuildSpec{NVR: "grep-3.11-10.fc45", Source: scm, State: koji.BuildComplete, Tags: []string{"f45"}}); err != nil {
		t.Fatal(err)
	}
	c := h.NewClient(t, "eln-buildsync")
	ctx := ctxT(t)
	st, err := c.CreateSideTag(ctx, "eln-build")
	if err != nil {
		t.Fatal(err)
	}
	id1, err := c.Build(ctx, koji.BuildRequest{Source: scm, Target: st.Name})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := c.Build(ctx, koji.BuildRequest{Source: scm, Target: "eln", Opts: koji.BuildOpts{Scratch: true}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{id1, id2} {
		deadline := time.Now().Add(20 * time.Second)
		for ti, _ := h.TaskInfo(id); !ti.State.Finished(); ti, _ = h.TaskInfo(id) {
			if time.Now().After(deadline) {
				t.Fatal("build did not finish")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := h.Untag(st.Name, "grep-3.11-10.eln150", "eln-buildsync"); err != nil {
		t.Fatal(err)
	}
	if err := h.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	latest := map[string]fedmsg.Message{}
	for _, m := range h.Messages() {
		latest[strings.TrimPrefix(m.Topic, "org.fedoraproject.prod.")] = m
	}
	for _, topic := range []string{fedmsg.TopicTag, fedmsg.TopicUntag, fedmsg.TopicBuildStateChange,
		fedmsg.TopicTaskStateChange, fedmsg.TopicRepoInit, fedmsg.TopicRepoDone} {
		m, ok := latest[topic]
		if !ok {
			t.Errorf("no %s message", topic)
			continue
		}
		want := keys(t, golden(t, "samples", topic+".json"))
		got := keys(t, m.Body)
		if !slices.Equal(got, want) {
			t.Errorf("%s keys\n got  %v\n want %v", topic, got, want)
		}
		// And the body decodes with libs/fedmsg's types.
		switch topic {
		case fedmsg.TopicTaskStateChange:
			var b fedmsg.TaskStateChangeBody
			if err := fedmsg.Decode(m.Body, &b); err != nil || b.Info.SCMURL() != scm || b.SRPM != "grep.git#799f88f953393ea45f722b71669744948c12a422" || len(b.Info.Children) == 0 {
				t.Errorf("task body %+v %v", b, err)
			}
			if ik, wk := infoKeys(t, m.Body), infoKeys(t, golden(t, "samples", topic+".json")); !slices.Equal(ik, wk) {
				t.Errorf("info keys\n got  %v\n want %v", ik, wk)
			}
		case fedmsg.TopicBuildStateChange:
			var b fedmsg.BuildStateChangeBody
			if err := fedmsg.Decode(m.Body, &b); err != nil || b.Task == nil || b.Task.SCMURL() != scm {
				t.Errorf("build body %+v %v", b, err)
			}
		}
	}
}

func keys(t *testing.T, body []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func infoKeys(t *testing.T, body []byte) []string {
	var m struct {
		Info json.RawMessage `json:"info"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	return keys(t, m.Info)
}
