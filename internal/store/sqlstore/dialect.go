package sqlstore

import "strings"

// dialect holds what differs between the SQL databases the Store runs on. Queries are
// written once with '?' placeholders and portable SQL; the dialect rewrites the
// placeholders and supplies the few clauses and the schema that cannot be shared.
type dialect struct {
	// name identifies the database in error messages.
	name string

	// placeholder returns the marker of the n-th (1-based) bind parameter; nil keeps
	// '?' (SQLite). PostgreSQL will number them $1, $2, ….
	placeholder func(n int) string

	// skipLocked ends the claim's inner SELECT. A server database with concurrent
	// writers needs " FOR UPDATE SKIP LOCKED" so claimers pass over each other's rows;
	// SQLite has one writer at a time and leaves it empty.
	skipLocked string

	// migrations build the schema, in version order starting at 1.
	migrations []migration

	// lockMigrations, when set, runs first in the migration transaction and holds a
	// lock until it ends, so that several nodes starting at once migrate one after
	// the other. SQLite needs none: its transactions take the write lock at BEGIN.
	lockMigrations string

	// lockQueue, when set, runs first in Create's transaction when a capacity is
	// given, so the count of queued jobs and the insert are atomic across concurrent
	// creators on every node. SQLite needs none (one writer at a time).
	lockQueue string

	// notify, when set, runs in Create's transaction after the insert; it tells
	// listening nodes that work has arrived, when (and only if) the job commits.
	notify string

	// uniqueViolation reports whether err is a unique-key violation, the sign that a
	// concurrent Create inserted the same id first. nil means the dialect has none to
	// report (SQLite serialises writers, so the id check in Create suffices).
	uniqueViolation func(err error) bool
}

// migration is one versioned schema change: statements run in one transaction.
type migration struct {
	version    int
	statements []string
}

// rebind rewrites the '?' placeholders of query for d. Queries never contain '?' in
// literals, so a plain scan is enough.
func (d dialect) rebind(query string) string {
	if d.placeholder == nil || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteString(d.placeholder(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
