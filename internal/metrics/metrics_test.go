package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pixmill/pixmill/internal/job"
)

type pool struct{}

func (pool) Workers() int { return 3 }
func (pool) Busy() int    { return 2 }

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestMetrics(t *testing.T) {
	m := New(func(context.Context) (job.Stats, error) { return job.Stats{Queued: 7, Processing: 2}, nil })
	m.WatchWorkers(pool{})
	m.JobStarted(30 * time.Millisecond)
	m.JobEnded("completed", time.Second)
	m.JobEnded("retried", time.Second)
	m.JobEnded("failed", time.Second)
	m.Request("/v1/jobs/:id", 200)
	m.Request("/v1/jobs/:id", 200)
	m.Uploaded(1234)
	out := scrape(t, m)
	for _, want := range []string{
		`pixmill_jobs_finished_total{status="completed"} 1`,
		`pixmill_jobs_finished_total{status="failed"} 1`,
		`pixmill_job_attempts_total{outcome="retried"} 1`,
		`pixmill_queue_depth 7`,
		`pixmill_jobs_processing 2`,
		`pixmill_workers 3`,
		`pixmill_workers_busy 2`,
		`pixmill_job_queue_wait_seconds_count 1`,
		`pixmill_job_processing_seconds_count 3`,
		`pixmill_upload_bytes_total 1234`,
		`pixmill_http_requests_total{route="/v1/jobs/:id",status="200"} 2`,
		`go_goroutines`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

func TestQueueGaugeWhenStoreFails(t *testing.T) {
	m := New(func(context.Context) (job.Stats, error) { return job.Stats{}, errors.New("db down") })
	m.Uploaded(5)
	out := scrape(t, m)
	if strings.Contains(out, "pixmill_queue_depth") || !strings.Contains(out, "pixmill_upload_bytes_total 5") {
		t.Errorf("with the store down the other metrics must still be served:\n%s", out)
	}
}
