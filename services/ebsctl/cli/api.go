package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
)

func init() {
	apiCommand("status", "show the running batch, the queue size, the pause and the last batch", "", nil, exactly(0, "no arguments"), runStatus)
	apiCommand("queue", "list the pending queue in build order", "", nil, exactly(0, "no arguments"), runQueue)
	var limit int
	var pageToken string
	apiCommand("batches", "list batches, newest first", "", func(fs *flag.FlagSet) {
		fs.IntVar(&limit, "limit", 20, "batches per page")
		fs.StringVar(&pageToken, "page-token", "", "continue from a previous page")
	}, exactly(0, "no arguments"), func(ctx context.Context, c ebsv1.StatusServiceClient, f *apiFlags, _ []string, w io.Writer) error {
		return runBatches(ctx, c, f, int32(limit), pageToken, w)
	})
	apiCommand("batch", "show one batch: slices, packages, Koji tasks, Bodhi updates", "BATCH_ID", nil, exactly(1, "one BATCH_ID"), runBatch)
	var histLimit int
	apiCommand("package", "show what happened to an ELN component and why", "NAME", func(fs *flag.FlagSet) {
		fs.IntVar(&histLimit, "limit", 0, "at most this many history entries (0: server default)")
	}, exactly(1, "one package NAME"), func(ctx context.Context, c ebsv1.StatusServiceClient, f *apiFlags, a []string, w io.Writer) error {
		return runPackage(ctx, c, f, a[0], int32(histLimit), w)
	})
	apiCommand("trigger", "request rebuilds of ELN components (admin)", "NAME...", nil, atLeast(1, "at least one component NAME"), runTrigger)
	apiCommand("pause", "stop starting new batches; a running batch finishes (admin, persisted)", "[REASON...]", nil, nil, runPause)
	apiCommand("resume", "clear the runtime pause (admin)", "", nil, exactly(0, "no arguments"), runResume)
	apiCommand("denylist", "list denylisted SCM URLs; `denylist remove URL` builds one again (admin)", "[remove SCM_URL]", nil, denylistArgs, runDenylist)
	var since uint64
	apiCommand("watch", "follow batch events as they happen (Ctrl-C to stop)", "", func(fs *flag.FlagSet) {
		fs.Uint64Var(&since, "since", 0, "replay from this EBS stream sequence first")
	}, exactly(0, "no arguments"), func(ctx context.Context, c ebsv1.StatusServiceClient, f *apiFlags, _ []string, w io.Writer) error {
		return runWatch(ctx, c, f, since, w)
	})
}

func table(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0) }

func when(t *timestamppb.Timestamp) string {
	if t == nil {
		return "-"
	}
	return t.AsTime().UTC().Format("2006-01-02 15:04Z")
}

func dur(a, b *timestamppb.Timestamp) string {
	if a == nil {
		return "-"
	}
	end := time.Now()
	if b != nil {
		end = b.AsTime()
	}
	return end.Sub(a.AsTime()).Round(time.Minute).String()
}

func enum(s fmt.Stringer, prefix string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(s.String(), prefix), "_", "-"))
}

func phase(p ebsv1.BatchPhase) string     { return enum(p, "BATCH_PHASE_") }
func result(r ebsv1.BatchResult) string   { return enum(r, "BATCH_RESULT_") }
func state(s ebsv1.PackageState) string   { return enum(s, "PACKAGE_STATE_") }
func reason(r ebsv1.RequestReason) string { return enum(r, "REQUEST_REASON_") }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func runStatus(ctx context.Context, c ebsv1.StatusServiceClient, f *apiFlags, _ []string, w io.Writer) error {
	st, err := c.GetStatus(ctx, &ebsv1.GetStatusRequest{})
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(w, st)
	}
	if st.Paused {
		ctl := st.GetControl()
		fmt.Fprintf(w, "PAUSED (%s)", st.PauseSource)
		if ctl.GetChangedBy() != "" {
			fmt.Fprintf(w, " by %s since %s", ctl.GetChangedBy(), when(ctl.GetChangedAt()))
		}
		if ctl.GetReason() != "" {
			fmt.Fprintf(w, ": %s", ctl.GetReason())
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintln(w, "not paused")
	}
	if r := st.Running; r != nil {
		fmt.Fprintf(w, "running:   %s  phase %s", r.BatchId, phase(r.Phase))
		if r.Phase == ebsv1.BatchPhase_BATCH_PHASE_BUILDING {
			fmt.Fprintf(w, " (slice %d of %d)", r.CurrentSlice+1, r.Slices)
		}
		fmt.Fprintf(w, "  %d packages, %d built, %d failed  started %s (%s)\n", r.Packages, r.Built, r.Failed, when(r.StartedAt), dur(r.StartedAt, nil))
		if r.BuildSideTag != "" {
			fmt.Fprintf(w, "side tag:  %s\n", r.BuildSideTag)
		}
	} else {
		fmt.Fprintln(w, "running:   no batch")
	}
	fmt.Fprintf(w, "pending:   %d\n", len(st.Pending))
	if l := st.LastCompleted; l != nil {
		fmt.Fprintf(w, "last:      %s  %s  %d built, %d failed, %d skipped  completed %s\n", l.BatchId, result(l.Result), l.Built, l.Failed, l.Skipped, when(l.CompletedAt))
	}
	fmt.Fprintf(w, "denylisted SCM URLs: %d   dead letters: %d\n", st.Denylisted, st.DeadLetters)
	if !st.AuthEnabled {
		fmt.Fprintln(w, "warning: authentication is disabled on the server")
	}
	return nil
}

func runQueue(ctx context.Context, c ebsv1.StatusServiceClient, f *apiFlags, _ []string, w io.Writer) error {
	st, err := c.GetStatus(ctx, &ebsv1.GetStatusRequest{})
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(w, &ebsv1.GetStatusResponse{Pending: st.Pending, Paused: st.Paused, PauseSource: st.PauseSource})
	}
	if len(st.Pending) == 0 {
		fmt.Fprintln(w, "the queue is empty")
		return nil
	}
	t := table(w)
	fmt.Fprintln(t, "POS\tCOMPONENT\tBUILD\tORDERING\tREASON\tBY\tSINCE")
	for _, p := range st.Pending {
		r := p.GetRequest()
		fmt.Fprintf(t, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", p.Position, r.GetComponent(), r.GetNvr(), r.GetOrdering(), reason(r.GetReason()), dash(r.GetRequestedBy()), when(p.PendingSince))
	}
	return t.Flush()
}

func runBatches(ctx context.Context, c ebsv1.StatusServiceClient, f *apiFlags, limit int32, token string, w io.Writer) error {
	resp, err := c.ListBatches(ctx, &ebsv1.ListBatchesRequest{PageSize: limit, PageToken: token})
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(w, resp)
	}
	t := table(w)
	fmt.Fprintln(t, "BATCH\tRESULT\tPHASE\tSTARTED\tDURATION\tPACKAGES\tBUILT\tFAILED\tSKIPPED")
	for _, b := range resp.Batches {
		res := result(b.Result)
		if b.CompletedAt == nil {
			res = "running"
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\n", b.BatchId, res, phase(b.Phase), when(b.StartedAt), dur(b.StartedAt, b.CompletedAt), b.Packages, b.Built, b.Failed, b.Skipped)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	if resp.NextPageToken != "" {
		fmt.Fprintf(w, "more: ebsctl batches --page-token %s\n", resp.NextPageToken)
	}
	return nil
}

func runBatch(ctx context.Context, c ebsv1.StatusServiceClient, f *apiFlags, a []string, w io.Writer) error {
	d, err := c.GetBatch(ctx, &ebsv1.GetBatchRequest{BatchId: a[0]})
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(w, d)
	}
	s := d.Summary
	res := result(s.Result)
	if s.CompletedAt == nil {
		res = "running"
	}
	fmt.Fprintf(w, "batch %s  %s  phase %s  started %s  duration %s\n", s.BatchId, res, phase(s.Phase), when(s.StartedAt), dur(s.StartedAt, s.CompletedAt))
	if s.Error != "" {
		fmt.Fprintf(w, "error: %s\n", s.Error)
	}
	fmt.Fprintf(w, "side tags: %s\n", dash(strings.Join(d.SideTags, ", ")))
	for _, sl := range d.Slices {
		fmt.Fprintf(w, "slice %d (ordering %d) %s: %s, %d attempt(s)\n", sl.Slice, sl.Ordering, sl.State, strings.Join(sl.Components, " "), len(sl.Attempts))
	}
	fmt.Fprintln(w)
	t := table(w)
	fmt.Fprintln(t, "COMPONENT\tORDERING\tSTATE\tATTEMPTS\tTASKS\tNVR\tUPDATE\tREASON")
	for _, p := range d.Packages {
		var tasks []string
		for _, id := range p.TaskIds {
			tasks = append(tasks, fmt.Sprint(id))
		}
		if len(tasks) == 0 && p.TaskId != 0 {
			tasks = append(tasks, fmt.Sprint(p.TaskId))
		}
		fmt.Fprintf(t, "%s\t%d\t%s\t%d\t%s\t%s\t%s\t%s\n", p.Component, p.Ordering, state(p.State), p.Attempts, dash(strings.Join(tasks, ",")), dash(p.Nvr), dash(p.BodhiUpdateAlias), p.Reason)
	}
	if err := t.Flush(); err != nil {
		return err
	}
	for _, u := range d.Updates {
		fmt.Fprintf(w, "update %s (%s) from %s: %d build(s) %s\n", u.Alias, dash(u.Status), u.FromTag, len(u.Nvrs), u.Url)
	}
	return nil
}

func runPackage(ctx context.Context, c ebsv1.StatusServiceClient, f *apiFlags, name string, limit int32, w io.Writer) error {
	h, err := c.GetPackageHistory(ctx, &ebsv1.GetPackageHistoryRequest{Component: name, Limit: limit})
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(w, h)
	}
	fmt.Fprintf(w, "%s\n", h.Component)
	if p := h.Pending; p != nil {
		fmt.Fprintf(w, "pending:  position %d, %s since %s\n", p.Position, p.GetRequest().GetNvr(), when(p.PendingSince))
	}
	if l := h.Latest; l != nil {
		fmt.Fprintf(w, "latest:   %s %s", state(l.State), dash(l.Nvr))
		if l.Reason != "" {
			fmt.Fprintf(w, " — %s", l.Reason)
		}
		if l.Denylisted {
			fmt.Fprintf(w, " (SCM URL denylisted: %s)", l.ScmUrl)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintln(w)
	t := table(w)
	fmt.Fprintln(t, "WHEN\tWHAT\tBATCH\tNVR\tTASK\tDETAIL")
	for _, e := range h.Entries {
		task := "-"
		if e.TaskId != 0 {
			task = fmt.Sprint(e.TaskId)
		}
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\t%s\n", when(e.At), e.Kind, dash(e.BatchId), dash(e.Nvr), task, e.Detail)
	}
	return t.Flush()
}

func runTrigger(ctx context.Context, c ebsv1.StatusServiceClient, f *apiFlags, a []string, w io.Writer) error {
	r, err := c.TriggerRebuild(ctx, &ebsv1.TriggerRebuildRequest{Components: a})
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(w, r)
	}
	fmt.Fprintf(w, "User %s requesting builds of:\n%s\n(manual rebuild %s)\n", r.RequestedBy, strings.Join(r.Components, "\n"), r.ManualId)
	return nil
}

func runPause(ctx context.Context, c ebsv1.StatusServiceClient, f *apiFlags, a []string, w io.Writer) error {
	r, err := c.Pause(ctx, &ebsv1.PauseRequest{Reason: strings.Join(a, " ")})
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(w, r)
	}
	fmt.Fprintf(w, "paused by %s at %s (persisted; a running batch finishes)\n", r.Control.GetChangedBy(), when(r.Control.GetChangedAt()))
	return nil
}

func runResume(ctx context.Context, c ebsv1.StatusServiceClient, f *apiFlags, _ []string, w io.Writer) error {
	r, err := c.Resume(ctx, &ebsv1.ResumeRequest{})
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(w, r)
	}
	fmt.Fprintf(w, "runtime pause cleared by %s\n", r.Control.GetChangedBy())
	if r.ConfigPaused {
		fmt.Fprintln(w, "note: configuration control.pause is still true; batches stay paused")
	}
	return nil
}

func denylistArgs(a []string) error {
	if len(a) == 0 || (len(a) == 2 && a[0] == "remove") {
		return nil
	}
	return usagef("want no arguments, or remove SCM_URL")
}

func runDenylist(ctx context.Context, c ebsv1.StatusServiceClient, f *apiFlags, a []string, w io.Writer) error {
	if len(a) == 2 {
		r, err := c.RemoveDenylistEntry(ctx, &ebsv1.RemoveDenylistEntryRequest{ScmUrl: a[1]})
		if err != nil {
			return err
		}
		if f.json {
			return printJSON(w, r)
		}
		fmt.Fprintf(w, "%s (%s) is no longer denylisted; the next request for it is built again\n", r.Entry.GetScmUrl(), r.Entry.GetComponent())
		return nil
	}
	r, err := c.ListDenylist(ctx, &ebsv1.ListDenylistRequest{})
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(w, r)
	}
	t := table(w)
	fmt.Fprintln(t, "SCM URL\tCOMPONENT\tBATCH\tSINCE\tREASON")
	for _, e := range r.Entries {
		fmt.Fprintf(t, "%s\t%s\t%s\t%s\t%s\n", e.ScmUrl, e.Component, e.BatchId, when(e.At), e.Reason)
	}
	return t.Flush()
}

func describe(e *ebsv1.WatchBatchEventsResponse) string {
	switch x := e.Event.(type) {
	case *ebsv1.WatchBatchEventsResponse_Started:
		return fmt.Sprintf("batch %s started with %d package(s)", x.Started.BatchId, len(x.Started.Packages))
	case *ebsv1.WatchBatchEventsResponse_PhaseChanged:
		return fmt.Sprintf("batch %s phase %s %s", x.PhaseChanged.BatchId, phase(x.PhaseChanged.Phase), x.PhaseChanged.Detail)
	case *ebsv1.WatchBatchEventsResponse_SliceStarted:
		return fmt.Sprintf("batch %s slice %d started: %s", x.SliceStarted.BatchId, x.SliceStarted.Slice, strings.Join(x.SliceStarted.Components, " "))
	case *ebsv1.WatchBatchEventsResponse_SliceFinished:
		s := x.SliceFinished
		return fmt.Sprintf("batch %s slice %d finished: %d succeeded, %d failed, %d timed out", s.BatchId, s.Slice, len(s.Succeeded), len(s.Failed), len(s.TimedOut))
	case *ebsv1.WatchBatchEventsResponse_AttemptStarted:
		return fmt.Sprintf("batch %s attempt %d of slice %d: %s", x.AttemptStarted.BatchId, x.AttemptStarted.Attempt, x.AttemptStarted.Slice, strings.Join(x.AttemptStarted.Components, " "))
	case *ebsv1.WatchBatchEventsResponse_AttemptFinished:
		a := x.AttemptFinished
		return fmt.Sprintf("batch %s attempt %d of slice %d finished: %d succeeded, %d failed", a.BatchId, a.Attempt, a.Slice, len(a.Succeeded), len(a.Failed))
	case *ebsv1.WatchBatchEventsResponse_Completed:
		return fmt.Sprintf("batch %s completed: %s, %d outcome(s)", x.Completed.BatchId, result(x.Completed.Result), len(x.Completed.Outcomes))
	}
	return "unknown event"
}

func runWatch(ctx context.Context, c ebsv1.StatusServiceClient, f *apiFlags, since uint64, w io.Writer) error {
	stream, err := c.WatchBatchEvents(ctx, &ebsv1.WatchBatchEventsRequest{SinceSequence: since})
	if err != nil {
		return err
	}
	for {
		e, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil || err == io.EOF || deadlinePassed(ctx, err) {
				return nil
			}
			return err
		}
		if f.json {
			if err := printJSONLine(w, e); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(w, "%s  #%d  %s\n", when(e.At), e.Sequence, describe(e))
	}
}

// deadlinePassed reports a stream ended by the caller's own deadline: the
// server enforces the propagated grpc-timeout too, and its reset can arrive
// a moment before the client's timer marks ctx done.
func deadlinePassed(ctx context.Context, err error) bool {
	dl, ok := ctx.Deadline()
	return ok && !time.Now().Before(dl) && status.Code(err) == codes.DeadlineExceeded
}
