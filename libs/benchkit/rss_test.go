package benchkit

import (
	"context"
	"os"
	"testing"
	"time"
)

func TestParseStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      string
		want    Memory
		wantErr bool
	}{
		{"a Go process", "Name:\tbatcher\nVmPeak:\t 1794040 kB\nVmHWM:\t   61736 kB\nVmRSS:\t   58120 kB\nThreads:\t9\n",
			Memory{RSS: 58120 << 10, Peak: 61736 << 10}, false},
		{"a kernel thread has neither", "Name:\tkthreadd\nState:\tS (sleeping)\n", Memory{}, true},
		{"a unit that is not kB", "VmHWM:\t 1 MB\nVmRSS:\t 1 kB\n", Memory{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseStatus([]byte(tc.in))
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("parseStatus = %+v, %v; want %+v (error %v)", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	// comm may hold spaces and parentheses; utime 250 and stime 50 ticks.
	line := "4242 (my (odd) proc) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 9 0 100 1794040 14530 18446744073709551615"
	got, err := parseStatCPU([]byte(line))
	if err != nil || got != 3*time.Second {
		t.Fatalf("parseStatCPU = %v, %v; want 3s", got, err)
	}
	if _, err := parseStatCPU([]byte("no parenthesis")); err == nil {
		t.Fatal("a malformed stat line parsed")
	}
}

// The real /proc of this test process: a peak at least the current RSS,
// CPU time spent, a peak that can be reset, a sampler that sees it.
func TestThisProcess(t *testing.T) {
	pid := os.Getpid()
	ballast := make([]byte, 32<<20)
	for i := range ballast {
		ballast[i] = byte(i)
	}
	m, err := ProcStatus(pid)
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS < 32<<20 || m.Peak < m.RSS {
		t.Fatalf("memory %+v: want RSS >= 32 MiB (the ballast) and peak >= RSS", m)
	}
	if cpu, err := ProcCPU(pid); err != nil || cpu <= 0 {
		t.Fatalf("cpu %v, %v", cpu, err)
	}
	if err := ResetPeak(pid); err != nil {
		t.Fatalf("reset peak of our own process: %v", err)
	}
	if after, err := ProcStatus(pid); err != nil || after.Peak < after.RSS {
		t.Fatalf("after reset %+v, %v", after, err)
	}
	s := NewSampler(5 * time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	s.Track("me", pid)
	time.Sleep(30 * time.Millisecond)
	if got := s.Max()["me"]; got < 32<<20 {
		t.Fatalf("sampled max %d, want the ballast", got)
	}
	s.Track("gone", 1<<30) // no such process: ignored, not an error
	if _, ok := s.Max()["gone"]; ok {
		t.Fatal("a missing process has a maximum")
	}
	ballast[0]++ // keep it alive until here
}
