// Package pool runs queued jobs: a dispatcher claims a job from the Store only when one
// of a fixed number of worker goroutines is free and hands it over a channel; workers
// keep the job's lease alive, bound it with a timeout, turn panics into failed jobs and
// apply the retry policy. It knows nothing about images: the work itself is a Handler.
package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pixmill/pixmill/internal/job"
)

// Handler does the work of one claimed job and returns its outputs. It must honour
// ctx: the pool cancels it on timeout, on shutdown and when the lease is lost.
type Handler func(ctx context.Context, j *job.Job) ([]job.Output, error)

// Config sets the pool's size and policies.
type Config struct {
	Workers      int           // fixed number of worker goroutines
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
	case c.MaxAttempts < 1:
		return errors.New("pool: max attempts must be at least 1")
	case c.JobTimeout <= 0 || c.Lease <= 0 || c.PollInterval <= 0:
		return errors.New("pool: job timeout, lease and poll interval must be positive")
	case c.BackoffBase <= 0 || c.BackoffMax < c.BackoffBase:
		return errors.New("pool: backoff base must be positive and not above backoff max")
	}
	return nil
}

// Pool is a dispatcher and a fixed set of workers over a job.Store.
type Pool struct {
	cfg    Config
	store  job.Store
	handle Handler
	log    *slog.Logger

	bell  chan struct{} // doorbell: a job may be ready
	slots chan struct{} // one token per busy worker
	jobs  chan *job.Job // dispatcher → workers

	busy atomic.Int64

	mu      sync.Mutex
	started bool
	quit    chan struct{}      // closed by Shutdown: claim nothing more
	abort   context.CancelFunc // cancels running jobs when the shutdown deadline passes
	jobCtx  context.Context
	done    sync.WaitGroup // dispatcher and workers
}

// New returns a stopped Pool; Start runs it.
func New(cfg Config, store job.Store, h Handler, log *slog.Logger) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if store == nil || h == nil || log == nil {
		return nil, errors.New("pool: store, handler and logger are required")
	}
	return &Pool{
		cfg:    cfg,
		store:  store,
		handle: h,
		log:    log,
		bell:   make(chan struct{}, 1),
		slots:  make(chan struct{}, cfg.Workers),
		jobs:   make(chan *job.Job),
		quit:   make(chan struct{}),
	}, nil
}

// Notify rings the doorbell: a job was enqueued. It never blocks.
func (p *Pool) Notify() {
	select {
	case p.bell <- struct{}{}:
	default:
	}
}

// Workers is the number of worker goroutines.
func (p *Pool) Workers() int { return p.cfg.Workers }

// Busy is the number of workers running a job now.
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
	p.done.Add(1 + p.cfg.Workers)
	go p.dispatch()
	for range p.cfg.Workers {
		go p.work()
	}
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
		select { // select picks at random among ready cases: quit must win
		case <-p.quit:
			<-p.slots
			return
		default:
		}
		for {
			j, err := p.store.Claim(p.jobCtx, p.cfg.Lease)
			if err != nil && p.jobCtx.Err() == nil {
				p.log.Error("claim job", "err", err)
			}
			if j != nil {
				p.jobs <- j
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

func (p *Pool) work() {
	defer p.done.Done()
	for j := range p.jobs {
		p.busy.Add(1)
		p.run(j)
		p.busy.Add(-1)
		<-p.slots
	}
}

// run takes one claimed job to its next state.
func (p *Pool) run(j *job.Job) {
	log := p.log.With("job_id", j.ID, "attempt", j.Attempts)
	start := time.Now()
	ctx, cancel := context.WithTimeout(p.jobCtx, p.cfg.JobTimeout)
	defer cancel()

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
		}
		return
	}
	level := slog.LevelInfo
	if failure.Code == job.CodeInternal {
		level = slog.LevelError
	}
	log.Log(sctx, level, "job failed", "code", failure.Code, "err", err, "duration_ms", time.Since(start).Milliseconds())
	if ferr := p.store.Fail(sctx, j.ID, j.LeaseToken, failure); ferr != nil {
		log.Error("record failed job", "err", ferr)
	}
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
