package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"syscall"
	"time"
)

// meter times the measured part of one run of one scenario: wall time, and
// the process's CPU time (user+sys over every thread, from getrusage
// RUSAGE_SELF). Setup (declaring, pre-filling) and teardown happen outside
// Start/Stop. Optionally it records a CPU profile of the measured part.
type meter struct {
	profile string // file for a CPU profile of the measured part, or ""

	t0      time.Time
	cpu0    time.Duration
	csw0    int64
	elapsed time.Duration
	cpu     time.Duration
	csw     int64 // voluntary context switches
	mallocs uint64
	allocs  uint64 // heap allocations during the measured part
	pf      *os.File
}

// usage returns the process's CPU time (user+sys, all threads) and its
// voluntary context switches so far.
func usage() (time.Duration, int64) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), int64(ru.Nvcsw)
}

// Start begins the measured part. A GC runs first so that garbage left by
// the previous run (possibly the other client's) is not billed to this one.
func (m *meter) Start() {
	runtime.GC()
	if m.profile != "" {
		if err := os.MkdirAll(filepath.Dir(m.profile), 0o755); err == nil {
			if f, err := os.Create(m.profile); err == nil {
				if pprof.StartCPUProfile(f) == nil {
					m.pf = f
				} else {
					f.Close()
				}
			}
		}
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m.mallocs = ms.Mallocs
	m.cpu0, m.csw0 = usage()
	m.t0 = time.Now()
}

// Stop ends the measured part.
func (m *meter) Stop() {
	if !m.t0.IsZero() && m.elapsed == 0 {
		m.elapsed = time.Since(m.t0)
		cpu, csw := usage()
		m.cpu, m.csw = cpu-m.cpu0, csw-m.csw0
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		m.allocs = ms.Mallocs - m.mallocs
	}
	if m.pf != nil {
		pprof.StopCPUProfile()
		m.pf.Close()
		m.pf = nil
	}
}

// sample is one run of one side of a scenario.
type sample struct {
	value  float64       // in the scenario's unit (msg/s, MiB/s, ms)
	cpu    time.Duration // client CPU per operation
	allocs float64       // heap allocations per operation
}

// summary of several runs: median with the spread.
type stat struct{ med, min, max float64 }

func summarize(xs []float64) stat {
	if len(xs) == 0 {
		return stat{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return stat{med: med, min: s[0], max: s[n-1]}
}

// human formats a rate or duration with three significant digits.
func human(v float64) string {
	switch {
	case v >= 10e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 100e3:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 10e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// cpuString formats CPU per operation.
func cpuString(d float64) string {
	t := time.Duration(d)
	switch {
	case t >= 10*time.Millisecond:
		return fmt.Sprintf("%.0fms", d/1e6)
	case t >= time.Millisecond:
		return fmt.Sprintf("%.2fms", d/1e6)
	case t >= 10*time.Microsecond:
		return fmt.Sprintf("%.1fµs", d/1e3)
	default:
		return fmt.Sprintf("%.2fµs", d/1e3)
	}
}
