package status_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/fedora-eln/ebs/libs/config"
	"github.com/fedora-eln/ebs/services/status/status"
)

type statusKojiBuild = status.KojiBuild

// fakeKoji answers status.json's four Koji reads from fixed data (the
// rules are what is under test here; libs/koji has its own wire tests).
type fakeKoji struct {
	tagged    []status.KojiBuild
	mine      []status.KojiBuild
	byPackage map[string][]status.KojiBuild
	tags      map[int64][]string
	err       error
}

func (f *fakeKoji) ListTagged(context.Context, string) ([]status.KojiBuild, error) {
	return f.tagged, f.err
}
func (f *fakeKoji) ListBuildsByUser(context.Context, string) ([]status.KojiBuild, error) {
	return f.mine, f.err
}
func (f *fakeKoji) ListBuildsByPackage(_ context.Context, n string) ([]status.KojiBuild, error) {
	return f.byPackage[n], f.err
}
func (f *fakeKoji) ListTags(_ context.Context, id int64) ([]string, error) { return f.tags[id], f.err }

func configWithKoji(k status.KojiReader) status.Config {
	return status.Config{Koji: k, Settings: &config.Config{Koji: config.Koji{StableTag: "eln", Username: "releng"},
		Control: config.Control{StatusInterval: 200 * time.Millisecond}}}
}

func b(name, version, release string, state int64, extra ...any) status.KojiBuild {
	m := status.KojiBuild{"name": name, "version": version, "release": release, "nvr": name + "-" + version + "-" + release,
		"state": state, "task_id": int64(100), "build_id": int64(len(name)), "start_ts": 1.7e9, "owner_name": "releng"}
	for i := 0; i+1 < len(extra); i += 2 {
		m[extra[i].(string)] = extra[i+1]
	}
	return m
}

func TestStatusJSONRules(t *testing.T) {
	t.Parallel()
	k := &fakeKoji{
		tagged: []status.KojiBuild{
			{"name": "same", "nvr": "same-1.0-1.eln150"},
			{"name": "fedora", "nvr": "fedora-2.0-1.fc45"},
			{"name": "newer", "nvr": "newer-1.10-1.eln150"},
			{"name": "signing", "nvr": "signing-0.9-1.eln150"},
			{"name": "complete", "nvr": "complete-0.9-1.eln150"},
			{"name": "failed", "nvr": "failed-0.9-1.eln150"},
			{"name": "canceled", "nvr": "canceled-0.9-1.eln150"},
			{"name": "deleted", "nvr": "deleted-0.9-1.eln150"},
			{"name": "frompkg", "nvr": "frompkg-1-1.eln150"},
		},
		mine: []status.KojiBuild{
			b("building", "1", "1.eln150", 0),
			b("same", "1.0", "1.eln150", 1),
			b("same", "0.9", "1.eln150", 1), // older: the first (newest) wins
			b("fedora", "2.0", "1.eln150", 1),
			b("newer", "1.9", "1.eln150", 1),
			b("signing", "1.0", "1.eln150", 1, "build_id", int64(77)),
			b("complete", "1.0", "1.eln150", 1, "build_id", int64(78)),
			b("failed", "1.0", "1.eln150", 3),
			b("canceled", "1.0", "1.eln150", 4),
			b("deleted", "1.0", "1.eln150", 2),
			b("untagged", "1.0", "1.eln150", 1),
			b("nostart", "1.0", "1.eln150", 1, "start_ts", nil),
		},
		byPackage: map[string][]status.KojiBuild{"frompkg": {b("frompkg", "0", "1.eln150", 3), b("frompkg", "1", "1.eln150", 1)}},
		tags:      map[int64][]string{77: {"eln-signing-pending"}, 78: {"eln-candidate"}},
	}
	var comps []status.Component
	for _, n := range []string{"building", "same", "fedora", "newer", "signing", "complete", "failed", "canceled", "deleted", "untagged", "frompkg", "nostart", "missing"} {
		comps = append(comps, status.Component{Name: n, View: "eln"})
	}
	at := time.Date(2026, 6, 10, 12, 0, 0, 123456000, time.UTC)
	raw, err := status.StatusJSON(context.Background(), k, comps, "eln", "releng", "https://koji.example/koji", at)
	if err != nil {
		t.Fatal(err)
	}
	// The document is json.Marshal's form of the whole map (sorted keys,
	// compact, HTML-escaped), however it is assembled.
	var canon map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&canon); err != nil {
		t.Fatal(err)
	}
	if again, _ := json.Marshal(canon); !bytes.Equal(again, raw) {
		t.Errorf("status.json is not in json.Marshal's form:\n%s\n%s", raw, again)
	}
	var doc map[string]map[string]any
	var top map[string]any
	_ = json.Unmarshal(raw, &top)
	if top["__updated"] != "2026-06-10 12:00:00.123456+00:00" {
		t.Errorf("__updated = %v", top["__updated"])
	}
	delete(top, "__updated")
	b2, _ := json.Marshal(top)
	_ = json.Unmarshal(b2, &doc)
	want := map[string][2]string{
		"building": {"Building", ""},
		"same":     {"SUCCESS", ""},
		"fedora":   {"FAILED", "Fedora build in tag"},
		"newer":    {"SUCCESS", "Built by another user"},
		"signing":  {"SIGNING", "Build awaiting signing"},
		"complete": {"UNKNOWN", "Build completed but not tagged"},
		"failed":   {"FAILED", "Build failed"},
		"canceled": {"FAILED", "Build cancelled"},
		"deleted":  {"UNKNOWN", "Build state unknown"},
		"untagged": {"FAILED", "Build is not tagged"},
		"frompkg":  {"SUCCESS", ""},
	}
	for name, w := range want {
		got := doc[name]
		if got == nil || got["status"] != w[0] || (w[1] != "" && got["status_detail"] != w[1]) {
			t.Errorf("%s: %v / %v, want %v", name, got["status"], got["status_detail"], w)
		}
	}
	if doc["same"]["nvr"] != "same-1.0-1.eln150" || doc["same"]["view"] != "eln" || doc["same"]["owner_name"] != "releng" ||
		doc["same"]["build_url"] != "https://koji.example/koji/taskinfo?taskID=100" || doc["untagged"]["tagged"] != "UNKNOWN" {
		t.Errorf("same = %v; untagged = %v", doc["same"], doc["untagged"])
	}
	if _, ok := top["missing"]; !ok || top["missing"] != nil || top["nostart"] != nil {
		t.Errorf("missing/nostart should be null: %v %v", top["missing"], top["nostart"])
	}

	k.err = errors.New("koji down")
	if _, err := status.StatusJSON(context.Background(), k, comps, "eln", "releng", "", at); err == nil {
		t.Error("a Koji error must fail the run (the previous document stays)")
	}
}
