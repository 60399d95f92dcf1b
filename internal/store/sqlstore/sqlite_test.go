package sqlstore

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/pixmill/pixmill/internal/job"
	"github.com/pixmill/pixmill/internal/store/storetest"
)

func openTest(t *testing.T, cfg Config) *Store {
	t.Helper()
	s, err := OpenSQLite(t.Context(), cfg)
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) job.Store {
		// A directory that does not exist yet: OpenSQLite creates it.
		return openTest(t, Config{Path: filepath.Join(t.TempDir(), "data", "pixmill.db")})
	})
}

func testJob(id string) *job.Job {
	return &job.Job{
		ID:       id,
		Priority: job.PriorityNormal,
		Source:   job.Source{Filename: "a.png", Format: job.FormatPNG, Bytes: 10, Width: 2, Height: 3},
		Spec:     job.Spec{Variants: []job.Variant{{Name: job.DefaultVariant, Ops: []job.Op{{Name: "invert"}}}}},
	}
}

func TestReopenKeepsJobs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pixmill.db")
	ctx := t.Context()

	s1, err := OpenSQLite(ctx, Config{Path: path})
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	queued := testJob("queued")
	if err := s1.Create(ctx, queued, 0); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := s1.Create(ctx, testJob("claimed"), 0); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if err := s1.Create(ctx, testJob("next"), 0); err != nil {
		t.Fatalf("Create: %v", err)
	}
	// Claim "queued" and give it back, then claim "queued" for good: the others stay.
	c, err := s1.Claim(ctx, time.Hour)
	if err != nil || c == nil {
		t.Fatalf("Claim = %v, %v", c, err)
	}
	if err := s1.Release(ctx, c.ID, c.LeaseToken); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if _, err := s1.Cancel(ctx, "queued"); err != nil {
		t.Fatalf("Cancel: %v", err)
	}
	claimed, err := s1.Claim(ctx, time.Hour)
	if err != nil || claimed == nil || claimed.ID != "claimed" {
		t.Fatalf("Claim = %+v, %v; want job claimed", claimed, err)
	}
	before, err := s1.List(ctx, job.ListQuery{})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if err := s1.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// A restart: everything committed is there, and the seq keeps growing.
	s2 := openTest(t, Config{Path: path})
	after, err := s2.List(ctx, job.ListQuery{})
	if err != nil {
		t.Fatalf("List after reopen: %v", err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("jobs after reopen (-before +after):\n%s", diff)
	}
	// The claim survives the restart with its token.
	if err := s2.Complete(ctx, claimed.ID, claimed.LeaseToken, nil); err != nil {
		t.Fatalf("Complete after reopen: %v", err)
	}
	if err := s2.Create(ctx, testJob("new"), 0); err != nil {
		t.Fatalf("Create after reopen: %v", err)
	}
	p, err := s2.List(ctx, job.ListQuery{Limit: 1})
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(p.Jobs) != 1 || p.Jobs[0].ID != "new" {
		t.Errorf("newest job after reopen = %+v; want new", p.Jobs)
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pixmill.db")
	for i := range 3 {
		s, err := OpenSQLite(t.Context(), Config{Path: path})
		if err != nil {
			t.Fatalf("open %d: %v", i+1, err)
		}
		var versions, count int
		err = s.db.QueryRowContext(t.Context(), `SELECT COUNT(*), COALESCE(MAX(version), 0) FROM schema_migrations`).
			Scan(&count, &versions)
		if err != nil {
			t.Fatalf("read schema_migrations: %v", err)
		}
		if want := len(sqliteDialect().migrations); count != want || versions != want {
			t.Errorf("open %d: %d migrations recorded, latest %d; want %d, %d", i+1, count, versions, want, want)
		}
		if err := s.Create(t.Context(), testJob("j"+string(rune('0'+i))), 0); err != nil {
			t.Fatalf("Create: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pixmill.db")
	s := openTest(t, Config{Path: path})
	if _, err := s.db.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)`); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if s2, err := OpenSQLite(t.Context(), Config{Path: path}); err == nil {
		_ = s2.Close()
		t.Fatal("OpenSQLite accepted a schema newer than it knows")
	}
}

func TestPragmas(t *testing.T) {
	s := openTest(t, Config{Path: filepath.Join(t.TempDir(), "pixmill.db")})
	for pragma, want := range map[string]string{
		"journal_mode": "wal",
		"busy_timeout": "5000",
		"synchronous":  "1", // NORMAL
		"foreign_keys": "1",
	} {
		var got string
		if err := s.db.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %q; want %q", pragma, got, want)
		}
	}
}

func TestClock(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 678_901_234, time.FixedZone("x", 3600))
	s := openTest(t, Config{Path: filepath.Join(t.TempDir(), "pixmill.db"), Now: func() time.Time { return now }})
	ctx := t.Context()
	j := testJob("j")
	if err := s.Create(ctx, j, 0); err != nil {
		t.Fatalf("Create: %v", err)
	}
	wantCreated := time.Date(2030, 1, 2, 2, 4, 5, 678_000_000, time.UTC)
	if !j.CreatedAt.Equal(wantCreated) || j.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v; want %v", j.CreatedAt, wantCreated)
	}
	c, err := s.Claim(ctx, 30*time.Second)
	if err != nil || c == nil {
		t.Fatalf("Claim = %v, %v", c, err)
	}
	if want := wantCreated.Add(30 * time.Second); !c.LeaseExpires.Equal(want) {
		t.Errorf("LeaseExpires = %v; want %v", c.LeaseExpires, want)
	}
	if !c.StartedAt.Equal(wantCreated) {
		t.Errorf("StartedAt = %v; want %v", c.StartedAt, wantCreated)
	}
	// Not expired at the same instant; expired once the clock passes the lease.
	if n, err := s.RequeueExpired(ctx); err != nil || n != 0 {
		t.Fatalf("RequeueExpired = %d, %v; want 0", n, err)
	}
	now = now.Add(31 * time.Second)
	if n, err := s.RequeueExpired(ctx); err != nil || n != 1 {
		t.Fatalf("RequeueExpired = %d, %v; want 1", n, err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []Config{{}, {Path: "a?b.db"}} {
		if _, err := OpenSQLite(t.Context(), cfg); err == nil {
			t.Errorf("OpenSQLite(%+v) succeeded; want an error", cfg)
		}
	}
}
