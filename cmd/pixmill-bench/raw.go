package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/pixmill/pixmill/internal/job"
	"github.com/pixmill/pixmill/internal/processing"
)

// rawChildCommand is the hidden subcommand that runs the in-process side of a
// workload. It runs in a process of its own so that its peak RSS is its own.
const rawChildCommand = "raw-child"

// rawSpec is what the parent asks a raw child to do.
type rawSpec struct {
	Files   []string `json:"files"` // read in turn, job i takes Files[i % len]
	Request request  `json:"request"`
	Jobs    int      `json:"jobs"`
	Conc    int      `json:"conc"`
	Warmup  int      `json:"warmup"`
}

// Raw is what the in-process run of a workload measured: processing.Processor.Run
// on the same bytes, with no HTTP, queue or storage.
type Raw struct {
	Jobs       int     `json:"jobs"`
	Completed  int     `json:"completed"`
	WallMS     float64 `json:"wall_ms"`
	JobsPerSec float64 `json:"jobs_per_sec"`
	Run        Summary `json:"run"` // one Run call
	BytesIn    int64   `json:"bytes_in"`
	BytesOut   int64   `json:"bytes_out"`
	// RSS of the child process: idle with its files loaded, and its VmHWM at the end.
	RSSBefore     int64 `json:"rss_before_bytes"`
	RSSPeak       int64 `json:"rss_peak_bytes"`
	RSSMaxSampled int64 `json:"rss_max_sampled_bytes"`
	// CPU is how the machine's CPU time was spent during the warm-up and the runs.
	CPU    CPUShare `json:"cpu"`
	Errors Errors   `json:"errors"`
}

// buildSpec turns the form fields of a request into the Spec the service would
// make of them.
func buildSpec(r request) (job.Spec, error) {
	ops, err := job.ParseOps(r.Ops)
	if err != nil {
		return job.Spec{}, fmt.Errorf("ops %q: %w", r.Ops, err)
	}
	f, err := job.ParseFormat(r.Format)
	if err != nil {
		return job.Spec{}, fmt.Errorf("format %q: %w", r.Format, err)
	}
	s := job.Spec{Variants: []job.Variant{{Name: job.DefaultVariant, Ops: ops, Format: f, Quality: r.Quality}}}
	if err := s.Validate(job.Limits{}); err != nil {
		return job.Spec{}, fmt.Errorf("request: %w", err)
	}
	return s, nil
}

// runRaw runs spec in a child process (this executable's raw-child subcommand)
// and samples its memory.
func runRaw(ctx context.Context, spec rawSpec) (Raw, error) {
	self, err := os.Executable()
	if err != nil {
		return Raw{}, fmt.Errorf("find own executable: %w", err)
	}
	cmd := exec.CommandContext(ctx, self, rawChildCommand)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return Raw{}, fmt.Errorf("raw child stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return Raw{}, fmt.Errorf("raw child stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return Raw{}, fmt.Errorf("start raw child: %w", err)
	}
	defer func() {
		stdin.Close()
		_ = cmd.Wait()
	}()
	out := bufio.NewReader(stdout)
	if err := json.NewEncoder(stdin).Encode(spec); err != nil {
		return Raw{}, fmt.Errorf("raw child: send spec: %w", err)
	}
	if line, err := out.ReadString('\n'); err != nil {
		return Raw{}, fmt.Errorf("raw child did not get ready: %w", err)
	} else if line != "ready\n" {
		return Raw{}, fmt.Errorf("raw child said %q instead of ready", line)
	}
	pid := cmd.Process.Pid
	before, err := readMem(pid)
	if err != nil {
		return Raw{}, err
	}
	_ = resetPeak(pid) // without it the peak includes loading the files, which is small
	smp := startSampler(pid, 20*time.Millisecond)
	cpu := startCPU(pid)
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		_, _, _ = smp.stop()
		return Raw{}, fmt.Errorf("raw child: start: %w", err)
	}
	line, err := out.ReadBytes('\n')
	share, cerr := cpu.stop()
	hwm, maxRSS, serr := smp.stop() // the child waits for stdin to close: still alive
	if err != nil {
		return Raw{}, fmt.Errorf("raw child: read result: %w", err)
	}
	var r Raw
	if err := json.Unmarshal(line, &r); err != nil {
		return Raw{}, fmt.Errorf("raw child: result %q: %w", truncate(line, 200), err)
	}
	if serr != nil {
		r.Errors.add("memory sampling", serr.Error())
	}
	if cerr != nil {
		r.Errors.add("cpu accounting", cerr.Error())
	}
	r.CPU = share
	r.RSSBefore, r.RSSPeak, r.RSSMaxSampled = before.RSS, hwm, maxRSS
	return r, nil
}

// rawChild is the raw-child subcommand: read a rawSpec line, load the files, say
// "ready", wait for "go", run and write the Raw as one JSON line, then wait for
// stdin to close so that the parent can read the final memory figures.
func rawChild(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	in := bufio.NewReader(stdin)
	line, err := in.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	var spec rawSpec
	if err := json.Unmarshal(line, &spec); err != nil {
		return fmt.Errorf("decode spec: %w", err)
	}
	if len(spec.Files) == 0 || spec.Jobs < 1 || spec.Conc < 1 {
		return errors.New("spec needs files, jobs ≥ 1 and conc ≥ 1")
	}
	files := make([][]byte, len(spec.Files))
	for i, name := range spec.Files {
		if files[i], err = os.ReadFile(name); err != nil {
			return fmt.Errorf("load source: %w", err)
		}
	}
	js, err := buildSpec(spec.Request)
	if err != nil {
		return err
	}
	proc, err := processing.New(processing.DefaultConfig())
	if err != nil {
		return fmt.Errorf("processor: %w", err)
	}
	if _, err := io.WriteString(stdout, "ready\n"); err != nil {
		return fmt.Errorf("say ready: %w", err)
	}
	if _, err := in.ReadString('\n'); err != nil {
		return fmt.Errorf("wait for go: %w", err)
	}
	r := runInProcess(ctx, proc, files, js, spec.Jobs, spec.Conc, spec.Warmup)
	if err := json.NewEncoder(stdout).Encode(r); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	_, _ = io.Copy(io.Discard, in)
	return nil
}

// runInProcess runs warmup and then n Runs of js on files in turn, conc at a time.
func runInProcess(ctx context.Context, proc *processing.Processor, files [][]byte, js job.Spec, n, conc, warmup int) Raw {
	type result struct {
		d        time.Duration
		in, out  int64
		err, msg string
	}
	do := func(count int) ([]result, time.Duration) {
		res := make([]result, count)
		for i := range res {
			res[i] = result{err: "not run", msg: "interrupted before this run started"}
		}
		wall := inParallel(ctx, count, conc, func(i int) {
			src := files[i%len(files)]
			t := time.Now()
			out, err := proc.Run(ctx, bytes.NewReader(src), js)
			if err != nil {
				res[i] = result{err: "run: " + string(job.ErrorCode(err)), msg: err.Error()}
				return
			}
			res[i] = result{d: time.Since(t), in: int64(len(src)), out: int64(len(out[0].Data))}
		})
		return res, wall
	}
	var r Raw
	if warmup > 0 {
		ws, _ := do(warmup)
		for _, w := range ws {
			if w.err != "" {
				r.Errors.add("warm-up: "+w.err, w.msg)
			}
		}
	}
	res, wall := do(n)
	var ds []time.Duration
	for _, x := range res {
		if x.err != "" {
			r.Errors.add(x.err, x.msg)
			continue
		}
		r.Completed++
		r.BytesIn += x.in
		r.BytesOut += x.out
		ds = append(ds, x.d)
	}
	r.Jobs, r.WallMS, r.JobsPerSec, r.Run = n, ms(wall), perSecond(r.Completed, wall), summarize(ds)
	return r
}
