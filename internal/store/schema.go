package store

import (
	"context"
	"database/sql"
	"fmt"
)

// migration is one numbered step of the schema. Step i (counting from 1)
// takes a database whose PRAGMA user_version is i-1 to version i. Steps are
// only ever appended: a released step is never edited.
type migration struct {
	name string
	sql  string
}

// migrations returns the schema history, oldest first; its length is the
// version this build writes. A function rather than a variable, so no
// caller can change the history.
func migrations() []migration {
	return []migration{
		{
			name: "initial tables: jails, bans, history, logs",
			sql: `
CREATE TABLE jails (
	name    TEXT PRIMARY KEY NOT NULL,
	enabled INTEGER NOT NULL DEFAULT 1
) WITHOUT ROWID;

-- bans holds the bans in force, one row per jail and prefix. time and
-- bantime are Unix seconds; bantime -1 is a ban for ever. The rest of a
-- ban (count, failures, matches) is its row in history, written together
-- with this one, so it is stored once.
CREATE TABLE bans (
	jail    TEXT NOT NULL REFERENCES jails(name) ON DELETE CASCADE,
	prefix  TEXT NOT NULL,
	time    INTEGER NOT NULL,
	bantime INTEGER NOT NULL,
	PRIMARY KEY (jail, prefix)
) WITHOUT ROWID;

-- history keeps the latest ban of each prefix in each jail, also after the
-- ban has ended, so a repeat offender's next ban can be made longer. data
-- is a JSON object; its "matches" member holds the log lines that led to
-- the ban.
CREATE TABLE history (
	prefix   TEXT NOT NULL,
	jail     TEXT NOT NULL REFERENCES jails(name) ON DELETE CASCADE,
	time     INTEGER NOT NULL,
	bantime  INTEGER NOT NULL,
	count    INTEGER NOT NULL DEFAULT 1,
	failures INTEGER NOT NULL DEFAULT 0,
	data     TEXT NOT NULL DEFAULT '{}',
	PRIMARY KEY (prefix, jail)
) WITHOUT ROWID;

-- logs remembers how far each jail has read each log file.
CREATE TABLE logs (
	jail   TEXT NOT NULL REFERENCES jails(name) ON DELETE CASCADE,
	path   TEXT NOT NULL,
	inode  INTEGER NOT NULL DEFAULT 0,
	hash   TEXT NOT NULL DEFAULT '',
	offset INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (jail, path)
);
`,
		},
		{
			name: "journal cursors",
			sql: `
CREATE TABLE journals (
	jail   TEXT PRIMARY KEY NOT NULL REFERENCES jails(name) ON DELETE CASCADE,
	cursor TEXT NOT NULL
);
`,
		},
		{
			name: "mail queue",
			sql:  mailQueueSchema, // mailqueue.go
		},
	}
}

// SchemaVersion is the schema version this build creates and upgrades to.
func SchemaVersion() int { return len(migrations()) }

// schemaVersion reads PRAGMA user_version.
func schemaVersion(ctx context.Context, db *sql.DB) (int, error) {
	var v int
	if err := db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

// migrate brings db up to len(steps), each step in its own transaction
// together with the new user_version, so a crash leaves a consistent
// version. It returns the version found before and after.
func migrate(ctx context.Context, db *sql.DB, steps []migration) (from, to int, err error) {
	from, err = schemaVersion(ctx, db)
	if err != nil {
		return 0, 0, err
	}
	if from > len(steps) {
		return from, from, fmt.Errorf("%w: file has version %d, this build knows up to %d",
			ErrTooNew, from, len(steps))
	}
	for v := from; v < len(steps); v++ {
		if err := applyStep(ctx, db, v+1, steps[v]); err != nil {
			return from, v, err
		}
	}
	return from, len(steps), nil
}

func applyStep(ctx context.Context, db *sql.DB, version int, m migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("migration %d (%s): %w", version, m.name, err)
	}
	defer tx.Rollback() //nolint:errcheck // a no-op after Commit
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("migration %d (%s): %w", version, m.name, err)
	}
	// PRAGMA takes no bound parameters; version is our own integer.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", version)); err != nil {
		return fmt.Errorf("migration %d (%s): set version: %w", version, m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("migration %d (%s): commit: %w", version, m.name, err)
	}
	return nil
}
