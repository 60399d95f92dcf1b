// Package job is pixmill's domain: the Job and its states, priorities, the processing
// Spec and its operations, error codes, and the Store contract that persists jobs and
// doubles as the queue. It imports only the standard library.
package job

import (
	"fmt"
	"time"
)

// Status is where a job is in its life.
type Status string

// Job states. queued → processing → completed | failed; processing → queued (retry,
// lost lease, shutdown); queued → canceled.
const (
	StatusQueued     Status = "queued"
	StatusProcessing Status = "processing"
	StatusCompleted  Status = "completed"
	StatusFailed     Status = "failed"
	StatusCanceled   Status = "canceled"
)

// ParseStatus parses a status name.
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case StatusQueued, StatusProcessing, StatusCompleted, StatusFailed, StatusCanceled:
		return st, nil
	}
	return "", Errorf(CodeInvalid, "unknown status %q (want queued, processing, completed, failed or canceled)", s)
}

// Terminal reports whether no further transition can happen.
func (s Status) Terminal() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCanceled
}

// Priority orders queued jobs: higher first, FIFO within a level.
type Priority int

// Priorities; the numeric values are stored and compared.
const (
	PriorityLow    Priority = 0
	PriorityNormal Priority = 1
	PriorityHigh   Priority = 2
)

// ParsePriority parses "low", "normal" or "high"; "" is normal.
func ParsePriority(s string) (Priority, error) {
	switch s {
	case "low":
		return PriorityLow, nil
	case "", "normal":
		return PriorityNormal, nil
	case "high":
		return PriorityHigh, nil
	}
	return 0, Errorf(CodeInvalid, "unknown priority %q (want low, normal or high)", s)
}

func (p Priority) String() string {
	switch p {
	case PriorityLow:
		return "low"
	case PriorityNormal:
		return "normal"
	case PriorityHigh:
		return "high"
	}
	return fmt.Sprintf("priority(%d)", int(p))
}

// Source describes the uploaded file as it was checked at upload.
type Source struct {
	Filename string // as the client named it, for download names only; never trusted
	Format   Format // sniffed from the bytes
	Bytes    int64
	Width    int
	Height   int
}

// Output is one stored result file.
type Output struct {
	Variant string
	Format  Format
	Bytes   int64
	Width   int
	Height  int
	ETag    string // strong validator of the stored bytes
}

// Failure is the reason recorded on a failed (or retried) job.
type Failure struct {
	Code    Code
	Message string
}

// Job is one upload and the work asked for it.
type Job struct {
	ID         string
	Status     Status
	Priority   Priority
	CreatedAt  time.Time
	StartedAt  time.Time // zero until first claimed
	FinishedAt time.Time // zero until terminal
	RunAfter   time.Time // a retried job is not claimed before this
	Attempts   int       // claims so far
	Source     Source
	Spec       Spec
	Outputs    []Output
	Error      *Failure // set on failed jobs, and the last error of a retried one

	// Lease is set on a claimed job: the token that fences Store calls about this
	// claim, and when the claim expires unless extended.
	LeaseToken   string
	LeaseExpires time.Time
}

// SourceKey is the blob key of a job's uploaded file.
func SourceKey(id string) string { return "sources/" + id }

// ResultKey is the blob key of one output. Keys derive from the job id only, so a
// job that runs twice writes the same keys.
func ResultKey(id, variant string) string { return "results/" + id + "/" + variant }

// ResultPrefix is the blob prefix holding every output of a job.
func ResultPrefix(id string) string { return "results/" + id + "/" }

// Output returns the output named variant, or the first one for "".
func (j *Job) Output(variant string) (Output, bool) {
	for _, o := range j.Outputs {
		if variant == "" || o.Variant == variant {
			return o, true
		}
	}
	return Output{}, false
}
