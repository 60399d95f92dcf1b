// Package watch lets a status request wait for a job to end without polling the
// store: the node's store is wrapped (Wrap) so that every change to a final state
// made through it — a worker completing or failing a job, a client canceling it —
// wakes that job's waiters at once. Changes made by other nodes are not seen
// here; waiters re-read the store now and then for those (httpapi).
package watch

import (
	"context"
	"sync"

	"github.com/pixmill/pixmill/internal/job"
)

// Hub holds the waiters of this node, by job id.
type Hub struct {
	mu      sync.Mutex
	waiters map[string][]chan struct{}
}

// NewHub returns a Hub without waiters.
func NewHub() *Hub { return &Hub{waiters: make(map[string][]chan struct{})} }

// Wait returns a channel that is closed when job id next ends through a store
// wrapped with h, and a func the caller must call when it stops waiting.
func (h *Hub) Wait(id string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	h.mu.Lock()
	h.waiters[id] = append(h.waiters[id], ch)
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		ws := h.waiters[id]
		for i, w := range ws {
			if w == ch {
				ws = append(ws[:i], ws[i+1:]...)
				break
			}
		}
		if len(ws) == 0 {
			delete(h.waiters, id)
		} else {
			h.waiters[id] = ws
		}
	}
}

// Ended wakes every waiter of job id.
func (h *Hub) Ended(id string) {
	h.mu.Lock()
	ws := h.waiters[id]
	delete(h.waiters, id)
	h.mu.Unlock()
	for _, ch := range ws {
		close(ch)
	}
}

// Waiting is the number of jobs with waiters (for tests).
func (h *Hub) Waiting() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.waiters)
}

// Wrap returns s with Complete, Fail, Cancel and Delete waking the job's waiters in
// h when they succeed. Every other method is s's own.
func Wrap(s job.Store, h *Hub) job.Store { return store{Store: s, hub: h} }

type store struct {
	job.Store
	hub *Hub
}

func (s store) Complete(ctx context.Context, id, token string, outputs []job.Output) error {
	err := s.Store.Complete(ctx, id, token, outputs)
	if err == nil {
		s.hub.Ended(id)
	}
	return err
}

func (s store) Fail(ctx context.Context, id, token string, f job.Failure) error {
	err := s.Store.Fail(ctx, id, token, f)
	if err == nil {
		s.hub.Ended(id)
	}
	return err
}

func (s store) Cancel(ctx context.Context, id string) (*job.Job, error) {
	j, err := s.Store.Cancel(ctx, id)
	if err == nil {
		s.hub.Ended(id)
	}
	return j, err
}

func (s store) Delete(ctx context.Context, id string) (*job.Job, error) {
	j, err := s.Store.Delete(ctx, id)
	if err == nil {
		s.hub.Ended(id)
	}
	return j, err
}
