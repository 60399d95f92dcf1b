package janitor

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pixmill/pixmill/internal/blob/local"
	"github.com/pixmill/pixmill/internal/job"
	"github.com/pixmill/pixmill/internal/store/sqlstore"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

func TestSweep(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{t: time.Now().Add(-25 * time.Hour)}
	store, err := sqlstore.OpenSQLite(t.Context(), sqlstore.Config{Path: filepath.Join(dir, "jobs.db"), Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	files, err := local.New(local.Config{Dir: filepath.Join(dir, "files")})
	if err != nil {
		t.Fatal(err)
	}
	put := func(key string) {
		if _, err := files.Put(t.Context(), key, strings.NewReader("data")); err != nil {
			t.Fatal(err)
		}
	}
	finish := func(id string) {
		j := &job.Job{ID: id, Spec: job.Spec{Variants: []job.Variant{{Name: job.DefaultVariant}}}}
		if err := store.Create(t.Context(), j, 0); err != nil {
			t.Fatal(err)
		}
		c, err := store.Claim(t.Context(), time.Hour)
		if err != nil || c == nil {
			t.Fatalf("claim: %v", err)
		}
		if err := store.Complete(t.Context(), id, c.LeaseToken, nil); err != nil {
			t.Fatal(err)
		}
		put(job.SourceKey(id))
		put(job.ResultKey(id, job.DefaultVariant))
	}
	const oldJob, newJob = "a0000000-0000-4000-8000-000000000001", "b0000000-0000-4000-8000-000000000002"
	const oldOrphan, newOrphan = "c0000000-0000-4000-8000-000000000003", "d0000000-0000-4000-8000-000000000004"
	finish(oldJob) // finished 25 hours ago
	clk.set(time.Now())
	finish(newJob)
	put(job.SourceKey(oldOrphan))
	put(job.ResultKey(newOrphan, "thumb"))
	hoursAgo := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(filepath.Join(dir, "files", "sources", oldOrphan), hoursAgo, hoursAgo); err != nil {
		t.Fatal(err)
	}
	temp := filepath.Join(dir, "files", "results", local.TempPrefix+"crash")
	if err := os.WriteFile(temp, []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(temp, hoursAgo, hoursAgo); err != nil {
		t.Fatal(err)
	}

	cfg := DefaultConfig()
	cfg.Batch = 1 // exercise batching
	jan, err := New(cfg, store, files, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r, err := jan.Sweep(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if r != (Report{Jobs: 1, Orphans: 1, Temps: 1}) {
		t.Errorf("report %+v", r)
	}
	if _, err := store.Get(t.Context(), oldJob); job.ErrorCode(err) != job.CodeNotFound {
		t.Errorf("old job still there: %v", err)
	}
	if _, err := store.Get(t.Context(), newJob); err != nil {
		t.Errorf("recent job gone: %v", err)
	}
	for key, want := range map[string]bool{
		job.SourceKey(oldJob):                     false,
		job.ResultKey(oldJob, job.DefaultVariant): false,
		job.SourceKey(newJob):                     true,
		job.ResultKey(newJob, job.DefaultVariant): true,
		job.SourceKey(oldOrphan):                  false,
		job.ResultKey(newOrphan, "thumb"):         true, // within the grace period
	} {
		_, err := os.Stat(filepath.Join(dir, "files", filepath.FromSlash(key)))
		if (err == nil) != want {
			t.Errorf("%s exists=%v, want %v", key, err == nil, want)
		}
	}
	if _, err := os.Stat(temp); !os.IsNotExist(err) {
		t.Errorf("stale temporary file kept: %v", err)
	}

	// TTL 0 keeps finished jobs forever.
	cfg.TTL = 0
	keep, _ := New(cfg, store, files, slog.New(slog.NewTextHandler(io.Discard, nil)))
	keep.now = func() time.Time { return time.Now().Add(1000 * time.Hour) }
	if r, err := keep.Sweep(t.Context()); err != nil || r.Jobs != 0 {
		t.Errorf("ttl 0 sweep: %+v %v", r, err)
	}
}

func TestJobIDOf(t *testing.T) {
	for key, want := range map[string]string{
		"sources/abc": "abc", "results/abc/default": "abc", "results/abc/": "abc", "other/x": "", "results/": "",
	} {
		if got, _ := jobIDOf(key); got != want {
			t.Errorf("jobIDOf(%q) = %q, want %q", key, got, want)
		}
	}
}
