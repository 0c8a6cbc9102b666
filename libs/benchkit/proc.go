package benchkit

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one supervised OS process: a service, nats-server, a simulator.
// Its output goes to a log file. The benchmarks and the end-to-end tests
// (services/ebs/e2e) supervise their processes with it.
type Proc struct {
	Name  string
	Bin   string
	Args  []string
	Env   []string // added to the harness's environment
	Admin string   // host:port of the admin server (/startup, /metrics); "" = none
	Log   string   // log file path

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	expected bool
	starts   int
	crashes  []string
}

// Start starts the process; its output is appended to its log file.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	f, err := os.OpenFile(p.Log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("benchkit: log of %s: %w", p.Name, err)
	}
	p.starts++
	fmt.Fprintf(f, "\n===== %s start #%d at %s\n", p.Name, p.starts, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return fmt.Errorf("benchkit: start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.expected = cmd, done, false
	go func() {
		err := cmd.Wait()
		f.Close()
		p.mu.Lock()
		if !p.expected {
			p.crashes = append(p.crashes, fmt.Sprintf("%s exited by itself: %v", p.Name, err))
		}
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// Pid is the running process's id (0 when not started).
func (p *Proc) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Running reports whether the process runs.
func (p *Proc) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Crashes lists the exits the harness did not cause.
func (p *Proc) Crashes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.crashes...)
}

// signal sends sig and waits up to d for the exit (then SIGKILL).
func (p *Proc) signal(sig syscall.Signal, d time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.expected = true
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Kill sends SIGKILL (kill -9) and waits for the exit.
func (p *Proc) Kill() { p.signal(syscall.SIGKILL, 10*time.Second) }

// Stop sends SIGTERM and waits (30 s, a service's graceful shutdown
// deadline, then SIGKILL).
func (p *Proc) Stop() { p.signal(syscall.SIGTERM, 30*time.Second) }

// Ready reports whether the admin server's /startup answers 200.
func (p *Proc) Ready() error {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + p.Admin + "/startup")
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("/startup: %s", resp.Status)
	}
	return nil
}

// WaitReady polls ready (default: Ready) every 20 ms until it succeeds, the
// process exits or ctx ends.
func (p *Proc) WaitReady(ctx context.Context, ready func() error) error {
	if ready == nil {
		ready = p.Ready
	}
	for {
		err := ready()
		if err == nil {
			return nil
		}
		if !p.Running() {
			return fmt.Errorf("%s is not running: %v\n%s", p.Name, p.Crashes(), p.Tail(30))
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready: %w\n%s", p.Name, err, p.Tail(30))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Metrics scrapes the admin server's /metrics.
func (p *Proc) Metrics() (Samples, error) {
	if p.Admin == "" {
		return nil, fmt.Errorf("benchkit: %s has no admin server", p.Name)
	}
	return Scrape("http://" + p.Admin + "/metrics")
}

// Tail returns the last n lines of the log.
func (p *Proc) Tail(n int) string {
	b, _ := os.ReadFile(p.Log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "---- " + p.Log + "\n" + strings.Join(lines, "\n")
}

// Grep returns the log lines containing s.
func (p *Proc) Grep(s string) []string {
	f, err := os.Open(p.Log)
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), s) {
			out = append(out, sc.Text())
		}
	}
	return out
}
