// Package blob is the contract for where pixmill keeps files (uploaded sources and
// processed results): a flat key space of immutable objects. Implementations live in
// sub-packages named after what they use (local, …) and pass the shared conformance
// suite in blobtest.
package blob

import (
	"context"
	"errors"
	"io"
	"time"
)

// ErrNotFound is returned (wrapped) for a key that holds no object.
var ErrNotFound = errors.New("blob not found")

// Store keeps objects by key. Keys are slash-separated paths made by pixmill itself
// (job.SourceKey, job.ResultKey), never by clients.
type Store interface {
	// Put stores everything read from r under key and returns the byte count. The
	// object appears whole or not at all, and is durable when Put returns; a failed
	// or canceled Put leaves nothing behind. Putting a key again replaces it.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)

	// Open returns the object for reading; ErrNotFound when there is none.
	Open(ctx context.Context, key string) (Object, error)

	// Delete removes key; deleting a missing key is not an error.
	Delete(ctx context.Context, key string) error

	// DeletePrefix removes every key that starts with prefix.
	DeletePrefix(ctx context.Context, prefix string) error

	// Ping reports whether the store is reachable and writable.
	Ping(ctx context.Context) error
}

// Object is an open stored object.
type Object interface {
	io.ReadSeekCloser
	Size() int64
	ModTime() time.Time
}

// Walker is implemented by stores that can list their keys; the janitor uses it to
// find files no job refers to.
type Walker interface {
	// Walk calls fn with every key and its modification time.
	Walk(ctx context.Context, fn func(key string, modTime time.Time) error) error
}

// TempSweeper is implemented by stores whose interrupted Puts can leave partial
// data behind; SweepTemp removes what is older than cutoff.
type TempSweeper interface {
	SweepTemp(ctx context.Context, cutoff time.Time) (int, error)
}
