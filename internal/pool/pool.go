// Package pool runs queued jobs: a dispatcher claims a job from the Store only when one
// of the worker goroutines is free and hands it over a channel; workers keep the job's
// lease alive, bound it with a timeout, turn panics into failed jobs and apply the
// retry policy. The pool is fixed by default; it may grow under backlog up to
// MaxWorkers and shrink back after IdleTimeout, and claims may be rate limited. It
// knows nothing about images: the work itself is a Handler.
package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/pixmill/pixmill/internal/job"
)

// Handler does the work of one claimed job and returns its outputs. It must honour
// ctx: the pool cancels it on timeout, on shutdown and when the lease is lost. A
// handler whose CPU work ends before its outputs are stored calls DoneComputing in
// between.
type Handler func(ctx context.Context, j *job.Job) ([]job.Output, error)

type doneComputingKey struct{}

// DoneComputing tells the pool that the job ctx belongs to has done its CPU work and
// only storing it remains. The job's worker slot then goes to the next job while the
// calling goroutine stores this one and records its outcome, so a worker does not
// sit out the storage's fsyncs. At most MaxWorkers jobs are being stored this way at
// once; beyond that, and outside a pool's job, DoneComputing returns false and the
// job keeps its slot to the end.
func DoneComputing(ctx context.Context) bool {
	f, _ := ctx.Value(doneComputingKey{}).(func() bool)
	return f != nil && f()
}

// Config sets the pool's size and policies.
type Config struct {
	Workers      int           // worker goroutines always running
	MaxWorkers   int           // > Workers lets the pool grow under backlog; 0 means Workers
	IdleTimeout  time.Duration // an extra worker idle this long exits
	RateLimit    float64       // jobs started per second at most (token bucket); 0 = unlimited
	MaxAttempts  int           // claims of one job before a transient error fails it
	JobTimeout   time.Duration // bound on one attempt
	Lease        time.Duration // lease length; renewed every Lease/3 while a job runs
	PollInterval time.Duration // claim attempt without a doorbell (retries coming due, other nodes)
	BackoffBase  time.Duration // first retry delay; doubles per attempt, with jitter
	BackoffMax   time.Duration
}

// DefaultConfig returns a Config with sensible values for workers workers.
func DefaultConfig(workers int) Config {
	return Config{
		Workers:      workers,
		IdleTimeout:  30 * time.Second,
		MaxAttempts:  3,
		JobTimeout:   2 * time.Minute,
		Lease:        30 * time.Second,
		PollInterval: time.Second,
		BackoffBase:  time.Second,
		BackoffMax:   time.Minute,
	}
}

// Validate reports a Config that cannot work.
func (c Config) Validate() error {
	switch {
	case c.Workers < 1:
		return errors.New("pool: workers must be at least 1")
	case c.MaxWorkers != 0 && c.MaxWorkers < c.Workers:
		return errors.New("pool: max workers must not be below workers")
	case c.MaxWorkers > c.Workers && c.IdleTimeout <= 0:
		return errors.New("pool: a growing pool needs a positive idle timeout")
	case c.RateLimit < 0:
		return errors.New("pool: rate limit must not be negative")
	case c.MaxAttempts < 1:
		return errors.New("pool: max attempts must be at least 1")
	case c.JobTimeout <= 0 || c.Lease <= 0 || c.PollInterval <= 0:
		return errors.New("pool: job timeout, lease and poll interval must be positive")
	case c.BackoffBase <= 0 || c.BackoffMax < c.BackoffBase:
		return errors.New("pool: backoff base must be positive and not above backoff max")
	}
	return nil
}

func (c Config) maxWorkers() int { return max(c.Workers, c.MaxWorkers) }

// Observer is told what the pool does, for metrics. Its methods must not block.
type Observer interface {
	// JobStarted is called when a worker starts a job that waited wait in the queue.
	JobStarted(wait time.Duration)
	// JobEnded is called when an attempt ends: outcome is completed, failed, retried,
	// released (shutdown) or lost (lease lost).
	JobEnded(outcome string, took time.Duration)
}

type noObserver struct{}

func (noObserver) JobStarted(time.Duration)       {}
func (noObserver) JobEnded(string, time.Duration) {}

// Pool is a dispatcher and its workers over a job.Store.
type Pool struct {
	cfg     Config
	store   job.Store
	handle  Handler
	log     *slog.Logger
	obs     Observer
	limiter *rate.Limiter // nil when unlimited

	bell    chan struct{} // doorbell: a job may be ready
	slots   chan struct{} // one token per busy worker; capacity is the most workers
	storing chan struct{} // one token per job storing after DoneComputing; same capacity
	jobs    chan *job.Job // dispatcher → workers

	busy atomic.Int64
	live atomic.Int64 // worker goroutines running

	mu      sync.Mutex
	started bool
	quit    chan struct{}      // closed by Shutdown: claim nothing more
	abort   context.CancelFunc // cancels running jobs when the shutdown deadline passes
	jobCtx  context.Context
	done    sync.WaitGroup // dispatcher and workers
}

// New returns a stopped Pool; Start runs it. obs may be nil.
func New(cfg Config, store job.Store, h Handler, log *slog.Logger, obs Observer) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil || h == nil || log == nil {
		return nil, errors.New("pool: store, handler and logger are required")
	}
	if obs == nil {
		obs = noObserver{}
	}
	p := &Pool{
		cfg:     cfg,
		store:   store,
		handle:  h,
		log:     log,
		obs:     obs,
		bell:    make(chan struct{}, 1),
		slots:   make(chan struct{}, cfg.maxWorkers()),
		storing: make(chan struct{}, cfg.maxWorkers()),
		jobs:    make(chan *job.Job),
		quit:    make(chan struct{}),
	}
	if cfg.RateLimit > 0 {
		p.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), 1) // no bursts: an even pace
	}
	return p, nil
}

// Notify rings the doorbell: a job was enqueued. It never blocks.
func (p *Pool) Notify() {
	select {
	case p.bell <- struct{}{}:
	default:
	}
}

// Workers is the number of worker goroutines running now.
func (p *Pool) Workers() int { return int(p.live.Load()) }

// Busy is the number of workers processing a job now; a job past DoneComputing
// no longer counts.
func (p *Pool) Busy() int { return int(p.busy.Load()) }

// Start requeues jobs whose lease expired (a previous process died holding them) and
// starts the dispatcher and the workers.
func (p *Pool) Start(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started {
		return errors.New("pool: already started")
	}
	n, err := p.store.RequeueExpired(ctx)
	if err != nil {
		return fmt.Errorf("requeue expired jobs: %w", err)
	}
	if n > 0 {
		p.log.Info("requeued jobs whose lease expired", "count", n)
	}
	p.started = true
	// Jobs run under a context of their own: a request's or the caller's context
	// ending must not cut a job short; only Shutdown's deadline does.
	p.jobCtx, p.abort = context.WithCancel(context.WithoutCancel(ctx))
	for range p.cfg.Workers {
		p.spawn()
	}
	p.done.Add(1)
	go p.dispatch()
	return nil
}

// Shutdown stops claiming jobs and waits for running ones to finish. When ctx ends
// first, running jobs are canceled and released back to the queue, and Shutdown
// returns once the workers have let go of them. Jobs still queued stay queued.
func (p *Pool) Shutdown(ctx context.Context) error {
	p.mu.Lock()
	if !p.started {
		p.mu.Unlock()
		return nil
	}
	select {
	case <-p.quit:
	default:
		close(p.quit)
	}
	p.mu.Unlock()

	finished := make(chan struct{})
	go func() { p.done.Wait(); close(finished) }()
	select {
	case <-finished:
		p.abort()
		return nil
	case <-ctx.Done():
		p.abort()
		<-finished
		return fmt.Errorf("pool shutdown: running jobs released: %w", ctx.Err())
	}
}

// dispatch claims a job each time a worker is free and hands it over.
func (p *Pool) dispatch() {
	defer p.done.Done()
	defer close(p.jobs)
	poll := time.NewTicker(p.cfg.PollInterval)
	defer poll.Stop()
	reap := time.NewTicker(p.cfg.Lease)
	defer reap.Stop()
	for {
		select { // a free worker first: claim nothing nobody can start
		case p.slots <- struct{}{}:
		case <-p.quit:
			return
		}
		for {
			// select picks at random among ready cases: quit must win.
			if p.quitting() || !p.awaitToken() {
				<-p.slots
				return
			}
			j, err := p.store.Claim(p.jobCtx, p.cfg.Lease)
			if err != nil && p.jobCtx.Err() == nil {
				p.log.Error("claim job", "err", err)
			}
			if j != nil {
				if p.limiter != nil {
					p.limiter.Allow() // a token is there: awaitToken saw it
				}
				p.handOver(j)
				break
			}
			select {
			case <-p.quit:
				<-p.slots
				return
			case <-p.bell:
			case <-poll.C:
			case <-reap.C:
				if n, err := p.store.RequeueExpired(p.jobCtx); err != nil {
					p.log.Error("requeue expired jobs", "err", err)
				} else if n > 0 {
					p.log.Warn("requeued jobs whose lease expired", "count", n)
				}
			}
		}
	}
}

func (p *Pool) quitting() bool {
	select {
	case <-p.quit:
		return true
	default:
		return false
	}
}

// awaitToken waits until the rate limit allows a job to start, without taking the
// token: it is taken only when a claim returns a job, so idle polling spends none.
// It returns false when the pool is shutting down.
func (p *Pool) awaitToken() bool {
	if p.limiter == nil {
		return true
	}
	for {
		missing := 1 - p.limiter.Tokens()
		if missing <= 0 {
			return true
		}
		t := time.NewTimer(time.Duration(missing / float64(p.limiter.Limit()) * float64(time.Second)))
		select {
		case <-p.quit:
			t.Stop()
			return false
		case <-t.C:
		}
	}
}

// handOver gives j to an idle worker; when every worker is busy (the slot is free
// because the pool may still grow) it starts another one. A worker of a growing pool
// may retire just as the job arrives, so there handOver looks again after a moment
// instead of waiting for whichever worker frees up next.
func (p *Pool) handOver(j *job.Job) {
	for {
		select {
		case p.jobs <- j:
			return
		default:
		}
		grow := int(p.live.Load()) < p.cfg.maxWorkers()
		if grow {
			p.spawn()
		}
		if grow || p.cfg.maxWorkers() == p.cfg.Workers {
			p.jobs <- j // the new worker, or in a fixed pool the one whose slot this is
			return
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case p.jobs <- j:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

func (p *Pool) spawn() {
	p.live.Add(1)
	p.done.Add(1)
	go p.work()
}

// work runs jobs until the dispatcher closes the channel. A worker beyond
// cfg.Workers exits after IdleTimeout without a job.
func (p *Pool) work() {
	defer p.done.Done()
	var idle *time.Timer
	if p.cfg.maxWorkers() > p.cfg.Workers {
		idle = time.NewTimer(p.cfg.IdleTimeout)
		defer idle.Stop()
	}
	for {
		var timeout <-chan time.Time
		if idle != nil {
			idle.Reset(p.cfg.IdleTimeout)
			timeout = idle.C
		}
		select {
		case j, ok := <-p.jobs:
			if !ok {
				p.live.Add(-1)
				return
			}
			p.busy.Add(1)
			var handedOff atomic.Bool
			if p.run(j, &handedOff); handedOff.Load() {
				<-p.storing
				return // a new worker took this one's place at DoneComputing
			}
			p.busy.Add(-1)
			<-p.slots
		case <-timeout:
			if p.retire() {
				return
			}
		}
	}
}

// retire lets an idle worker exit while more than cfg.Workers are running.
func (p *Pool) retire() bool {
	for {
		n := p.live.Load()
		if n <= int64(p.cfg.Workers) {
			return false
		}
		if p.live.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// handOff is DoneComputing for the job running on the calling worker: when a storing
// token is free, a new worker takes this one's place (and its count in live) and the
// job's slot is freed, so the dispatcher can claim the next job at once.
func (p *Pool) handOff(handedOff *atomic.Bool) bool {
	if handedOff.Load() {
		return true
	}
	select {
	case p.storing <- struct{}{}:
	default:
		return false
	}
	if !handedOff.CompareAndSwap(false, true) { // called twice at once
		<-p.storing
		return true
	}
	p.busy.Add(-1)
	p.done.Add(1) // this goroutine still counts in done: Shutdown has not returned
	go p.work()
	<-p.slots
	return true
}

// run takes one claimed job to its next state. handedOff is set when the handler
// handed the job's worker slot on (DoneComputing).
func (p *Pool) run(j *job.Job, handedOff *atomic.Bool) {
	log := p.log.With("job_id", j.ID, "attempt", j.Attempts)
	start := time.Now()
	wait := start.Sub(later(j.CreatedAt, j.RunAfter))
	p.obs.JobStarted(wait)
	log.Debug("job started", "queue_wait_ms", wait.Milliseconds())
	outcome := "lost"
	defer func() { p.obs.JobEnded(outcome, time.Since(start)) }()
	ctx, cancel := context.WithTimeout(p.jobCtx, p.cfg.JobTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, doneComputingKey{}, func() bool { return p.handOff(handedOff) })

	var leaseLost atomic.Bool
	stopBeat := p.heartbeat(ctx, j, func() { leaseLost.Store(true); cancel() }, log)
	outputs, err := p.safeHandle(ctx, j)
	stopBeat()

	// Record the outcome with a context of its own: the job's may be over.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer scancel()
	switch {
	case leaseLost.Load():
		log.Warn("lease lost; outcome discarded", "err", err)
		return
	case err == nil:
		err = p.store.Complete(sctx, j.ID, j.LeaseToken, outputs)
		if err == nil {
			outcome = "completed"
			log.Info("job completed", "duration_ms", time.Since(start).Milliseconds())
			return
		}
		log.Error("record completed job", "err", err)
		return // the lease expires and the job runs again, writing the same keys
	case p.jobCtx.Err() != nil:
		if rerr := p.store.Release(sctx, j.ID, j.LeaseToken); rerr != nil {
			log.Error("release job at shutdown", "err", rerr)
			return
		}
		outcome = "released"
		log.Info("job released at shutdown")
		return
	}

	failure := job.Failure{Code: job.ErrorCode(err), Message: job.ErrorMessage(err)}
	if errors.Is(err, context.DeadlineExceeded) {
		failure = job.Failure{Code: job.CodeTimeout, Message: fmt.Sprintf("processing took longer than %s", p.cfg.JobTimeout)}
	}
	if transient(err) && j.Attempts < p.cfg.MaxAttempts {
		delay := p.backoff(j.Attempts)
		log.Warn("job failed; will retry", "err", err, "retry_in_ms", delay.Milliseconds())
		if rerr := p.store.Retry(sctx, j.ID, j.LeaseToken, time.Now().Add(delay), failure); rerr != nil {
			log.Error("record retry", "err", rerr)
			return
		}
		outcome = "retried"
		return
	}
	level := slog.LevelInfo
	if failure.Code == job.CodeInternal {
		level = slog.LevelError
	}
	log.Log(sctx, level, "job failed", "code", failure.Code, "err", err, "duration_ms", time.Since(start).Milliseconds())
	if ferr := p.store.Fail(sctx, j.ID, j.LeaseToken, failure); ferr != nil {
		log.Error("record failed job", "err", ferr)
		return
	}
	outcome = "failed"
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// safeHandle runs the handler and turns a panic into a permanent error, so that one
// bad image fails its job and nothing else.
func (p *Pool) safeHandle(ctx context.Context, j *job.Job) (outputs []job.Output, err error) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("panic in job", "job_id", j.ID, "panic", fmt.Sprint(r))
			err = &job.Error{Code: job.CodeInternal, Message: "processing crashed on this image", Err: errPanic}
		}
	}()
	return p.handle(ctx, j)
}

// errPanic marks an error made from a recovered panic; it is never retried.
var errPanic = errors.New("panic")

// heartbeat extends j's lease every Lease/3 until the returned stop is called; when
// the lease turns out lost it calls lost.
func (p *Pool) heartbeat(ctx context.Context, j *job.Job, lost func(), log *slog.Logger) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(p.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				err := p.store.Extend(ctx, j.ID, j.LeaseToken, p.cfg.Lease)
				if errors.Is(err, job.ErrLeaseLost) {
					lost()
					return
				}
				if err != nil {
					log.Warn("extend lease", "err", err)
				}
			}
		}
	})
	return func() { close(done); wg.Wait() }
}
