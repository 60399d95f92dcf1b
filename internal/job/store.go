package job

import (
	"context"
	"time"
)

// Store persists jobs. Its jobs table is also the queue: a job is accepted once Create
// has committed it, and workers take work with Claim. Every implementation passes the
// same conformance suite (internal/store/storetest).
//
// Methods that act on a claimed job take the lease token Claim handed out; they
// return ErrLeaseLost when the claim is no longer held, so a worker whose lease
// expired can never overwrite the outcome of the claim that replaced it.
//
// Missing jobs are reported as an *Error with CodeNotFound.
type Store interface {
	// Create inserts j as queued. When maxQueued > 0 and that many jobs are already
	// queued it inserts nothing and returns an *Error with CodeQueueFull. The check and
	// the insert are atomic. Create sets j.CreatedAt.
	Create(ctx context.Context, j *Job, maxQueued int) error

	// Get returns one job.
	Get(ctx context.Context, id string) (*Job, error)

	// List returns jobs newest first, filtered and paged by q.
	List(ctx context.Context, q ListQuery) (Page, error)

	// Claim takes the queued job with the highest priority, oldest first within a
	// priority, whose RunAfter has come; marks it processing, counts the attempt and
	// leases it for lease. It returns (nil, nil) when no job is ready.
	Claim(ctx context.Context, lease time.Duration) (*Job, error)

	// Extend renews the lease of a claimed job.
	Extend(ctx context.Context, id, token string, lease time.Duration) error

	// Complete marks a claimed job completed with its outputs.
	Complete(ctx context.Context, id, token string, outputs []Output) error

	// Fail marks a claimed job failed for good.
	Fail(ctx context.Context, id, token string, f Failure) error

	// Retry puts a claimed job back in the queue, not to be claimed before runAfter,
	// recording f as its last error.
	Retry(ctx context.Context, id, token string, runAfter time.Time, f Failure) error

	// Release puts a claimed job back in the queue at once without counting the
	// attempt (the worker gave it back unstarted or was shut down).
	Release(ctx context.Context, id, token string) error

	// Cancel marks a queued job canceled and returns it. A job in any other state is
	// returned unchanged with an *Error of CodeConflict.
	Cancel(ctx context.Context, id string) (*Job, error)

	// Delete removes a job in a terminal state and returns what it was. A job that is
	// queued or processing is not removed: an *Error with CodeConflict.
	Delete(ctx context.Context, id string) (*Job, error)

	// Expire deletes up to limit jobs in a terminal state that finished before
	// cutoff, oldest first, and returns them so that their files can be removed.
	Expire(ctx context.Context, cutoff time.Time, limit int) ([]*Job, error)

	// RequeueExpired puts processing jobs whose lease has expired back in the queue
	// (the process that held them died) and returns how many.
	RequeueExpired(ctx context.Context) (int, error)

	// Stats counts jobs by status.
	Stats(ctx context.Context) (Stats, error)

	// QueueDepth counts queued jobs only; unlike Stats it stays cheap however many
	// finished jobs the store keeps, so it may be asked on every upload.
	QueueDepth(ctx context.Context) (int, error)

	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error

	// Close releases the store's resources.
	Close() error
}

// ListQuery selects a page of jobs.
type ListQuery struct {
	Status Status // "" for all
	Limit  int    // 1..MaxListLimit; 0 means DefaultListLimit
	Cursor string // from a previous Page.NextCursor; "" for the first page
}

// List page sizes.
const (
	DefaultListLimit = 50
	MaxListLimit     = 500
)

// Page is one page of a listing.
type Page struct {
	Jobs       []*Job
	NextCursor string // "" on the last page
}

// Stats counts jobs by status.
type Stats struct {
	Queued     int
	Processing int
	Completed  int
	Failed     int
	Canceled   int
}
