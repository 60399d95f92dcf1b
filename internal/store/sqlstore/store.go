// Package sqlstore holds the SQL implementations of job.Store: SQLite (the embedded
// default) and PostgreSQL (scale-out, several nodes on one database). Both share the
// queries in this package; a small dialect value carries what differs (placeholders,
// SKIP LOCKED, locks, NOTIFY, the schema). The jobs table is the queue: a claim is
// one UPDATE … RETURNING and every call about a claimed job is fenced by its lease
// token.
package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pixmill/pixmill/internal/job"
)

// Store is a job.Store on a SQL database. It is safe for concurrent use.
type Store struct {
	db    *sql.DB
	d     dialect
	now   func() time.Time
	stmts *stmtCache
}

var _ job.Store = (*Store)(nil)

func newStore(db *sql.DB, d dialect, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{db: db, d: d, now: now, stmts: &stmtCache{db: db}}
}

// clock returns the store's current time as it is stored: UTC, whole milliseconds.
func (s *Store) clock() time.Time { return truncMillis(s.now()) }

// newLeaseToken returns 16 random bytes, hex encoded.
func newLeaseToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails; it panics instead
	return hex.EncodeToString(b[:])
}

// errNotFound is what every method returns for an unknown job id.
func errNotFound() error { return job.Errorf(job.CodeNotFound, "job not found") }

// Create implements job.Store. Create owns the job's lifecycle fields: it stores j
// as queued, never started nor leased, with no outputs or error, and resets those
// fields of j to match what Get will return.
func (s *Store) Create(ctx context.Context, j *job.Job, maxQueued int) error {
	if j.ID == "" {
		return job.Errorf(job.CodeInvalid, "job id is required")
	}
	spec, err := json.Marshal(j.Spec)
	if err != nil {
		return fmt.Errorf("create job %s: encode spec: %w", j.ID, err)
	}
	now := s.clock()
	runAfter := truncMillis(j.RunAfter)

	exists, insert := s.d.rebind(qJobExists), s.d.rebind(qInsertJob)
	s.stmts.warm(ctx, s.d.lockQueue, qQueuedCount, exists, insert, s.d.notify)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("create job %s: begin: %w", j.ID, err)
	}
	defer func() { _ = tx.Rollback() }()

	if maxQueued > 0 {
		if s.d.lockQueue != "" {
			if _, err := s.in(tx).ExecContext(ctx, s.d.lockQueue); err != nil {
				return fmt.Errorf("create job %s: lock queue: %w", j.ID, err)
			}
		}
		queued, err := queueDepth(ctx, s.in(tx))
		if err != nil {
			return fmt.Errorf("create job %s: %w", j.ID, err)
		}
		if queued >= maxQueued {
			return job.Errorf(job.CodeQueueFull, "queue is full")
		}
	}
	var found int
	switch err := s.in(tx).QueryRowContext(ctx, exists, j.ID).Scan(&found); {
	case err == nil:
		return job.Errorf(job.CodeConflict, "job %s already exists", j.ID)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("create job %s: check id: %w", j.ID, err)
	}
	if _, err := s.in(tx).ExecContext(ctx, insert,
		j.ID, string(job.StatusQueued), int(j.Priority), now.UnixMilli(), millis(runAfter),
		j.Source.Filename, string(j.Source.Format), j.Source.Bytes, j.Source.Width, j.Source.Height,
		string(spec)); err != nil {
		if s.d.uniqueViolation != nil && s.d.uniqueViolation(err) {
			return job.Errorf(job.CodeConflict, "job %s already exists", j.ID)
		}
		return fmt.Errorf("create job %s: insert: %w", j.ID, err)
	}
	if s.d.notify != "" {
		if _, err := s.in(tx).ExecContext(ctx, s.d.notify); err != nil {
			return fmt.Errorf("create job %s: notify: %w", j.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("create job %s: commit: %w", j.ID, err)
	}

	j.Status = job.StatusQueued
	j.CreatedAt = now
	j.RunAfter = runAfter
	j.StartedAt, j.FinishedAt = time.Time{}, time.Time{}
	j.Attempts = 0
	j.Outputs = nil
	j.Error = nil
	j.LeaseToken, j.LeaseExpires = "", time.Time{}
	return nil
}

// Create's statements, prepared before its transaction (stmtCache.warm).
const (
	qJobExists = `SELECT 1 FROM jobs WHERE id = ?`
	qInsertJob = `INSERT INTO jobs (id, status, priority, created_at, run_after, attempts,
	source_filename, source_format, source_bytes, source_width, source_height, spec)
VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)`
	qQueuedCount = `SELECT COUNT(*) FROM jobs WHERE status = 'queued'`
)

// Get implements job.Store.
func (s *Store) Get(ctx context.Context, id string) (*job.Job, error) {
	return s.get(ctx, s.pooled(), id)
}

func (s *Store) get(ctx context.Context, q conn, id string) (*job.Job, error) {
	j, _, err := scanJob(q.QueryRowContext(ctx, s.d.rebind(`SELECT `+jobColumns+` FROM jobs WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("get job %s: %w", id, err)
	}
	return j, nil
}

// List implements job.Store. The cursor is the opaque, URL-safe form of the seq of
// the last job returned; paging by it is stable while jobs are added or removed.
func (s *Store) List(ctx context.Context, q job.ListQuery) (job.Page, error) {
	limit := q.Limit
	switch {
	case limit < 0:
		return job.Page{}, job.Errorf(job.CodeInvalid, "limit must not be negative")
	case limit == 0:
		limit = job.DefaultListLimit
	case limit > job.MaxListLimit:
		limit = job.MaxListLimit
	}

	var (
		conds []string
		args  []any
	)
	if q.Status != "" {
		st, err := job.ParseStatus(string(q.Status))
		if err != nil {
			return job.Page{}, err
		}
		conds = append(conds, "status = ?")
		args = append(args, string(st))
	}
	if q.Cursor != "" {
		after, err := decodeCursor(q.Cursor)
		if err != nil {
			return job.Page{}, err
		}
		conds = append(conds, "seq < ?")
		args = append(args, after)
	}
	query := `SELECT ` + jobColumns + ` FROM jobs`
	if len(conds) > 0 {
		query += ` WHERE ` + strings.Join(conds, " AND ")
	}
	query += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, limit+1) // one more than asked tells whether a next page exists

	rows, err := s.pooled().QueryContext(ctx, s.d.rebind(query), args...)
	if err != nil {
		return job.Page{}, fmt.Errorf("list jobs: %w", err)
	}
	defer func() { _ = rows.Close() }()

	page := job.Page{Jobs: make([]*job.Job, 0, min(limit, 64))}
	var lastSeq int64
	for rows.Next() {
		if len(page.Jobs) == limit {
			page.NextCursor = encodeCursor(lastSeq)
			break
		}
		j, seq, err := scanJob(rows)
		if err != nil {
			return job.Page{}, fmt.Errorf("list jobs: %w", err)
		}
		page.Jobs = append(page.Jobs, j)
		lastSeq = seq
	}
	if err := rows.Err(); err != nil {
		return job.Page{}, fmt.Errorf("list jobs: %w", err)
	}
	return page, nil
}

func encodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(seq, 10)))
}

func decodeCursor(c string) (int64, error) {
	invalid := job.Errorf(job.CodeInvalid, "invalid cursor")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, invalid
	}
	seq, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || seq <= 0 {
		return 0, invalid
	}
	return seq, nil
}

// Claim implements job.Store with one UPDATE … RETURNING, so choosing the job and
// taking it cannot be split by another claimer.
func (s *Store) Claim(ctx context.Context, lease time.Duration) (*job.Job, error) {
	if lease <= 0 {
		return nil, fmt.Errorf("claim job: lease %v must be positive", lease)
	}
	now := s.clock()
	token := newLeaseToken()
	j, _, err := scanJob(s.pooled().QueryRowContext(ctx, s.d.rebind(`UPDATE jobs
SET status = 'processing', attempts = attempts + 1, lease_token = ?, lease_expires = ?,
	started_at = COALESCE(started_at, ?)
WHERE id = (
	SELECT id FROM jobs
	WHERE status = 'queued' AND run_after <= ?
	ORDER BY priority DESC, seq
	LIMIT 1`+s.d.skipLocked+`
)
RETURNING `+jobColumns),
		token, now.Add(lease).UnixMilli(), now.UnixMilli(), now.UnixMilli()))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("claim job: %w", err)
	}
	return j, nil
}

// fenced runs an UPDATE of a claimed job, setting set, only while the caller still
// holds the claim (the job is processing under token). It returns job.ErrLeaseLost
// when no row matched.
func (s *Store) fenced(ctx context.Context, op, id, token, set string, args ...any) error {
	args = append(args, id, token)
	res, err := s.pooled().ExecContext(ctx, s.d.rebind(`UPDATE jobs SET `+set+`
WHERE id = ? AND status = 'processing' AND lease_token = ?`), args...)
	if err != nil {
		return fmt.Errorf("%s job %s: %w", op, id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s job %s: %w", op, id, err)
	}
	if n == 0 {
		return fmt.Errorf("%s job %s: %w", op, id, job.ErrLeaseLost)
	}
	return nil
}

// clearLease is the SET fragment that drops a claim.
const clearLease = `lease_token = NULL, lease_expires = NULL`

// Extend implements job.Store. A lease that has run out but was not yet requeued
// can still be extended: the token is what counts.
func (s *Store) Extend(ctx context.Context, id, token string, lease time.Duration) error {
	if lease <= 0 {
		return fmt.Errorf("extend job %s: lease %v must be positive", id, lease)
	}
	return s.fenced(ctx, "extend", id, token, `lease_expires = ?`, s.clock().Add(lease).UnixMilli())
}

// Complete implements job.Store. The error of an earlier attempt is cleared: a
// completed job has none.
func (s *Store) Complete(ctx context.Context, id, token string, outputs []job.Output) error {
	outs, err := encodeOutputs(outputs)
	if err != nil {
		return fmt.Errorf("complete job %s: encode outputs: %w", id, err)
	}
	return s.fenced(ctx, "complete", id, token,
		`status = 'completed', outputs = ?, finished_at = ?, error_code = NULL, error_message = NULL, `+clearLease,
		outs, s.clock().UnixMilli())
}

// Fail implements job.Store.
func (s *Store) Fail(ctx context.Context, id, token string, f job.Failure) error {
	return s.fenced(ctx, "fail", id, token,
		`status = 'failed', error_code = ?, error_message = ?, finished_at = ?, `+clearLease,
		string(f.Code), f.Message, s.clock().UnixMilli())
}

// Retry implements job.Store.
func (s *Store) Retry(ctx context.Context, id, token string, runAfter time.Time, f job.Failure) error {
	return s.fenced(ctx, "retry", id, token,
		`status = 'queued', run_after = ?, error_code = ?, error_message = ?, `+clearLease,
		millis(truncMillis(runAfter)), string(f.Code), f.Message)
}

// Release implements job.Store.
func (s *Store) Release(ctx context.Context, id, token string) error {
	return s.fenced(ctx, "release", id, token,
		`status = 'queued', attempts = attempts - 1, `+clearLease)
}

// Cancel implements job.Store.
func (s *Store) Cancel(ctx context.Context, id string) (*job.Job, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("cancel job %s: begin: %w", id, err)
	}
	defer func() { _ = tx.Rollback() }()

	j, _, err := scanJob(s.in(tx).QueryRowContext(ctx, s.d.rebind(`UPDATE jobs SET status = 'canceled', finished_at = ?
WHERE id = ? AND status = 'queued'
RETURNING `+jobColumns), s.clock().UnixMilli(), id))
	switch {
	case err == nil:
		if err := tx.Commit(); err != nil {
			return nil, fmt.Errorf("cancel job %s: commit: %w", id, err)
		}
		return j, nil
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("cancel job %s: %w", id, err)
	}
	j, err = s.get(ctx, s.in(tx), id)
	if err != nil {
		return nil, err
	}
	return j, job.Errorf(job.CodeConflict, "job is %s; only a queued job can be canceled", j.Status)
}

// Delete implements job.Store. A job that cannot be deleted is returned with the
// conflict error.
func (s *Store) Delete(ctx context.Context, id string) (*job.Job, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("delete job %s: begin: %w", id, err)
	}
	defer func() { _ = tx.Rollback() }()

	j, _, err := scanJob(s.in(tx).QueryRowContext(ctx, s.d.rebind(`DELETE FROM jobs
WHERE id = ? AND status IN ('completed', 'failed', 'canceled')
RETURNING `+jobColumns), id))
	switch {
	case err == nil:
		if err := tx.Commit(); err != nil {
			return nil, fmt.Errorf("delete job %s: commit: %w", id, err)
		}
		return j, nil
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("delete job %s: %w", id, err)
	}
	j, err = s.get(ctx, s.in(tx), id)
	if err != nil {
		return nil, err
	}
	return j, job.Errorf(job.CodeConflict, "job is %s; only a completed, failed or canceled job can be deleted", j.Status)
}

// RequeueExpired implements job.Store. The attempt of an expired claim stays
// counted: the job may have been what killed its worker.
func (s *Store) RequeueExpired(ctx context.Context) (int, error) {
	res, err := s.pooled().ExecContext(ctx, s.d.rebind(`UPDATE jobs SET status = 'queued', `+clearLease+`
WHERE status = 'processing' AND lease_expires < ?`), s.clock().UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("requeue expired jobs: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("requeue expired jobs: %w", err)
	}
	return int(n), nil
}

// Stats implements job.Store.
func (s *Store) Stats(ctx context.Context) (job.Stats, error) {
	rows, err := s.pooled().QueryContext(ctx, `SELECT status, COUNT(*) FROM jobs GROUP BY status`)
	if err != nil {
		return job.Stats{}, fmt.Errorf("job stats: %w", err)
	}
	defer func() { _ = rows.Close() }()
	var st job.Stats
	for rows.Next() {
		var (
			status string
			n      int
		)
		if err := rows.Scan(&status, &n); err != nil {
			return job.Stats{}, fmt.Errorf("job stats: %w", err)
		}
		switch job.Status(status) {
		case job.StatusQueued:
			st.Queued = n
		case job.StatusProcessing:
			st.Processing = n
		case job.StatusCompleted:
			st.Completed = n
		case job.StatusFailed:
			st.Failed = n
		case job.StatusCanceled:
			st.Canceled = n
		}
	}
	if err := rows.Err(); err != nil {
		return job.Stats{}, fmt.Errorf("job stats: %w", err)
	}
	return st, nil
}

// Ping implements job.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping %s store: %w", s.d.name, err)
	}
	return nil
}

// Close implements job.Store.
func (s *Store) Close() error {
	s.stmts.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close %s store: %w", s.d.name, err)
	}
	return nil
}

// pooled runs statements prepared once, on the connection pool.
func (s *Store) pooled() conn { return conn{c: s.stmts} }

// in runs statements prepared once, inside tx.
func (s *Store) in(tx *sql.Tx) conn { return conn{c: s.stmts, tx: tx} }

// QueueDepth implements job.Store with an index-only count.
func (s *Store) QueueDepth(ctx context.Context) (int, error) {
	return queueDepth(ctx, s.pooled())
}

func queueDepth(ctx context.Context, q conn) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, qQueuedCount).Scan(&n); err != nil {
		return 0, fmt.Errorf("count queued jobs: %w", err)
	}
	return n, nil
}
