package store_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/fedora-eln/ebs/libs/auth"
	"github.com/fedora-eln/ebs/libs/lifecycle"
	"github.com/fedora-eln/ebs/libs/natsx"
	"github.com/fedora-eln/ebs/libs/natsx/natstest"
	"github.com/fedora-eln/ebs/libs/store"
	"github.com/fedora-eln/ebs/libs/store/pgtest"
	"github.com/fedora-eln/ebs/libs/store/storetest"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t *testing.T) *store.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := store.Open(ctx, pgtest.NewDatabase(t), store.Options{Logger: lifecycle.Discard()})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

func tables(t *testing.T, s *store.Store) []string {
	t.Helper()
	rows, err := s.Pool.Query(context.Background(), `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

func TestMigrationsUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := store.Open(ctx, pgtest.NewDatabase(t), store.Options{Logger: lifecycle.Discard(), SkipMigrations: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	v, err := s.Migrate(ctx)
	if err != nil || v != 2 {
		t.Fatalf("migrate up: version %d, %v; want 2", v, err)
	}
	got := tables(t, s)
	for _, want := range append(slices.Clone(store.ProjectionTables), "sessions", "login_states", "mails_sent") {
		if !slices.Contains(got, want) {
			t.Errorf("table %s missing after up; have %v", want, got)
		}
	}
	if err := s.MigrateDown(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if got := tables(t, s); slices.Contains(got, "sessions") || !slices.Contains(got, "batches") {
		t.Fatalf("down to 1 should drop only the auth tables; have %v", got)
	}
	if err := s.MigrateDown(ctx, 0); err != nil {
		t.Fatal(err)
	}
	for _, n := range tables(t, s) {
		if n != "goose_db_version" {
			t.Fatalf("table %s left after down to 0", n)
		}
	}
	if v, err := s.Migrate(ctx); err != nil || v != 2 {
		t.Fatalf("migrate up again: %d, %v", v, err)
	}
	// Idempotent: a second Open migrates nothing and keeps the version.
	if v, err := s.Migrate(ctx); err != nil || v != 2 {
		t.Fatalf("migrate twice: %d, %v", v, err)
	}
}

func TestEnsureDatabaseCreatesMissing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	// Drop it so EnsureDatabase has to create it again.
	name := url[strings.LastIndex(url, "/")+1:]
	if i := strings.Index(name, "?"); i >= 0 {
		name = name[:i]
	}
	if err := pgtest.Drop(ctx, name); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, url, store.Options{Logger: lifecycle.Discard(), CreateDatabase: true})
	if err != nil {
		t.Fatalf("open with CreateDatabase: %v", err)
	}
	s.Close()
}

// snapshot dumps every projection table as sorted JSON text.
func snapshot(t *testing.T, s *store.Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, tb := range store.ProjectionTables {
		var j string
		err := s.Pool.QueryRow(context.Background(), `SELECT COALESCE(jsonb_agg(x ORDER BY x::text)::text, '[]')
			FROM (SELECT to_jsonb(t) - 'applied_at' AS x FROM `+tb+` t) s`).Scan(&j)
		if err != nil {
			t.Fatalf("snapshot %s: %v", tb, err)
		}
		out[tb] = j
	}
	return out
}

func countEvents(t *testing.T, s *store.Store) int {
	var n int
	if err := s.Pool.QueryRow(context.Background(), `SELECT count(*) FROM projected_events`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func waitEvents(t *testing.T, s *store.Store, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for countEvents(t, s) < n {
		if time.Now().After(deadline) {
			t.Fatalf("projection reached %d events, want %d", countEvents(t, s), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

var base = time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)

func scenario() []storetest.Msg {
	return append(storetest.FinishedBatchWithFailure(base.Add(-24*time.Hour)), storetest.BatchInProgress(base)...)
}

func TestProjectionConsumerAndReplay(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := open(t)
	srv := natstest.Start(t)
	conn := srv.Provisioned(t)
	msgs := scenario()
	if _, err := storetest.Publish(ctx, conn.JS, msgs); err != nil {
		t.Fatal(err)
	}
	// An unknown type and an undecodable body: skipped, never blocking.
	unknown := &nats.Msg{Subject: "ebs.future.thing", Data: []byte{1, 2, 3}, Header: nats.Header{}}
	unknown.Header.Set(natsx.HeaderType, "ebs.v9.FutureThing")
	unknown.Header.Set(nats.MsgIdHdr, "future-1")
	bad := &nats.Msg{Subject: natsx.SubjectBatchStarted, Data: []byte{0xff, 0xff, 0xff}, Header: nats.Header{}}
	bad.Header.Set(natsx.HeaderType, "ebs.v1.BatchStarted")
	bad.Header.Set(nats.MsgIdHdr, "bad-1")
	for _, m := range []*nats.Msg{unknown, bad} {
		if _, err := conn.JS.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// And one more real event after them, to prove they did not block.
	tail := storetest.Request("trigger-after-junk", "vim", "vim-9.1-1.fc45", 4000, 1000, nil)
	if _, err := storetest.Publish(ctx, conn.JS, []storetest.Msg{tail}); err != nil {
		t.Fatal(err)
	}
	var skipped []string
	run := func(ctx context.Context) {
		_ = s.Project(ctx, conn.JS, store.ProjectOptions{Logger: lifecycle.Discard(), OnEvent: func(ev store.Event, o store.Outcome, _ proto.Message, err error) {
			if o == store.Skipped {
				skipped = append(skipped, ev.ID)
			}
		}})
	}
	pctx, pcancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { run(pctx); close(done) }()
	waitEvents(t, s, len(msgs)+1)
	pcancel()
	<-done
	if !slices.Contains(skipped, "future-1") || !slices.Contains(skipped, "bad-1") {
		t.Fatalf("skipped %v, want future-1 and bad-1", skipped)
	}
	first := snapshot(t, s)

	checkProjection(t, s)

	// Applying the same events again changes nothing (idempotent by id).
	for i, m := range msgs {
		data, _ := proto.Marshal(m.Msg)
		o, _, err := s.Apply(ctx, store.Event{ID: m.ID, Stream: "EBS", Sequence: uint64(i + 1), Subject: m.Subject,
			Type: string(m.Msg.ProtoReflect().Descriptor().FullName()), Data: data})
		if err != nil || o != store.Duplicate {
			t.Fatalf("re-apply %s: %v, %v; want duplicate", m.ID, o, err)
		}
	}
	if again := snapshot(t, s); !equalSnap(t, first, again) {
		t.Fatal("re-applying events changed the tables")
	}

	// Replay from the start of the stream into emptied tables.
	if err := s.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	if err := conn.JS.DeleteConsumer(ctx, natsx.StreamEBS, natsx.ConsumerStatus); err != nil {
		t.Fatal(err)
	}
	if err := natsx.Provision(ctx, conn.JS, natsx.ProvisionOptions{}); err != nil {
		t.Fatal(err)
	}
	pctx, pcancel = context.WithCancel(ctx)
	done = make(chan struct{})
	go func() { run(pctx); close(done) }()
	waitEvents(t, s, len(msgs)+1)
	pcancel()
	<-done
	if replayed := snapshot(t, s); !equalSnap(t, first, replayed) {
		t.Fatal("replaying the stream did not rebuild the same tables")
	}
}

func equalSnap(t *testing.T, a, b map[string]string) bool {
	t.Helper()
	ok := true
	for k := range a {
		if a[k] != b[k] {
			t.Errorf("table %s differs:\n first: %.600s\n then:  %.600s", k, a[k], b[k])
			ok = false
		}
	}
	return ok
}

func checkProjection(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	run, err := s.RunningBatch(ctx)
	if err != nil {
		t.Fatalf("running batch: %v", err)
	}
	if run.BatchId != storetest.RunningBatch || run.Phase != ebsv1.BatchPhase_BATCH_PHASE_BUILDING ||
		run.BuildSideTag != storetest.BuildSideTag || run.CurrentSlice != 2 || run.Packages != 6 || run.Built != 3 {
		t.Errorf("running batch summary = %+v", run)
	}
	last, err := s.LastCompletedBatch(ctx)
	if err != nil || last.BatchId != storetest.FinishedBatch || last.Result != ebsv1.BatchResult_BATCH_RESULT_PARTIAL ||
		last.Built != 1 || last.Failed != 1 {
		t.Errorf("last completed = %+v, %v", last, err)
	}
	page, err := s.ListBatches(ctx, 1, "")
	if err != nil || len(page.Batches) != 1 || page.Batches[0].BatchId != storetest.RunningBatch || page.Next == "" {
		t.Fatalf("page 1 = %+v, %v", page, err)
	}
	page2, err := s.ListBatches(ctx, 1, page.Next)
	if err != nil || len(page2.Batches) != 1 || page2.Batches[0].BatchId != storetest.FinishedBatch || page2.Next != "" {
		t.Fatalf("page 2 = %+v, %v", page2, err)
	}
	if _, err := s.ListBatches(ctx, 1, "garbage!"); !errors.Is(err, store.ErrBadPageToken) {
		t.Errorf("bad token: %v", err)
	}

	d, err := s.Batch(ctx, storetest.RunningBatch)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Slices) != 3 || d.Slices[0].State != "finished" || d.Slices[2].State != "running" {
		t.Fatalf("slices = %v", d.Slices)
	}
	if got := d.Slices[2].Attempts[0].Tasks; len(got) != 3 || got[0].TaskId != 7003 || got[0].Outcome != "running" {
		t.Errorf("slice 2 tasks = %v", got)
	}
	states := map[string]ebsv1.PackageState{}
	for _, p := range d.Packages {
		states[p.Component] = p.State
	}
	want := map[string]ebsv1.PackageState{
		"llvm": ebsv1.PackageState_PACKAGE_STATE_BUILT, "clang": ebsv1.PackageState_PACKAGE_STATE_BUILT,
		"gcc": ebsv1.PackageState_PACKAGE_STATE_IN_PROGRESS, "python3.14": ebsv1.PackageState_PACKAGE_STATE_BUILT,
		"rust-serde": ebsv1.PackageState_PACKAGE_STATE_FAILED, "ipa": ebsv1.PackageState_PACKAGE_STATE_IN_PROGRESS,
	}
	for c, w := range want {
		if states[c] != w {
			t.Errorf("package %s state %v, want %v", c, states[c], w)
		}
	}
	if _, err := s.Batch(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing batch: %v", err)
	}

	h, err := s.PackageHistory(ctx, "python-broken", 0)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range h {
		kinds = append(kinds, e.Kind)
	}
	for _, k := range []string{"requested", "batch-started", "attempt-started", "task-submitted", "task-finished", "failed", "denylisted"} {
		if !slices.Contains(kinds, k) {
			t.Errorf("python-broken history lacks %q: %v", k, kinds)
		}
	}
	if kinds[0] != "requested" {
		t.Errorf("history not oldest first: %v", kinds)
	}
	zh, _ := s.PackageHistory(ctx, "zlib", 0)
	var zk []string
	for _, e := range zh {
		zk = append(zk, e.Kind)
	}
	for _, k := range []string{"superseded", "built", "update-created", "update-status", "stable"} {
		if !slices.Contains(zk, k) {
			t.Errorf("zlib history lacks %q: %v", k, zk)
		}
	}
	o, bid, err := s.LatestOutcome(ctx, "python-broken")
	if err != nil || bid != storetest.FinishedBatch || !o.Denylisted || len(o.TaskIds) != 2 {
		t.Errorf("latest outcome = %v %s %v", o, bid, err)
	}
	var state string
	if err := s.Pool.QueryRow(ctx, `SELECT state FROM requests WHERE request_id = 'trigger-1'`).Scan(&state); err != nil || state != "superseded" {
		t.Errorf("trigger-1 state %q %v", state, err)
	}
	if err := s.Pool.QueryRow(ctx, `SELECT state FROM requests WHERE request_id = 'trigger-3'`).Scan(&state); err != nil || state != "completed" {
		t.Errorf("trigger-3 state %q %v", state, err)
	}
	if err := s.Pool.QueryRow(ctx, `SELECT state FROM requests WHERE request_id = 'trigger-late-1'`).Scan(&state); err != nil || state != "pending" {
		t.Errorf("trigger-late-1 state %q %v", state, err)
	}
	if err := s.Pool.QueryRow(ctx, `SELECT state FROM requests WHERE request_id = 'trigger-run-0'`).Scan(&state); err != nil || state != "batched" {
		t.Errorf("trigger-run-0 state %q %v", state, err)
	}
	found, err := s.SearchPackages(ctx, "py", 10)
	if err != nil || len(found) != 2 {
		t.Fatalf("search py = %v, %v", found, err)
	}
	exact, _ := s.SearchPackages(ctx, "gcc", 10)
	if len(exact) != 1 || exact[0].Component != "gcc" || exact[0].LastState != ebsv1.PackageState_PACKAGE_STATE_IN_PROGRESS {
		t.Errorf("search gcc = %v", exact)
	}
	if n, _ := s.CountDeadLetters(ctx); n != 1 {
		t.Errorf("dead letters = %d", n)
	}
	dl, err := s.ListDeadLetters(ctx, 10, "")
	if err != nil || len(dl.DeadLetters) != 1 || dl.DeadLetters[0].Service != "filter" {
		t.Errorf("dead letters = %v %v", dl, err)
	}
	fails, _ := s.RecentFailures(ctx, 10)
	if len(fails) != 1 || fails[0].Component != "python-broken" {
		t.Errorf("recent failures = %v", fails)
	}
}

func TestSessionsAndLoginStates(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t)
	now := time.Now()
	live := auth.Session{ID: auth.NewSessionID(), Username: "alice", Groups: []string{"eln-admins"}, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	dead := auth.Session{ID: auth.NewSessionID(), Username: "bob", CreatedAt: now.Add(-25 * time.Hour), ExpiresAt: now.Add(-time.Hour)}
	for _, x := range []auth.Session{live, dead} {
		if err := s.CreateSession(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.GetSession(ctx, live.ID)
	if err != nil || got.Username != "alice" || !slices.Equal(got.Groups, []string{"eln-admins"}) {
		t.Fatalf("live session = %+v, %v", got, err)
	}
	if _, err := s.GetSession(ctx, dead.ID); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("expired session: %v", err)
	}
	var n int
	_ = s.Pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE username = 'bob'`).Scan(&n)
	if n != 0 {
		t.Error("expired session not deleted when seen")
	}
	var stored string
	_ = s.Pool.QueryRow(ctx, `SELECT id_hash FROM sessions WHERE username = 'alice'`).Scan(&stored)
	if stored == live.ID || stored != auth.IDHash(live.ID) {
		t.Error("session id stored in clear")
	}
	if err := s.DeleteSession(ctx, live.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetSession(ctx, live.ID); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("deleted session: %v", err)
	}
	l := auth.LoginState{State: "st", CodeVerifier: "v", Nonce: "n", ReturnTo: "/x", RedirectURI: "http://h/oidc/callback", ExpiresAt: now.Add(time.Minute)}
	if err := s.SaveLoginState(ctx, l); err != nil {
		t.Fatal(err)
	}
	got2, err := s.TakeLoginState(ctx, "st")
	if err != nil || got2.CodeVerifier != "v" || got2.ReturnTo != "/x" {
		t.Fatalf("take = %+v, %v", got2, err)
	}
	if _, err := s.TakeLoginState(ctx, "st"); !errors.Is(err, auth.ErrNoSession) {
		t.Fatalf("state used twice: %v", err)
	}
	sent, _ := s.MailSent(ctx, "b1")
	if sent {
		t.Fatal("mail sent before recording")
	}
	if err := s.RecordMail(ctx, "b1", []string{"a@x"}, []string{"p"}); err != nil {
		t.Fatal(err)
	}
	if sent, _ := s.MailSent(ctx, "b1"); !sent {
		t.Fatal("mail not recorded")
	}
}

// An event the database rejects (here a NUL byte, which PostgreSQL text
// cannot hold) is dead-lettered after a few tries and skipped, so it never
// blocks the history behind it; the dead letter itself is projected.
func TestProjectionDeadLettersAnEventTheDatabaseRejects(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := open(t)
	conn := natstest.Start(t).Provisioned(t)
	poison := storetest.Request("trigger-poison", "bad\x00name", "bad-1-1.fc45", 4001, 1000, nil)
	tail := storetest.Request("trigger-after-poison", "vim", "vim-9.1-1.fc45", 4002, 1000, nil)
	if _, err := storetest.Publish(ctx, conn.JS, []storetest.Msg{poison, tail}); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Project(ctx, conn.JS, store.ProjectOptions{Logger: lifecycle.Discard()}) }()
	// The tail and the dead letter are projected; the poison is not.
	waitEvents(t, s, 2)
	dls := natstest.Decode[ebsv1.DeadLetter](t, natstest.WaitStored(t, conn.JS, natsx.StreamEBS, natsx.SubjectDeadLetter, 1, 60*time.Second))
	if dls[0].GetService() != "status" || dls[0].GetDeliveries() < 5 || !strings.Contains(dls[0].GetReason(), "history projection") {
		t.Fatalf("dead letter %v", dls[0])
	}
	var n int
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM requests WHERE request_id = 'trigger-after-poison'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the event after the poison was not projected: %d %v", n, err)
	}
}
