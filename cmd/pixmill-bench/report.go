package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything one invocation measured; --json writes it as is.
type Report struct {
	Started time.Time     `json:"started"`
	Seconds float64       `json:"seconds"`
	Machine Machine       `json:"machine"`
	Setup   Setup         `json:"setup"`
	Runs    []Run         `json:"runs"`
	Enqueue *EnqueueProbe `json:"enqueue_probe,omitempty"`
	Uploads []UploadProbe `json:"upload_probes,omitempty"`
	Notes   []string      `json:"notes,omitempty"`
}

// Machine describes where the numbers were taken.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	MemTotal  int64  `json:"mem_total_bytes"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	OSArch    string `json:"os_arch"`
	Revision  string `json:"revision"` // of this command's build: the same tree as the server's
}

// Setup is how the service was run.
type Setup struct {
	Server      string `json:"server,omitempty"` // binary started per run
	URL         string `json:"url,omitempty"`    // or an existing service
	Workers     int    `json:"workers"`          // 0: unknown (an existing service)
	Concurrency int    `json:"concurrency"`      // workers, and the in-process run's parallelism
	Inflight    int    `json:"inflight"`         // jobs the clients keep in flight end to end
	Warmup      int    `json:"warmup"`
	Poll        string `json:"poll"`
	Wait        string `json:"wait"` // status requests wait for the end; "0s": they poll
}

// Run is one workload measured end to end and in process.
type Run struct {
	Name    string   `json:"name"`
	Title   string   `json:"title"`
	Sources []Source `json:"sources"`
	Request request  `json:"request"`
	Jobs    int      `json:"jobs"`
	E2E     *E2E     `json:"e2e,omitempty"`
	Raw     *Raw     `json:"raw,omitempty"`
	// Ratio is end-to-end jobs/s over in-process jobs/s (target ≥ 0.9).
	Ratio float64 `json:"ratio,omitempty"`
	// Floor is the machine's cost of durable uploads and results alone, with the
	// best Ratio it leaves (after an in-process run).
	Floor *Floor `json:"floor,omitempty"`
}

// inProcessMS is the in-process run's CPU time per job, warm-up included as in
// its CPU window; 0 without one.
func (r Run) inProcessMS(warmup int) float64 {
	if r.Raw == nil {
		return 0
	}
	return r.Raw.CPU.ServiceSec * 1000 / float64(r.Jobs+warmup)
}

// Source is one file a run uploads.
type Source struct {
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
	Note  string `json:"note,omitempty"`
}

// errorCount is the number of errors of r, end to end and in process.
func (r Run) errorCount() int {
	n := 0
	if r.E2E != nil {
		n += r.E2E.Errors.Total()
	}
	if r.Raw != nil {
		n += r.Raw.Errors.Total()
	}
	return n
}

// ErrorCount is the number of errors anywhere in the report.
func (r *Report) ErrorCount() int {
	n := 0
	for _, run := range r.Runs {
		n += run.errorCount()
	}
	if r.Enqueue != nil {
		n += r.Enqueue.Errors.Total()
	}
	for _, u := range r.Uploads {
		if u.Error != "" {
			n++
		}
	}
	return n
}

// machineInfo reads the machine's description from /proc and the build.
func machineInfo() Machine {
	m := Machine{
		CPUs:      runtime.NumCPU(),
		GoVersion: runtime.Version(),
		OSArch:    runtime.GOOS + "/" + runtime.GOARCH,
		CPUModel:  procField("/proc/cpuinfo", "model name"),
		Kernel:    strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
	}
	if kb := strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB"); kb != "" {
		if n, err := strconv.ParseInt(kb, 10, 64); err == nil {
			m.MemTotal = n * 1024
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" && modified == "true" {
			rev += " (with uncommitted changes)"
		}
		m.Revision = rev
	}
	if m.Revision == "" { // built with -buildvcs=false: ask git about the working tree
		m.Revision = gitRevision()
	}
	return m
}

// gitRevision describes the checkout in the working directory, or returns "".
func gitRevision() string {
	rev, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return ""
	}
	s := strings.TrimSpace(string(rev))
	if st, err := exec.Command("git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(bytes.TrimSpace(st)) > 0 {
		s += " (with uncommitted changes)"
	}
	return s
}

// procField returns the value of the first "key: value" line of a /proc file.
func procField(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(b)) {
		k, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func readFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return string(b)
}

// table is a header and rows, written as aligned text or as Markdown.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

func (t *table) write(w io.Writer, markdown bool) error {
	if markdown {
		line := func(cells []string) string { return "| " + strings.Join(cells, " | ") + " |\n" }
		sep := make([]string, len(t.header))
		for i := range sep {
			sep[i] = "---"
		}
		var b strings.Builder
		b.WriteString(line(t.header))
		b.WriteString(line(sep))
		for _, r := range t.rows {
			b.WriteString(line(r))
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	var b strings.Builder
	b.WriteString(strings.Join(t.header, "\t") + "\n")
	for _, r := range t.rows {
		b.WriteString(strings.Join(r, "\t") + "\n")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if _, err := io.WriteString(tw, b.String()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// fmtMS formats milliseconds with precision that suits their size.
func fmtMS(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// fmtPcts is "p50 / p95 / p99" of s, or "-" when it is empty.
func fmtPcts(s Summary) string {
	if s.N == 0 {
		return "-"
	}
	return fmtMS(s.P50) + " / " + fmtMS(s.P95) + " / " + fmtMS(s.P99)
}

// fmtMiB formats bytes in MiB; 0 (unknown) is "-".
func fmtMiB(b int64) string {
	if b == 0 {
		return "-"
	}
	return strconv.FormatFloat(float64(b)/(1<<20), 'f', 1, 64)
}

func fmtRate(v float64) string {
	if v == 0 {
		return "-"
	}
	if v >= 100 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// WriteText writes the human-readable report: a header, the tables, every error
// and the probes. With markdown set the tables are Markdown tables.
func (r *Report) WriteText(w io.Writer, markdown bool) error {
	bw := &errWriter{w: w}
	m := r.Machine
	bw.printf("pixmill-bench %s — %d CPUs (%s), %s RAM, %s %s, kernel %s, revision %s\n",
		r.Started.Format(time.RFC3339), m.CPUs, m.CPUModel, fmtGiB(m.MemTotal), m.GoVersion, m.OSArch, m.Kernel, orDash(m.Revision))
	target := r.Setup.URL
	if target == "" {
		target = r.Setup.Server + fmt.Sprintf(" (a fresh process per run, %d workers, built-in defaults)", r.Setup.Workers)
	}
	status := "status ?wait=" + r.Setup.Wait
	if r.Setup.Wait == "0s" || r.Setup.Wait == "" {
		status = "poll every " + r.Setup.Poll
	}
	bw.printf("service %s; %d jobs in flight, each upload → %s → download; in process at parallelism %d; %d warm-up jobs per run not counted\n",
		target, r.Setup.Inflight, status, r.Setup.Concurrency, r.Setup.Warmup)
	for _, n := range r.Notes {
		bw.printf("note: %s\n", n)
	}

	if len(r.Runs) > 0 {
		thr := &table{header: []string{"run", "what", "jobs", "e2e jobs/s", "raw jobs/s", "e2e/raw", "errors", "other CPU e2e/raw"}}
		lat := &table{header: []string{"run", "upload→completed p50/p95/p99", "queue wait p50/p95/p99", "processing p50/p95/p99", "raw Run p50/p95/p99"}}
		mem := &table{header: []string{"run", "in MiB", "out MiB", "raw out MiB", "server RSS idle MiB", "server peak RSS MiB", "raw peak RSS MiB"}}
		cpu := &table{header: []string{"run", "server", "clients", "in process", "server − in process", "server + clients − in process", "durable floor", "best e2e/raw"}}
		for _, run := range r.Runs {
			e, raw := run.E2E, run.Raw
			if e == nil {
				e = &E2E{}
			}
			if raw == nil {
				raw = &Raw{}
			}
			ratio := "-"
			if run.Ratio > 0 {
				ratio = strconv.FormatFloat(run.Ratio, 'f', 2, 64)
			}
			other := func(ran bool, c CPUShare) string {
				if !ran {
					return "-"
				}
				return fmtPct(c.Other)
			}
			thr.add(run.Name, run.Title, strconv.Itoa(run.Jobs), fmtRate(e.JobsPerSec), fmtRate(raw.JobsPerSec), ratio,
				strconv.Itoa(run.errorCount()), other(run.E2E != nil, e.CPU)+" / "+other(run.Raw != nil, raw.CPU))
			lat.add(run.Name, fmtPcts(e.Latency), fmtPcts(e.QueueWait), fmtPcts(e.Processing), fmtPcts(raw.Run))
			mem.add(run.Name, fmtMiB(e.BytesIn), fmtMiB(e.BytesOut), fmtMiB(raw.BytesOut),
				fmtMiB(e.RSSBefore), fmtMiB(e.RSSPeak), fmtMiB(raw.RSSPeak))
			perJob := func(sec float64) float64 { return sec * 1000 / float64(run.Jobs+r.Setup.Warmup) }
			server, clients, inproc := perJob(e.CPU.ServiceSec), perJob(e.CPU.ClientSec), run.inProcessMS(r.Setup.Warmup)
			ms := func(v float64, ok bool) string {
				if !ok {
					return "-"
				}
				return strconv.FormatFloat(v, 'f', 1, 64)
			}
			hasServer, hasRaw := run.E2E != nil && server > 0, run.Raw != nil && inproc > 0
			floor, best := "-", "-"
			if f := run.Floor; f != nil && f.Error == "" {
				floor = ms(f.CPUPerJob, true)
				if f.BestRatio > 0 {
					best = strconv.FormatFloat(f.BestRatio, 'f', 2, 64)
				}
			}
			cpu.add(run.Name, ms(server, hasServer), ms(clients, run.E2E != nil), ms(inproc, hasRaw),
				ms(server-inproc, hasServer && hasRaw), ms(server+clients-inproc, hasServer && hasRaw), floor, best)
		}
		bw.printf("\nThroughput (e2e: upload, queue, process, store, status, download; raw: processing.Processor.Run on the same bytes, same parallelism)\n\n")
		bw.do(func(w io.Writer) error { return thr.write(w, markdown) })
		for _, run := range r.Runs {
			if n := run.noisy(); n != "" {
				bw.printf("warning: %s\n", n)
			}
		}
		bw.printf("\nLatency, ms (queue wait and processing from the job's created_at/started_at/finished_at, ms resolution)\n\n")
		bw.do(func(w io.Writer) error { return lat.write(w, markdown) })
		bw.printf("\nCPU time per job, ms (user + system over the warm-up and the jobs, /proc; 10 ms ticks): what the service adds to the image work\n\n")
		bw.do(func(w io.Writer) error { return cpu.write(w, markdown) })
		bw.printf("\ndurable floor: the CPU, clients included, of the least a durable asynchronous service does per job on this machine (upload over HTTP written with fsyncs, a result of the same size written so, then downloaded; no job store, status request or image work). best e2e/raw = in process / (in process + floor): the most e2e/raw can reach while the CPUs are the limit.\n")
		for _, run := range r.Runs {
			if f := run.Floor; f != nil && f.Error != "" {
				bw.printf("warning: %s: durable floor not measured: %s\n", run.Name, f.Error)
			}
		}
		bw.printf("\nBytes and memory (peak RSS is the kernel's VmHWM of the process)\n\n")
		bw.do(func(w io.Writer) error { return mem.write(w, markdown) })
		for _, run := range r.Runs {
			for _, s := range run.Sources {
				if s.Note != "" {
					bw.printf("%s source: %s\n", run.Name, s.Note)
				}
			}
		}
	}

	bw.printf("\nErrors\n")
	found := false
	writeErrs := func(where string, e Errors) {
		kinds := make([]string, 0, len(e.Count))
		for k := range e.Count {
			kinds = append(kinds, k)
		}
		slices.Sort(kinds)
		for _, k := range kinds {
			found = true
			bw.printf("  %s: %d × %s (first: %s)\n", where, e.Count[k], k, e.Example[k])
		}
	}
	for _, run := range r.Runs {
		if run.E2E != nil {
			writeErrs(run.Name+" e2e", run.E2E.Errors)
		}
		if run.Raw != nil {
			writeErrs(run.Name+" raw", run.Raw.Errors)
		}
	}
	if r.Enqueue != nil {
		writeErrs("enqueue probe", r.Enqueue.Errors)
	}
	for _, u := range r.Uploads {
		if u.Error != "" {
			found = true
			bw.printf("  upload probe (%s): %s\n", u.Mode, u.Error)
		}
	}
	if !found {
		bw.printf("  none\n")
	}

	if r.Enqueue != nil || len(r.Uploads) > 0 {
		bw.printf("\nProbes\n")
	}
	if p := r.Enqueue; p != nil {
		bw.printf("  enqueue→start with an idle worker (started_at − created_at, %d tiny jobs one at a time): p50 %s ms, p95 %s ms, max %s ms; client upload→completed p50 %s ms\n",
			p.QueueWait.N, fmtMS(p.QueueWait.P50), fmtMS(p.QueueWait.P95), fmtMS(p.QueueWait.Max), fmtMS(p.Latency.P50))
	}
	for _, u := range r.Uploads {
		how := "VmHWM"
		if !u.PeakIsExact {
			how = "sampled VmRSS"
		}
		answer := fmt.Sprintf("HTTP %d %s", u.Status, u.Code)
		if u.Status == 0 {
			answer = "no answer"
		}
		bw.printf("  %s MiB upload (%s): %s after %.1f s, %s MiB sent; server RSS %s → %s MiB (%s), increase %s MiB\n",
			fmtMiB(u.BodyBytes), u.Mode, answer, u.Seconds, fmtMiB(u.Sent), fmtMiB(u.RSSBefore), fmtMiB(max(u.RSSPeak, u.RSSMaxSampled)), how, fmtMiB(u.Increase))
	}
	bw.printf("\ntook %.0f s\n", r.Seconds)
	return bw.err
}

// WriteJSON writes the report as indented JSON to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// noisyShare is the share of the machine's CPU that other processes may use
// during a measurement before the report warns about it.
const noisyShare = 0.05

// noisy says when other processes took enough CPU to bias r.
func (r Run) noisy() string {
	var parts []string
	if r.E2E != nil && r.E2E.CPU.Other > noisyShare {
		parts = append(parts, "end to end "+fmtPct(r.E2E.CPU.Other))
	}
	if r.Raw != nil && r.Raw.CPU.Other > noisyShare {
		parts = append(parts, "in process "+fmtPct(r.Raw.CPU.Other))
	}
	if len(parts) == 0 {
		return ""
	}
	return fmt.Sprintf("%s: other processes used %s of the machine's CPU; its numbers are low by about that much and not reference numbers",
		r.Name, strings.Join(parts, ", "))
}

// fmtPct formats a fraction as a percentage.
func fmtPct(f float64) string {
	return strconv.FormatFloat(100*f, 'f', 0, 64) + "%"
}

func fmtGiB(b int64) string {
	if b == 0 {
		return "? GiB"
	}
	return strconv.FormatFloat(float64(b)/(1<<30), 'f', 1, 64) + " GiB"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// errWriter keeps the first write error so that a long report needs one check.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

func (e *errWriter) do(f func(io.Writer) error) {
	if e.err == nil {
		e.err = f(e.w)
	}
}
