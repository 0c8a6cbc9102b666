package demo

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	ebsv1 "github.com/fedora-eln/ebs/proto/ebs/v1"
	"github.com/fedora-eln/ebs/services/ebs/observe"
)

// IsTerminal reports whether f is a character device (a terminal).
func IsTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// TerminalWidth is f's width in columns (80 when unknown).
func TerminalWidth(f *os.File) int {
	if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil && ws.Col > 0 {
		return int(ws.Col)
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 0 {
		return n
	}
	return 80
}

// Progress renders what the batch is doing: on a terminal one redrawn bar
// (phase, slice, builds done/failed/retried) under a log of the milestones;
// otherwise the milestones only, one plain line each.
type Progress struct {
	mu    sync.Mutex
	out   io.Writer
	bar   bool
	width int
	start time.Time
	now   func() time.Time
	drawn bool // a bar is on the last line
	cols  int  // the bar line is cut to fit (0: no limit)

	requests   int
	batch      string
	phase      ebsv1.BatchPhase
	total      int
	orderings  []int32
	slice      int32
	ordering   int32
	sliceComps int
	built      map[string]bool
	failing    map[string]bool // last attempt failed (may be retried)
	retried    map[string]bool
	final      map[string]bool // failed for good
	done       bool
}

// NewProgress writes to out; bar selects the terminal rendering.
func NewProgress(out io.Writer, bar bool) *Progress {
	cols := 0
	if f, ok := out.(*os.File); ok && bar {
		cols = TerminalWidth(f)
	}
	return &Progress{out: out, bar: bar, width: 20, cols: cols, start: time.Now(), now: time.Now,
		built: map[string]bool{}, failing: map[string]bool{}, retried: map[string]bool{}, final: map[string]bool{}}
}

// Logf prints a milestone line (above the bar on a terminal).
func (p *Progress) Logf(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line(fmt.Sprintf(format, a...))
}

func (p *Progress) line(s string) {
	if p.drawn {
		fmt.Fprint(p.out, "\r\033[K")
	}
	fmt.Fprintf(p.out, "%6.1fs  %s\n", p.now().Sub(p.start).Seconds(), s)
	p.drawn = false
	p.draw()
}

// Tick redraws the bar (elapsed time moves on).
func (p *Progress) Tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw()
}

// Finish removes the bar.
func (p *Progress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = true
	if p.drawn {
		fmt.Fprint(p.out, "\r\033[K")
		p.drawn = false
	}
}

func (p *Progress) draw() {
	if !p.bar || p.done {
		return
	}
	line := p.barLine()
	if r := []rune(line); p.cols > 1 && len(r) > p.cols-1 {
		line = string(r[:p.cols-1])
	}
	fmt.Fprint(p.out, "\r\033[K"+line)
	p.drawn = true
}

func (p *Progress) barLine() string {
	elapsed := p.now().Sub(p.start).Truncate(100 * time.Millisecond)
	if p.batch == "" {
		return fmt.Sprintf("waiting for requests: %d queued  %s", p.requests, elapsed)
	}
	n := len(p.built) + len(p.final)
	fill := 0
	if p.total > 0 {
		fill = n * p.width / p.total
	}
	bar := strings.Repeat("█", fill) + strings.Repeat("░", p.width-fill)
	where := phaseName(p.phase)
	if p.phase == ebsv1.BatchPhase_BATCH_PHASE_BUILDING {
		where = fmt.Sprintf("building slice %d/%d (ordering %d)", p.slice+1, len(p.orderings), p.ordering)
	}
	return fmt.Sprintf("%s %d/%d built  %d failed  %d retried │ %s │ %s",
		bar, len(p.built), p.total, len(p.final)+len(p.failing), len(p.retried), elapsed, where)
}

func phaseName(ph ebsv1.BatchPhase) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimPrefix(ph.String(), "BATCH_PHASE_"), "_", " "))
}

// Event updates the state from one ebs event.
func (p *Progress) Event(e observe.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch m := e.Msg.(type) {
	case *ebsv1.RebuildRequest:
		p.requests++
		if p.requests == 1 {
			p.line(fmt.Sprintf("first rebuild request: %s (from %s, tagged into %s by %s)", m.GetComponent(), m.GetNvr(), m.GetSourceTag(), m.GetRequestedBy()))
		} else {
			p.draw()
		}
	case *ebsv1.BatchStarted:
		p.batch = m.GetBatchId()
		p.total = len(m.GetPackages())
		seen := map[int32]bool{}
		notSeeded := 0
		p.orderings = nil
		for _, bp := range m.GetPackages() {
			if !seen[bp.GetOrdering()] {
				seen[bp.GetOrdering()] = true
				p.orderings = append(p.orderings, bp.GetOrdering())
			}
			if !bp.GetSeeded() {
				notSeeded++
			}
		}
		sort.Slice(p.orderings, func(i, j int) bool { return p.orderings[i] < p.orderings[j] })
		p.line(fmt.Sprintf("batch %s started: %d packages (%d requests), %d slices, %d not seeded (skip_tag)",
			m.GetBatchId(), p.total, p.requests, len(p.orderings), notSeeded))
	case *ebsv1.BatchPhaseChanged:
		p.phase = m.GetPhase()
		detail := m.GetDetail()
		if detail == "" && m.GetSideTag() != "" {
			detail = "side tag " + m.GetSideTag()
		}
		if detail != "" {
			detail = ": " + detail
		}
		p.line("phase " + phaseName(m.GetPhase()) + detail)
	case *ebsv1.SliceStarted:
		p.slice, p.ordering, p.sliceComps = m.GetSlice(), m.GetOrdering(), len(m.GetComponents())
		p.line(fmt.Sprintf("slice %d/%d (ordering %d): %s", m.GetSlice()+1, len(p.orderings), m.GetOrdering(), list(m.GetComponents(), 6)))
	case *ebsv1.AttemptStarted:
		if m.GetAttempt() > 1 {
			for _, c := range m.GetComponents() {
				p.retried[c] = true
				delete(p.failing, c)
			}
			p.line(fmt.Sprintf("  attempt %d of slice %d: resubmitting %s", m.GetAttempt(), m.GetSlice()+1, list(m.GetComponents(), 6)))
		}
	case *ebsv1.AttemptFinished:
		for _, c := range m.GetSucceeded() {
			p.built[c] = true
			delete(p.failing, c)
		}
		for _, c := range append(m.GetFailed(), m.GetTimedOut()...) {
			p.failing[c] = true
		}
		p.draw()
	case *ebsv1.SliceFinished:
		for _, c := range append(m.GetFailed(), m.GetTimedOut()...) {
			p.final[c] = true
			delete(p.failing, c)
		}
		msg := fmt.Sprintf("slice %d done: %d built", m.GetSlice()+1, len(m.GetSucceeded()))
		if n := len(m.GetFailed()) + len(m.GetTimedOut()); n > 0 {
			msg += fmt.Sprintf(", %d failed (%s)", n, list(append(m.GetFailed(), m.GetTimedOut()...), 6))
		}
		if m.GetAttempts() > 1 {
			msg += fmt.Sprintf(" after %d attempts", m.GetAttempts())
		}
		p.line(msg)
	case *ebsv1.KojiEvent:
		if tf := m.GetTaskFinished(); tf != nil {
			switch tf.GetOutcome() {
			case ebsv1.TaskOutcome_TASK_OUTCOME_SUCCEEDED:
				p.built[tf.GetComponent()] = true
				delete(p.failing, tf.GetComponent())
			default:
				p.failing[tf.GetComponent()] = true
			}
			p.draw()
		}
	case *ebsv1.BodhiEvent:
		if uc := m.GetUpdateCreated(); uc != nil {
			p.line(fmt.Sprintf("Bodhi update %s filed from %s: %d builds", uc.GetAlias(), uc.GetFromTag(), len(uc.GetNvrs())))
		}
		if sc := m.GetUpdateStatusChanged(); sc != nil {
			p.line(fmt.Sprintf("Bodhi update %s: %s -> %s", sc.GetAlias(), sc.GetOldStatus(), sc.GetNewStatus()))
		}
	case *ebsv1.BatchCompleted:
		p.line(fmt.Sprintf("batch %s completed: %s", m.GetBatchId(), strings.TrimPrefix(m.GetResult().String(), "BATCH_RESULT_")))
	default:
		_ = proto.Message(m)
	}
}

// list shows at most n names.
func list(names []string, n int) string {
	if len(names) <= n {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:n], ", "), len(names)-n)
}
