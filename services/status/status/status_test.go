package status_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/store/pgtest"
	"github.com/fedora-eln/ebs/libs/store/storetest"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/status/status/statustest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func dial(t *testing.T, addr string) ebsv1.StatusServiceClient {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return ebsv1.NewStatusServiceClient(cc)
}

type httpResp struct {
	code   int
	body   string
	header http.Header
}

func request(t *testing.T, method, url string, body string, header map[string]string) httpResp {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }, Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return httpResp{resp.StatusCode, string(b), resp.Header}
}

func TestGRPCService(t *testing.T) {
	t.Parallel()
	env := statustest.Start(t, statustest.Options{Seed: true})
	ctx := context.Background()
	c := dial(t, env.Server.GRPCAddr)

	st, err := c.GetStatus(ctx, &ebsv1.GetStatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Running.GetBatchId() != storetest.RunningBatch || st.Running.GetPhase() != ebsv1.BatchPhase_BATCH_PHASE_BUILDING {
		t.Errorf("running = %v", st.Running)
	}
	if st.LastCompleted.GetBatchId() != storetest.FinishedBatch || st.Denylisted != 1 || st.DeadLetters != 1 || st.AuthEnabled {
		t.Errorf("status = last %v denylisted %d dead %d auth %v", st.LastCompleted, st.Denylisted, st.DeadLetters, st.AuthEnabled)
	}
	if len(st.Pending) != 2 || st.Pending[0].Request.Component != "kernel" || st.Pending[0].Position != 1 ||
		st.Pending[1].Request.Component != "bash" || st.Pending[1].Position != 2 {
		t.Errorf("pending = %v", st.Pending)
	}
	if d := st.RunningDetail; d == nil || len(d.Slices) != 3 || len(d.Packages) != 6 ||
		!strings.HasSuffix(d.Slices[2].Attempts[0].Tasks[0].TaskUrl, "/taskinfo?taskID=7003") {
		t.Errorf("running detail = %v", st.RunningDetail)
	}
	if len(st.Recent) != 2 || len(st.RecentFailures) != 1 {
		t.Errorf("recent %d failures %d", len(st.Recent), len(st.RecentFailures))
	}

	page, err := c.ListBatches(ctx, &ebsv1.ListBatchesRequest{PageSize: 1})
	if err != nil || len(page.Batches) != 1 || page.NextPageToken == "" {
		t.Fatalf("list page 1: %v %v", page, err)
	}
	page2, err := c.ListBatches(ctx, &ebsv1.ListBatchesRequest{PageSize: 1, PageToken: page.NextPageToken})
	if err != nil || len(page2.Batches) != 1 || page2.Batches[0].BatchId != storetest.FinishedBatch {
		t.Fatalf("list page 2: %v %v", page2, err)
	}
	b, err := c.GetBatch(ctx, &ebsv1.GetBatchRequest{BatchId: storetest.FinishedBatch})
	if err != nil || len(b.Updates) != 1 || b.Summary.Result != ebsv1.BatchResult_BATCH_RESULT_PARTIAL || len(b.SideTags) != 1 {
		t.Fatalf("get batch: %v %v", b, err)
	}
	h, err := c.GetPackageHistory(ctx, &ebsv1.GetPackageHistoryRequest{Component: "python-broken"})
	if err != nil || h.Latest.GetState() != ebsv1.PackageState_PACKAGE_STATE_FAILED || len(h.Entries) < 6 {
		t.Fatalf("history: %v %v", h, err)
	}
	var sawTaskURL bool
	for _, e := range h.Entries {
		if strings.Contains(e.Url, "/taskinfo?taskID=500") {
			sawTaskURL = true
		}
	}
	if !sawTaskURL {
		t.Error("history has no Koji task links")
	}
	hk, err := c.GetPackageHistory(ctx, &ebsv1.GetPackageHistoryRequest{Component: "kernel"})
	if err != nil || hk.Pending.GetPosition() != 1 {
		t.Errorf("kernel pending in history: %v %v", hk, err)
	}
	sp, err := c.SearchPackages(ctx, &ebsv1.SearchPackagesRequest{Query: "rust"})
	if err != nil || len(sp.Packages) != 1 || sp.Packages[0].Component != "rust-serde" {
		t.Errorf("search: %v %v", sp, err)
	}
	dl, err := c.ListDenylist(ctx, &ebsv1.ListDenylistRequest{})
	if err != nil || len(dl.Entries) != 1 || dl.Entries[0].ScmUrl != storetest.FailingSCM {
		t.Errorf("denylist: %v %v", dl, err)
	}
	dead, err := c.ListDeadLetters(ctx, &ebsv1.ListDeadLettersRequest{})
	if err != nil || len(dead.DeadLetters) != 1 {
		t.Errorf("dead letters: %v %v", dead, err)
	}

	// Error codes.
	for _, tt := range []struct {
		name string
		call func() error
		want codes.Code
	}{
		{"unknown batch", func() error { _, err := c.GetBatch(ctx, &ebsv1.GetBatchRequest{BatchId: "nope"}); return err }, codes.NotFound},
		{"empty batch id", func() error { _, err := c.GetBatch(ctx, &ebsv1.GetBatchRequest{}); return err }, codes.InvalidArgument},
		{"bad page token", func() error {
			_, err := c.ListBatches(ctx, &ebsv1.ListBatchesRequest{PageToken: "!!"})
			return err
		}, codes.InvalidArgument},
		{"negative page size", func() error {
			_, err := c.ListDeadLetters(ctx, &ebsv1.ListDeadLettersRequest{PageSize: -1})
			return err
		}, codes.InvalidArgument},
		{"unknown package", func() error {
			_, err := c.GetPackageHistory(ctx, &ebsv1.GetPackageHistoryRequest{Component: "no-such-pkg"})
			return err
		}, codes.NotFound},
		{"empty component", func() error { _, err := c.GetPackageHistory(ctx, &ebsv1.GetPackageHistoryRequest{}); return err }, codes.InvalidArgument},
		{"trigger nothing", func() error { _, err := c.TriggerRebuild(ctx, &ebsv1.TriggerRebuildRequest{}); return err }, codes.InvalidArgument},
		{"trigger bad name", func() error {
			_, err := c.TriggerRebuild(ctx, &ebsv1.TriggerRebuildRequest{Components: []string{"a b"}})
			return err
		}, codes.InvalidArgument},
	} {
		if got := status.Code(tt.call()); got != tt.want {
			t.Errorf("%s: code %v, want %v", tt.name, got, tt.want)
		}
	}

	// Trigger publishes one ManualRebuild for the filter.
	tr, err := c.TriggerRebuild(ctx, &ebsv1.TriggerRebuildRequest{Components: []string{"zlib", "bash", "zlib"}})
	if err != nil || len(tr.Components) != 2 || tr.Components[0] != "bash" || tr.RequestedBy != "anonymous" {
		t.Fatalf("trigger: %v %v", tr, err)
	}
	stream, err := env.Conn.JS.Stream(ctx, natsx.StreamEBS)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := stream.GetLastMsgForSubject(ctx, natsx.SubjectRebuildManual)
	if err != nil {
		t.Fatal(err)
	}
	var mr ebsv1.ManualRebuild
	if err := proto.Unmarshal(raw.Data, &mr); err != nil || mr.ManualId != tr.ManualId || len(mr.Components) != 2 ||
		raw.Header.Get(natsx.HeaderType) != "ebs.v1.ManualRebuild" {
		t.Fatalf("published manual rebuild: %v %v", &mr, err)
	}

	// Pause and resume are persisted in ebs_control.
	if _, err := c.Pause(ctx, &ebsv1.PauseRequest{Reason: "F46 branching"}); err != nil {
		t.Fatal(err)
	}
	kv, _ := env.Conn.KV(ctx, natsx.BucketControl)
	ctl := natsx.NewProtoKV(kv, func() *ebsv1.ControlState { return new(ebsv1.ControlState) })
	cs, _, err := ctl.Get(ctx, natsx.KeyPause)
	if err != nil || !cs.Paused || cs.Reason != "F46 branching" || cs.ChangedBy != "anonymous" {
		t.Fatalf("pause in KV: %v %v", cs, err)
	}
	if st, _ := c.GetStatus(ctx, &ebsv1.GetStatusRequest{}); !st.Paused || st.PauseSource != "runtime" {
		t.Errorf("status after pause: %v %q", st.Paused, st.PauseSource)
	}
	if _, err := c.Resume(ctx, &ebsv1.ResumeRequest{}); err != nil {
		t.Fatal(err)
	}
	if cs, _, _ := ctl.Get(ctx, natsx.KeyPause); cs.Paused {
		t.Fatal("resume did not clear the pause")
	}

	// Health and reflection are served.
	cc, _ := grpc.NewClient("passthrough:///"+env.Server.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	defer cc.Close()
	hr, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: "ebs.v1.StatusService"})
	if err != nil || hr.Status != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health: %v %v", hr, err)
	}
	// Reflection (what grpcurl uses) lists the service and serves its
	// descriptor.
	rs, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: "*"}}); err != nil {
		t.Fatal(err)
	}
	lr, err := rs.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var services []string
	for _, sv := range lr.GetListServicesResponse().GetService() {
		services = append(services, sv.GetName())
	}
	if !slices.Contains(services, ebsv1.StatusService_ServiceDesc.ServiceName) || !slices.Contains(services, "grpc.health.v1.Health") {
		t.Errorf("reflection lists %v, want ebs.v1.StatusService and grpc.health.v1.Health", services)
	}
	if err := rs.Send(&reflectionpb.ServerReflectionRequest{
		MessageRequest: &reflectionpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "ebs.v1.StatusService"}}); err != nil {
		t.Fatal(err)
	}
	fr, err := rs.Recv()
	if err != nil || len(fr.GetFileDescriptorResponse().GetFileDescriptorProto()) == 0 {
		t.Errorf("descriptor of ebs.v1.StatusService: %v %v", fr, err)
	}
	_ = rs.CloseSend()
}

func TestWatchBatchEvents(t *testing.T) {
	t.Parallel()
	env := statustest.Start(t, statustest.Options{Seed: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := dial(t, env.Server.GRPCAddr)
	ws, err := c.WatchBatchEvents(ctx, &ebsv1.WatchBatchEventsRequest{SinceSequence: 1})
	if err != nil {
		t.Fatal(err)
	}
	first, err := ws.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if first.GetStarted().GetBatchId() != storetest.FinishedBatch || !strings.HasPrefix(first.Subject, "ebs.batch.") {
		t.Fatalf("first event = %v", first)
	}
	// A live one arrives too.
	live, err := c.WatchBatchEvents(ctx, &ebsv1.WatchBatchEventsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	// The headers come once the server has subscribed: no sleep needed.
	if md, err := live.Header(); err != nil || len(md.Get("ebs-watch")) == 0 {
		t.Fatalf("watch headers %v %v, want ebs-watch", md, err)
	}
	env.Publish(t, storetest.Msg{Subject: natsx.SubjectBatchPhase, ID: "live-phase", Msg: &ebsv1.BatchPhaseChanged{
		BatchId: storetest.RunningBatch, Phase: ebsv1.BatchPhase_BATCH_PHASE_COLLECTING}})
	ev, err := live.Recv()
	if err != nil || ev.GetPhaseChanged().GetPhase() != ebsv1.BatchPhase_BATCH_PHASE_COLLECTING {
		t.Fatalf("live event = %v %v", ev, err)
	}
}

func TestGatewayMapping(t *testing.T) {
	t.Parallel()
	env := statustest.Start(t, statustest.Options{Seed: true})
	base := env.HTTPURL()
	r := request(t, "GET", base+"/v1/status", "", nil)
	var st map[string]any
	if r.code != 200 || json.Unmarshal([]byte(r.body), &st) != nil {
		t.Fatalf("/v1/status: %d %.200s", r.code, r.body)
	}
	if st["running"].(map[string]any)["batchId"] != storetest.RunningBatch || r.header.Get("Cache-Control") != "no-cache" {
		t.Errorf("/v1/status running = %v, cache %q", st["running"], r.header.Get("Cache-Control"))
	}
	for _, tt := range []struct {
		method, path, body string
		want               int
		contains           string
	}{
		{"GET", "/v1/batches?pageSize=1", "", 200, storetest.RunningBatch},
		{"GET", "/v1/batches/" + storetest.FinishedBatch, "", 200, "FEDORA-2026-abc123"},
		{"GET", "/v1/batches/nope", "", 404, "no batch"},
		{"GET", "/v1/batches?pageToken=%21%21", "", 400, "page token"},
		{"GET", "/v1/packages/zlib/history", "", 200, "superseded"},
		{"GET", "/v1/packages/unknown-thing/history", "", 404, "no record"},
		{"GET", "/v1/packages?query=gc", "", 200, "gcc"},
		{"GET", "/v1/denylist", "", 200, "python-broken"},
		{"GET", "/v1/deadletters", "", 200, "FEDMSG-77"},
		{"POST", "/v1/rebuilds", `{"components":[]}`, 400, "at least one"},
		{"POST", "/v1/rebuilds", `{"components":["vim"]}`, 200, "manual-"},
		{"POST", "/v1/control/pause", `{"reason":"test"}`, 200, "test"},
		{"POST", "/v1/control/resume", `{}`, 200, "control"},
		{"GET", "/v1/nothing-here", "", 404, ""},
		{"POST", "/v1/denylist:remove", `{}`, 400, "scm_url is required"},
		{"POST", "/v1/denylist:remove", `{"scmUrl":"git+https://src.fedoraproject.org/rpms/never.git#1"}`, 404, "not denylisted"},
		{"POST", "/v1/denylist:remove", `{"scmUrl":"` + storetest.FailingSCM + `"}`, 200, `"removedBy":"anonymous"`},
		{"POST", "/v1/denylist:remove", `{"scmUrl":"` + storetest.FailingSCM + `"}`, 404, "not denylisted"},
	} {
		r := request(t, tt.method, base+tt.path, tt.body, map[string]string{"Content-Type": "application/json"})
		if r.code != tt.want || !strings.Contains(r.body, tt.contains) {
			t.Errorf("%s %s: %d %.300s; want %d containing %q", tt.method, tt.path, r.code, r.body, tt.want, tt.contains)
		}
	}
	if r := request(t, "GET", base+"/v1/denylist", "", nil); r.code != 200 || strings.Contains(r.body, "python-broken") {
		t.Errorf("denylist after removal: %d %.300s", r.code, r.body)
	}

	// /v1/events streams WatchBatchEvents as newline-delimited JSON.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/events?sinceSequence=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadBytes('\n')
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("/v1/events: %d %q %v", resp.StatusCode, line, err)
	}
	var ev struct {
		Result struct {
			Sequence string `json:"sequence"`
			Subject  string `json:"subject"`
			Started  struct {
				BatchID string `json:"batchId"`
			} `json:"started"`
		} `json:"result"`
	}
	if err := json.Unmarshal(line, &ev); err != nil || ev.Result.Subject != natsx.SubjectBatchStarted ||
		ev.Result.Started.BatchID != storetest.FinishedBatch || ev.Result.Sequence == "" {
		t.Fatalf("/v1/events first line %s (%v)", line, err)
	}
}

// TestEventsStreamLive is what the status page relies on: /v1/events
// answers 200 with its headers before any event (so the page knows it is
// live, and nothing published afterwards is missed), and an event arrives
// only once the status shows its effect (so the page's refresh on it reads
// the new state).
func TestEventsStreamLive(t *testing.T) {
	t.Parallel()
	env := statustest.Start(t, statustest.Options{Seed: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", env.HTTPURL()+"/v1/events", nil)
	resp, err := http.DefaultClient.Do(req) // returns with the headers: no event is published yet
	if err != nil {
		t.Fatalf("/v1/events before any event: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Grpc-Metadata-Ebs-Watch") != "subscribed" {
		t.Fatalf("/v1/events: %d %v", resp.StatusCode, resp.Header)
	}
	lines := bufio.NewReader(resp.Body)
	for _, phase := range []ebsv1.BatchPhase{ebsv1.BatchPhase_BATCH_PHASE_COLLECTING, ebsv1.BatchPhase_BATCH_PHASE_PROMOTING} {
		env.Publish(t, storetest.Msg{Subject: natsx.SubjectBatchPhase, ID: "live-" + phase.String(), Msg: &ebsv1.BatchPhaseChanged{
			BatchId: storetest.RunningBatch, Phase: phase, At: timestamppb.Now()}})
		line, err := lines.ReadBytes('\n')
		if err != nil {
			t.Fatalf("/v1/events: %v", err)
		}
		var ev struct {
			Result struct {
				PhaseChanged struct {
					Phase string `json:"phase"`
				} `json:"phaseChanged"`
			} `json:"result"`
		}
		if err := json.Unmarshal(line, &ev); err != nil || ev.Result.PhaseChanged.Phase != phase.String() {
			t.Fatalf("/v1/events line %s (%v), want phase %s", line, err, phase)
		}
		// Read right after the event, as the page does.
		r := request(t, "GET", env.HTTPURL()+"/v1/status", "", nil)
		var st struct {
			Running struct {
				Phase string `json:"phase"`
			} `json:"running"`
		}
		if err := json.Unmarshal([]byte(r.body), &st); err != nil || st.Running.Phase != phase.String() {
			t.Errorf("/v1/status right after the %s event: running phase %q (%v)", phase, st.Running.Phase, err)
		}
	}
	// Stopping the service ends the stream cleanly, without an error line
	// (the page reconnects): shutdown does not wait for open pages until
	// its deadline and then cut them off.
	if err := env.Server.Stop(); err != nil {
		t.Fatal(err)
	}
	if rest, err := io.ReadAll(lines); err != nil || len(rest) != 0 {
		t.Errorf("/v1/events after Stop: %q %v, want a clean end", rest, err)
	}
}

func TestCompatibleEndpoints(t *testing.T) {
	t.Parallel()
	koji := &fakeKoji{
		tagged: []statusKojiBuild{{"name": "zlib", "nvr": "zlib-1.3.1-2.eln150"}},
		mine: []statusKojiBuild{{"name": "zlib", "nvr": "zlib-1.3.1-2.eln150", "version": "1.3.1", "release": "2.eln150",
			"state": int64(1), "task_id": int64(5001), "build_id": int64(2001), "start_ts": 1.7e9}},
	}
	env := statustest.Start(t, statustest.Options{Seed: true, Config: configWithKoji(koji)})
	base := env.HTTPURL()
	for _, tt := range []struct {
		method, path, body, ctype string
		want                      int
		contains, location        string
	}{
		{"GET", "/alive", "", "", 200, "alive", ""},
		{"GET", "/startup", "", "", 200, "started", ""},
		{"GET", "/", "", "", 307, "", "/status.html"},
		{"GET", "/status", "", "", 307, "", "/status.html"},
		{"GET", "/status.html", "", "", 200, "Authentication is disabled", ""},
		{"GET", "/static/status.js", "", "", 200, "renderStatus", ""},
		{"GET", "/login", "", "", 404, "", ""},
		{"GET", "/trigger", "", "", 200, "POST a JSON array", ""},
		{"POST", "/trigger", `["zlib"]`, "text/plain", 415, "", ""},
		{"POST", "/trigger", `["zlib"`, "application/json", 400, "not valid JSON", ""},
		{"POST", "/trigger", `{"a":1}`, "application/json", 400, "array", ""},
		{"POST", "/trigger", `["zlib", 3]`, "application/json", 400, "string", ""},
		{"POST", "/trigger", `["zlib", "bash"]`, "application/json; charset=utf-8", 200, "User anonymous requesting builds of:\nbash\nzlib\n", ""},
		{"GET", "/control/pause", "", "", 200, "POST /control/pause", ""},
		{"POST", "/control/pause", "", "", 200, "paused by anonymous", ""},
		{"POST", "/control/unpause", "", "", 200, "cleared", ""},
		{"POST", "/control/explode", "", "", 404, "", ""},
		{"GET", "/metrics", "", "", 200, "ebs_status_events_total", ""},
	} {
		h := map[string]string{}
		if tt.ctype != "" {
			h["Content-Type"] = tt.ctype
		}
		r := request(t, tt.method, base+tt.path, tt.body, h)
		if r.code != tt.want || !strings.Contains(r.body, tt.contains) || (tt.location != "" && r.header.Get("Location") != tt.location) {
			t.Errorf("%s %s: %d %q (Location %q); want %d containing %q", tt.method, tt.path, r.code, trim(r.body), r.header.Get("Location"), tt.want, tt.contains)
		}
		if r.header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s %s: Cache-Control %q", tt.method, tt.path, r.header.Get("Cache-Control"))
		}
	}
	// Metrics observed from the projected events.
	m := request(t, "GET", base+"/metrics", "", nil).body
	for _, want := range []string{
		`ebs_status_builds_total{state="built"} 1`, `ebs_status_builds_total{state="failed"} 1`,
		`ebs_status_dead_letters_total{service="filter"} 1`, `ebs_status_requests_total{kind="eligible"} 11`,
		`ebs_status_requests_total{kind="superseded"} 1`, `ebs_status_batches_completed_total{result="partial"} 1`,
		`ebs_status_koji_tasks_total{outcome="TASK_OUTCOME_FAILED"} 3`, `ebs_status_batch_duration_seconds_count 1`,
		`ebs_status_http_requests_total{code="415",route="/trigger"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// status.json is generated from Koji (eventually: the first run is async).
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := request(t, "GET", base+"/status.json", "", nil)
		if r.code == 200 {
			var doc map[string]any
			if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
				t.Fatal(err)
			}
			z, _ := doc["zlib"].(map[string]any)
			if z == nil && time.Now().Before(deadline) { // generated before the history was projected
				time.Sleep(100 * time.Millisecond)
				continue
			}
			if z["status"] != "SUCCESS" || z["tagged"] != "zlib-1.3.1-2.eln150" || !strings.HasSuffix(z["build_url"].(string), "taskID=5001") {
				t.Errorf("status.json zlib = %v", z)
			}
			if doc["__updated"] == nil || doc["kernel"] != nil {
				t.Errorf("status.json = %.300s", r.body)
			}
			break
		}
		if r.code != 503 || time.Now().After(deadline) {
			t.Fatalf("status.json: %d %q", r.code, r.body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func trim(s string) string {
	if len(s) > 200 {
		return s[:200]
	}
	return s
}

// Keep the imports used by helpers in other files of this package honest.
var _ = errors.Is
var _ = metadata.New
var _ = jetstream.ErrKeyNotFound
