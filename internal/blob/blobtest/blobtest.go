// Package blobtest is the conformance suite every blob.Store implementation runs, so
// that local disk and object stores behave the same to the rest of pixmill.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/pixmill/pixmill/internal/blob"
)

// Run runs the suite. newStore must return an empty store that the test may fill;
// it is called once per subtest, and cleanup belongs in t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"SeekAndReadRanges", testSeek},
		{"Empty", testEmpty},
		{"OverwriteReplaces", testOverwrite},
		{"MissingIsNotFound", testMissing},
		{"DeleteIsIdempotent", testDelete},
		{"DeletePrefix", testDeletePrefix},
		{"FailingReaderLeavesNothing", testFailingReader},
		{"FailingOverwriteKeepsOld", testFailingOverwrite},
		{"ShortReads", testShortReads},
		{"CanceledContext", testCanceled},
		{"CanceledMidway", testCanceledMidway},
		{"ConcurrentPuts", testConcurrentPuts},
		{"Ping", testPing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
}

// payload returns n deterministic bytes that differ per seed, large enough by
// default to span several read buffers.
func payload(seed byte, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*31) ^ seed
	}
	return b
}

func put(t *testing.T, s blob.Store, key string, data []byte) {
	t.Helper()
	n, err := s.Put(t.Context(), key, bytes.NewReader(data))
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if n != int64(len(data)) {
		t.Fatalf("Put(%q) = %d bytes, want %d", key, n, len(data))
	}
}

// read returns the whole object at key and checks that Size agrees with it.
func read(t *testing.T, s blob.Store, key string) []byte {
	t.Helper()
	obj, err := s.Open(t.Context(), key)
	if err != nil {
		t.Fatalf("Open(%q): %v", key, err)
	}
	defer closeObject(t, obj)
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("read %q: %v", key, err)
	}
	if obj.Size() != int64(len(got)) {
		t.Errorf("Open(%q).Size() = %d, read %d bytes", key, obj.Size(), len(got))
	}
	return got
}

func closeObject(t *testing.T, obj blob.Object) {
	t.Helper()
	if err := obj.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
}

func wantNotFound(t *testing.T, s blob.Store, key string) {
	t.Helper()
	obj, err := s.Open(t.Context(), key)
	if err == nil {
		closeObject(t, obj)
		t.Fatalf("Open(%q) succeeded, want ErrNotFound", key)
	}
	if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Open(%q) = %v, want an error wrapping ErrNotFound", key, err)
	}
}

func testRoundTrip(t *testing.T, s blob.Store) {
	data := payload(1, 300_000)
	before := time.Now().Add(-time.Minute) // filesystem and server clocks may lag
	put(t, s, "sources/round-trip", data)

	obj, err := s.Open(t.Context(), "sources/round-trip")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer closeObject(t, obj)
	if obj.Size() != int64(len(data)) {
		t.Errorf("Size() = %d, want %d", obj.Size(), len(data))
	}
	if mt := obj.ModTime(); mt.Before(before) || mt.After(time.Now().Add(time.Minute)) {
		t.Errorf("ModTime() = %v, want about now", mt)
	}
	got, err := io.ReadAll(obj)
	if err != nil {
		t.Fatalf("ReadAll: %v", err)
	}
	if !bytes.Equal(got, data) {
		t.Errorf("read %d bytes that differ from the %d put", len(got), len(data))
	}
}

func testSeek(t *testing.T, s blob.Store) {
	data := payload(2, 100_000)
	put(t, s, "results/seek/default", data)
	obj, err := s.Open(t.Context(), "results/seek/default")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer closeObject(t, obj)

	size := int64(len(data))
	tests := []struct {
		offset int64
		whence int
		n      int
		want   int64 // absolute position after Seek
	}{
		{10, io.SeekStart, 100, 10},
		{size - 5, io.SeekStart, 5, size - 5},
		{-20, io.SeekEnd, 20, size - 20},
		{0, io.SeekStart, 1, 0},
		{50_000, io.SeekStart, 16_000, 50_000},
		{-100, io.SeekCurrent, 10, 50_000 + 16_000 - 100},
	}
	for _, tt := range tests {
		pos, err := obj.Seek(tt.offset, tt.whence)
		if err != nil {
			t.Fatalf("Seek(%d, %d): %v", tt.offset, tt.whence, err)
		}
		if pos != tt.want {
			t.Fatalf("Seek(%d, %d) = %d, want %d", tt.offset, tt.whence, pos, tt.want)
		}
		buf := make([]byte, tt.n)
		if _, err := io.ReadFull(obj, buf); err != nil {
			t.Fatalf("read %d bytes at %d: %v", tt.n, pos, err)
		}
		if want := data[pos : pos+int64(tt.n)]; !bytes.Equal(buf, want) {
			t.Errorf("bytes [%d, %d) differ", pos, pos+int64(tt.n))
		}
	}

	if _, err := obj.Seek(0, io.SeekEnd); err != nil {
		t.Fatalf("Seek to end: %v", err)
	}
	if n, err := obj.Read(make([]byte, 1)); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("Read at end = %d, %v; want 0, io.EOF", n, err)
	}
}

func testEmpty(t *testing.T, s blob.Store) {
	put(t, s, "sources/empty", nil)
	if got := read(t, s, "sources/empty"); len(got) != 0 {
		t.Errorf("empty object read as %d bytes", len(got))
	}
}

func testOverwrite(t *testing.T, s blob.Store) {
	put(t, s, "results/over/default", payload(3, 50_000))
	second := []byte("shorter")
	put(t, s, "results/over/default", second)
	if got := read(t, s, "results/over/default"); !bytes.Equal(got, second) {
		t.Errorf("after overwrite read %q, want %q", got, second)
	}
}

func testMissing(t *testing.T, s blob.Store) {
	wantNotFound(t, s, "sources/never-put")
	wantNotFound(t, s, "results/never/put")
	put(t, s, "results/dir/default", []byte("x"))
	// A prefix of a key is not itself an object.
	wantNotFound(t, s, "results/dir")
	// Nor is a path below an object.
	wantNotFound(t, s, "results/dir/default/below")
}

func testDelete(t *testing.T, s blob.Store) {
	ctx := t.Context()
	put(t, s, "sources/del", []byte("x"))
	put(t, s, "sources/keep", []byte("y"))
	for i := range 2 {
		if err := s.Delete(ctx, "sources/del"); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	wantNotFound(t, s, "sources/del")
	if err := s.Delete(ctx, "sources/never-put"); err != nil {
		t.Errorf("Delete of a missing key: %v", err)
	}
	if got := read(t, s, "sources/keep"); string(got) != "y" {
		t.Errorf("other key read %q after Delete", got)
	}
	// A deleted key can be put again.
	put(t, s, "sources/del", []byte("again"))
	if got := read(t, s, "sources/del"); string(got) != "again" {
		t.Errorf("re-put key read %q", got)
	}
}

func testDeletePrefix(t *testing.T, s blob.Store) {
	ctx := t.Context()
	keys := []string{
		"results/job1/default",
		"results/job1/thumb",
		"results/job1/nested/deep",
		"results/job10/default", // shares the string prefix "results/job1" but not "results/job1/"
		"results/job2/default",
		"sources/job1",
	}
	for i, k := range keys {
		put(t, s, k, []byte(fmt.Sprintf("object %d", i)))
	}

	if err := s.DeletePrefix(ctx, "results/job1/"); err != nil {
		t.Fatalf("DeletePrefix: %v", err)
	}
	for _, k := range keys[:3] {
		wantNotFound(t, s, k)
	}
	for i, k := range keys[3:] {
		if got, want := string(read(t, s, k)), fmt.Sprintf("object %d", i+3); got != want {
			t.Errorf("%s read %q after DeletePrefix, want %q", k, got, want)
		}
	}

	// Again, and a prefix that matches nothing: both fine.
	if err := s.DeletePrefix(ctx, "results/job1/"); err != nil {
		t.Errorf("repeated DeletePrefix: %v", err)
	}
	if err := s.DeletePrefix(ctx, "results/none/"); err != nil {
		t.Errorf("DeletePrefix matching nothing: %v", err)
	}

	// The prefix's keys can be put again.
	put(t, s, "results/job1/default", []byte("again"))
	if got := read(t, s, "results/job1/default"); string(got) != "again" {
		t.Errorf("re-put key read %q", got)
	}

	// A prefix that ends inside a name segment.
	if err := s.DeletePrefix(ctx, "results/job1"); err != nil {
		t.Fatalf("DeletePrefix(results/job1): %v", err)
	}
	wantNotFound(t, s, "results/job1/default")
	wantNotFound(t, s, "results/job10/default")
	if got := read(t, s, "results/job2/default"); string(got) != "object 4" {
		t.Errorf("results/job2/default read %q", got)
	}
	if got := read(t, s, "sources/job1"); string(got) != "object 5" {
		t.Errorf("sources/job1 read %q", got)
	}
}

// failingReader returns data, at most max bytes a Read when max > 0, and then err.
type failingReader struct {
	data []byte
	err  error
	max  int
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	if r.max > 0 && len(p) > r.max {
		p = p[:r.max]
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

var errReader = errors.New("reader broke")

func testFailingReader(t *testing.T, s blob.Store) {
	_, err := s.Put(t.Context(), "sources/broken", &failingReader{data: payload(4, 100_000), err: errReader})
	if !errors.Is(err, errReader) {
		t.Fatalf("Put with a failing reader = %v, want an error wrapping %v", err, errReader)
	}
	wantNotFound(t, s, "sources/broken")
}

// testShortReads: an object put from many short reads (a multipart file part
// yields 4 KiB at a time) is whole, and io.ErrUnexpectedEOF after them (a
// truncated upload) fails the Put and leaves nothing, however much came first.
func testShortReads(t *testing.T, s blob.Store) {
	data := payload(8, 800_000)
	if n, err := s.Put(t.Context(), "sources/short", &failingReader{data: data, err: io.EOF, max: 4096}); err != nil || n != int64(len(data)) {
		t.Fatalf("Put = %d, %v", n, err)
	}
	if got := read(t, s, "sources/short"); !bytes.Equal(got, data) {
		t.Errorf("stored %d bytes, not the %d read", len(got), len(data))
	}
	for _, size := range []int{100, 300_000} { // a first chunk cut short, and one past it
		_, err := s.Put(t.Context(), "sources/cut", &failingReader{data: data[:size], err: io.ErrUnexpectedEOF, max: 4096})
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%d bytes, then io.ErrUnexpectedEOF: Put error %v", size, err)
		}
		wantNotFound(t, s, "sources/cut")
	}
}

func testFailingOverwrite(t *testing.T, s blob.Store) {
	old := payload(5, 70_000)
	put(t, s, "sources/kept", old)
	_, err := s.Put(t.Context(), "sources/kept", &failingReader{data: payload(6, 100_000), err: errReader})
	if !errors.Is(err, errReader) {
		t.Fatalf("Put with a failing reader = %v, want an error wrapping %v", err, errReader)
	}
	if got := read(t, s, "sources/kept"); !bytes.Equal(got, old) {
		t.Errorf("failed overwrite changed the object: read %d bytes, want the old %d", len(got), len(old))
	}
}

func testCanceled(t *testing.T, s blob.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := s.Put(ctx, "sources/canceled", bytes.NewReader(payload(7, 1000)))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a canceled context = %v, want an error wrapping context.Canceled", err)
	}
	wantNotFound(t, s, "sources/canceled")
}

// cancelingReader cancels its context after handing out after bytes, then keeps
// returning data, as an upload whose client went away would.
type cancelingReader struct {
	r      io.Reader
	after  int
	cancel context.CancelFunc
	read   int
}

func (c *cancelingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read += n
	if c.read >= c.after {
		c.cancel()
	}
	return n, err
}

func testCanceledMidway(t *testing.T, s blob.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r := &cancelingReader{r: bytes.NewReader(payload(8, 1<<20)), after: 1000, cancel: cancel}
	_, err := s.Put(ctx, "sources/canceled-midway", r)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Put canceled midway = %v, want an error wrapping context.Canceled", err)
	}
	wantNotFound(t, s, "sources/canceled-midway")
}

func testConcurrentPuts(t *testing.T, s blob.Store) {
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("results/concurrent/%02d", i)
			_, errs[i] = s.Put(t.Context(), key, bytes.NewReader(payload(byte(i), 20_000+i)))
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Put #%d: %v", i, err)
		}
	}
	for i := range n {
		key := fmt.Sprintf("results/concurrent/%02d", i)
		if got := read(t, s, key); !bytes.Equal(got, payload(byte(i), 20_000+i)) {
			t.Errorf("%s: read %d bytes that differ from those put", key, len(got))
		}
	}
}

func testPing(t *testing.T, s blob.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}
