package pool_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pixmill/pixmill/internal/job"
	"github.com/pixmill/pixmill/internal/pool"
)

// storingHandler calls DoneComputing, records what it answered, then "stores" until
// gate closes (or the job's context ends).
type storingHandler struct {
	gate    chan struct{}
	mu      sync.Mutex
	started []string
	handed  map[string]bool
}

func newStoringHandler() *storingHandler {
	return &storingHandler{gate: make(chan struct{}), handed: map[string]bool{}}
}

func (h *storingHandler) handle(ctx context.Context, j *job.Job) ([]job.Output, error) {
	h.mu.Lock()
	h.started = append(h.started, j.ID)
	h.mu.Unlock()
	handed := pool.DoneComputing(ctx)
	h.mu.Lock()
	h.handed[j.ID] = handed
	h.mu.Unlock()
	select {
	case <-h.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return ok(ctx, j)
}

func (h *storingHandler) startedCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.started)
}

func TestDoneComputingOutsideAPoolIsFalse(t *testing.T) {
	if pool.DoneComputing(t.Context()) {
		t.Error("DoneComputing outside a job returned true")
	}
}

// One worker: the job that is done computing lets the next one run while it stores.
func TestDoneComputingFreesTheWorkerSlot(t *testing.T) {
	s := newStore(t)
	a, b := idOf(0), idOf(1)
	enqueue(t, s, a, job.PriorityHigh)
	enqueue(t, s, b, job.PriorityNormal)
	h := newStoringHandler()
	handler := func(ctx context.Context, j *job.Job) ([]job.Output, error) {
		if j.ID == a { // claimed first: higher priority
			return h.handle(ctx, j)
		}
		return ok(ctx, j)
	}
	p := start(t, testConfig(1), s, handler)

	waitStatus(t, s, b, job.StatusCompleted)
	waitStatus(t, s, a, job.StatusProcessing)
	if p.Workers() != 1 {
		t.Errorf("workers %d while a job is stored, want 1", p.Workers())
	}
	waitFor(t, "no job computing", func() bool { return p.Busy() == 0 })
	close(h.gate)
	waitStatus(t, s, a, job.StatusCompleted)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.handed[a] {
		t.Error("DoneComputing returned false with a free storing place")
	}
}

// At most MaxWorkers jobs store after DoneComputing; beyond that a job keeps its slot,
// so a one-worker pool never has more than two jobs claimed.
func TestDoneComputingIsBounded(t *testing.T) {
	s := newStore(t)
	for i := range 4 {
		enqueue(t, s, idOf(i), job.PriorityNormal)
	}
	h := newStoringHandler()
	p := start(t, testConfig(1), s, h.handle)

	waitFor(t, "two jobs started", func() bool { return h.startedCount() == 2 })
	time.Sleep(50 * time.Millisecond) // room for a third claim, which must not happen
	if n := h.startedCount(); n != 2 {
		t.Fatalf("%d jobs started with one worker and one storing place, want 2", n)
	}
	if p.Busy() != 1 {
		t.Errorf("busy %d, want 1 (the job that could not hand off)", p.Busy())
	}
	h.mu.Lock()
	first, second := h.handed[h.started[0]], h.handed[h.started[1]]
	h.mu.Unlock()
	if !first || second {
		t.Errorf("DoneComputing answered %v then %v, want true then false", first, second)
	}
	close(h.gate)
	for i := range 4 {
		waitStatus(t, s, idOf(i), job.StatusCompleted)
	}
}

// Shutdown waits for a job that is being stored, and the job completes.
func TestShutdownWaitsForStoringJob(t *testing.T) {
	s := newStore(t)
	enqueue(t, s, idOf(0), job.PriorityNormal)
	h := newStoringHandler()
	p, err := pool.New(testConfig(1), s, h.handle, quiet, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the job handed off", func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.handed[idOf(0)]
	})
	var returned atomic.Bool
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- p.Shutdown(ctx)
		returned.Store(true)
	}()
	time.Sleep(50 * time.Millisecond)
	if returned.Load() {
		t.Fatal("Shutdown returned while a job was being stored")
	}
	close(h.gate)
	if err := <-shut; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	waitStatus(t, s, idOf(0), job.StatusCompleted)
}
