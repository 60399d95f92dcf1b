// Package janitor enforces retention: it deletes finished jobs older than the TTL with
// their files, and removes files no job refers to (left by a crash between storing
// an upload and committing its job, or by a delete whose file removal failed) and
// half-written temporaries. Every node may run one: all it does is idempotent.
package janitor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/pixmill/pixmill/internal/blob"
	"github.com/pixmill/pixmill/internal/job"
)

// Config sets retention.
type Config struct {
	TTL      time.Duration // finished jobs older than this are deleted; 0 keeps them forever
	Interval time.Duration // time between sweeps
	// Grace protects recent files from the orphan sweep: an upload is stored a
	// moment before its job row is committed.
	Grace time.Duration
	Batch int // jobs deleted per store call
}

// DefaultConfig keeps finished jobs for a day.
func DefaultConfig() Config {
	return Config{TTL: 24 * time.Hour, Interval: 10 * time.Minute, Grace: time.Hour, Batch: 500}
}

// Validate reports a Config that cannot work.
func (c Config) Validate() error {
	if c.TTL < 0 || c.Interval <= 0 || c.Grace <= 0 || c.Batch <= 0 {
		return errors.New("janitor: ttl must not be negative; interval, grace and batch must be positive")
	}
	return nil
}

// Janitor sweeps a job store and the blob store holding the jobs' files.
type Janitor struct {
	cfg   Config
	jobs  job.Store
	files blob.Store
	log   *slog.Logger
	now   func() time.Time
}

// New returns a Janitor; Run starts its sweeps.
func New(cfg Config, jobs job.Store, files blob.Store, log *slog.Logger) (*Janitor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Janitor{cfg: cfg, jobs: jobs, files: files, log: log, now: time.Now}, nil
}

// Run sweeps at once and then every Interval until ctx ends.
func (j *Janitor) Run(ctx context.Context) {
	t := time.NewTicker(j.cfg.Interval)
	defer t.Stop()
	for {
		if _, err := j.Sweep(ctx); err != nil && ctx.Err() == nil {
			j.log.Error("retention sweep", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Report counts what one sweep removed.
type Report struct {
	Jobs, Orphans, Temps int
}

// Sweep runs one retention pass.
func (j *Janitor) Sweep(ctx context.Context) (Report, error) {
	var r Report
	var err error
	if j.cfg.TTL > 0 {
		if r.Jobs, err = j.expireJobs(ctx); err != nil {
			return r, err
		}
	}
	if r.Orphans, err = j.removeOrphans(ctx); err != nil {
		return r, err
	}
	if ts, ok := j.files.(blob.TempSweeper); ok {
		if r.Temps, err = ts.SweepTemp(ctx, j.now().Add(-j.cfg.Grace)); err != nil {
			return r, err
		}
	}
	if r != (Report{}) {
		j.log.Info("retention sweep", "jobs", r.Jobs, "orphan_files", r.Orphans, "temp_files", r.Temps)
	}
	return r, nil
}

func (j *Janitor) expireJobs(ctx context.Context) (int, error) {
	n := 0
	cutoff := j.now().Add(-j.cfg.TTL)
	for {
		expired, err := j.jobs.Expire(ctx, cutoff, j.cfg.Batch)
		if err != nil {
			return n, err
		}
		for _, e := range expired {
			if err := j.deleteFiles(ctx, e.ID); err != nil {
				// The row is gone: the orphan sweep will retry these files.
				j.log.Warn("delete files of expired job", "job_id", e.ID, "err", err)
			}
		}
		n += len(expired)
		if len(expired) < j.cfg.Batch {
			return n, nil
		}
	}
}

func (j *Janitor) deleteFiles(ctx context.Context, id string) error {
	return errors.Join(
		j.files.Delete(ctx, job.SourceKey(id)),
		j.files.DeletePrefix(ctx, job.ResultPrefix(id)),
	)
}

// removeOrphans deletes files older than Grace whose job does not exist.
func (j *Janitor) removeOrphans(ctx context.Context) (int, error) {
	w, ok := j.files.(blob.Walker)
	if !ok {
		return 0, nil
	}
	cutoff := j.now().Add(-j.cfg.Grace)
	known := map[string]bool{} // job id → exists
	var orphans []string
	err := w.Walk(ctx, func(key string, mod time.Time) error {
		id, ok := jobIDOf(key)
		if !ok || !mod.Before(cutoff) {
			return nil
		}
		exists, seen := known[id]
		if !seen {
			_, err := j.jobs.Get(ctx, id)
			switch job.ErrorCode(err) {
			case "":
				exists = true
			case job.CodeNotFound:
				exists = false
			default:
				return err
			}
			known[id] = exists
		}
		if !exists {
			orphans = append(orphans, key)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("find orphan files: %w", err)
	}
	for _, key := range orphans {
		if err := j.files.Delete(ctx, key); err != nil {
			return 0, fmt.Errorf("delete orphan file: %w", err)
		}
	}
	return len(orphans), nil
}

// jobIDOf returns the job a key belongs to (see job.SourceKey and job.ResultKey).
func jobIDOf(key string) (string, bool) {
	for _, prefix := range []string{"sources/", "results/"} {
		if rest, ok := strings.CutPrefix(key, prefix); ok {
			id, _, _ := strings.Cut(rest, "/")
			return id, id != ""
		}
	}
	return "", false
}
