package store

import (
	"context"
	"database/sql"
	"fmt"
)

// Jail is a jail the store knows of. A disabled jail keeps its bans and
// history until Purge finds it empty.
type Jail struct {
	Name    string
	Enabled bool
}

// SyncJails marks exactly names as enabled, creating them as needed, and
// every other known jail as disabled. The daemon calls it after each
// (re)load of its configuration.
func (s *Store) SyncJails(ctx context.Context, names []string) error {
	for _, n := range names {
		if n == "" {
			return s.wrap("sync jails", fmt.Errorf("%w: empty jail name", ErrInvalid))
		}
	}
	return s.wrap("sync jails", s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE jails SET enabled = 0`); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx,
			`INSERT INTO jails(name, enabled) VALUES(?, 1) ON CONFLICT(name) DO UPDATE SET enabled = 1`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, n := range names {
			if _, err := stmt.ExecContext(ctx, n); err != nil {
				return fmt.Errorf("jail %s: %w", n, err)
			}
		}
		return nil
	}))
}

// Jails lists the known jails by name.
func (s *Store) Jails(ctx context.Context) ([]Jail, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, enabled FROM jails ORDER BY name`)
	if err != nil {
		return nil, s.wrap("list jails", err)
	}
	defer rows.Close()
	var out []Jail
	for rows.Next() {
		var j Jail
		if err := rows.Scan(&j.Name, &j.Enabled); err != nil {
			return nil, s.wrap("list jails", err)
		}
		out = append(out, j)
	}
	return out, s.wrap("list jails", rows.Err())
}

// ensureJail creates jail, enabled, when it is not known yet.
func ensureJail(ctx context.Context, tx *sql.Tx, jail string) error {
	if jail == "" {
		return fmt.Errorf("%w: empty jail name", ErrInvalid)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO jails(name) VALUES(?) ON CONFLICT(name) DO NOTHING`, jail)
	return err
}
