package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pixmill/pixmill/internal/job"
)

// jobColumns is the column list every query that returns jobs selects, in the order
// scanJob reads them.
const jobColumns = `id, seq, status, priority, created_at, started_at, finished_at, run_after, attempts,
	source_filename, source_format, source_bytes, source_width, source_height,
	spec, outputs, error_code, error_message, lease_token, lease_expires`

// scanner is *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// scanJob reads one row of jobColumns and returns the job and its seq.
func scanJob(sc scanner) (*job.Job, int64, error) {
	var (
		j                                  job.Job
		seq                                int64
		status                             string
		created, runAfter                  int64
		started, finished, leaseExpires    sql.NullInt64
		spec                               string
		outputs, errCode, errMsg, leaseTok sql.NullString
		srcFormat                          string
	)
	if err := sc.Scan(&j.ID, &seq, &status, &j.Priority, &created, &started, &finished, &runAfter, &j.Attempts,
		&j.Source.Filename, &srcFormat, &j.Source.Bytes, &j.Source.Width, &j.Source.Height,
		&spec, &outputs, &errCode, &errMsg, &leaseTok, &leaseExpires); err != nil {
		return nil, 0, err
	}
	j.Status = job.Status(status)
	j.Source.Format = job.Format(srcFormat)
	j.CreatedAt = fromMillis(created)
	j.StartedAt = fromNullMillis(started)
	j.FinishedAt = fromNullMillis(finished)
	j.RunAfter = fromMillis(runAfter)
	j.LeaseToken = leaseTok.String
	j.LeaseExpires = fromNullMillis(leaseExpires)
	if err := json.Unmarshal([]byte(spec), &j.Spec); err != nil {
		return nil, 0, fmt.Errorf("decode spec of job %s: %w", j.ID, err)
	}
	if outputs.Valid {
		outs, err := decodeOutputs(outputs.String)
		if err != nil {
			return nil, 0, fmt.Errorf("decode outputs of job %s: %w", j.ID, err)
		}
		j.Outputs = outs
	}
	if errCode.Valid {
		j.Error = &job.Failure{Code: job.Code(errCode.String), Message: errMsg.String}
	}
	return &j, seq, nil
}

// outputJSON is the stored form of a job.Output. It has its own JSON names so that
// renaming a Go field never breaks rows already written.
type outputJSON struct {
	Variant string     `json:"variant"`
	Format  job.Format `json:"format"`
	Bytes   int64      `json:"bytes"`
	Width   int        `json:"width"`
	Height  int        `json:"height"`
	ETag    string     `json:"etag,omitempty"`
}

// encodeOutputs returns the outputs column: NULL for none, else a JSON array.
func encodeOutputs(outs []job.Output) (sql.NullString, error) {
	if len(outs) == 0 {
		return sql.NullString{}, nil
	}
	rows := make([]outputJSON, len(outs))
	for i, o := range outs {
		rows[i] = outputJSON(o)
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

func decodeOutputs(s string) ([]job.Output, error) {
	var rows []outputJSON
	if err := json.Unmarshal([]byte(s), &rows); err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, nil
	}
	outs := make([]job.Output, len(rows))
	for i, r := range rows {
		outs[i] = job.Output(r)
	}
	return outs, nil
}

// Times are stored as unix milliseconds; the zero time is 0 in NOT NULL columns
// (created_at, run_after) and NULL in the others.

func millis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func fromNullMillis(ms sql.NullInt64) time.Time {
	if !ms.Valid {
		return time.Time{}
	}
	return fromMillis(ms.Int64)
}

// truncMillis rounds t down to what the store keeps: UTC, millisecond precision.
func truncMillis(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return fromMillis(t.UnixMilli())
}
