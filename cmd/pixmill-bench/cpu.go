package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// On a shared machine other processes take CPU from the one measured, and the
// numbers lie. cpuMeter tells how much: the share of the machine's CPU time, over
// a window, that processes other than the measured ones used.

// machineTicks reads the first line of /proc/stat: all CPU time and the busy part,
// in clock ticks.
func machineTicks(r io.Reader) (total, busy int64, err error) {
	b, err := io.ReadAll(io.LimitReader(r, 4096))
	if err != nil {
		return 0, 0, fmt.Errorf("read /proc/stat: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("/proc/stat: unexpected first line %q", line)
	}
	// user nice system idle iowait irq softirq steal (guest time is inside user).
	var v [8]int64
	for i := range v {
		if v[i], err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("/proc/stat field %d: %w", i+1, err)
		}
		total += v[i]
	}
	return total, total - v[3] - v[4], nil
}

// processTicks reads utime + stime, in clock ticks, from the text of
// /proc/<pid>/stat.
func processTicks(stat string) (int64, error) {
	// The command name (field 2) may hold spaces and parentheses: skip past the
	// last ')'.
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: no command name in %q", stat)
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields after the name", len(f))
	}
	u, err := strconv.ParseInt(f[11], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat utime: %w", err)
	}
	s, err := strconv.ParseInt(f[12], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("stat stime: %w", err)
	}
	return u + s, nil
}

type cpuSnapshot struct {
	total, busy int64 // the machine's
	own         int64 // the measured processes', this one included
	self        int64 // this process's
}

func snapshot(pids []int) (cpuSnapshot, error) {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuSnapshot{}, fmt.Errorf("cpu time: %w", err)
	}
	var s cpuSnapshot
	if s.total, s.busy, err = machineTicks(bytes.NewReader(stat)); err != nil {
		return cpuSnapshot{}, err
	}
	for i, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return cpuSnapshot{}, fmt.Errorf("cpu time of pid %d: %w", pid, err)
		}
		t, err := processTicks(string(b))
		if err != nil {
			return cpuSnapshot{}, fmt.Errorf("pid %d: %w", pid, err)
		}
		s.own += t
		if i == 0 {
			s.self = t
		}
	}
	return s, nil
}

// cpuMeter measures, over a window, the CPU the given processes used and what the
// rest of the machine used.
type cpuMeter struct {
	pids  []int
	start cpuSnapshot
	err   error
}

// startCPU starts a window for pids (this process is always counted as measured).
func startCPU(pids ...int) *cpuMeter {
	m := &cpuMeter{pids: append([]int{os.Getpid()}, pids...)}
	m.start, m.err = snapshot(m.pids)
	return m
}

// CPUShare is how a window's CPU time was spent, as fractions of the machine's
// total (every CPU, busy or idle), and the measured processes' CPU time (user +
// system) in seconds.
type CPUShare struct {
	Measured   float64 `json:"measured"`      // the service (or the in-process child) and this client
	Other      float64 `json:"other"`         // every other process: noise in the numbers
	ServiceSec float64 `json:"service_cpu_s"` // the service (or the in-process child); 0 when unknown
	ClientSec  float64 `json:"client_cpu_s"`  // this process: the clients
}

// clockTicks is the unit of /proc's CPU times (USER_HZ, 100 on Linux).
const clockTicks = 100

// stop ends the window; the processes must still be alive.
func (m *cpuMeter) stop() (CPUShare, error) {
	if m.err != nil {
		return CPUShare{}, m.err
	}
	end, err := snapshot(m.pids)
	if err != nil {
		return CPUShare{}, err
	}
	return share(m.start, end), nil
}

// share computes a window's CPUShare from its two snapshots.
func share(a, b cpuSnapshot) CPUShare {
	total := float64(b.total - a.total)
	if total <= 0 {
		return CPUShare{}
	}
	own, self := float64(b.own-a.own), float64(b.self-a.self)
	other := max(float64(b.busy-a.busy)-own, 0)
	return CPUShare{Measured: own / total, Other: other / total,
		ServiceSec: (own - self) / clockTicks, ClientSec: self / clockTicks}
}
