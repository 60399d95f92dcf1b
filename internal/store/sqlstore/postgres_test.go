package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/pixmill/pixmill/internal/job"
	"github.com/pixmill/pixmill/internal/store/storetest"
)

// The PostgreSQL tests run against the server of PIXMILL_TEST_POSTGRES_DSN (default:
// a local trust-auth server, database test). Each test works in a schema of its own,
// dropped when it ends, so runs never see each other's rows.

const defaultTestPostgresDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// testPostgresDSN finds a reachable server once per test binary.
var testPostgresDSN = sync.OnceValues(func() (string, error) {
	candidates := []string{os.Getenv("PIXMILL_TEST_POSTGRES_DSN")}
	if candidates[0] == "" {
		// Trust auth may know the superuser as postgres or as root.
		candidates = []string{defaultTestPostgresDSN, strings.Replace(defaultTestPostgresDSN, "postgres@", "root@", 1)}
	}
	var errs []error
	for _, dsn := range candidates {
		err := pingPostgres(dsn)
		if err == nil {
			return dsn, nil
		}
		errs = append(errs, err)
	}
	return "", errors.Join(errs...)
})

func pingPostgres(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	return conn.Close(ctx)
}

// requirePostgres returns the server's DSN or skips the test (fails it when
// PIXMILL_REQUIRE_INTEGRATION=1).
func requirePostgres(tb testing.TB) string {
	tb.Helper()
	dsn, err := testPostgresDSN()
	if err != nil {
		msg := fmt.Sprintf("PostgreSQL not reachable (set PIXMILL_TEST_POSTGRES_DSN or run .ci/integration-services.sh): %v", err)
		if os.Getenv("PIXMILL_REQUIRE_INTEGRATION") == "1" {
			tb.Fatal(msg)
		}
		tb.Skip(msg)
	}
	return dsn
}

// testSchemaDSN creates an empty schema, dropped when tb ends, and returns a DSN
// whose connections use it.
func testSchemaDSN(tb testing.TB) string {
	tb.Helper()
	dsn := requirePostgres(tb)
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "pixmill_test_" + hex.EncodeToString(b[:])
	admin(tb, dsn, "CREATE SCHEMA "+schema)
	tb.Cleanup(func() { admin(tb, dsn, "DROP SCHEMA "+schema+" CASCADE") })

	if u, err := url.Parse(dsn); err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql") {
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

func admin(tb testing.TB, dsn, stmt string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, stmt); err != nil {
		tb.Fatalf("%s: %v", stmt, err)
	}
}

func openPostgresTest(tb testing.TB, cfg PostgresConfig) *PostgresStore {
	tb.Helper()
	s, err := OpenPostgres(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("OpenPostgres: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestPostgresConformance(t *testing.T) {
	requirePostgres(t)
	storetest.Run(t, func(t *testing.T) job.Store {
		return openPostgresTest(t, PostgresConfig{DSN: testSchemaDSN(t)})
	})
}

func TestPostgresConfigValidate(t *testing.T) {
	for _, cfg := range []PostgresConfig{
		{},
		{DSN: "postgres://u@h/db", MaxConns: -1},
		{DSN: "postgres://u@h:notaport/db"},
	} {
		if err := cfg.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil; want an error", cfg)
		}
	}
	if err := (PostgresConfig{DSN: defaultTestPostgresDSN}).Validate(); err != nil {
		t.Errorf("Validate(default DSN) = %v", err)
	}
}

// nodes opens n stores on one fresh schema, each with its own pool, as n pixmill
// processes would.
func nodes(t *testing.T, n, maxConns int) []*PostgresStore {
	t.Helper()
	dsn := testSchemaDSN(t)
	out := make([]*PostgresStore, n)
	for i := range out {
		out[i] = openPostgresTest(t, PostgresConfig{DSN: dsn, MaxConns: maxConns})
	}
	return out
}

func TestPostgresClaimersAcrossNodes(t *testing.T) {
	const jobs, perNode = 300, 4
	stores := nodes(t, 4, perNode)
	ctx := t.Context()
	for i := range jobs {
		j := testJob(fmt.Sprintf("job-%03d", i))
		j.Priority = job.Priority(i % 3)
		if err := stores[i%len(stores)].Create(ctx, j, 0); err != nil {
			t.Fatalf("Create: %v", err)
		}
	}

	var (
		mu      sync.Mutex
		claimed = map[string]int{}
		wg      sync.WaitGroup
		failed  atomic.Int32
	)
	for _, s := range stores {
		for range perNode {
			wg.Go(func() {
				for {
					j, err := s.Claim(ctx, time.Hour)
					if err != nil {
						failed.Add(1)
						t.Errorf("Claim: %v", err)
						return
					}
					if j == nil {
						return
					}
					mu.Lock()
					claimed[j.ID]++
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if failed.Load() > 0 {
		return
	}
	if len(claimed) != jobs {
		t.Errorf("%d distinct jobs claimed; want %d", len(claimed), jobs)
	}
	for id, n := range claimed {
		if n != 1 {
			t.Errorf("job %s claimed %d times", id, n)
		}
	}
	st, err := stores[0].Stats(ctx)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if st.Processing != jobs || st.Queued != 0 {
		t.Errorf("Stats = %+v; want %d processing", st, jobs)
	}
}

func TestPostgresCreateAtCapacityAcrossNodes(t *testing.T) {
	const capacity, creators = 10, 40
	stores := nodes(t, 4, 5)
	ctx := t.Context()

	// One job is already processing: it does not count against the capacity.
	if err := stores[0].Create(ctx, testJob("running"), capacity); err != nil {
		t.Fatalf("Create: %v", err)
	}
	if c, err := stores[0].Claim(ctx, time.Hour); err != nil || c == nil {
		t.Fatalf("Claim = %v, %v", c, err)
	}

	var (
		wg       sync.WaitGroup
		accepted atomic.Int32
		full     atomic.Int32
	)
	start := make(chan struct{})
	for i := range creators {
		s := stores[i%len(stores)]
		wg.Go(func() {
			<-start
			err := s.Create(ctx, testJob(fmt.Sprintf("c%02d", i)), capacity)
			var e *job.Error
			switch {
			case err == nil:
				accepted.Add(1)
			case errors.As(err, &e) && e.Code == job.CodeQueueFull:
				full.Add(1)
			default:
				t.Errorf("Create: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if accepted.Load() != capacity || full.Load() != creators-capacity {
		t.Errorf("accepted %d, refused %d; want %d and %d", accepted.Load(), full.Load(), capacity, creators-capacity)
	}
	st, err := stores[1].Stats(ctx)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	if st.Queued != capacity || st.Processing != 1 {
		t.Errorf("Stats = %+v; want %d queued, 1 processing", st, capacity)
	}
}

func TestPostgresDuplicateIDRace(t *testing.T) {
	stores := nodes(t, 2, 4)
	ctx := t.Context()
	const racers = 8
	var (
		wg       sync.WaitGroup
		ok       atomic.Int32
		conflict atomic.Int32
	)
	start := make(chan struct{})
	for i := range racers {
		s := stores[i%len(stores)]
		wg.Go(func() {
			<-start
			err := s.Create(ctx, testJob("same"), 0)
			var e *job.Error
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &e) && e.Code == job.CodeConflict:
				conflict.Add(1)
			default:
				t.Errorf("Create: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != 1 || conflict.Load() != racers-1 {
		t.Errorf("created %d, conflicts %d; want 1 and %d", ok.Load(), conflict.Load(), racers-1)
	}
}

func TestPostgresConcurrentMigrations(t *testing.T) {
	dsn := testSchemaDSN(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	stores := make([]*PostgresStore, n)
	for i := range n {
		wg.Go(func() {
			stores[i], errs[i] = OpenPostgres(t.Context(), PostgresConfig{DSN: dsn, MaxConns: 2})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("OpenPostgres #%d: %v", i, err)
			continue
		}
		t.Cleanup(func() { _ = stores[i].Close() })
	}
	if t.Failed() {
		return
	}
	var versions, count int
	if err := stores[0].db.QueryRowContext(t.Context(),
		`SELECT COUNT(*), COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&count, &versions); err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	if want := len(postgresDialect().migrations); count != want || versions != want {
		t.Errorf("schema_migrations has %d rows up to version %d; want %d", count, versions, want)
	}
	// Every store works on the shared schema.
	for i, s := range stores {
		if err := s.Create(t.Context(), testJob(fmt.Sprintf("m%d", i)), 0); err != nil {
			t.Errorf("Create on store %d: %v", i, err)
		}
	}
}

func TestPostgresNewerSchemaRefused(t *testing.T) {
	dsn := testSchemaDSN(t)
	s := openPostgresTest(t, PostgresConfig{DSN: dsn})
	if _, err := s.db.ExecContext(t.Context(), `INSERT INTO schema_migrations (version, applied_at) VALUES (99, 0)`); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if s2, err := OpenPostgres(t.Context(), PostgresConfig{DSN: dsn}); err == nil {
		_ = s2.Close()
		t.Fatal("OpenPostgres accepted a schema newer than it knows")
	}
}

// wakes counts Subscribe's calls on a channel.
func wakes() (chan struct{}, func()) {
	ch := make(chan struct{}, 64)
	return ch, func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func waitWake(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no wake-up after %s", what)
	}
}

// drain empties ch.
func drain(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func TestPostgresSubscribe(t *testing.T) {
	dsn := testSchemaDSN(t)
	listener := openPostgresTest(t, PostgresConfig{DSN: dsn})
	creator := openPostgresTest(t, PostgresConfig{DSN: dsn})
	// A name of its own lets the test find the listening connection on the server.
	var b [6]byte
	_, _ = rand.Read(b[:])
	appName := "pixmill_test_listen_" + hex.EncodeToString(b[:])
	listener.connCfg.RuntimeParams["application_name"] = appName

	var s Subscriber = listener // the capability the app looks for
	ch, wake := wakes()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Subscribe(ctx, wake) }()

	waitWake(t, ch, "connecting") // the catch-up call once listening
	if err := creator.Create(t.Context(), testJob("a"), 0); err != nil {
		t.Fatalf("Create: %v", err)
	}
	waitWake(t, ch, "Create on another node")

	// A refused Create notifies nobody: its transaction rolls back.
	drain(ch)
	if err := creator.Create(t.Context(), testJob("b"), 1); err == nil {
		t.Fatal("Create over capacity succeeded")
	}

	// The server drops the listening connection: Subscribe reconnects and catches up.
	admin(t, dsn, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '`+appName+`'`)
	waitWake(t, ch, "reconnecting")
	drain(ch)
	if err := creator.Create(t.Context(), testJob("c"), 0); err != nil {
		t.Fatalf("Create: %v", err)
	}
	waitWake(t, ch, "Create after reconnecting")

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Subscribe returned %v; want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Subscribe did not return after its context ended")
	}
}

func TestPostgresSubscribeEndsOnClose(t *testing.T) {
	s, err := OpenPostgres(t.Context(), PostgresConfig{DSN: testSchemaDSN(t)})
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	ch, wake := wakes()
	done := make(chan error, 1)
	go func() { done <- s.Subscribe(t.Context(), wake) }()
	waitWake(t, ch, "connecting")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Subscribe did not return after Close")
	}
}

func TestSQLiteHasNoSubscribe(t *testing.T) {
	var s job.Store = openTest(t, Config{Path: t.TempDir() + "/pixmill.db"})
	if _, ok := s.(Subscriber); ok {
		t.Error("the SQLite store claims the Subscriber capability")
	}
}

// BenchmarkClaimPostgres measures claims per second with 1, 4 and 16 concurrent
// claimers, each Claim a round trip of its own, on one pool sized to the claimers.
func BenchmarkClaimPostgres(b *testing.B) {
	for _, claimers := range []int{1, 4, 16} {
		b.Run(fmt.Sprintf("claimers=%d", claimers), func(b *testing.B) {
			s := openPostgresTest(b, PostgresConfig{DSN: testSchemaDSN(b), MaxConns: claimers})
			ctx := context.Background()
			// Fill the queue in one statement: b.N Creates would dominate the run.
			if _, err := s.db.ExecContext(ctx, `INSERT INTO jobs (id, status, priority, created_at, spec)
SELECT 'bench-' || g, 'queued', g % 3, 1, '{}' FROM generate_series(1, $1) AS g`, b.N); err != nil {
				b.Fatalf("fill queue: %v", err)
			}
			if _, err := s.db.ExecContext(ctx, `ANALYZE jobs`); err != nil {
				b.Fatalf("analyze: %v", err)
			}
			var left atomic.Int64
			left.Store(int64(b.N))
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for range claimers {
				wg.Go(func() {
					for left.Add(-1) >= 0 {
						j, err := s.Claim(ctx, time.Hour)
						if err != nil || j == nil {
							b.Errorf("Claim = %v, %v", j, err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "claims/s")
		})
	}
}
