package source

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Line is one log line handed from a source to a filter.
type Line struct {
	// Text is the line without its terminator. For journal entries it is
	// the syslog-style line built from the entry (see FormatEntry).
	Text string
	// Path is the file the line was read from, or "journal".
	Path string
	// Offset is the file offset just after this line's terminator: saving
	// it as the position resumes with the next line. Zero for the journal.
	Offset int64
	// Time is the journal entry's own timestamp; zero for file lines (their
	// time is found in the text by the date detector).
	Time time.Time
	// Fields are the journal entry's fields (string values only); nil for
	// file lines.
	Fields map[string]string
	// Cursor is the journal entry's cursor; empty for file lines.
	Cursor string
}

// Source is a long-lived producer of lines. Run sends lines to out until ctx
// ends or an unrecoverable error happens; it returns nil when ctx ended.
// The caller owns out and must keep receiving until Run returns; Run never
// closes it.
type Source interface {
	Run(ctx context.Context, out chan<- Line) error
}

// Position is how far a file has been read: the file is identified by its
// inode and the hash of its first line, and Offset is where reading resumes.
type Position struct {
	Path   string
	Inode  uint64
	Hash   string
	Offset int64
}

// Positions loads and saves file positions, one per path. A store adapter
// (jail name bound in) satisfies it. ok is false when nothing is saved.
type Positions interface {
	Load(ctx context.Context, path string) (pos Position, ok bool, err error)
	Save(ctx context.Context, pos Position) error
}

// Cursors loads and saves a journal source's cursor. ok is false when
// nothing is saved.
type Cursors interface {
	Load(ctx context.Context) (cursor string, ok bool, err error)
	Save(ctx context.Context, cursor string) error
}

// Mode is how a file source learns that files changed.
type Mode int

const (
	// ModeAuto uses filesystem notifications and falls back to polling
	// when they cannot be set up.
	ModeAuto Mode = iota
	// ModeNotify uses filesystem notifications (with a slow safety poll);
	// Run fails if they cannot be set up.
	ModeNotify
	// ModePolling only polls.
	ModePolling
)

// ErrBackend is returned for a backend name this package does not serve.
var ErrBackend = errors.New("unknown backend")

// FileMode maps a fail2ban backend name of a file jail to a Mode:
// "polling" polls; "auto", "pyinotify", "inotify" and "gamin" use
// notifications with polling as the fallback. "systemd" is not a file
// backend and yields ErrBackend.
func FileMode(backend string) (Mode, error) {
	switch backend {
	case "", "auto":
		return ModeAuto, nil
	case "pyinotify", "inotify", "gamin":
		// gamin is gone from fail2ban; treat it as notifications too.
		return ModeAuto, nil
	case "polling":
		return ModePolling, nil
	}
	return 0, fmt.Errorf("%w: %q is not a file backend", ErrBackend, backend)
}

func (m Mode) String() string {
	switch m {
	case ModeAuto:
		return "auto"
	case ModeNotify:
		return "notify"
	case ModePolling:
		return "polling"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}
