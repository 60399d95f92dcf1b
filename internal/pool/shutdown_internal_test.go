package pool

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/pixmill/pixmill/internal/job"
	"github.com/pixmill/pixmill/internal/store/sqlstore"
)

// TestShutdownLetsRunningJobFinish needs to know when Shutdown has stopped intake,
// so it lives inside the package.
func TestShutdownLetsRunningJobFinish(t *testing.T) {
	s, err := sqlstore.OpenSQLite(t.Context(), sqlstore.Config{Path: filepath.Join(t.TempDir(), "jobs.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	spec := job.Spec{Variants: []job.Variant{{Name: job.DefaultVariant}}}
	running := &job.Job{ID: "11111111-1111-4111-8111-111111111111", Priority: job.PriorityHigh, Spec: spec}
	waiting := &job.Job{ID: "22222222-2222-4222-8222-222222222222", Priority: job.PriorityLow, Spec: spec}
	for _, j := range []*job.Job{running, waiting} {
		if err := s.Create(t.Context(), j, 0); err != nil {
			t.Fatal(err)
		}
	}
	started, release := make(chan string, 2), make(chan struct{})
	h := func(ctx context.Context, j *job.Job) ([]job.Output, error) {
		started <- j.ID
		<-release
		return []job.Output{{Variant: job.DefaultVariant, Format: job.FormatPNG, ETag: "x"}}, nil
	}
	p, err := New(DefaultConfig(1), s, h, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if id := <-started; id != running.ID {
		t.Fatalf("started %s first", id)
	}
	done := make(chan error)
	go func() { done <- p.Shutdown(context.Background()) }()
	<-p.quit // intake stopped
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]job.Status{running.ID: job.StatusCompleted, waiting.ID: job.StatusQueued} {
		j, err := s.Get(t.Context(), id)
		if err != nil || j.Status != want {
			t.Fatalf("job %s: %v %v, want %s", id, j.Status, err, want)
		}
		if want == job.StatusQueued && j.Attempts != 0 {
			t.Errorf("job never started has attempts %d", j.Attempts)
		}
	}
	select {
	case id := <-started:
		t.Errorf("job %s started after shutdown began", id)
	case <-time.After(0):
	}
}
