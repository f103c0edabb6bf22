package store

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Kinds of failure a caller may want to tell apart with errors.Is.
var (
	// ErrLocked means another process held the database longer than the
	// busy timeout.
	ErrLocked = errors.New("database is locked")
	// ErrReadOnly means the database file or its directory cannot be
	// written.
	ErrReadOnly = errors.New("database is read-only")
	// ErrDiskFull means the file system holding the database is full.
	ErrDiskFull = errors.New("disk full")
	// ErrCorrupt means the file is not a valid SQLite database.
	ErrCorrupt = errors.New("database is corrupt")
	// ErrTooNew means the database was written by a newer warden whose
	// schema this build does not know.
	ErrTooNew = errors.New("database schema is newer than this program")
	// ErrInvalid means the caller passed a value the store cannot keep,
	// such as an empty jail name or an invalid prefix.
	ErrInvalid = errors.New("invalid argument")
)

// Error is the error every Store method returns. It names the operation and
// the database path, and unwraps both to the kind (one of the ErrX values,
// when one applies) and to the underlying cause.
type Error struct {
	Op   string // what the store was doing, e.g. "add bans"
	Path string // database file
	Kind error  // ErrLocked, ErrReadOnly, ...; nil when none applies
	Err  error  // underlying cause
}

func (e *Error) Error() string {
	return fmt.Sprintf("store %s: %s: %v", e.Path, e.Op, e.Err)
}

// Unwrap exposes both the kind and the cause to errors.Is and errors.As.
func (e *Error) Unwrap() []error {
	if e.Kind == nil {
		return []error{e.Err}
	}
	return []error{e.Kind, e.Err}
}

// wrap turns err into an *Error for op, classifying SQLite and OS errors.
// It returns nil for a nil err.
func (s *Store) wrap(op string, err error) error {
	return wrapErr(s.path, op, err)
}

func wrapErr(path, op string, err error) error {
	if err == nil {
		return nil
	}
	var se *Error
	if errors.As(err, &se) {
		return err
	}
	return &Error{Op: op, Path: path, Kind: classify(err), Err: err}
}

// classify maps an error from SQLite or the OS to one of the ErrX kinds.
func classify(err error) error {
	for _, k := range []error{ErrLocked, ErrReadOnly, ErrDiskFull, ErrCorrupt, ErrTooNew, ErrInvalid} {
		if errors.Is(err, k) {
			return k
		}
	}
	var le *sqlite.Error
	if errors.As(err, &le) {
		switch le.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return ErrLocked
		case sqlite3.SQLITE_READONLY:
			return ErrReadOnly
		case sqlite3.SQLITE_FULL:
			return ErrDiskFull
		case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
			return ErrCorrupt
		case sqlite3.SQLITE_IOERR:
			// SQLite reports ENOSPC during a write as an I/O error on some
			// paths; its extended code does not say so, the errno does.
			if errors.Is(err, syscall.ENOSPC) {
				return ErrDiskFull
			}
		}
	}
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return ErrDiskFull
	case errors.Is(err, syscall.EROFS), errors.Is(err, fs.ErrPermission):
		return ErrReadOnly
	}
	return nil
}

// isCorrupt reports whether err says the file is not a usable database.
func isCorrupt(err error) bool {
	return errors.Is(classify(err), ErrCorrupt)
}
