package benchkit

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Memory is what /proc/<pid>/status says about a process's resident memory,
// in bytes.
type Memory struct {
	RSS  int64 // VmRSS: resident now
	Peak int64 // VmHWM: the high-water mark since start or the last ResetPeak
}

// ProcStatus reads VmRSS and VmHWM of pid.
func ProcStatus(pid int) (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, fmt.Errorf("benchkit: %w", err)
	}
	return parseStatus(b)
}

func parseStatus(b []byte) (Memory, error) {
	var m Memory
	var seen int
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &m.RSS
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &m.Peak
		default:
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" {
			return Memory{}, fmt.Errorf("benchkit: unexpected status line %q", line)
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("benchkit: status line %q: %w", line, err)
		}
		*dst = kb << 10
		seen++
	}
	if seen != 2 {
		return Memory{}, fmt.Errorf("benchkit: no VmRSS/VmHWM in /proc status (kernel thread or exited process?)")
	}
	return m, nil
}

// ProcCPU returns the CPU time (user + system) pid has used, from
// /proc/<pid>/stat (clock ticks of 1/100 s, Linux's USER_HZ).
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("benchkit: %w", err)
	}
	return parseStatCPU(b)
}

func parseStatCPU(b []byte) (time.Duration, error) {
	// The command name (field 2) may hold spaces: fields count from its ")".
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("benchkit: unexpected /proc stat %q", b)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("benchkit: short /proc stat %q", b)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("benchkit: /proc stat times %q %q", f[11], f[12])
	}
	return time.Duration(u+st) * 10 * time.Millisecond, nil
}

// ResetPeak resets pid's VmHWM to its current RSS (writing 5 to
// /proc/<pid>/clear_refs, Linux >= 4.0), so that a later ProcStatus reports
// the peak of one phase.
func ResetPeak(pid int) error {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		return fmt.Errorf("benchkit: reset peak RSS of %d: %w", pid, err)
	}
	return nil
}

// Sampler polls the RSS of a set of processes and keeps each one's maximum,
// a second opinion beside VmHWM (and the only one where clear_refs is not
// writable). Processes come and go (a killed service is replaced by a new
// pid under the same name); the maximum is per name.
type Sampler struct {
	Interval time.Duration

	mu   sync.Mutex
	pids map[string]int
	max  map[string]int64
}

// NewSampler samples every interval (default 50 ms) once Run is called.
func NewSampler(interval time.Duration) *Sampler {
	if interval <= 0 {
		interval = 50 * time.Millisecond
	}
	return &Sampler{Interval: interval, pids: map[string]int{}, max: map[string]int64{}}
}

// Track samples pid under name from now on (replacing an earlier pid).
func (s *Sampler) Track(name string, pid int) {
	s.mu.Lock()
	s.pids[name] = pid
	s.mu.Unlock()
	s.sample()
}

// Reset forgets the maxima (the start of a phase).
func (s *Sampler) Reset() {
	s.mu.Lock()
	s.max = map[string]int64{}
	s.mu.Unlock()
	s.sample()
}

// Max returns the largest RSS seen per name since the last Reset.
func (s *Sampler) Max() map[string]int64 {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.max))
	for k, v := range s.max {
		out[k] = v
	}
	return out
}

func (s *Sampler) sample() {
	s.mu.Lock()
	pids := make(map[string]int, len(s.pids))
	for k, v := range s.pids {
		pids[k] = v
	}
	s.mu.Unlock()
	for name, pid := range pids {
		m, err := ProcStatus(pid)
		if err != nil {
			continue // exited; its successor is tracked under the same name
		}
		s.mu.Lock()
		if m.RSS > s.max[name] {
			s.max[name] = m.RSS
		}
		s.mu.Unlock()
	}
}

// Run samples until ctx ends.
func (s *Sampler) Run(ctx context.Context) {
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sample()
		}
	}
}

// MiB formats bytes as mebibytes.
func MiB(b int64) float64 { return float64(b) / (1 << 20) }
