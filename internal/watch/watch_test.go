package watch_test

import (
	"context"
	"errors"
	"testing"

	"github.com/pixmill/pixmill/internal/job"
	"github.com/pixmill/pixmill/internal/watch"
)

// fakeStore answers every state change with err.
type fakeStore struct {
	job.Store
	err error
}

func (f fakeStore) Complete(context.Context, string, string, []job.Output) error { return f.err }
func (f fakeStore) Fail(context.Context, string, string, job.Failure) error      { return f.err }
func (f fakeStore) Cancel(context.Context, string) (*job.Job, error)             { return &job.Job{}, f.err }
func (f fakeStore) Delete(context.Context, string) (*job.Job, error)             { return &job.Job{}, f.err }
func (f fakeStore) Release(context.Context, string, string) error                { return f.err }

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestHub(t *testing.T) {
	h := watch.NewHub()
	a1, stopA1 := h.Wait("a")
	a2, stopA2 := h.Wait("a")
	b, stopB := h.Wait("b")
	if h.Waiting() != 2 {
		t.Fatalf("waiting %d, want 2 jobs", h.Waiting())
	}
	h.Ended("a")
	if !closed(a1) || !closed(a2) || closed(b) {
		t.Fatal("Ended(a) must wake a's waiters only")
	}
	stopA1()
	stopA2() // after Ended: nothing left to remove
	stopB()
	if h.Waiting() != 0 {
		t.Errorf("waiting %d after every stop", h.Waiting())
	}
	h.Ended("b") // no waiters: nothing happens
	if closed(b) {
		t.Error("a stopped waiter was woken")
	}
}

func TestWrapWakesOnSuccessOnly(t *testing.T) {
	ctx := t.Context()
	changes := map[string]func(job.Store) error{
		"complete":             func(s job.Store) error { return s.Complete(ctx, "j", "t", nil) },
		"fail":                 func(s job.Store) error { return s.Fail(ctx, "j", "t", job.Failure{}) },
		"cancel":               func(s job.Store) error { _, err := s.Cancel(ctx, "j"); return err },
		"delete":               func(s job.Store) error { _, err := s.Delete(ctx, "j"); return err },
		"release (not an end)": func(s job.Store) error { return s.Release(ctx, "j", "t") },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			h := watch.NewHub()
			ch, stop := h.Wait("j")
			defer stop()
			boom := errors.New("boom")
			if err := change(watch.Wrap(fakeStore{err: boom}, h)); !errors.Is(err, boom) {
				t.Fatalf("error %v, want the store's", err)
			}
			if closed(ch) {
				t.Fatal("woken by a change that failed")
			}
			if err := change(watch.Wrap(fakeStore{}, h)); err != nil {
				t.Fatal(err)
			}
			if want := name != "release (not an end)"; closed(ch) != want {
				t.Errorf("woken %v, want %v", closed(ch), want)
			}
		})
	}
}
