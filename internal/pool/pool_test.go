package pool_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/pixmill/pixmill/internal/job"
	"github.com/pixmill/pixmill/internal/pool"
	"github.com/pixmill/pixmill/internal/store/sqlstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newStore(t *testing.T) job.Store {
	t.Helper()
	s, err := sqlstore.OpenSQLite(t.Context(), sqlstore.Config{Path: filepath.Join(t.TempDir(), "jobs.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func enqueue(t *testing.T, s job.Store, id string, p job.Priority) {
	t.Helper()
	j := &job.Job{ID: id, Priority: p, Spec: job.Spec{Variants: []job.Variant{{Name: job.DefaultVariant}}}}
	if err := s.Create(t.Context(), j, 0); err != nil {
		t.Fatal(err)
	}
}

// testConfig polls rarely, so tests prove the doorbell rather than the poll.
func testConfig(workers int) pool.Config {
	c := pool.DefaultConfig(workers)
	c.PollInterval = time.Hour
	c.BackoffBase, c.BackoffMax = time.Millisecond, 2*time.Millisecond
	return c
}

func start(t *testing.T, cfg pool.Config, s job.Store, h pool.Handler) *pool.Pool {
	t.Helper()
	p, err := pool.New(cfg, s, h, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	})
	return p
}

// waitStatus polls the store until job id reaches want, or fails after 10 s.
func waitStatus(t *testing.T, s job.Store, id string, want job.Status) *job.Job {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		j, err := s.Get(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status == want {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s is %s, want %s", id, j.Status, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ok(context.Context, *job.Job) ([]job.Output, error) {
	return []job.Output{{Variant: job.DefaultVariant, Format: job.FormatPNG, Bytes: 1, Width: 1, Height: 1, ETag: "x"}}, nil
}

func TestFixedPoolNeverExceedsWorkers(t *testing.T) {
	s := newStore(t)
	const workers, jobs = 3, 30
	var running, peak atomic.Int64
	gate := make(chan struct{})
	h := func(ctx context.Context, j *job.Job) ([]job.Output, error) {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-gate // held until every worker is busy, then open for the rest
		running.Add(-1)
		return ok(ctx, j)
	}
	for i := range jobs {
		enqueue(t, s, idOf(i), job.PriorityNormal)
	}
	p := start(t, testConfig(workers), s, h)
	waitFor(t, "every worker busy", func() bool { return p.Busy() == workers && running.Load() == workers })
	close(gate)
	for i := range jobs {
		waitStatus(t, s, idOf(i), job.StatusCompleted)
	}
	if got := peak.Load(); got != workers {
		t.Errorf("peak concurrency %d, want %d", got, workers)
	}
	// A worker counts itself idle just after recording its job's outcome.
	waitFor(t, "every worker idle", func() bool { return p.Busy() == 0 })
	if p.Workers() != workers {
		t.Errorf("workers %d, want %d", p.Workers(), workers)
	}
}

func idOf(i int) string {
	return "00000000-0000-4000-8000-" + string(rune('a'+i/26)) + string(rune('a'+i%26)) + "0000000000"
}

func TestStrictPriorityThenFIFO(t *testing.T) {
	s := newStore(t)
	prios := []job.Priority{job.PriorityLow, job.PriorityNormal, job.PriorityHigh, job.PriorityLow, job.PriorityHigh, job.PriorityNormal}
	for i, p := range prios {
		enqueue(t, s, idOf(i), p)
	}
	var mu sync.Mutex
	var order []string
	h := func(ctx context.Context, j *job.Job) ([]job.Output, error) {
		mu.Lock()
		order = append(order, j.ID)
		mu.Unlock()
		return ok(ctx, j)
	}
	start(t, testConfig(1), s, h)
	for i := range prios {
		waitStatus(t, s, idOf(i), job.StatusCompleted)
	}
	want := []string{idOf(2), idOf(4), idOf(1), idOf(5), idOf(0), idOf(3)}
	mu.Lock()
	defer mu.Unlock()
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
}

func TestPanicFailsOnlyThatJob(t *testing.T) {
	s := newStore(t)
	enqueue(t, s, idOf(0), job.PriorityHigh)
	enqueue(t, s, idOf(1), job.PriorityNormal)
	h := func(ctx context.Context, j *job.Job) ([]job.Output, error) {
		if j.ID == idOf(0) {
			panic("boom")
		}
		return ok(ctx, j)
	}
	start(t, testConfig(1), s, h)
	j := waitStatus(t, s, idOf(0), job.StatusFailed)
	if j.Error == nil || j.Error.Code != job.CodeInternal || j.Attempts != 1 {
		t.Errorf("panicked job: attempts %d error %+v", j.Attempts, j.Error)
	}
	waitStatus(t, s, idOf(1), job.StatusCompleted)
}

func TestRetryPolicy(t *testing.T) {
	s := newStore(t)
	enqueue(t, s, idOf(0), job.PriorityNormal) // transient: retried up to MaxAttempts
	enqueue(t, s, idOf(1), job.PriorityNormal) // permanent: failed at once
	enqueue(t, s, idOf(2), job.PriorityNormal) // transient once, then fine
	var calls sync.Map
	h := func(ctx context.Context, j *job.Job) ([]job.Output, error) {
		n, _ := calls.LoadOrStore(j.ID, new(atomic.Int64))
		c := n.(*atomic.Int64).Add(1)
		switch j.ID {
		case idOf(0):
			return nil, job.Wrap(job.CodeUnavailable, errors.New("disk gone"), "file storage unavailable")
		case idOf(1):
			return nil, job.Errorf(job.CodeCorruptImage, "image data is corrupt")
		}
		if c == 1 {
			return nil, errors.New("transient I/O error")
		}
		return ok(ctx, j)
	}
	cfg := testConfig(2)
	cfg.PollInterval = 5 * time.Millisecond // retries come due without a doorbell
	start(t, cfg, s, h)

	j := waitStatus(t, s, idOf(0), job.StatusFailed)
	if j.Attempts != cfg.MaxAttempts || j.Error.Code != job.CodeUnavailable {
		t.Errorf("transient: attempts %d error %+v", j.Attempts, j.Error)
	}
	j = waitStatus(t, s, idOf(1), job.StatusFailed)
	if j.Attempts != 1 || j.Error.Code != job.CodeCorruptImage {
		t.Errorf("permanent: attempts %d error %+v", j.Attempts, j.Error)
	}
	j = waitStatus(t, s, idOf(2), job.StatusCompleted)
	if j.Attempts != 2 {
		t.Errorf("retried then completed: attempts %d", j.Attempts)
	}
}

func TestTimeoutIsRetriedThenFailed(t *testing.T) {
	s := newStore(t)
	enqueue(t, s, idOf(0), job.PriorityNormal)
	cfg := testConfig(1)
	cfg.JobTimeout = 20 * time.Millisecond
	cfg.MaxAttempts = 2
	cfg.PollInterval = 5 * time.Millisecond
	h := func(ctx context.Context, j *job.Job) ([]job.Output, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	start(t, cfg, s, h)
	j := waitStatus(t, s, idOf(0), job.StatusFailed)
	if j.Attempts != 2 || j.Error.Code != job.CodeTimeout {
		t.Errorf("attempts %d error %+v", j.Attempts, j.Error)
	}
}

func TestShutdownDeadlineReleasesRunningJob(t *testing.T) {
	s := newStore(t)
	enqueue(t, s, idOf(0), job.PriorityNormal)
	started := make(chan struct{})
	h := func(ctx context.Context, j *job.Job) ([]job.Output, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}
	p, err := pool.New(testConfig(1), s, h, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := p.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown: %v", err)
	}
	j := waitStatus(t, s, idOf(0), job.StatusQueued)
	if j.Attempts != 0 || j.LeaseToken != "" {
		t.Errorf("released job: attempts %d lease %q", j.Attempts, j.LeaseToken)
	}
}

func TestExpiredLeaseIsReclaimed(t *testing.T) {
	s := newStore(t)
	enqueue(t, s, idOf(0), job.PriorityNormal)
	// A node claims the job and dies: its lease is never renewed.
	if j, err := s.Claim(t.Context(), 50*time.Millisecond); err != nil || j == nil {
		t.Fatalf("claim: %v %v", j, err)
	}
	cfg := testConfig(1)
	cfg.Lease = 100 * time.Millisecond // the reaper runs every lease
	start(t, cfg, s, ok)
	j := waitStatus(t, s, idOf(0), job.StatusCompleted)
	if j.Attempts != 2 {
		t.Errorf("attempts %d, want 2 (the dead node's and ours)", j.Attempts)
	}
}

func TestLeaseIsExtendedWhileRunning(t *testing.T) {
	s := newStore(t)
	enqueue(t, s, idOf(0), job.PriorityNormal)
	cfg := testConfig(1)
	cfg.Lease = 60 * time.Millisecond
	h := func(ctx context.Context, j *job.Job) ([]job.Output, error) {
		// Run for several leases; another reaper must not take the job away.
		deadline := time.Now().Add(300 * time.Millisecond)
		for time.Now().Before(deadline) {
			if n, err := s.RequeueExpired(ctx); err != nil || n != 0 {
				return nil, errors.New("lease was not extended")
			}
			time.Sleep(10 * time.Millisecond)
		}
		return ok(ctx, j)
	}
	start(t, cfg, s, h)
	if j := waitStatus(t, s, idOf(0), job.StatusCompleted); j.Attempts != 1 {
		t.Errorf("attempts %d", j.Attempts)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []pool.Config{
		{},
		func() pool.Config { c := pool.DefaultConfig(1); c.MaxAttempts = 0; return c }(),
		func() pool.Config { c := pool.DefaultConfig(1); c.BackoffMax = 0; return c }(),
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
	if err := pool.DefaultConfig(4).Validate(); err != nil {
		t.Error(err)
	}
}

func TestDoorbellWakesIdleDispatcher(t *testing.T) {
	s := newStore(t)
	p := start(t, testConfig(2), s, ok) // polls hourly: only the doorbell can wake it
	for i := range 5 {
		enqueue(t, s, idOf(i), job.PriorityNormal)
		p.Notify()
		waitStatus(t, s, idOf(i), job.StatusCompleted)
	}
}

func TestRateLimit(t *testing.T) {
	s := newStore(t)
	const jobs, perSecond = 21, 40.0
	for i := range jobs {
		enqueue(t, s, idOf(i), job.PriorityNormal)
	}
	cfg := testConfig(4) // enough workers that only the limit paces the jobs
	cfg.RateLimit = perSecond
	begin := time.Now()
	start(t, cfg, s, ok)
	for i := range jobs {
		waitStatus(t, s, idOf(i), job.StatusCompleted)
	}
	// 21 jobs at 40/s: the first at once, then one every 25 ms.
	if took, least := time.Since(begin), time.Duration(float64(jobs-1)/perSecond*float64(time.Second)); took < least*9/10 {
		t.Errorf("%d jobs took %v, want at least %v", jobs, took, least)
	}
}

func TestDynamicPoolGrowsAndShrinks(t *testing.T) {
	s := newStore(t)
	cfg := testConfig(1)
	cfg.MaxWorkers = 3
	cfg.IdleTimeout = 50 * time.Millisecond
	release := make(chan struct{})
	var running, peak atomic.Int64
	h := func(ctx context.Context, j *job.Job) ([]job.Output, error) {
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		<-release
		running.Add(-1)
		return ok(ctx, j)
	}
	p := start(t, cfg, s, h)
	if got := p.Workers(); got != 1 {
		t.Fatalf("idle pool has %d workers, want 1", got)
	}
	for i := range 6 {
		enqueue(t, s, idOf(i), job.PriorityNormal)
	}
	p.Notify()
	waitFor(t, "pool to grow to 3 busy workers", func() bool { return p.Busy() == 3 })
	if w := p.Workers(); w != 3 {
		t.Errorf("workers %d under backlog, want 3", w)
	}
	close(release)
	for i := range 6 {
		waitStatus(t, s, idOf(i), job.StatusCompleted)
	}
	if got := peak.Load(); got != 3 {
		t.Errorf("peak concurrency %d, want exactly the maximum 3", got)
	}
	waitFor(t, "pool to shrink back to 1 worker", func() bool { return p.Workers() == 1 })
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type recorder struct {
	mu       sync.Mutex
	started  int
	outcomes map[string]int
}

func (r *recorder) JobStarted(time.Duration) { r.mu.Lock(); r.started++; r.mu.Unlock() }
func (r *recorder) JobEnded(outcome string, _ time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.outcomes == nil {
		r.outcomes = map[string]int{}
	}
	r.outcomes[outcome]++
}

func TestObserverSeesOutcomes(t *testing.T) {
	s := newStore(t)
	enqueue(t, s, idOf(0), job.PriorityNormal)
	enqueue(t, s, idOf(1), job.PriorityNormal)
	h := func(ctx context.Context, j *job.Job) ([]job.Output, error) {
		if j.ID == idOf(1) {
			return nil, job.Errorf(job.CodeCorruptImage, "bad")
		}
		return ok(ctx, j)
	}
	rec := &recorder{}
	p, err := pool.New(testConfig(1), s, h, quiet, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, s, idOf(0), job.StatusCompleted)
	waitStatus(t, s, idOf(1), job.StatusFailed)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.started != 2 || rec.outcomes["completed"] != 1 || rec.outcomes["failed"] != 1 {
		t.Errorf("started %d outcomes %v", rec.started, rec.outcomes)
	}
}
