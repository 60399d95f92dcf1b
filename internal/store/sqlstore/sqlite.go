package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// sqlitePragmas configure every SQLite connection. modernc.org/sqlite only honours
// pragmas given as _pragma=name(value); mattn-style keys are silently ignored.
// _txlock=immediate makes every transaction take the write lock when it begins, so a
// read-then-write transaction (Create's capacity check) cannot fail half way with
// SQLITE_BUSY when another process writes the same file.
const sqlitePragmas = "_pragma=journal_mode(WAL)" +
	"&_pragma=busy_timeout(5000)" +
	"&_pragma=synchronous(NORMAL)" +
	"&_pragma=foreign_keys(1)" +
	"&_txlock=immediate"

// Config configures a SQLite Store.
type Config struct {
	// Path is the database file; its parent directory is created when missing.
	Path string

	// Now is the store's clock; nil means time.Now. Tests set it.
	Now func() time.Time
}

// Validate reports whether c can open a store.
func (c Config) Validate() error {
	if c.Path == "" {
		return errors.New("sqlite store: path is required")
	}
	// The driver splits its options off at the first '?'.
	if strings.ContainsRune(c.Path, '?') {
		return fmt.Errorf("sqlite store: path %q must not contain '?'", c.Path)
	}
	return nil
}

// OpenSQLite opens (creating if needed) the SQLite database at cfg.Path, brings its
// schema up to date and returns a Store on it.
func OpenSQLite(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
		return nil, fmt.Errorf("open sqlite store: create directory: %w", err)
	}
	db, err := sql.Open("sqlite", cfg.Path+"?"+sqlitePragmas)
	if err != nil {
		return nil, fmt.Errorf("open sqlite store %s: %w", cfg.Path, err)
	}
	// SQLite allows one writer at a time; a single connection serialises every
	// statement in this process, so writers never wait on SQLITE_BUSY among
	// themselves and a transaction is never interleaved with another.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)

	s := newStore(db, sqliteDialect(), cfg.Now)
	if err := s.migrate(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite store %s: %w", cfg.Path, err)
	}
	return s, nil
}

// sqliteDialect is SQLite: '?' placeholders, no SKIP LOCKED, INTEGER times in unix
// milliseconds.
func sqliteDialect() dialect {
	return dialect{
		name:       "sqlite",
		skipLocked: "",
		migrations: []migration{{
			version: 1,
			statements: []string{
				`CREATE TABLE jobs (
	seq             INTEGER PRIMARY KEY AUTOINCREMENT,
	id              TEXT    NOT NULL UNIQUE,
	status          TEXT    NOT NULL CHECK (status IN ('queued', 'processing', 'completed', 'failed', 'canceled')),
	priority        INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	started_at      INTEGER,
	finished_at     INTEGER,
	run_after       INTEGER NOT NULL DEFAULT 0,
	attempts        INTEGER NOT NULL DEFAULT 0,
	source_filename TEXT    NOT NULL DEFAULT '',
	source_format   TEXT    NOT NULL DEFAULT '',
	source_bytes    INTEGER NOT NULL DEFAULT 0,
	source_width    INTEGER NOT NULL DEFAULT 0,
	source_height   INTEGER NOT NULL DEFAULT 0,
	spec            TEXT    NOT NULL,
	outputs         TEXT,
	error_code      TEXT,
	error_message   TEXT,
	lease_token     TEXT,
	lease_expires   INTEGER
)`,
				`CREATE INDEX jobs_claim ON jobs (status, priority DESC, seq)`,
				`CREATE INDEX jobs_list ON jobs (status, seq)`,
			},
		}},
	}
}
