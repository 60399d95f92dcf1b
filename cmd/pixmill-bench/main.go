// Command pixmill-bench measures pixmill end to end and compares it with the same
// work done in process.
//
// For each workload it starts the service binary (--server, a fresh process on a
// temporary data directory and a free loopback port, --workers workers) or uses an
// existing one (--url), uploads the workload's image with its ops from
// --concurrency clients until --jobs jobs are done (each client uploads, polls the
// job until it ends, downloads the result, and starts the next), and reports
// jobs/s, upload→completed latency percentiles, the queue-wait/processing split
// from the job JSON's timestamps, bytes in and out, the server's RSS before the run
// and its peak (VmHWM), and every error by kind. It then runs the same Spec on the
// same bytes with processing.Processor.Run, in a child process of its own, at the
// same parallelism, and reports the ratio end-to-end / in-process. Last it
// measures the durable-service floor (floor.go): what uploads and results written
// with fsyncs and sent over HTTP cost this machine's CPUs without any image work,
// and so the highest ratio any durable service could reach here.
//
// The reference workloads W1–W5 are built in (--workload, --all); --image or --ops
// make a custom run. Two probes complete --all: the wait from commit to start with
// an idle worker, and the server's RSS increase while it receives a 200 MiB upload.
//
// Usage:
//
//	pixmill-bench --all [--json bench.json]
//	pixmill-bench --workload W1,W3 -c 4 -n 100
//	pixmill-bench --image cat.jpg --ops 'fit:w=1600,h=1600|sharpen:sigma=0.5' --format webp
//	pixmill-bench --url http://host:8080 --workload W3
//
// The command exits with status 1 when any job failed, after printing the report.
// See docs/benchmarks.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == rawChildCommand {
		if err := rawChild(ctx, os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "pixmill-bench raw-child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "pixmill-bench:", err)
		os.Exit(1)
	}
}

// options are the command line.
type options struct {
	server, url string
	pid         int
	images      string
	image       string
	ops, format string
	quality     int
	workloads   []string
	all         bool
	conc        int
	inflight    int
	workers     int
	jobs        int
	warmup      int
	wait        time.Duration
	poll        time.Duration
	timeout     time.Duration
	raw         bool
	probes      bool
	enqueueJobs int
	uploadMiB   int
	jsonPath    string
	markdown    bool
}

// defaultImages is where the reference photos are: $PIXMILL_BENCH_IMAGES, or the
// shared image folder next to the repository.
func defaultImages() string {
	if d := os.Getenv("PIXMILL_BENCH_IMAGES"); d != "" {
		return d
	}
	return filepath.Join("..", "shared", "testdata", "images")
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := pflag.NewFlagSet("pixmill-bench", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.server, "server", "bin/pixmill", "the pixmill binary to start for each run")
	fs.StringVar(&o.url, "url", "", "measure this running service instead of starting --server")
	fs.IntVar(&o.pid, "pid", 0, "with --url: the service's process id, to read its memory")
	fs.StringVar(&o.images, "images", defaultImages(), "folder of the reference photos; with --ops and no --image, every image in it is uploaded in turn")
	fs.StringVar(&o.image, "image", "", "custom run: upload this file")
	fs.StringVar(&o.ops, "ops", "", "custom run: the ops field (compact or JSON)")
	fs.StringVar(&o.format, "format", "", "custom run: the output format (default: the input's)")
	fs.IntVar(&o.quality, "quality", 0, "custom run: the output quality (default: the format's)")
	fs.StringSliceVar(&o.workloads, "workload", nil, "reference workloads to run: W1..W5, comma-separated")
	fs.BoolVar(&o.all, "all", false, "run W1..W5 and the probes (the default when nothing else is asked for)")
	fs.IntVarP(&o.conc, "concurrency", "c", 2, "the server's workers and the in-process run's goroutines")
	fs.IntVar(&o.inflight, "inflight", 0, "jobs the clients keep in flight end to end (default: 2 × --concurrency, so the queue stays fed while clients upload, poll and download)")
	fs.IntVar(&o.workers, "workers", 0, "the started server's --workers (default: --concurrency)")
	fs.IntVarP(&o.jobs, "jobs", "n", 0, "measured jobs per run (default: the workload's; 50 for a custom run)")
	fs.IntVar(&o.warmup, "warmup", -1, "jobs run before each measurement and not counted (default: --concurrency)")
	fs.DurationVar(&o.wait, "wait", 30*time.Second, "status requests wait up to this for the job to end (GET /v1/jobs/{id}?wait=); 0 polls every --poll instead")
	fs.DurationVar(&o.poll, "poll", 10*time.Millisecond, "with --wait 0: interval between two status requests of a job")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "upload to completed, per job")
	fs.BoolVar(&o.raw, "raw", true, "also run each workload in process (processing.Processor.Run)")
	fs.BoolVar(&o.probes, "probes", false, "run the enqueue→start and large-upload probes (on with --all)")
	fs.IntVar(&o.enqueueJobs, "enqueue-jobs", 50, "jobs of the enqueue→start probe")
	fs.IntVar(&o.uploadMiB, "upload-mib", 200, "size of the large-upload probe's file, MiB")
	fs.StringVar(&o.jsonPath, "json", "", "also write the report as JSON to this file")
	fs.BoolVar(&o.markdown, "markdown", false, "print the tables as Markdown")
	fs.Usage = func() {
		_, _ = fmt.Fprintln(stderr, "pixmill-bench: load-test pixmill end to end and compare it with in-process processing\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	custom := o.image != "" || o.ops != ""
	if !custom && len(o.workloads) == 0 {
		o.all = true
	}
	switch {
	case custom && (o.all || len(o.workloads) > 0):
		return options{}, errors.New("give either --image/--ops (a custom run) or --workload/--all, not both")
	case custom && o.ops == "":
		return options{}, errors.New("a custom run needs --ops")
	case !custom && (o.format != "" || o.quality != 0):
		return options{}, errors.New("--format and --quality belong to a custom run (--ops)")
	case o.conc < 1:
		return options{}, errors.New("--concurrency must be at least 1")
	case o.jobs < 0 || o.workers < 0 || o.enqueueJobs < 1 || o.uploadMiB < 1:
		return options{}, errors.New("--jobs, --workers, --enqueue-jobs and --upload-mib must be positive")
	case o.poll <= 0 || o.timeout <= 0:
		return options{}, errors.New("--poll and --timeout must be positive")
	case o.wait < 0 || o.wait > time.Minute:
		return options{}, errors.New("--wait must be from 0 to 1m (the service's limit)")
	}
	if o.all {
		o.workloads = []string{"W1", "W2", "W3", "W4", "W5"}
		if !fs.Changed("probes") {
			o.probes = true
		}
	}
	if o.workers == 0 {
		o.workers = o.conc
	}
	if o.warmup < 0 {
		o.warmup = o.conc
	}
	if o.inflight <= 0 {
		o.inflight = 2 * o.conc
	}
	return o, nil
}

// plan is one run to do: sources and request.
type plan struct {
	name, title string
	files       []Source
	req         request
	jobs        int
}

// makePlans resolves the runs the options ask for; W5's PNG is written to tmp.
func makePlans(o options, tmp string) ([]plan, error) {
	if len(o.workloads) == 0 { // custom
		paths := []string{o.image}
		if o.image == "" {
			var err error
			if paths, err = listImages(o.images); err != nil {
				return nil, err
			}
		}
		p := plan{name: "custom", title: o.ops, req: request{Ops: o.ops, Format: o.format, Quality: o.quality}, jobs: o.jobs}
		if o.format != "" {
			p.title += " → " + o.format
		}
		if p.jobs == 0 {
			p.jobs = 50
		}
		for _, path := range paths {
			st, err := os.Stat(path)
			if err != nil {
				return nil, fmt.Errorf("image: %w", err)
			}
			p.files = append(p.files, Source{Path: path, Bytes: st.Size()})
		}
		return []plan{p}, nil
	}
	ws, err := findWorkloads(o.workloads)
	if err != nil {
		return nil, err
	}
	var plans []plan
	for _, w := range ws {
		path := filepath.Join(o.images, w.file)
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("%s needs %s (set --images or PIXMILL_BENCH_IMAGES): %w", w.name, w.file, err)
		}
		src := Source{Path: path}
		if w.png {
			if src.Path, err = makePNG(path, tmp); err != nil {
				return nil, err
			}
			src.Note = fmt.Sprintf("generated at start: %s decoded and encoded as PNG (Go image/png, default compression) into %s; no large PNG is in the shared images", w.file, src.Path)
		}
		st, err := os.Stat(src.Path)
		if err != nil {
			return nil, fmt.Errorf("%s source: %w", w.name, err)
		}
		src.Bytes = st.Size()
		p := plan{name: w.name, title: w.title, files: []Source{src}, req: w.req, jobs: o.jobs}
		if p.jobs == 0 {
			p.jobs = w.jobs
		}
		plans = append(plans, p)
	}
	return plans, nil
}

// run is main without the process: it measures what args ask for, prints the
// report to stdout and progress to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "pixmill-bench-")
	if err != nil {
		return fmt.Errorf("temporary dir: %w", err)
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	plans, err := makePlans(o, tmp)
	if err != nil {
		return err
	}
	// Every run's request must be one the service takes; say so before starting.
	for _, p := range plans {
		if _, err := buildSpec(p.req); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}

	rep := &Report{
		Started: time.Now(),
		Machine: machineInfo(),
		Setup: Setup{
			Concurrency: o.conc, Inflight: o.inflight, Warmup: o.warmup, Poll: o.poll.String(),
			Wait: o.wait.String(),
		},
	}
	if o.url != "" {
		rep.Setup.URL = o.url
	} else {
		rep.Setup.Server, rep.Setup.Workers = o.server, o.workers
	}
	if env := pixmillEnv(); len(env) > 0 {
		rep.Notes = append(rep.Notes, "the server inherits "+strings.Join(env, ", "))
	}
	progress := func(format string, args ...any) { _, _ = fmt.Fprintf(stderr, format+"\n", args...) }

	for _, p := range plans {
		if ctx.Err() != nil {
			break
		}
		r, err := measure(ctx, o, p, progress)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		rep.Runs = append(rep.Runs, r)
	}
	if o.probes && ctx.Err() == nil {
		if err := runProbes(ctx, o, rep, progress); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		rep.Notes = append(rep.Notes, "interrupted: the report is incomplete")
	}
	rep.Seconds = time.Since(rep.Started).Seconds()

	if err := rep.WriteText(stdout, o.markdown); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if o.jsonPath != "" {
		if err := rep.WriteJSON(o.jsonPath); err != nil {
			return err
		}
	}
	if n := rep.ErrorCount(); n > 0 {
		return fmt.Errorf("%d errors (listed in the report)", n)
	}
	return ctx.Err()
}

// pixmillEnv lists the PIXMILL_* variables a started server inherits.
func pixmillEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PIXMILL_") && !strings.HasPrefix(kv, "PIXMILL_BENCH_") {
			out = append(out, kv)
		}
	}
	return out
}

// target is the service a run talks to, and how to stop it.
type target struct {
	base string
	pid  int // 0: unknown
	srv  *server
}

func startTarget(ctx context.Context, o options, env ...string) (target, error) {
	if o.url != "" {
		return target{base: strings.TrimSuffix(o.url, "/"), pid: o.pid}, nil
	}
	srv, err := startServer(ctx, o.server, o.workers, env...)
	if err != nil {
		return target{}, err
	}
	return target{base: srv.base, pid: srv.pid(), srv: srv}, nil
}

// stop stops a server this command started and reports the ERROR lines it logged.
func (t target) stop(errs *Errors) error {
	if t.srv == nil {
		return nil
	}
	if n, first := t.srv.logs.errorLines(); n > 0 {
		for range n {
			errs.add("server logged an ERROR line", first)
		}
	}
	return t.srv.stop()
}

// measure runs one plan end to end, then in process.
func measure(ctx context.Context, o options, p plan, progress func(string, ...any)) (Run, error) {
	r := Run{Name: p.name, Title: p.title, Sources: p.files, Request: p.req, Jobs: p.jobs}
	payloads := make([]payload, len(p.files))
	paths := make([]string, len(p.files))
	for i, f := range p.files {
		b, err := os.ReadFile(f.Path)
		if err != nil {
			return Run{}, fmt.Errorf("read source: %w", err)
		}
		if payloads[i], err = newPayload(filepath.Base(f.Path), b, p.req); err != nil {
			return Run{}, err
		}
		paths[i] = f.Path
	}

	progress("%s: %s — end to end, %d jobs (+%d warm-up), %d workers, %d in flight", p.name, p.title, p.jobs, o.warmup, o.workers, o.inflight)
	t, err := startTarget(ctx, o)
	if err != nil {
		return Run{}, err
	}
	e2e, err := loadWithMemory(ctx, o, t, payloads, p.jobs)
	if serr := t.stop(&e2e.Errors); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return Run{}, err
	}
	r.E2E = &e2e
	progress("%s: %.2f jobs/s end to end, %d errors", p.name, e2e.JobsPerSec, e2e.Errors.Total())

	if o.raw && ctx.Err() == nil {
		progress("%s: in process, %d runs (+%d warm-up) at parallelism %d", p.name, p.jobs, o.warmup, o.conc)
		raw, err := runRaw(ctx, rawSpec{Files: paths, Request: p.req, Jobs: p.jobs, Conc: o.conc, Warmup: o.warmup})
		if err != nil {
			return Run{}, err
		}
		r.Raw = &raw
		if raw.JobsPerSec > 0 {
			r.Ratio = e2e.JobsPerSec / raw.JobsPerSec
		}
		progress("%s: %.2f jobs/s in process; e2e/raw %.2f", p.name, raw.JobsPerSec, r.Ratio)
	}
	if r.Raw != nil && r.Raw.Completed > 0 && ctx.Err() == nil {
		n := min(p.jobs, 200)
		progress("%s: durable-service floor, %d uploads of %s at %d in flight", p.name, n, p.files[0].Path, o.inflight)
		f, err := measureFloor(ctx, payloads[0], r.Raw.BytesOut/int64(r.Raw.Completed), n, o.inflight)
		if err != nil {
			f.Error = err.Error() // the rest of the report stands
		} else if in := r.inProcessMS(o.warmup); in > 0 {
			f.BestRatio = in / (in + f.CPUPerJob)
		}
		r.Floor = &f
	}
	return r, nil
}

// loadWithMemory runs the load test against t while sampling its memory.
func loadWithMemory(ctx context.Context, o options, t target, payloads []payload, jobs int) (E2E, error) {
	c := newClient(t.base, o.inflight, o.wait, o.poll, o.timeout)
	defer c.close()
	var (
		before memStatus
		smp    *sampler
	)
	if t.pid != 0 {
		var err error
		if before, err = readMem(t.pid); err != nil {
			return E2E{}, err
		}
		_ = resetPeak(t.pid) // an existing server's earlier peak is not this run's
		smp = startSampler(t.pid, 20*time.Millisecond)
	}
	// The warm-up is part of the CPU window, as it is for the in-process run.
	var cpu *cpuMeter
	if t.pid != 0 {
		cpu = startCPU(t.pid)
	} else {
		cpu = startCPU()
	}
	e := loadTest(ctx, c, payloads, jobs, o.inflight, o.warmup)
	if share, err := cpu.stop(); err != nil {
		e.Errors.add("cpu accounting", err.Error())
	} else {
		e.CPU = share
	}
	if smp != nil {
		hwm, maxRSS, err := smp.stop()
		if err != nil {
			e.Errors.add("memory sampling", err.Error())
		}
		e.RSSBefore, e.RSSPeak, e.RSSMaxSampled = before.RSS, hwm, maxRSS
	}
	return e, nil
}

// runProbes measures enqueue→start with an idle worker and the server's memory
// during a large upload, each on a fresh server.
func runProbes(ctx context.Context, o options, rep *Report, progress func(string, ...any)) error {
	progress("probe: enqueue→start with an idle worker, %d tiny jobs one at a time", o.enqueueJobs)
	t, err := startTarget(ctx, o)
	if err != nil {
		return err
	}
	c := newClient(t.base, 1, o.wait, o.poll, o.timeout)
	p, err := probeEnqueue(ctx, c, o.enqueueJobs)
	c.close()
	if serr := t.stop(&p.Errors); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		return err
	}
	rep.Enqueue = &p

	if o.url != "" {
		rep.Notes = append(rep.Notes, "large-upload probe skipped: it needs a server started with PIXMILL_LIMITS_MAX_UPLOAD_BYTES=300000000")
		return nil
	}
	size := int64(o.uploadMiB) << 20
	for _, chunked := range []bool{false, true} {
		if ctx.Err() != nil {
			break
		}
		progress("probe: server RSS during a %d MiB upload (chunked=%v)", o.uploadMiB, chunked)
		// The limit is above the body, so that the whole body streams in.
		limit := fmt.Sprintf("PIXMILL_LIMITS_MAX_UPLOAD_BYTES=%d", max(300_000_000, size+size/2))
		t, err := startTarget(ctx, o, limit)
		if err != nil {
			return err
		}
		u := probeUpload(ctx, t.base, t.pid, size, chunked)
		var errs Errors
		if serr := t.stop(&errs); serr != nil {
			return serr
		}
		if errs.Total() > 0 && u.Error == "" {
			u.Error = fmt.Sprintf("the server logged %d ERROR lines", errs.Total())
		}
		rep.Uploads = append(rep.Uploads, u)
	}
	return nil
}
