package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Position is how far a jail has read one log file. The file reader uses
// Inode and Hash (of the file's first line, in a form the reader chooses)
// to tell whether the file at Path is still the one the offset belongs to.
type Position struct {
	Path   string
	Inode  uint64
	Hash   string
	Offset int64
}

// LogPosition returns the saved position of path in jail; ok is false when
// none is saved.
func (s *Store) LogPosition(ctx context.Context, jail, path string) (pos Position, ok bool, err error) {
	var inode int64
	err = s.db.QueryRowContext(ctx,
		`SELECT path, inode, hash, offset FROM logs WHERE jail = ? AND path = ?`, jail, path).
		Scan(&pos.Path, &inode, &pos.Hash, &pos.Offset)
	if errors.Is(err, sql.ErrNoRows) {
		return Position{}, false, nil
	}
	if err != nil {
		return Position{}, false, s.wrap("log position", fmt.Errorf("jail %s: %s: %w", jail, path, err))
	}
	pos.Inode = uint64(inode) //nolint:gosec // stored bit-for-bit from a uint64
	return pos, true, nil
}

// SetLogPosition saves pos for jail, creating the jail as needed.
func (s *Store) SetLogPosition(ctx context.Context, jail string, pos Position) error {
	if pos.Path == "" || pos.Offset < 0 {
		return s.wrap("set log position", fmt.Errorf("%w: jail %s: position %+v", ErrInvalid, jail, pos))
	}
	return s.wrap("set log position", s.inTx(ctx, func(tx *sql.Tx) error {
		if err := ensureJail(ctx, tx, jail); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
INSERT INTO logs(jail, path, inode, hash, offset) VALUES(?, ?, ?, ?, ?)
ON CONFLICT(jail, path) DO UPDATE SET inode = excluded.inode, hash = excluded.hash, offset = excluded.offset`,
			jail, pos.Path, int64(pos.Inode), pos.Hash, pos.Offset) //nolint:gosec // bit-for-bit
		return err
	}))
}

// LogPositions returns every saved position of jail.
func (s *Store) LogPositions(ctx context.Context, jail string) ([]Position, error) {
	rows, err := s.db.QueryContext(ctx,
		`SELECT path, inode, hash, offset FROM logs WHERE jail = ? ORDER BY path`, jail)
	if err != nil {
		return nil, s.wrap("log positions", err)
	}
	defer rows.Close()
	var out []Position
	for rows.Next() {
		var (
			p     Position
			inode int64
		)
		if err := rows.Scan(&p.Path, &inode, &p.Hash, &p.Offset); err != nil {
			return nil, s.wrap("log positions", err)
		}
		p.Inode = uint64(inode) //nolint:gosec // bit-for-bit
		out = append(out, p)
	}
	return out, s.wrap("log positions", rows.Err())
}

// JournalCursor returns the saved systemd journal cursor of jail; ok is
// false when none is saved.
func (s *Store) JournalCursor(ctx context.Context, jail string) (cursor string, ok bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT cursor FROM journals WHERE jail = ?`, jail).Scan(&cursor)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, s.wrap("journal cursor", fmt.Errorf("jail %s: %w", jail, err))
	}
	return cursor, true, nil
}

// SetJournalCursor saves the journal cursor of jail, creating the jail as
// needed.
func (s *Store) SetJournalCursor(ctx context.Context, jail, cursor string) error {
	if cursor == "" {
		return s.wrap("set journal cursor", fmt.Errorf("%w: jail %s: empty cursor", ErrInvalid, jail))
	}
	return s.wrap("set journal cursor", s.inTx(ctx, func(tx *sql.Tx) error {
		if err := ensureJail(ctx, tx, jail); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `
INSERT INTO journals(jail, cursor) VALUES(?, ?) ON CONFLICT(jail) DO UPDATE SET cursor = excluded.cursor`,
			jail, cursor)
		return err
	}))
}
