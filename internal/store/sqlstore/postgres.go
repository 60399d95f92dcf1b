package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// NotifyChannel is the PostgreSQL channel Create notifies, in the creating
// transaction, whenever a job is queued.
const NotifyChannel = "pixmill_jobs"

// DefaultPostgresMaxConns is the pool size when PostgresConfig.MaxConns is 0.
const DefaultPostgresMaxConns = 10

// Subscribe reconnects after a lost connection with a backoff between these.
const (
	subscribeMinBackoff = 100 * time.Millisecond
	subscribeMaxBackoff = 10 * time.Second
)

// PostgresConfig configures a PostgreSQL Store.
type PostgresConfig struct {
	// DSN is a pgx connection string, URL or key=value form
	// (postgres://user:pass@host:5432/db?sslmode=disable). A search_path parameter
	// selects the schema the tables live in.
	DSN string

	// Now is the store's clock; nil means time.Now. Tests set it.
	Now func() time.Time

	// MaxConns caps the store's connection pool; 0 means DefaultPostgresMaxConns.
	// Subscribe holds one more connection of its own.
	MaxConns int

	// Logger receives Subscribe's connection losses; nil discards them.
	Logger *slog.Logger
}

// Validate reports whether c can open a store. It does not connect.
func (c PostgresConfig) Validate() error {
	if c.DSN == "" {
		return errors.New("postgres store: dsn is required")
	}
	if c.MaxConns < 0 {
		return fmt.Errorf("postgres store: max conns %d must not be negative", c.MaxConns)
	}
	if _, err := pgx.ParseConfig(c.DSN); err != nil {
		// pgx redacts the password from its parse errors.
		return fmt.Errorf("postgres store: dsn: %w", err)
	}
	return nil
}

// Subscriber is an optional capability of a job.Store: Subscribe calls wake each
// time another process (or this one) may have queued a job, until ctx ends. Callers
// find it by type assertion; a store without it (SQLite: one process, an in-process
// doorbell) is simply polled.
type Subscriber interface {
	Subscribe(ctx context.Context, wake func()) error
}

// PostgresStore is the Store on PostgreSQL. On top of job.Store it implements
// Subscriber with LISTEN/NOTIFY.
type PostgresStore struct {
	*Store

	connCfg   *pgx.ConnConfig // for Subscribe's dedicated connection
	log       *slog.Logger
	closed    chan struct{} // closed by Close: ends running Subscribe calls
	closeOnce sync.Once
}

var _ Subscriber = (*PostgresStore)(nil)

// OpenPostgres connects to the PostgreSQL database of cfg.DSN, brings its schema up
// to date and returns a Store on it. Several nodes may open the same database at
// once: migrations run one at a time under an advisory lock.
func OpenPostgres(ctx context.Context, cfg PostgresConfig) (*PostgresStore, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	connCfg, err := pgx.ParseConfig(cfg.DSN)
	if err != nil {
		return nil, fmt.Errorf("postgres store: dsn: %w", err)
	}
	maxConns := cfg.MaxConns
	if maxConns == 0 {
		maxConns = DefaultPostgresMaxConns
	}
	db := sql.OpenDB(stdlib.GetConnector(*connCfg))
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	// Recycling connections now and then spreads them again after a failover.
	db.SetConnMaxLifetime(30 * time.Minute)

	s := newStore(db, postgresDialect(), cfg.Now)
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open postgres store %s: %w", describe(connCfg), err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PostgresStore{Store: s, connCfg: connCfg, log: log, closed: make(chan struct{})}, nil
}

// describe names the database of cfg for messages, without credentials.
func describe(cfg *pgx.ConnConfig) string {
	return cfg.Host + ":" + strconv.Itoa(int(cfg.Port)) + "/" + cfg.Database
}

// Close ends running Subscribe calls and closes the pool.
func (s *PostgresStore) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return s.Store.Close()
}

// Subscribe implements Subscriber: it holds a dedicated connection that LISTENs on
// NotifyChannel and calls wake for each notification, and once after every
// (re)connect since notifications sent while it was not listening are lost. It
// blocks until ctx ends or the store is closed, then returns nil. A lost connection
// is logged and reopened with exponential backoff (100 ms to 10 s); callers keep a
// poll as the fallback for those gaps. wake must not block for long: it runs on the
// listening goroutine (a non-blocking send to a buffered channel is the usual form).
func (s *PostgresStore) Subscribe(ctx context.Context, wake func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.closed:
			cancel()
		case <-ctx.Done():
		}
	}()

	backoff := subscribeMinBackoff
	for {
		listened, err := s.listen(ctx, wake)
		if ctx.Err() != nil {
			return nil
		}
		if listened {
			backoff = subscribeMinBackoff
		}
		s.log.WarnContext(ctx, "job notifications interrupted; reconnecting",
			"err", err, "retry_in_ms", backoff.Milliseconds())
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, subscribeMaxBackoff)
	}
}

// listen runs one LISTEN session until its connection fails or ctx ends. listened
// reports whether it got as far as listening.
func (s *PostgresStore) listen(ctx context.Context, wake func()) (listened bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.connCfg.Copy())
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+NotifyChannel); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	wake() // whatever was queued while nobody listened
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true, fmt.Errorf("wait for notification: %w", err)
		}
		wake()
	}
}

// pgUniqueViolation is SQLSTATE unique_violation.
const pgUniqueViolation = "23505"

// postgresDialect is PostgreSQL: $n placeholders, SKIP LOCKED claims, advisory
// locks for migrations and the capacity check, NOTIFY on Create. Times are BIGINT
// unix milliseconds as in SQLite, so both share every query and the row decoding.
//
// The advisory lock keys include the schema, so deployments (and tests) that share a
// database in separate schemas do not wait on each other.
func postgresDialect() dialect {
	return dialect{
		name:           "postgres",
		placeholder:    func(n int) string { return "$" + strconv.Itoa(n) },
		skipLocked:     " FOR UPDATE SKIP LOCKED",
		lockMigrations: `SELECT pg_advisory_xact_lock(hashtext('pixmill.migrate.' || COALESCE(current_schema(), '')))`,
		lockQueue:      `SELECT pg_advisory_xact_lock(hashtext('pixmill.queue.' || COALESCE(current_schema(), '')))`,
		notify:         `SELECT pg_notify('` + NotifyChannel + `', '')`, // preparable, unlike NOTIFY
		uniqueViolation: func(err error) bool {
			var pe *pgconn.PgError
			return errors.As(err, &pe) && pe.Code == pgUniqueViolation
		},
		migrations: []migration{{
			version: 1,
			statements: []string{
				`CREATE TABLE jobs (
	seq             BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id              TEXT    NOT NULL UNIQUE,
	status          TEXT    NOT NULL CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'canceled')),
	priority        INTEGER NOT NULL,
	created_at      BIGINT  NOT NULL,
	started_at      BIGINT,
	finished_at     BIGINT,
	run_after       BIGINT  NOT NULL DEFAULT 0,
	attempts        INTEGER NOT NULL DEFAULT 0,
	source_filename TEXT    NOT NULL DEFAULT '',
	source_format   TEXT    NOT NULL DEFAULT '',
	source_bytes    BIGINT  NOT NULL DEFAULT 0,
	source_width    INTEGER NOT NULL DEFAULT 0,
	source_height   INTEGER NOT NULL DEFAULT 0,
	spec            TEXT    NOT NULL,
	outputs         TEXT,
	error_code      TEXT,
	error_message   TEXT,
	lease_token     TEXT,
	lease_expires   BIGINT
)`,
				// Claim reads only queued rows, in this order: a partial index stays
				// small however many finished jobs the table keeps.
				`CREATE INDEX jobs_claim ON jobs (priority DESC, seq) WHERE status = 'queued'`,
				`CREATE INDEX jobs_list ON jobs (status, seq)`,
				`CREATE INDEX jobs_lease ON jobs (lease_expires) WHERE status = 'processing'`,
				`CREATE INDEX jobs_finished ON jobs (finished_at) WHERE status IN ('completed', 'failed', 'canceled')`,
			},
		}},
	}
}
