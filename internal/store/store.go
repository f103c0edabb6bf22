package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Defaults for the zero Options.
const (
	DefaultBusyTimeout = 5 * time.Second
	DefaultMaxMatches  = 10 // fail2ban's dbmaxmatches default
)

// Options tune a Store. The zero value is usable.
type Options struct {
	// Logger receives the store's log lines, notably the error line
	// written when a corrupt file is moved aside. Nil discards them.
	Logger *slog.Logger
	// BusyTimeout is how long an operation waits for another process's
	// lock before failing with ErrLocked. Zero means DefaultBusyTimeout.
	BusyTimeout time.Duration
	// MaxMatches caps the log lines kept with each ban (fail2ban's
	// dbmaxmatches); the newest are kept. Zero means DefaultMaxMatches;
	// a negative value keeps none.
	MaxMatches int
	// Now is the clock used to name a corrupt file moved aside. Nil means
	// time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	switch {
	case o.MaxMatches == 0:
		o.MaxMatches = DefaultMaxMatches
	case o.MaxMatches < 0:
		o.MaxMatches = 0
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Store is an open warden database. Its methods are safe for concurrent
// use; writes are serialised by SQLite.
type Store struct {
	// writeSlot holds one token while a write transaction runs. Writers in
	// this process queue here, in order and honouring their context, rather
	// than in SQLite's busy handler, which polls and can starve a writer
	// for the whole busy timeout; that timeout is left to other processes.
	writeSlot  chan struct{}
	db         *sql.DB
	inserts    *stmtCache // the bulk writes' statements (batch.go)
	path       string
	log        *slog.Logger
	maxMatches int
	recovery   *Recovery
}

// Recovery reports that Open found the database file corrupt, moved it
// aside and started a new, empty database. All bans and history in the old
// file are no longer known, so the caller should say so loudly.
type Recovery struct {
	Path    string // the database path, now a new empty database
	MovedTo string // where the corrupt file was moved
	Cause   error  // what SQLite said about the old file
}

func (r *Recovery) Error() string {
	return fmt.Sprintf("store %s: corrupt database moved to %s and a new one created: %v",
		r.Path, r.MovedTo, r.Cause)
}

// Unwrap lets errors.Is(r, ErrCorrupt) hold.
func (r *Recovery) Unwrap() []error { return []error{ErrCorrupt, r.Cause} }

// Open opens the database at path, creating it and its schema if missing
// (but not its directory), and upgrading an older schema. A corrupt file is
// renamed to "<path>.corrupt-<UTC timestamp>" and replaced by a new
// database; Open then succeeds, logs an error and reports the event
// through Recovered.
//
// Errors are *Error values that match ErrReadOnly, ErrLocked, ErrDiskFull or
// ErrTooNew with errors.Is when one of those is the cause.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	if path == "" {
		return nil, wrapErr(path, "open", fmt.Errorf("%w: empty database path", ErrInvalid))
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, wrapErr(path, "open", err)
	}
	if err := checkWritable(abs); err != nil {
		return nil, wrapErr(path, "open", err)
	}
	s, err := openDB(ctx, abs, opts)
	if err == nil {
		return s, nil
	}
	if !isCorrupt(err) {
		return nil, wrapErr(path, "open", err)
	}
	moved, mvErr := moveAside(abs, opts.Now())
	if mvErr != nil {
		return nil, wrapErr(path, "open", errors.Join(err, mvErr))
	}
	opts.Logger.Error("corrupt database moved aside, starting with an empty one",
		"path", abs, "moved_to", moved, "err", err)
	s, err2 := openDB(ctx, abs, opts)
	if err2 != nil {
		return nil, wrapErr(path, "open new database after moving corrupt one aside", err2)
	}
	s.recovery = &Recovery{Path: abs, MovedTo: moved, Cause: err}
	return s, nil
}

// Recovered returns the corrupt-file event that happened during Open, or
// nil when the file opened cleanly.
func (s *Store) Recovered() *Recovery { return s.recovery }

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close releases the database. The Store cannot be used afterwards.
func (s *Store) Close() error {
	s.inserts.close()
	return s.wrap("close", s.db.Close())
}

// dsn builds the connection string: every pooled connection gets the busy
// timeout, foreign keys, a 512 KiB page cache (each connection has its
// own, outside the Go heap and outside the server's memory limit: at 4 MiB
// a flood's server held about 9.5 MB of RSS in them; at 512 KiB
// BenchmarkAddBansFlood costs 3-7 % less CPU and BenchmarkActiveBans100k,
// a restart's read, no more, since the writes and the restore's scan touch
// each page about once), temporary files in memory (a multi-row INSERT
// inside a transaction keeps a statement journal, in case it fails half
// way: as a file it cost a write system call per page touched, about a
// tenth of BenchmarkAddBansFlood's CPU; it holds a few pages) and
// immediate write transactions (so a writer waits for the lock up front
// instead of failing half-way). WAL mode is a property of the file, set
// once by setFileMode.
func dsn(path string, busy time.Duration) string {
	u := url.URL{Path: path}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "cache_size(-512)")
	q.Add("_pragma", "temp_store(MEMORY)")
	q.Set("_txlock", "immediate")
	return "file:" + u.EscapedPath() + "?" + q.Encode()
}

// openDB opens path, checks it and migrates it to the current schema.
func openDB(ctx context.Context, path string, opts Options) (*Store, error) {
	db, err := sql.Open("sqlite", dsn(path, opts.BusyTimeout))
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			db.Close()
		}
	}()
	if err := setFileMode(ctx, db); err != nil {
		return nil, err
	}
	if err := check(ctx, db); err != nil {
		return nil, err
	}
	if err := refuseForeign(ctx, db); err != nil {
		return nil, err
	}
	from, to, err := migrate(ctx, db, migrations())
	if err != nil {
		return nil, err
	}
	switch {
	case from == 0:
		opts.Logger.Info("database created", "path", path, "schema", to)
	case from != to:
		opts.Logger.Info("database schema upgraded", "path", path, "from", from, "to", to)
	}
	ok = true
	return &Store{
		writeSlot: make(chan struct{}, 1),
		db:        db, inserts: newStmtCache(db),
		path: path, log: opts.Logger, maxMatches: opts.MaxMatches,
	}, nil
}

// pageSize is the page size of new database files. Larger pages than
// SQLite's 4 KiB default mean fewer, larger writes for big batches.
const pageSize = 16384

// setFileMode sets the page size (which only takes effect on a new, empty
// file) and then WAL journaling, both on one connection, in that order:
// switching to WAL fixes the page size.
func setFileMode(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d", pageSize)); err != nil {
		return err
	}
	var mode string
	if err := conn.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return err
	}
	if mode != "wal" {
		return fmt.Errorf("cannot switch to WAL journaling, got %q", mode)
	}
	return nil
}

// check runs SQLite's quick integrity check, which reads every page, and
// turns a bad report into an ErrCorrupt error.
func check(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "PRAGMA quick_check")
	if err != nil {
		return err
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return err
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: integrity check: %q", ErrCorrupt, problems)
	}
	return nil
}

// refuseForeign stops Open from writing warden's schema into some other
// program's SQLite file (fail2ban's, say) that was given by mistake.
func refuseForeign(ctx context.Context, db *sql.DB) error {
	v, err := schemaVersion(ctx, db)
	if err != nil || v != 0 {
		return err
	}
	var n int
	if err := db.QueryRowContext(ctx,
		"SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%w: file holds %d tables but no warden schema version; not a warden database",
			ErrInvalid, n)
	}
	return nil
}

// checkWritable fails with ErrReadOnly when path or its directory is on a
// read-only file system or not writable by this process. SQLite would
// otherwise open the file read-only and fail later, less clearly.
func checkWritable(path string) error {
	const wOK = 2 // access(2) W_OK
	dir := filepath.Dir(path)
	if err := syscall.Access(dir, wOK); err != nil {
		perr := &fs.PathError{Op: "access", Path: dir, Err: err}
		if errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("database directory missing: %w", perr)
		}
		return fmt.Errorf("%w: directory %s: %w", ErrReadOnly, dir, perr)
	}
	if err := syscall.Access(path, wOK); err != nil && !errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("%w: %w", ErrReadOnly, &fs.PathError{Op: "access", Path: path, Err: err})
	}
	return nil
}

// moveAside renames a corrupt database, and its -wal and -shm companions
// when present, to "<path>.corrupt-<timestamp>" and returns the new name.
func moveAside(path string, now time.Time) (string, error) {
	base := path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
	target := base
	for i := 1; ; i++ {
		if _, err := os.Lstat(target); errors.Is(err, fs.ErrNotExist) {
			break
		}
		target = fmt.Sprintf("%s-%d", base, i)
	}
	if err := os.Rename(path, target); err != nil {
		return "", fmt.Errorf("move corrupt database aside: %w", err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		err := os.Rename(path+suffix, target+suffix)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return target, fmt.Errorf("move corrupt database aside: %w", err)
		}
	}
	return target, nil
}

// inTx runs f in a write transaction, committing when f succeeds.
func (s *Store) inTx(ctx context.Context, f func(*sql.Tx) error) error {
	select {
	case s.writeSlot <- struct{}{}:
		defer func() { <-s.writeSlot }()
	case <-ctx.Done():
		return ctx.Err()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback() //nolint:errcheck // the first error is the one to report
		return err
	}
	return tx.Commit()
}
