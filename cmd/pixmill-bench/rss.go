package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// memStatus is the memory a process uses, from /proc/<pid>/status, in bytes.
type memStatus struct {
	RSS int64 // VmRSS: resident now
	HWM int64 // VmHWM: the resident peak since start or the last resetPeak
}

// parseStatus reads VmRSS and VmHWM from the text of /proc/<pid>/status. Both must
// be present; the kernel writes them in kB.
func parseStatus(r io.Reader) (memStatus, error) {
	var (
		m              memStatus
		haveRSS, haveH bool
	)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) != 2 || fields[1] != "kB" {
			return memStatus{}, fmt.Errorf("parse %s: unexpected value %q", key, strings.TrimSpace(val))
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return memStatus{}, fmt.Errorf("parse %s: %w", key, err)
		}
		if key == "VmRSS" {
			m.RSS, haveRSS = kb*1024, true
		} else {
			m.HWM, haveH = kb*1024, true
		}
	}
	if err := sc.Err(); err != nil {
		return memStatus{}, fmt.Errorf("read status: %w", err)
	}
	if !haveRSS || !haveH {
		return memStatus{}, fmt.Errorf("status has no VmRSS or VmHWM (a kernel thread, or not Linux)")
	}
	return m, nil
}

// readMem returns the memory of process pid.
func readMem(pid int) (memStatus, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return memStatus{}, fmt.Errorf("read memory of pid %d: %w", pid, err)
	}
	m, err := parseStatus(bytes.NewReader(b))
	if err != nil {
		return memStatus{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	return m, nil
}

// resetPeak makes the kernel restart VmHWM of pid from its current RSS (Linux
// ≥ 4.0, own processes only), so that a peak can be measured for one phase.
func resetPeak(pid int) error {
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		return fmt.Errorf("reset peak RSS of pid %d: %w", pid, err)
	}
	return nil
}

// sampler polls a process's memory until stopped. The kernel's VmHWM is exact; the
// sampled VmRSS maximum is kept as a cross-check (it can miss a short spike).
type sampler struct {
	pid    int
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	maxRSS  int64
	lastHWM int64
	err     error
}

// startSampler starts sampling pid every interval.
func startSampler(pid int, interval time.Duration) *sampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &sampler{pid: pid, cancel: cancel, done: make(chan struct{})}
	s.sample()
	go func() {
		defer close(s.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *sampler) sample() {
	m, err := readMem(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return
	}
	s.maxRSS = max(s.maxRSS, m.RSS)
	s.lastHWM = max(s.lastHWM, m.HWM)
}

// stop takes a last sample (the process must still be alive for it to count) and
// returns the peak VmHWM and the largest sampled VmRSS.
func (s *sampler) stop() (hwm, maxRSS int64, err error) {
	s.cancel()
	<-s.done
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastHWM, s.maxRSS, s.err
}
