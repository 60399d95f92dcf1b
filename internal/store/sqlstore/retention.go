package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/pixmill/pixmill/internal/job"
)

// Expire implements job.Store: one DELETE … RETURNING of the oldest finished jobs.
func (s *Store) Expire(ctx context.Context, cutoff time.Time, limit int) ([]*job.Job, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pooled().QueryContext(ctx, s.d.rebind(`DELETE FROM jobs WHERE id IN (
	SELECT id FROM jobs
	WHERE status IN ('completed', 'failed', 'canceled') AND finished_at < ?
	ORDER BY finished_at
	LIMIT ?
)
RETURNING `+jobColumns), cutoff.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("expire jobs: %w", err)
	}
	defer rows.Close() //nolint:errcheck // rows.Err reports what matters
	var jobs []*job.Job
	for rows.Next() {
		j, _, err := scanJob(rows)
		if err != nil {
			return nil, fmt.Errorf("expire jobs: %w", err)
		}
		jobs = append(jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("expire jobs: %w", err)
	}
	return jobs, nil
}
