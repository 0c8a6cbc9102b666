package main

import (
	"os"
	"time"

	"github.com/fedora-eln/ebs/libs/benchkit"
)

// memory records the peak RSS of every process per phase: VmHWM, reset
// when a phase starts (clear_refs), read when it ends; a 50 ms sampler
// gives the same figure a second way.
type memory struct {
	s       *System
	sampler *benchkit.Sampler
	peaks   map[string]benchkit.ProcPeak
	noReset bool // clear_refs refused: VmHWM covers the whole process life
	cpu0    map[string]time.Duration
}

const harnessName = "ebsbench (Koji, Bodhi, OIDC simulators)"

func newMemory(s *System, sampler *benchkit.Sampler) *memory {
	return &memory{s: s, sampler: sampler, peaks: map[string]benchkit.ProcPeak{}, cpu0: map[string]time.Duration{}}
}

func (m *memory) pids() map[string]int {
	out := m.s.ServicePids()
	if p := m.s.NATS.Pid(); p > 0 {
		out["nats-server"] = p
	}
	out[harnessName] = os.Getpid()
	return out
}

// start resets every process's peak.
func (m *memory) start() {
	for name, pid := range m.pids() {
		m.sampler.Track(name, pid)
		if err := benchkit.ResetPeak(pid); err != nil {
			m.noReset = true
		}
		m.cpu0[name], _ = benchkit.ProcCPU(pid)
	}
	m.sampler.Reset()
}

// stop records each process's peak since start under phase ("ingest" or
// "batches"), keeping the largest.
func (m *memory) stop(phase string) {
	sampled := m.sampler.Max()
	for name, pid := range m.pids() {
		st, err := benchkit.ProcStatus(pid)
		if err != nil {
			continue
		}
		p := m.peaks[name]
		v := benchkit.MiB(st.Peak)
		cpu, _ := benchkit.ProcCPU(pid)
		cpu -= m.cpu0[name]
		switch phase {
		case "ingest":
			p.Ingest = max(p.Ingest, v)
			p.IngestCPU += cpu.Seconds()
		default:
			p.Batches = max(p.Batches, v)
			p.BatchesCPU += cpu.Seconds()
		}
		p.Peak = max(p.Peak, v)
		p.Sampled = max(p.Sampled, benchkit.MiB(sampled[name]))
		_, p.Service = m.s.Procs[name]
		m.peaks[name] = p
	}
}
