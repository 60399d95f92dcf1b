package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache holds a prepared statement per query text. Without it SQLite parses
// and plans every statement on every call (about 3 % of a busy node's CPU); with
// it each query is prepared once per connection (database/sql re-prepares a
// statement on a connection it has not seen yet, and inside a transaction).
// Inside a transaction only statements prepared before it are used (warm).
type stmtCache struct {
	db *sql.DB
	m  sync.Map // query → *sql.Stmt
}

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := c.m.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := c.m.LoadOrStore(query, st); loaded {
		_ = st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// warm prepares queries that will run inside a transaction: there a statement
// not prepared yet runs unprepared, since preparing it on the pool would wait for
// the connection the transaction holds (SQLite has only one). Errors are left
// for the statements themselves to report.
func (c *stmtCache) warm(ctx context.Context, queries ...string) {
	for _, q := range queries {
		if q != "" {
			_, _ = c.get(ctx, q)
		}
	}
}

func (c *stmtCache) close() {
	c.m.Range(func(k, v any) bool {
		_ = v.(*sql.Stmt).Close()
		c.m.Delete(k)
		return true
	})
}

// conn runs statements through the cache, on the pool or, when tx is set, in tx.
// Queries are given as the database takes them (already rebound). A statement
// that cannot be prepared runs unprepared, which reports the same error.
type conn struct {
	c  *stmtCache
	tx *sql.Tx
}

func (k conn) stmt(ctx context.Context, query string) *sql.Stmt {
	if k.tx != nil {
		// Only what is prepared already (warm): see there.
		if st, ok := k.c.m.Load(query); ok {
			return k.tx.StmtContext(ctx, st.(*sql.Stmt))
		}
		return nil
	}
	st, err := k.c.get(ctx, query)
	if err != nil {
		return nil
	}
	return st
}

func (k conn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := k.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	if k.tx != nil {
		return k.tx.QueryRowContext(ctx, query, args...)
	}
	return k.c.db.QueryRowContext(ctx, query, args...)
}

func (k conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := k.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	if k.tx != nil {
		return k.tx.ExecContext(ctx, query, args...)
	}
	return k.c.db.ExecContext(ctx, query, args...)
}

func (k conn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := k.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	if k.tx != nil {
		return k.tx.QueryContext(ctx, query, args...)
	}
	return k.c.db.QueryContext(ctx, query, args...)
}
