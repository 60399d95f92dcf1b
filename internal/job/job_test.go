package job_test

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/pixmill/pixmill/internal/job"
)

func TestParseStatus(t *testing.T) {
	tests := []struct {
		in       string
		want     job.Status
		terminal bool
	}{
		{"queued", job.StatusQueued, false},
		{"processing", job.StatusProcessing, false},
		{"completed", job.StatusCompleted, true},
		{"failed", job.StatusFailed, true},
		{"canceled", job.StatusCanceled, true},
	}
	for _, tt := range tests {
		got, err := job.ParseStatus(tt.in)
		if err != nil {
			t.Errorf("ParseStatus(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseStatus(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got.Terminal() != tt.terminal {
			t.Errorf("%q.Terminal() = %v, want %v", got, got.Terminal(), tt.terminal)
		}
	}
	for _, in := range []string{"", "Queued", "cancelled", "done", " queued"} {
		_, err := job.ParseStatus(in)
		if code := job.ErrorCode(err); code != job.CodeInvalid {
			t.Errorf("ParseStatus(%q) error code = %q, want %q", in, code, job.CodeInvalid)
		}
	}
}

func TestParsePriority(t *testing.T) {
	tests := []struct {
		in   string
		want job.Priority
	}{
		{"low", job.PriorityLow},
		{"", job.PriorityNormal},
		{"normal", job.PriorityNormal},
		{"high", job.PriorityHigh},
	}
	for _, tt := range tests {
		got, err := job.ParsePriority(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParsePriority(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
		// String and ParsePriority are inverses.
		if back, err := job.ParsePriority(got.String()); err != nil || back != got {
			t.Errorf("ParsePriority(%q.String()) = %v, %v", got, back, err)
		}
	}
	for _, in := range []string{"urgent", "HIGH", "1", " low"} {
		_, err := job.ParsePriority(in)
		if code := job.ErrorCode(err); code != job.CodeInvalid {
			t.Errorf("ParsePriority(%q) error code = %q, want %q", in, code, job.CodeInvalid)
		}
	}
	if job.PriorityHigh <= job.PriorityNormal || job.PriorityNormal <= job.PriorityLow {
		t.Error("priorities are not ordered low < normal < high")
	}
	if got := job.Priority(7).String(); got != "priority(7)" {
		t.Errorf("Priority(7).String() = %q", got)
	}
}

func TestParseFormat(t *testing.T) {
	tests := []struct {
		in          string
		want        job.Format
		contentType string
		ext         string
	}{
		{"jpeg", job.FormatJPEG, "image/jpeg", ".jpg"},
		{"jpg", job.FormatJPEG, "image/jpeg", ".jpg"},
		{"png", job.FormatPNG, "image/png", ".png"},
		{"gif", job.FormatGIF, "image/gif", ".gif"},
		{"tiff", job.FormatTIFF, "image/tiff", ".tiff"},
		{"tif", job.FormatTIFF, "image/tiff", ".tiff"},
		{"bmp", job.FormatBMP, "image/bmp", ".bmp"},
		{"webp", job.FormatWebP, "image/webp", ".webp"},
	}
	for _, tt := range tests {
		got, err := job.ParseFormat(tt.in)
		if err != nil {
			t.Errorf("ParseFormat(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseFormat(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if ct := got.ContentType(); ct != tt.contentType {
			t.Errorf("%q.ContentType() = %q, want %q", got, ct, tt.contentType)
		}
		if ext := got.Ext(); ext != tt.ext {
			t.Errorf("%q.Ext() = %q, want %q", got, ext, tt.ext)
		}
	}

	// "" keeps the input's format.
	if got, err := job.ParseFormat(""); err != nil || got != "" {
		t.Errorf(`ParseFormat("") = %q, %v; want "", nil`, got, err)
	}

	for _, in := range []string{"avif", "JPEG", "image/png", ".png", " png"} {
		_, err := job.ParseFormat(in)
		if code := job.ErrorCode(err); code != job.CodeInvalid {
			t.Errorf("ParseFormat(%q) error code = %q, want %q", in, code, job.CodeInvalid)
		}
	}

	unknown := job.Format("avif")
	if got := unknown.ContentType(); got != "application/octet-stream" {
		t.Errorf("unknown ContentType() = %q", got)
	}
	if got := unknown.Ext(); got != "" {
		t.Errorf("unknown Ext() = %q", got)
	}
}

func TestErrorCodeAndMessage(t *testing.T) {
	cause := errors.New("disk on fire at /var/lib/pixmill")
	wrapped := job.Wrap(job.CodeUnavailable, cause, "storage unavailable")
	tests := []struct {
		name    string
		err     error
		code    job.Code
		message string
	}{
		{"nil", nil, "", "internal error"},
		{"plain error", cause, job.CodeInternal, "internal error"},
		{"io.EOF", io.EOF, job.CodeInternal, "internal error"},
		{"Errorf", job.Errorf(job.CodeNotFound, "job %s not found", "42"), job.CodeNotFound, "job 42 not found"},
		{"Wrap", wrapped, job.CodeUnavailable, "storage unavailable"},
		{"fmt-wrapped Error", fmt.Errorf("claim: %w", wrapped), job.CodeUnavailable, "storage unavailable"},
		{"joined", errors.Join(cause, job.Errorf(job.CodeTooLarge, "too big")), job.CodeTooLarge, "too big"},
		{
			"outermost Error wins",
			job.Wrap(job.CodeQueueFull, job.Errorf(job.CodeInvalid, "inner"), "outer"),
			job.CodeQueueFull, "outer",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := job.ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode = %q, want %q", got, tt.code)
			}
			if got := job.ErrorMessage(tt.err); got != tt.message {
				t.Errorf("ErrorMessage = %q, want %q", got, tt.message)
			}
		})
	}

	// The cause stays reachable for logs and errors.Is, but out of the message.
	if !errors.Is(fmt.Errorf("x: %w", wrapped), cause) {
		t.Error("errors.Is does not find the cause through *Error")
	}
	if strings.Contains(job.ErrorMessage(wrapped), "/var/lib") {
		t.Error("client message shows the cause")
	}
	if got, want := wrapped.Error(), "unavailable: storage unavailable: disk on fire at /var/lib/pixmill"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if got, want := job.Errorf(job.CodeNotFound, "gone").Error(), "not_found: gone"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestJobOutput(t *testing.T) {
	j := &job.Job{Outputs: []job.Output{
		{Variant: "default", Format: job.FormatJPEG, Bytes: 10},
		{Variant: "thumb", Format: job.FormatPNG, Bytes: 2},
	}}
	tests := []struct {
		variant string
		want    job.Output
		ok      bool
	}{
		{"", j.Outputs[0], true},
		{"default", j.Outputs[0], true},
		{"thumb", j.Outputs[1], true},
		{"missing", job.Output{}, false},
	}
	for _, tt := range tests {
		got, ok := j.Output(tt.variant)
		if ok != tt.ok {
			t.Errorf("Output(%q) ok = %v, want %v", tt.variant, ok, tt.ok)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Output(%q) (-want +got):\n%s", tt.variant, diff)
		}
	}

	empty := &job.Job{}
	if _, ok := empty.Output(""); ok {
		t.Error("Output(\"\") of a job with no outputs reported ok")
	}
}

func TestKeys(t *testing.T) {
	const id = "0b0d8e4c-3c55-4c53-9a57-2b1f0f1b2d3e"
	if got, want := job.SourceKey(id), "sources/"+id; got != want {
		t.Errorf("SourceKey = %q, want %q", got, want)
	}
	key := job.ResultKey(id, "thumb")
	if want := "results/" + id + "/thumb"; key != want {
		t.Errorf("ResultKey = %q, want %q", key, want)
	}
	// Every result key lies below the job's result prefix, and no other job's.
	if !strings.HasPrefix(key, job.ResultPrefix(id)) {
		t.Errorf("ResultKey %q is not below ResultPrefix %q", key, job.ResultPrefix(id))
	}
	if strings.HasPrefix(job.ResultKey(id+"0", "thumb"), job.ResultPrefix(id)) {
		t.Error("another job's result key is below this job's prefix")
	}
}
