package httpapi

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/google/uuid"

	"github.com/pixmill/pixmill/internal/job"
)

// jobID reads and checks the :id route parameter; anything but a UUID is unknown.
func jobID(c fiber.Ctx) (string, error) {
	id, err := uuid.Parse(c.Params("id"))
	if err != nil {
		return "", job.Errorf(job.CodeNotFound, "job not found")
	}
	return id.String(), nil
}

// lookup returns the job the :id route parameter names.
func (s *Server) lookup(c fiber.Ctx) (*job.Job, error) {
	id, err := jobID(c)
	if err != nil {
		return nil, err
	}
	return s.deps.Store.Get(c.Context(), id)
}

// MaxWait is the longest a status request may wait for its job to end (?wait=).
const MaxWait = 60 * time.Second

// waitRecheck is how often a waiting status request re-reads its job: the local
// Watch wakes it at once for what this node's workers and clients do, the re-read
// finds what other nodes did.
const waitRecheck = 500 * time.Millisecond

// getJob answers the job's status; with ?wait=D (a duration such as 10s, or
// seconds) it first waits up to D, at most MaxWait, for the job to reach a final
// state, so that a client learns of the end at once with one request instead of
// polling. Either way the answer is the job as it is when the request returns.
func (s *Server) getJob(c fiber.Ctx) error {
	wait, err := waitParam(c.Query("wait"))
	if err != nil {
		return err
	}
	id, err := jobID(c)
	if err != nil {
		return err
	}
	if wait > 0 {
		var ended <-chan struct{}
		if s.deps.Watch != nil {
			// Registered before the first read: an end in between is not missed.
			var stop func()
			ended, stop = s.deps.Watch(id)
			defer stop()
		}
		return s.waitForEnd(c, id, wait, ended)
	}
	j, err := s.deps.Store.Get(c.Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(toJSON(j))
}

// waitForEnd answers job id once it is in a final state, wait has passed, or the
// node is shutting down, re-reading it when ended is closed and every waitRecheck.
func (s *Server) waitForEnd(c fiber.Ctx, id string, wait time.Duration, ended <-chan struct{}) error {
	ctx := c.Context()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	recheck := time.NewTicker(waitRecheck)
	defer recheck.Stop()
	for {
		j, err := s.deps.Store.Get(ctx, id)
		if err != nil {
			return err
		}
		if j.Status.Terminal() {
			return c.JSON(toJSON(j))
		}
		select {
		case <-ended:
			ended = nil // closed: from now on the re-reads decide
		case <-recheck.C:
		case <-deadline.C:
			return c.JSON(toJSON(j))
		case <-s.draining:
			return c.JSON(toJSON(j))
		case <-ctx.Done():
			return c.JSON(toJSON(j))
		}
	}
}

// waitParam parses ?wait=: empty or 0 for no wait, a Go duration ("10s",
// "1500ms") or a number of seconds, at most MaxWait.
func waitParam(v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		n, nerr := strconv.ParseFloat(v, 64)
		if nerr != nil || math.IsNaN(n) {
			return 0, job.Errorf(job.CodeInvalid, "wait must be a duration such as 10s, or seconds")
		}
		if n < 0 || n > MaxWait.Seconds() { // before converting: no overflow
			d = -1
		} else {
			d = time.Duration(n * float64(time.Second))
		}
	}
	if d < 0 || d > MaxWait {
		return 0, job.Errorf(job.CodeInvalid, "wait must be from 0 to %s", MaxWait)
	}
	return d, nil
}

type listJSON struct {
	Jobs       []jobJSON `json:"jobs"`
	NextCursor string    `json:"next_cursor"`
}

func (s *Server) listJobs(c fiber.Ctx) error {
	var q job.ListQuery
	if st := c.Query("status"); st != "" {
		status, err := job.ParseStatus(st)
		if err != nil {
			return err
		}
		q.Status = status
	}
	if l := c.Query("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > job.MaxListLimit {
			return job.Errorf(job.CodeInvalid, "limit must be an integer from 1 to %d", job.MaxListLimit)
		}
		q.Limit = n
	}
	q.Cursor = c.Query("cursor")
	page, err := s.deps.Store.List(c.Context(), q)
	if err != nil {
		return err
	}
	out := listJSON{Jobs: make([]jobJSON, 0, len(page.Jobs)), NextCursor: page.NextCursor}
	for _, j := range page.Jobs {
		out.Jobs = append(out.Jobs, toJSON(j))
	}
	return c.JSON(out)
}

// deleteJob cancels a queued job, or deletes a finished one with its files. A job
// being processed cannot be deleted until it finishes.
func (s *Server) deleteJob(c fiber.Ctx) error {
	j, err := s.lookup(c)
	if err != nil {
		return err
	}
	ctx, id := c.Context(), j.ID
	switch {
	case j.Status == job.StatusQueued:
		if _, err := s.deps.Store.Cancel(ctx, id); err != nil {
			return err
		}
		if err := s.deps.Blob.Delete(ctx, job.SourceKey(id)); err != nil {
			s.deps.Log.Warn("delete source of canceled job", "job_id", id, "err", err)
		}
	case j.Status.Terminal():
		if _, err := s.deps.Store.Delete(ctx, id); err != nil {
			return err
		}
		s.deleteFiles(ctx, id)
	default:
		return job.Errorf(job.CodeConflict, "job is %s; it can be deleted once it finishes", j.Status)
	}
	return c.SendStatus(http.StatusNoContent)
}

// deleteFiles removes what a deleted job left in storage. A failure leaves orphans
// for the janitor, not an error for the client: the job is gone either way.
func (s *Server) deleteFiles(ctx context.Context, id string) {
	if err := s.deps.Blob.Delete(ctx, job.SourceKey(id)); err != nil {
		s.deps.Log.Warn("delete source of deleted job", "job_id", id, "err", err)
	}
	if err := s.deps.Blob.DeletePrefix(ctx, job.ResultPrefix(id)); err != nil {
		s.deps.Log.Warn("delete results of deleted job", "job_id", id, "err", err)
	}
}

type queueJSON struct {
	Queued     int        `json:"queued"`
	Processing int        `json:"processing"`
	Capacity   int        `json:"capacity"`
	Workers    int        `json:"workers"`
	Busy       int        `json:"busy"`
	Totals     totalsJSON `json:"totals"`
}

type totalsJSON struct {
	Completed int `json:"completed"`
	Failed    int `json:"failed"`
	Canceled  int `json:"canceled"`
}

func (s *Server) queue(c fiber.Ctx) error {
	st, err := s.deps.Store.Stats(c.Context())
	if err != nil {
		return err
	}
	out := queueJSON{
		Queued: st.Queued, Processing: st.Processing, Capacity: s.cfg.QueueCapacity,
		Totals: totalsJSON{Completed: st.Completed, Failed: st.Failed, Canceled: st.Canceled},
	}
	if w := s.deps.Workers; w != nil {
		out.Workers, out.Busy = w.Workers(), w.Busy()
	}
	return c.JSON(out)
}
