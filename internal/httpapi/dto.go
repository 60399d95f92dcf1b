package httpapi

import (
	"time"

	"github.com/pixmill/pixmill/internal/job"
)

// jobJSON is the job as clients see it; field names are part of the API contract.
type jobJSON struct {
	ID         string               `json:"id"`
	Status     job.Status           `json:"status"`
	Priority   string               `json:"priority"`
	CreatedAt  time.Time            `json:"created_at"`
	StartedAt  *time.Time           `json:"started_at"`
	FinishedAt *time.Time           `json:"finished_at"`
	Attempts   int                  `json:"attempts"`
	Source     sourceJSON           `json:"source"`
	Ops        []job.Op             `json:"ops"`
	Format     job.Format           `json:"format,omitempty"`
	Quality    int                  `json:"quality,omitempty"`
	Lossless   bool                 `json:"lossless,omitempty"`
	Variants   map[string]variantJS `json:"variants,omitempty"`
	Outputs    []outputJSON         `json:"outputs"`
	Error      *errorDetail         `json:"error"`
}

type sourceJSON struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Bytes       int64  `json:"bytes"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
}

type variantJS struct {
	Ops      []job.Op   `json:"ops"`
	Format   job.Format `json:"format,omitempty"`
	Quality  int        `json:"quality,omitempty"`
	Lossless bool       `json:"lossless,omitempty"`
}

type outputJSON struct {
	Variant     string `json:"variant"`
	ContentType string `json:"content_type"`
	Bytes       int64  `json:"bytes"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	URL         string `json:"url"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// toJSON renders j. A job with one variant named "default" shows its ops, format
// and quality at the top level, as they were given; otherwise every variant is
// listed under "variants".
func toJSON(j *job.Job) jobJSON {
	out := jobJSON{
		ID:         j.ID,
		Status:     j.Status,
		Priority:   j.Priority.String(),
		CreatedAt:  j.CreatedAt,
		StartedAt:  optTime(j.StartedAt),
		FinishedAt: optTime(j.FinishedAt),
		Attempts:   j.Attempts,
		Source: sourceJSON{
			Filename:    j.Source.Filename,
			ContentType: j.Source.Format.ContentType(),
			Bytes:       j.Source.Bytes,
			Width:       j.Source.Width,
			Height:      j.Source.Height,
		},
		Ops:     []job.Op{},
		Outputs: []outputJSON{},
	}
	if vs := j.Spec.Variants; len(vs) == 1 && vs[0].Name == job.DefaultVariant {
		out.Ops, out.Format, out.Quality, out.Lossless = vs[0].Ops, vs[0].Format, vs[0].Quality, vs[0].Lossless
		if out.Ops == nil {
			out.Ops = []job.Op{}
		}
	} else {
		out.Variants = make(map[string]variantJS, len(vs))
		for _, v := range vs {
			out.Variants[v.Name] = variantJS{Ops: v.Ops, Format: v.Format, Quality: v.Quality, Lossless: v.Lossless}
		}
	}
	for i, o := range j.Outputs {
		url := "/v1/jobs/" + j.ID + "/result"
		if i > 0 || o.Variant != job.DefaultVariant {
			url += "/" + o.Variant
		}
		out.Outputs = append(out.Outputs, outputJSON{
			Variant: o.Variant, ContentType: o.Format.ContentType(), Bytes: o.Bytes,
			Width: o.Width, Height: o.Height, URL: url,
		})
	}
	if j.Error != nil {
		out.Error = &errorDetail{Code: string(j.Error.Code), Message: j.Error.Message}
	}
	return out
}
