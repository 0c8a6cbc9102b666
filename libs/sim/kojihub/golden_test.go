package kojihub_test

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
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
// the real hub also sends, e.g. listTagged's "id"), each of the same
// XML-RPC type, and the same fault codes.
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
	// A package whose builds fail (08) and one whose builds hang (09).
	for _, spec := range []struct {
		nvr string
		out kojihub.Result
	}{{"zlib-1.3.1-2.fc45", kojihub.ResultFail}, {"bash-5.3-1.fc45", kojihub.ResultHang}} {
		if _, err := h.AddBuild(kojihub.BuildSpec{NVR: spec.nvr, State: koji.BuildComplete, Tags: []string{"f45"}}); err != nil {
			t.Fatal(err)
		}
		h.SetOutcome(strings.SplitN(spec.nvr, "-", 2)[0], kojihub.Outcome{Result: spec.out})
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
	failed, err := c.Build(ctx, koji.BuildRequest{Source: scmOf(t, h, "zlib"), Target: "eln"})
	if err != nil {
		t.Fatal(err)
	}
	waitFinished(t, h, failed)
	hanging, err := c.Build(ctx, koji.BuildRequest{Source: scmOf(t, h, "bash"), Target: "eln"})
	if err != nil {
		t.Fatal(err)
	}
	spare, err := c.CreateSideTag(ctx, "eln-build")
	if err != nil {
		t.Fatal(err)
	}
	// An expired session of another user (13).
	releng := h.NewClient(t, "releng")
	if _, err := releng.GetLoggedInUser(ctx); err != nil {
		t.Fatal(err)
	}
	expired := releng.Session()
	h.ExpireSessions("releng")

	sess := c.Session()
	common := []string{"eln-build-side-112240", st.Name, "2741190", fmt.Sprint(bid), "135790500", fmt.Sprint(task)}
	for _, tc := range []struct {
		name    string
		replace []string      // old, new pairs for the request (default: common)
		write   bool          // send the bot's session headers
		as      *koji.Session // send these session headers instead
	}{
		{name: "01-getAPIVersion"},
		{name: "02-getBuildTarget"},
		{name: "03-getBuild-strict"},
		{name: "04-listTagged-latest-inherit"},
		{name: "05-createSideTag", write: true},
		{name: "06-build-opts-priority", write: true},
		{name: "07-getTaskInfo-request"},
		{name: "08-getTaskResult-fault", replace: []string{"135790500", fmt.Sprint(failed)}},
		{name: "09-cancelTask-recurse", replace: []string{"135790500", fmt.Sprint(hanging)}, write: true},
		{name: "10-getRepo"},
		{name: "11-removeSideTag", replace: []string{"eln-build-side-112240", spare.Name}, write: true},
		{name: "12-listBuilds-taskID", replace: []string{"135790500", fmt.Sprint(mustBuild(t, h, "python-requests-2.32.4-2.fc45").TaskID())}},
		{name: "13-fault-authexpired", as: expired},
		{name: "14-bigint-i8"},
		{name: "15-multicall-tagBuild-mixed", write: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pairs := tc.replace
			if pairs == nil {
				pairs = common
			}
			req := strings.NewReplacer(pairs...).Replace(string(golden(t, "koji-wire", tc.name+".request.xml")))
			r, _ := http.NewRequest("POST", h.URL(), strings.NewReader(req))
			r.Header.Set("Content-Type", "text/xml")
			as := tc.as
			if tc.write {
				as = sess
			}
			if as != nil {
				// The session's headers, callnum omitted.
				r.Header.Set("Koji-Session-Id", fmt.Sprint(as.ID))
				r.Header.Set("Koji-Session-Key", as.Key)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ref := golden(t, "koji-wire", tc.name+".response.xml")
			want := memberNames(ref)
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
			// Every value the reference has is of the same XML-RPC type.
			wantTypes, gotTypes := valueTypes(t, ref), valueTypes(t, body)
			for _, path := range slices.Sorted(maps.Keys(wantTypes)) {
				if w, g := wantTypes[path], gotTypes[path]; !sameTypes(path, w, g) {
					t.Errorf("%s: type %v, reference %v", path, g, w)
				}
			}
			v, err := wire.DecodeResponse(body)
			var wantFault *wire.Fault
			if _, ferr := wire.DecodeResponse(ref); errors.As(ferr, &wantFault) {
				var f *wire.Fault
				if !errors.As(err, &f) || f.Code != wantFault.Code {
					t.Fatalf("answer %v %v, want fault %d", v, err, wantFault.Code)
				}
			} else if err != nil {
				t.Fatalf("decode: %v", err)
			}
		})
	}
}

// valueTypes maps each value of an XML-RPC response (or fault) to its type
// tags, by path: "" the top value, ".name" a struct member, "[]" the
// elements of an array (all merged). The integer tags int, i4 and i8 are
// one type ("int": which one is written depends on the magnitude); a value
// without a type element is a string.
func valueTypes(t *testing.T, body []byte) map[string][]string {
	t.Helper()
	type node struct {
		XMLName xml.Name
		Text    string `xml:",chardata"`
		Nodes   []node `xml:",any"`
	}
	var root node
	if err := xml.Unmarshal(body, &root); err != nil {
		t.Fatalf("unparsable body: %v\n%s", err, body)
	}
	child := func(n node, name string) (node, bool) {
		for _, c := range n.Nodes {
			if c.XMLName.Local == name {
				return c, true
			}
		}
		return node{}, false
	}
	out := map[string][]string{}
	add := func(path, typ string) {
		if !slices.Contains(out[path], typ) {
			out[path] = append(out[path], typ)
			slices.Sort(out[path])
		}
	}
	var walk func(v node, path string)
	walk = func(v node, path string) {
		if len(v.Nodes) == 0 {
			add(path, "string")
			return
		}
		typ := v.Nodes[0]
		switch typ.XMLName.Local {
		case "struct":
			add(path, "struct")
			for _, m := range typ.Nodes {
				name, _ := child(m, "name")
				val, ok := child(m, "value")
				if !ok {
					t.Fatalf("member without a value at %s", path)
				}
				walk(val, path+"."+name.Text)
			}
		case "array":
			add(path, "array")
			data, _ := child(typ, "data")
			for _, e := range data.Nodes {
				walk(e, path+"[]")
			}
		case "i4", "i8", "int":
			add(path, "int")
		default:
			add(path, typ.XMLName.Local)
		}
	}
	top := root
	for _, step := range []string{"params", "param", "value"} {
		if n, ok := child(top, step); ok {
			top = n
		}
	}
	if f, ok := child(root, "fault"); ok {
		top, _ = child(f, "value")
	}
	walk(top, "")
	return out
}

// nullable are members whose nil-ness depends on the state of the object:
// Koji's waiting/awaited are NULL until a task waits or is awaited, so the
// reference's nil and the simulator's boolean are both right.
var nullable = []string{".waiting", ".awaited"}

// sameTypes reports whether got matches the reference's types at path.
func sameTypes(path string, want, got []string) bool {
	if slices.Equal(want, got) {
		return true
	}
	if !slices.Contains(nullable, path) {
		return false
	}
	strip := func(ts []string) []string {
		return slices.DeleteFunc(slices.Clone(ts), func(s string) bool { return s == "nil" })
	}
	w, g := strip(want), strip(got)
	return len(w) == 0 || len(g) == 0 || slices.Equal(w, g)
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
			// The nested task and its children have the reference's keys
			// too, at every level. The build opts in request[2] are the
			// caller's own struct, echoed: their keys are not the hub's.
			callers := func(p string) bool { return strings.Contains(p, "request[].") }
			got := slices.DeleteFunc(keyPaths(t, m.Body), callers)
			want := slices.DeleteFunc(keyPaths(t, golden(t, "samples", topic+".json")), callers)
			if !slices.Equal(got, want) {
				t.Errorf("nested keys\n got  %v\n want %v\n missing %v\n extra %v", got, want, minus(want, got), minus(got, want))
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

// keyPaths lists the key paths of a JSON body at every depth ("task.id",
// "task.children[].result.srpm"), the elements of an array merged.
func keyPaths(t *testing.T, body []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				p := strings.TrimPrefix(path+"."+k, ".")
				set[p] = true
				walk(e, p)
			}
		case []any:
			for _, e := range x {
				walk(e, path+"[]")
			}
		}
	}
	walk(v, "")
	return slices.Sorted(maps.Keys(set))
}

// minus is a without the elements of b.
func minus(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	return out
}
