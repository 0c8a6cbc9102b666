// Package storetest holds realistic ebs event sequences (a batch in
// progress, a finished batch with failures, requests, dead letters) for
// tests of the projection, the status service and the status page, and a
// helper that publishes them on the EBS stream as the services would.
package storetest

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedora-eln/ebs/libs/natsx"
	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

// Msg is one message to publish.
type Msg struct {
	Subject string
	ID      string
	Msg     proto.Message
}

// Publish publishes msgs in order with natsx.Publish and returns the last
// stream sequence.
func Publish(ctx context.Context, js jetstream.JetStream, msgs []Msg) (uint64, error) {
	var last uint64
	for _, m := range msgs {
		ack, err := natsx.Publish(ctx, js, m.Subject, m.ID, m.Msg)
		if err != nil {
			return 0, err
		}
		last = ack.Sequence
	}
	return last, nil
}

func tsAt(base time.Time, minutes int) *timestamppb.Timestamp {
	return timestamppb.New(base.Add(time.Duration(minutes) * time.Minute))
}

func koji(subject string, e *ebsv1.KojiEvent) Msg {
	verb, err := natsx.VerbSubject(natsx.SubjectKojiEvtPrefix, e)
	if err != nil {
		panic(err)
	}
	_ = subject
	return Msg{Subject: verb, ID: e.GetCommandId() + "-evt-" + fmt.Sprint(len(verb), e.GetAt().AsTime().UnixNano()), Msg: e}
}

// Request returns a rebuild request message.
func Request(id, component, nvr string, buildID int64, ordering int32, at *timestamppb.Timestamp) Msg {
	return Msg{Subject: natsx.SubjectRebuildRequested, ID: id, Msg: &ebsv1.RebuildRequest{
		RequestId: id, Component: component, FedoraName: component, BuildId: buildID, Nvr: nvr,
		SourceTag: "f45", View: ebsv1.ComponentView_COMPONENT_VIEW_ELN, Ordering: ordering,
		Reason: ebsv1.RequestReason_REQUEST_REASON_TRIGGER, TriggerMessageId: "fedmsg-" + id,
		RequestedBy: "releng", RequestedAt: at, BuildCreatedAt: at,
	}}
}

// Names used by the scenarios.
const (
	FinishedBatch = "b-20261125-0900"
	RunningBatch  = "b-20261126-1000"
	BuildSideTag  = "eln-build-side-129324"
	FailingSCM    = "git+https://src.fedoraproject.org/rpms/python-broken.git#abc123"
)

// FinishedBatchWithFailure is a whole batch: three packages, one built and
// published to stable, one failing twice and denylisted, one superseded
// request; then a dead letter and a config event.
func FinishedBatchWithFailure(base time.Time) []Msg {
	b := FinishedBatch
	at := func(m int) *timestamppb.Timestamp { return tsAt(base, m) }
	opts := &ebsv1.BatchOptions{FailFast: true, WaitRepo: true, Draft: true, BuildTarget: "eln",
		BuildTag: "eln-build", DestTag: "eln", StableTag: "eln", TriggerTag: "f45"}
	msgs := []Msg{
		Request("trigger-1", "zlib", "zlib-1.3.1-1.fc45", 1001, 1000, at(0)),
		Request("trigger-2", "python-broken", "python-broken-2.0-1.fc45", 1002, 1000, at(1)),
		Request("trigger-3", "zlib", "zlib-1.3.1-2.fc45", 1003, 1000, at(2)),
		{Subject: natsx.SubjectRebuildSuperseded, ID: "superseded-trigger-1", Msg: &ebsv1.RequestSuperseded{
			Component: "zlib", SupersededRequestId: "trigger-1", SupersededNvr: "zlib-1.3.1-1.fc45",
			ByRequestId: "trigger-3", ByNvr: "zlib-1.3.1-2.fc45", At: at(2)}},
		{Subject: natsx.SubjectBatchStarted, ID: b + "-started", Msg: &ebsv1.BatchStarted{BatchId: b, StartedAt: at(4), Options: opts,
			Packages: []*ebsv1.BatchPackage{
				{Component: "zlib", FedoraName: "zlib", RequestId: "trigger-3", SourceBuildId: 1003, SourceNvr: "zlib-1.3.1-2.fc45",
					Ordering: 1000, ScmUrl: "git+https://src.fedoraproject.org/rpms/zlib.git#def456", Seeded: true},
				{Component: "python-broken", FedoraName: "python-broken", RequestId: "trigger-2", SourceBuildId: 1002,
					SourceNvr: "python-broken-2.0-1.fc45", Ordering: 1000, ScmUrl: FailingSCM, Seeded: true},
			}}},
		{Subject: natsx.SubjectBatchPhase, ID: b + "-phase-seeding", Msg: &ebsv1.BatchPhaseChanged{BatchId: b,
			Phase: ebsv1.BatchPhase_BATCH_PHASE_SEEDING, At: at(5)}},
		koji("", &ebsv1.KojiEvent{CommandId: b + "-sidetag-1", BatchId: b, At: at(5), Event: &ebsv1.KojiEvent_SideTagCreated{
			SideTagCreated: &ebsv1.SideTagCreated{Tag: "eln-build-side-100", TagId: 100, BaseTag: "eln-build",
				Purpose: ebsv1.SideTagPurpose_SIDE_TAG_PURPOSE_BUILD}}}),
		{Subject: natsx.SubjectBatchPhase, ID: b + "-phase-building", Msg: &ebsv1.BatchPhaseChanged{BatchId: b,
			Phase: ebsv1.BatchPhase_BATCH_PHASE_BUILDING, At: at(10), SideTag: "eln-build-side-100"}},
		{Subject: natsx.SubjectSliceStarted, ID: b + "-slice-0", Msg: &ebsv1.SliceStarted{BatchId: b, Slice: 0, Ordering: 1000,
			Components: []string{"python-broken", "zlib"}, At: at(10)}},
		{Subject: natsx.SubjectAttemptStarted, ID: b + "-s0-a1", Msg: &ebsv1.AttemptStarted{BatchId: b, Slice: 0, Attempt: 1,
			AttemptId: b + "-s0-a1", Components: []string{"python-broken", "zlib"}, At: at(10)}},
		koji("", &ebsv1.KojiEvent{CommandId: b + "-submit-s0-a1", BatchId: b, At: at(11), Event: &ebsv1.KojiEvent_BuildsSubmitted{
			BuildsSubmitted: &ebsv1.BuildsSubmitted{AttemptId: b + "-s0-a1", Target: "eln-build-side-100", Tasks: []*ebsv1.SubmittedTask{
				{Component: "zlib", ScmUrl: "git+https://src.fedoraproject.org/rpms/zlib.git#def456", TaskId: 5001},
				{Component: "python-broken", ScmUrl: FailingSCM, TaskId: 5002}}}}}),
		koji("", &ebsv1.KojiEvent{CommandId: b + "-submit-s0-a1", BatchId: b, At: at(40), Event: &ebsv1.KojiEvent_TaskFinished{
			TaskFinished: &ebsv1.TaskFinished{AttemptId: b + "-s0-a1", TaskId: 5001, Component: "zlib",
				Outcome: ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED, KojiState: 2, Nvr: "zlib-1.3.1-2.eln150", BuildId: 2001,
				ObservedBy: ebsv1.Observation_OBSERVATION_MESSAGE}}}),
		koji("", &ebsv1.KojiEvent{CommandId: b + "-submit-s0-a1", BatchId: b, At: at(41), Event: &ebsv1.KojiEvent_TaskFinished{
			TaskFinished: &ebsv1.TaskFinished{AttemptId: b + "-s0-a1", TaskId: 5002, Component: "python-broken",
				Outcome: ebsv1.TaskOutcome_TASK_OUTCOME_FAILED, KojiState: 5, Reason: "BuildError: error building package (arch x86_64)",
				ObservedBy: ebsv1.Observation_OBSERVATION_POLL}}}),
		{Subject: natsx.SubjectAttemptFinished, ID: b + "-s0-a1-done", Msg: &ebsv1.AttemptFinished{BatchId: b, Slice: 0, Attempt: 1,
			AttemptId: b + "-s0-a1", Succeeded: []string{"zlib"}, Failed: []string{"python-broken"}, At: at(41)}},
		{Subject: natsx.SubjectAttemptStarted, ID: b + "-s0-a2", Msg: &ebsv1.AttemptStarted{BatchId: b, Slice: 0, Attempt: 2,
			AttemptId: b + "-s0-a2", Components: []string{"python-broken"}, At: at(42)}},
		koji("", &ebsv1.KojiEvent{CommandId: b + "-submit-s0-a2", BatchId: b, At: at(42), Event: &ebsv1.KojiEvent_BuildsSubmitted{
			BuildsSubmitted: &ebsv1.BuildsSubmitted{AttemptId: b + "-s0-a2", Target: "eln-build-side-100", Tasks: []*ebsv1.SubmittedTask{
				{Component: "python-broken", ScmUrl: FailingSCM, TaskId: 5003}}}}}),
		koji("", &ebsv1.KojiEvent{CommandId: b + "-submit-s0-a2", BatchId: b, At: at(60), Event: &ebsv1.KojiEvent_TaskFinished{
			TaskFinished: &ebsv1.TaskFinished{AttemptId: b + "-s0-a2", TaskId: 5003, Component: "python-broken",
				Outcome: ebsv1.TaskOutcome_TASK_OUTCOME_FAILED, KojiState: 5, Reason: "BuildError: error building package (arch x86_64)",
				ObservedBy: ebsv1.Observation_OBSERVATION_MESSAGE}}}),
		{Subject: natsx.SubjectAttemptFinished, ID: b + "-s0-a2-done", Msg: &ebsv1.AttemptFinished{BatchId: b, Slice: 0, Attempt: 2,
			AttemptId: b + "-s0-a2", Failed: []string{"python-broken"}, At: at(60)}},
		{Subject: natsx.SubjectSliceFinished, ID: b + "-slice-0-done", Msg: &ebsv1.SliceFinished{BatchId: b, Slice: 0, Ordering: 1000,
			Succeeded: []string{"zlib"}, Failed: []string{"python-broken"}, Attempts: 2, At: at(60)}},
		{Subject: natsx.SubjectBatchPhase, ID: b + "-phase-publishing", Msg: &ebsv1.BatchPhaseChanged{BatchId: b,
			Phase: ebsv1.BatchPhase_BATCH_PHASE_PUBLISHING, At: at(62)}},
		{Subject: natsx.SubjectBodhiEvtPrefix + "update-created", ID: b + "-bodhi-0-created", Msg: &ebsv1.BodhiEvent{
			CommandId: b + "-bodhi-0", BatchId: b, At: at(65), Event: &ebsv1.BodhiEvent_UpdateCreated{UpdateCreated: &ebsv1.UpdateCreated{
				Alias: "FEDORA-2026-abc123", Url: "https://bodhi.fedoraproject.org/updates/FEDORA-2026-abc123",
				FromTag: "eln-build-side-101", Nvrs: []string{"zlib-1.3.1-2.eln150"}, Status: "pending"}}}},
		{Subject: natsx.SubjectBodhiEvtPrefix + "update-status-changed", ID: b + "-bodhi-0-stable", Msg: &ebsv1.BodhiEvent{
			CommandId: b + "-bodhi-0", BatchId: b, At: at(80), Event: &ebsv1.BodhiEvent_UpdateStatusChanged{UpdateStatusChanged: &ebsv1.UpdateStatusChanged{
				Alias: "FEDORA-2026-abc123", OldStatus: "pending", NewStatus: "stable", Final: true}}}},
		{Subject: natsx.SubjectBatchCompleted, ID: b + "-completed", Msg: &ebsv1.BatchCompleted{BatchId: b, StartedAt: at(4),
			CompletedAt: at(90), Result: ebsv1.BatchResult_BATCH_RESULT_PARTIAL, Options: opts, BuildSideTag: "eln-build-side-100",
			UpdateSideTags: []string{"eln-build-side-101"}, SideTagsCreated: 2,
			Outcomes: []*ebsv1.PackageOutcome{
				{Component: "zlib", FedoraName: "zlib", RequestId: "trigger-3", SourceNvr: "zlib-1.3.1-2.fc45",
					ScmUrl: "git+https://src.fedoraproject.org/rpms/zlib.git#def456", Ordering: 1000,
					State: ebsv1.PackageState_PACKAGE_STATE_BUILT, Nvr: "zlib-1.3.1-2.eln150", BuildId: 2001, TaskId: 5001,
					TaskIds: []int64{5001}, Attempts: 1, BodhiUpdateAlias: "FEDORA-2026-abc123",
					BodhiUpdateUrl: "https://bodhi.fedoraproject.org/updates/FEDORA-2026-abc123", ReachedStable: true,
					LastTaskOutcome: ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED},
				{Component: "python-broken", FedoraName: "python-broken", RequestId: "trigger-2", SourceNvr: "python-broken-2.0-1.fc45",
					ScmUrl: FailingSCM, Ordering: 1000, State: ebsv1.PackageState_PACKAGE_STATE_FAILED, TaskId: 5003,
					TaskIds: []int64{5002, 5003}, Attempts: 2, Reason: "BuildError: error building package (arch x86_64)",
					Denylisted: true, LastTaskOutcome: ebsv1.TaskOutcome_TASK_OUTCOME_FAILED},
			},
			Updates: []*ebsv1.BodhiUpdateRef{{Alias: "FEDORA-2026-abc123", Url: "https://bodhi.fedoraproject.org/updates/FEDORA-2026-abc123",
				FromTag: "eln-build-side-101", Nvrs: []string{"zlib-1.3.1-2.eln150"}, Status: "stable"}}}},
		{Subject: natsx.SubjectDeadLetter, ID: "FEDMSG-77", Msg: &ebsv1.DeadLetter{Id: "FEDMSG-77", Service: "filter", Stream: "FEDMSG",
			Sequence: 77, Subject: "fedmsg.buildsys.tag", Reason: "undecodable body: unexpected end of JSON input", At: at(91), Deliveries: 1}},
		{Subject: natsx.SubjectConfigLoaded, ID: "config-1", Msg: &ebsv1.ConfigEvent{Service: "filter", Source: "distrobaker.yaml",
			Accepted: true, Digest: "sha256:1234", At: at(0)}},
	}
	return msgs
}

// BatchInProgress is a batch building its second slice: the first slice
// (ordering 0) built, the default slice running with one task done, one
// running and one failed waiting for its retry; plus requests that arrived
// meanwhile (they wait in the pending set).
func BatchInProgress(base time.Time) []Msg {
	b := RunningBatch
	at := func(m int) *timestamppb.Timestamp { return tsAt(base, m) }
	scm := func(c string) string {
		return "git+https://src.fedoraproject.org/rpms/" + c + ".git#" + fmt.Sprintf("%x", len(c)*7919)
	}
	pkgs := []struct {
		c     string
		order int32
	}{{"llvm", 0}, {"clang", 1}, {"gcc", 1000}, {"python3.14", 1000}, {"rust-serde", 1000}, {"ipa", 1001}}
	opts := &ebsv1.BatchOptions{FailFast: true, WaitRepo: true, Draft: true, BuildTarget: "eln",
		BuildTag: "eln-build", DestTag: "eln", StableTag: "eln", TriggerTag: "f45"}
	var msgs []Msg
	var bp []*ebsv1.BatchPackage
	for i, p := range pkgs {
		id := fmt.Sprintf("trigger-run-%d", i)
		nvr := fmt.Sprintf("%s-1.%d-1.fc45", p.c, i)
		msgs = append(msgs, Request(id, p.c, nvr, int64(3000+i), p.order, at(i)))
		bp = append(bp, &ebsv1.BatchPackage{Component: p.c, FedoraName: p.c, RequestId: id, SourceBuildId: int64(3000 + i),
			SourceNvr: nvr, Ordering: p.order, ScmUrl: scm(p.c), Seeded: p.c != "gcc"})
	}
	msgs = append(msgs,
		Msg{Subject: natsx.SubjectBatchStarted, ID: b + "-started", Msg: &ebsv1.BatchStarted{BatchId: b, StartedAt: at(8), Options: opts, Packages: bp}},
		Msg{Subject: natsx.SubjectBatchPhase, ID: b + "-phase-seeding", Msg: &ebsv1.BatchPhaseChanged{BatchId: b,
			Phase: ebsv1.BatchPhase_BATCH_PHASE_SEEDING, At: at(9), Detail: "tagging 5 Rawhide builds into " + BuildSideTag}},
		koji("", &ebsv1.KojiEvent{CommandId: b + "-sidetag-1", BatchId: b, At: at(9), Event: &ebsv1.KojiEvent_SideTagCreated{
			SideTagCreated: &ebsv1.SideTagCreated{Tag: BuildSideTag, TagId: 129324, BaseTag: "eln-build",
				Purpose: ebsv1.SideTagPurpose_SIDE_TAG_PURPOSE_BUILD}}}),
		Msg{Subject: natsx.SubjectBatchPhase, ID: b + "-phase-building", Msg: &ebsv1.BatchPhaseChanged{BatchId: b,
			Phase: ebsv1.BatchPhase_BATCH_PHASE_BUILDING, At: at(15), SideTag: BuildSideTag}},
	)
	task := int64(7000)
	slice := func(n int32, ordering int32, comps []string, start int) {
		msgs = append(msgs, Msg{Subject: natsx.SubjectSliceStarted, ID: fmt.Sprintf("%s-slice-%d", b, n), Msg: &ebsv1.SliceStarted{
			BatchId: b, Slice: n, Ordering: ordering, Components: comps, At: at(start)}})
		aid := fmt.Sprintf("%s-s%d-a1", b, n)
		msgs = append(msgs, Msg{Subject: natsx.SubjectAttemptStarted, ID: aid, Msg: &ebsv1.AttemptStarted{BatchId: b, Slice: n,
			Attempt: 1, AttemptId: aid, Components: comps, At: at(start)}})
		var tasks []*ebsv1.SubmittedTask
		for _, c := range comps {
			task++
			tasks = append(tasks, &ebsv1.SubmittedTask{Component: c, ScmUrl: scm(c), TaskId: task})
		}
		msgs = append(msgs, koji("", &ebsv1.KojiEvent{CommandId: "submit-" + aid, BatchId: b, At: at(start), Event: &ebsv1.KojiEvent_BuildsSubmitted{
			BuildsSubmitted: &ebsv1.BuildsSubmitted{AttemptId: aid, Target: BuildSideTag, Tasks: tasks}}}))
	}
	finish := func(n int32, c string, taskID int64, outcome ebsv1.TaskOutcome, m int, reason string) {
		aid := fmt.Sprintf("%s-s%d-a1", b, n)
		nvr := ""
		if outcome == ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED {
			nvr = c + "-1.0-1.eln150"
		}
		msgs = append(msgs, koji("", &ebsv1.KojiEvent{CommandId: "submit-" + aid, BatchId: b, At: at(m), Event: &ebsv1.KojiEvent_TaskFinished{
			TaskFinished: &ebsv1.TaskFinished{AttemptId: aid, TaskId: taskID, Component: c, ScmUrl: scm(c), Outcome: outcome,
				Nvr: nvr, Reason: reason, ObservedBy: ebsv1.Observation_OBSERVATION_MESSAGE}}}))
	}
	slice(0, 0, []string{"llvm"}, 15)
	finish(0, "llvm", 7001, ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED, 95, "")
	msgs = append(msgs,
		Msg{Subject: natsx.SubjectAttemptFinished, ID: b + "-s0-a1-done", Msg: &ebsv1.AttemptFinished{BatchId: b, Slice: 0, Attempt: 1,
			AttemptId: b + "-s0-a1", Succeeded: []string{"llvm"}, At: at(95)}},
		Msg{Subject: natsx.SubjectSliceFinished, ID: b + "-slice-0-done", Msg: &ebsv1.SliceFinished{BatchId: b, Slice: 0, Ordering: 0,
			Succeeded: []string{"llvm"}, Attempts: 1, At: at(95)}})
	slice(1, 1, []string{"clang"}, 96)
	finish(1, "clang", 7002, ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED, 150, "")
	msgs = append(msgs,
		Msg{Subject: natsx.SubjectAttemptFinished, ID: b + "-s1-a1-done", Msg: &ebsv1.AttemptFinished{BatchId: b, Slice: 1, Attempt: 1,
			AttemptId: b + "-s1-a1", Succeeded: []string{"clang"}, At: at(150)}},
		Msg{Subject: natsx.SubjectSliceFinished, ID: b + "-slice-1-done", Msg: &ebsv1.SliceFinished{BatchId: b, Slice: 1, Ordering: 1,
			Succeeded: []string{"clang"}, Attempts: 1, At: at(150)}})
	slice(2, 1000, []string{"gcc", "python3.14", "rust-serde"}, 151)
	finish(2, "python3.14", 7004, ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED, 190, "")
	finish(2, "rust-serde", 7005, ebsv1.TaskOutcome_TASK_OUTCOME_FAILED, 170, "BuildError: error building package (arch aarch64), mock exited with status 1")
	// Requests that arrived during the batch: they wait for the next one.
	msgs = append(msgs,
		Request("trigger-late-1", "kernel", "kernel-6.19.0-1.fc45", 3100, 1000, at(160)),
		Request("trigger-late-2", "bash", "bash-5.3-2.fc45", 3101, 1000, at(165)),
	)
	return msgs
}

// Pending returns the ebs_pending values matching the late requests of
// BatchInProgress (what the batcher would hold).
func Pending(base time.Time) []*ebsv1.PendingRequest {
	var out []*ebsv1.PendingRequest
	for _, m := range BatchInProgress(base) {
		r, ok := m.Msg.(*ebsv1.RebuildRequest)
		if ok && len(r.GetRequestId()) > len("trigger-late") && r.GetRequestId()[:12] == "trigger-late" {
			out = append(out, &ebsv1.PendingRequest{Request: r, PendingSince: r.GetRequestedAt()})
		}
	}
	return out
}
