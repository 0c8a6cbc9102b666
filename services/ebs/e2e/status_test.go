//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// checkStatusAPI asserts that the status service answers "what happened to
// package X" over gRPC and HTTP/JSON with the outcome BatchCompleted carried.
func (s *System) checkStatusAPI(ctx context.Context, outcomes map[string]*ebsv1.PackageOutcome, components ...string) {
	t := s.t
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+s.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := ebsv1.NewStatusServiceClient(conn)
	for _, c := range components {
		want := outcomes[c]
		if want == nil {
			t.Fatalf("no outcome for %s in BatchCompleted", c)
		}
		// The projection is asynchronous: wait for the batch to be in it.
		var got *ebsv1.GetPackageHistoryResponse
		deadline := time.Now().Add(time.Minute)
		for {
			got, err = client.GetPackageHistory(ctx, &ebsv1.GetPackageHistoryRequest{Component: c})
			if err == nil && got.GetLatest().GetState() == want.GetState() && got.GetLatest().GetNvr() == want.GetNvr() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("gRPC GetPackageHistory(%s): latest %v (err %v), want state %s nvr %q", c, got.GetLatest(), err, want.GetState(), want.GetNvr())
			}
			time.Sleep(200 * time.Millisecond)
		}
		if len(got.GetEntries()) == 0 {
			t.Errorf("gRPC GetPackageHistory(%s): no history entries", c)
		}
		kinds := map[string]bool{}
		for _, e := range got.GetEntries() {
			kinds[e.GetKind()] = true
		}
		if !kinds["requested"] {
			t.Errorf("%s history lacks its request: %v", c, kinds)
		}
		if got.GetLatest().GetAttempts() != want.GetAttempts() || got.GetLatest().GetDenylisted() != want.GetDenylisted() ||
			got.GetLatest().GetBodhiUpdateAlias() != want.GetBodhiUpdateAlias() {
			t.Errorf("gRPC %s latest %v, want %v", c, got.GetLatest(), want)
		}

		// The same over the HTTP/JSON gateway.
		resp, err := http.Get(fmt.Sprintf("http://%s/v1/packages/%s/history", s.HTTPAddr, c))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /v1/packages/%s/history: %s\n%s", c, resp.Status, body)
		}
		var viaHTTP ebsv1.GetPackageHistoryResponse
		if err := protojson.Unmarshal(body, &viaHTTP); err != nil {
			t.Fatalf("GET /v1/packages/%s/history: %v\n%s", c, err, body)
		}
		if !proto.Equal(viaHTTP.GetLatest(), got.GetLatest()) || len(viaHTTP.GetEntries()) < len(got.GetEntries()) {
			t.Errorf("HTTP and gRPC disagree about %s:\nHTTP %v\ngRPC %v", c, viaHTTP.GetLatest(), got.GetLatest())
		}
	}
}

// checkDatabase asserts the status service's PostgreSQL rows: the batch,
// one package row per outcome, every request completed.
func (s *System) checkDatabase(ctx context.Context, bc *ebsv1.BatchCompleted) {
	t := s.t
	t.Helper()
	db, err := pgx.Connect(ctx, s.DBURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	deadline := time.Now().Add(time.Minute)
	for {
		var completed *time.Time
		var result int32
		err := db.QueryRow(ctx, `SELECT completed_at, result FROM batches WHERE batch_id = $1`, bc.GetBatchId()).Scan(&completed, &result)
		if err == nil && completed != nil {
			if ebsv1.BatchResult(result) != bc.GetResult() {
				t.Errorf("batches row result %s, event %s", ebsv1.BatchResult(result), bc.GetResult())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no completed batches row for %s (err %v)", bc.GetBatchId(), err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, o := range bc.GetOutcomes() {
		var state, attempts int32
		var nvr, alias string
		var denylisted, final bool
		err := db.QueryRow(ctx, `SELECT state, attempts, nvr, bodhi_update_alias, denylisted, final FROM batch_packages
			WHERE batch_id = $1 AND component = $2`, bc.GetBatchId(), o.GetComponent()).Scan(&state, &attempts, &nvr, &alias, &denylisted, &final)
		if err != nil {
			t.Errorf("batch_packages %s: %v", o.GetComponent(), err)
			continue
		}
		if ebsv1.PackageState(state) != o.GetState() || attempts != o.GetAttempts() || nvr != o.GetNvr() ||
			alias != o.GetBodhiUpdateAlias() || denylisted != o.GetDenylisted() || !final {
			t.Errorf("batch_packages %s: state %s attempts %d nvr %q update %q denylisted %v final %v; event: %v",
				o.GetComponent(), ebsv1.PackageState(state), attempts, nvr, alias, denylisted, final, o)
		}
		var reqState string
		err = db.QueryRow(ctx, `SELECT state FROM requests WHERE request_id = $1`, o.GetRequestId()).Scan(&reqState)
		if err != nil || reqState != "completed" {
			t.Errorf("request %s of %s: state %q (%v), want completed", o.GetRequestId(), o.GetComponent(), reqState, err)
		}
	}
	var open int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM requests WHERE state IN ('pending', 'batched')`).Scan(&open); err != nil {
		t.Fatal(err)
	}
	if open != 0 {
		rows, _ := db.Query(ctx, `SELECT request_id, component, state FROM requests WHERE state IN ('pending', 'batched')`)
		list, _ := pgx.CollectRows(rows, pgx.RowToMap)
		b, _ := json.Marshal(list)
		t.Errorf("%d requests still open after the batch: %s", open, b)
	}
}
