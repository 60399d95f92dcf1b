package httpapi

import (
	"context"
	"net/http"
	"strconv"

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

func (s *Server) getJob(c fiber.Ctx) error {
	j, err := s.lookup(c)
	if err != nil {
		return err
	}
	return c.JSON(toJSON(j))
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
