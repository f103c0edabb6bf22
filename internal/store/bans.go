package store

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// Ban is one ban of an address or prefix in a jail.
type Ban struct {
	Jail    string
	Prefix  netip.Prefix
	Time    time.Time     // when the ban started; stored to the second
	BanTime time.Duration // how long it lasts; negative means for ever
	// Count is how many times this prefix has been banned in this jail,
	// this ban included; bantime.increment grows the ban time from it.
	Count    int
	Failures int      // failures that led to this ban
	Matches  []string // log lines behind the failures, oldest first
}

// Permanent reports whether the ban never ends.
func (b Ban) Permanent() bool { return b.BanTime < 0 }

// End returns when the ban ends; the zero Time for a permanent ban.
func (b Ban) End() time.Time {
	if b.Permanent() {
		return time.Time{}
	}
	return b.Time.Add(b.BanTime)
}

// Expired reports whether the ban has ended at now.
func (b Ban) Expired(now time.Time) bool {
	return !b.Permanent() && !b.End().After(now)
}

func (b Ban) validate() error {
	if b.Jail == "" {
		return fmt.Errorf("%w: ban of %v has no jail", ErrInvalid, b.Prefix)
	}
	if !b.Prefix.IsValid() {
		return fmt.Errorf("%w: jail %s: invalid prefix %v", ErrInvalid, b.Jail, b.Prefix)
	}
	if b.Time.IsZero() {
		return fmt.Errorf("%w: jail %s: ban of %v has no time", ErrInvalid, b.Jail, b.Prefix)
	}
	return nil
}

// History is what the store remembers of past bans of a prefix.
type History struct {
	Count   int           // bans so far; 0 when the prefix is unknown
	Last    time.Time     // start of the latest ban
	BanTime time.Duration // its ban time; summed over jails when asked for all jails
}

// AddBans records bans in one transaction: each becomes (or replaces) the
// active ban of its jail and prefix, and the history entry of that pair.
// Jails are created as needed. Matches are capped to Options.MaxMatches.
// Nothing is written if any ban is invalid.
func (s *Store) AddBans(ctx context.Context, bans []Ban) error {
	for i, b := range bans {
		if err := b.validate(); err != nil {
			return s.wrap("add bans", fmt.Errorf("ban %d: %w", i, err))
		}
	}
	return s.wrap("add bans", s.inTx(ctx, func(tx *sql.Tx) error {
		return s.addBans(ctx, tx, bans)
	}))
}

// writeMode says how writeBans treats rows already stored.
type writeMode int

const (
	replace     writeMode = iota // a new ban replaces the stored one
	keepNewest                   // a stored row with a later time is kept (imports)
	historyOnly                  // like keepNewest, and only history is written
)

// banRow is a ban with its stored key text and data, ready to write.
type banRow struct {
	b      *Ban
	prefix string
	data   string
}

// addBans writes bans with multi-row statements inside tx.
func (s *Store) addBans(ctx context.Context, tx *sql.Tx, bans []Ban) error {
	return s.writeBans(ctx, tx, bans, replace)
}

// writeBans writes the active-ban and history rows of bans inside tx,
// creating their jails as needed.
func (s *Store) writeBans(ctx context.Context, tx *sql.Tx, bans []Ban, mode writeMode) error {
	jails := make(map[string]bool)
	for _, b := range bans {
		if !jails[b.Jail] {
			jails[b.Jail] = true
			if err := ensureJail(ctx, tx, b.Jail); err != nil {
				return fmt.Errorf("jail %s: %w", b.Jail, err)
			}
		}
	}
	banTail := `ON CONFLICT(jail, prefix) DO UPDATE SET time = excluded.time, bantime = excluded.bantime`
	histTail := `ON CONFLICT(prefix, jail) DO UPDATE SET time = excluded.time, bantime = excluded.bantime,
	count = excluded.count, failures = excluded.failures, data = excluded.data`
	if mode != replace {
		banTail += ` WHERE excluded.time >= bans.time`
		histTail += ` WHERE excluded.time >= history.time`
	}
	active := newBatchInsert(tx, s.inserts, `INSERT INTO bans(jail, prefix, time, bantime) VALUES `, banTail, 4, 1)
	hist := newBatchInsert(tx, s.inserts,
		`INSERT INTO history(prefix, jail, time, bantime, count, failures, data) VALUES `, histTail, 7, 0)
	// Rows go in key order: b-tree inserts then mostly append to the same
	// page instead of splitting pages all over the tree. The sorts are
	// stable, so of two bans with one key the later still wins.
	rows := make([]banRow, len(bans))
	for i, b := range bans {
		data, err := encodeData(b.Matches, s.maxMatches)
		if err != nil {
			return fmt.Errorf("jail %s: %v: %w", b.Jail, b.Prefix, err)
		}
		rows[i] = banRow{b: &bans[i], prefix: prefixText(b.Prefix), data: data}
	}
	if mode != historyOnly {
		slices.SortStableFunc(rows, func(x, y banRow) int {
			if c := strings.Compare(x.b.Jail, y.b.Jail); c != 0 {
				return c
			}
			return strings.Compare(x.prefix, y.prefix)
		})
		for _, r := range rows {
			if err := active.add(ctx, r.b.Jail, r.prefix, r.b.Time.Unix(), banSeconds(r.b.BanTime)); err != nil {
				return fmt.Errorf("bans: %w", err)
			}
		}
	}
	slices.SortStableFunc(rows, func(x, y banRow) int {
		if c := strings.Compare(x.prefix, y.prefix); c != 0 {
			return c
		}
		return strings.Compare(x.b.Jail, y.b.Jail)
	})
	for _, r := range rows {
		b := r.b
		if err := hist.add(ctx, r.prefix, b.Jail, b.Time.Unix(), banSeconds(b.BanTime), b.Count, b.Failures, r.data); err != nil {
			return fmt.Errorf("history: %w", err)
		}
	}
	if err := active.flush(ctx); err != nil {
		return fmt.Errorf("bans: %w", err)
	}
	if err := hist.flush(ctx); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	return nil
}

// RemoveBans deletes the active bans of prefixes in jail and returns how
// many there were. The history is kept, so a later ban still counts the
// earlier ones; ForgetHistory drops it.
func (s *Store) RemoveBans(ctx context.Context, jail string, prefixes []netip.Prefix) (int, error) {
	n, err := s.deleteEach(ctx, `DELETE FROM bans WHERE jail = ? AND prefix = ?`, jail, prefixes)
	return n, s.wrap("remove bans", err)
}

// ClearJail deletes every active ban of jail (an unban of all) and returns
// how many there were. The history is kept.
func (s *Store) ClearJail(ctx context.Context, jail string) (int, error) {
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM bans WHERE jail = ?`, jail)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), s.wrap("clear jail", err)
}

// ForgetHistory deletes the history of prefixes in jail, or in every jail
// when jail is "", so their next ban counts as a first one. fail2ban does
// this when an operator unbans an address by hand. A ban still in force
// stays in force but loses its count, failures and matches (ActiveBans
// then reports a count of 1).
func (s *Store) ForgetHistory(ctx context.Context, jail string, prefixes []netip.Prefix) (int, error) {
	q := `DELETE FROM history WHERE jail = ? AND prefix = ?`
	if jail == "" {
		// deleteEach binds the jail first; here it only matches itself.
		q = `DELETE FROM history WHERE ? = '' AND prefix = ?`
	}
	n, err := s.deleteEach(ctx, q, jail, prefixes)
	return n, s.wrap("forget history", err)
}

// deleteEach runs q(jail, prefix) for each prefix in one transaction and
// sums the rows deleted.
func (s *Store) deleteEach(ctx context.Context, q, jail string, prefixes []netip.Prefix) (int, error) {
	for _, p := range prefixes {
		if !p.IsValid() {
			return 0, fmt.Errorf("%w: invalid prefix %v", ErrInvalid, p)
		}
	}
	total := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, q)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, p := range prefixes {
			res, err := stmt.ExecContext(ctx, jail, prefixText(p))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			total += int(n)
		}
		return nil
	})
	return total, err
}

// CountBans returns how many bans each jail has stored, ended ones
// included (they go at the next EachActiveBan): an upper bound a restore
// sizes its tables by.
func (s *Store) CountBans(ctx context.Context) (map[string]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT jail, count(*) FROM bans GROUP BY jail`)
	if err != nil {
		return nil, s.wrap("count bans", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var jail string
		var n int
		if err := rows.Scan(&jail, &n); err != nil {
			return nil, s.wrap("count bans", err)
		}
		out[jail] = n
	}
	return out, s.wrap("count bans", rows.Err())
}

// ActiveBans deletes the bans that have ended at now and returns the rest,
// oldest first, then by jail and address.
func (s *Store) ActiveBans(ctx context.Context, now time.Time) ([]Ban, error) {
	var out []Ban
	err := s.EachActiveBan(ctx, now, nil, func(b Ban) error {
		out = append(out, b)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Sorting here is cheaper than SQLite's sorter on the joined rows.
	slices.SortFunc(out, func(a, b Ban) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		if c := strings.Compare(a.Jail, b.Jail); c != 0 {
			return c
		}
		if c := a.Prefix.Addr().Compare(b.Prefix.Addr()); c != 0 {
			return c
		}
		return a.Prefix.Bits() - b.Prefix.Bits()
	})
	return out, nil
}

// EachActiveBan deletes the bans that have ended at now and calls fn with
// each of the rest, in no particular order, as the rows are read: the ban
// manager restores them at start without holding them all. Matches are
// decoded only for the jails withMatches accepts (nil: all); the others'
// bans come without them. fn must not call the store; an error from it
// stops the reading and is returned.
func (s *Store) EachActiveBan(ctx context.Context, now time.Time, withMatches func(jail string) bool, fn func(Ban) error) error {
	var fnErr error
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`DELETE FROM bans WHERE bantime >= 0 AND time + bantime <= ?`, now.Unix()); err != nil {
			return fmt.Errorf("delete expired: %w", err)
		}
		rows, err := tx.QueryContext(ctx, `
SELECT b.jail, b.prefix, b.time, b.bantime,
	coalesce(h.count, 1), coalesce(h.failures, 0), coalesce(h.data, '{}')
FROM bans b LEFT JOIN history h ON h.prefix = b.prefix AND h.jail = b.jail`)
		if err != nil {
			return err
		}
		defer rows.Close()
		// Jail names repeat on every row: one string per jail.
		jails := map[string]string{}
		want := map[string]bool{}
		var jailRaw, prefixRaw, data sql.RawBytes
		for rows.Next() {
			var (
				b                Ban
				unix, banSeconds int64
			)
			if err := rows.Scan(&jailRaw, &prefixRaw, &unix, &banSeconds, &b.Count, &b.Failures, &data); err != nil {
				return err
			}
			name, ok := jails[string(jailRaw)]
			if !ok {
				name = string(jailRaw)
				jails[name] = name
				want[name] = withMatches == nil || withMatches(name)
			}
			b.Jail = name
			if b.Prefix, err = parsePrefixText(string(prefixRaw)); err != nil {
				s.log.Warn("skipping stored ban with bad prefix", "jail", b.Jail, "err", err)
				continue
			}
			if want[name] {
				if b.Matches, err = decodeData(string(data)); err != nil {
					s.log.Warn("dropping unreadable matches of stored ban",
						"jail", b.Jail, "prefix", b.Prefix, "err", err)
				}
			}
			b.Time, b.BanTime = time.Unix(unix, 0), banDuration(banSeconds)
			if fnErr = fn(b); fnErr != nil {
				return fnErr
			}
		}
		return rows.Err()
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return s.wrap("active bans", err)
	}
	return nil
}

// BanHistory returns what is known of earlier bans of prefix in jail, or
// across all jails when jail is "" (bantime.increment's overalljails): then
// Count and BanTime are sums (BanTime is for ever if any ban was) and Last
// the latest. Count is 0 when the
// prefix was never banned, or its history was purged or forgotten.
func (s *Store) BanHistory(ctx context.Context, prefix netip.Prefix, jail string) (History, error) {
	if !prefix.IsValid() {
		return History{}, s.wrap("ban history", fmt.Errorf("%w: invalid prefix %v", ErrInvalid, prefix))
	}
	var (
		count, last, bantime sql.NullInt64
		err                  error
	)
	if jail != "" {
		err = s.db.QueryRowContext(ctx,
			`SELECT count, time, bantime FROM history WHERE prefix = ? AND jail = ?`,
			prefixText(prefix), jail).Scan(&count, &last, &bantime)
	} else {
		err = s.db.QueryRowContext(ctx,
			`SELECT sum(count), max(time), CASE WHEN min(bantime) < 0 THEN -1 ELSE sum(bantime) END
				FROM history WHERE prefix = ?`,
			prefixText(prefix)).Scan(&count, &last, &bantime)
	}
	if err == sql.ErrNoRows || (err == nil && !count.Valid) {
		return History{}, nil
	}
	if err != nil {
		return History{}, s.wrap("ban history", err)
	}
	return History{Count: int(count.Int64), Last: time.Unix(last.Int64, 0), BanTime: banDuration(bantime.Int64)}, nil
}

// Evidence is the merged record of an address's recent bans, as fail2ban's
// <ipmatches>/<ipfailures> action tags show it.
type Evidence struct {
	Failures int
	Matches  []string // oldest first, at most Options.MaxMatches
}

// BanEvidence merges the failures and matches of the latest ban of prefix
// in jail, or of its latest ban in each jail when jail is "".
func (s *Store) BanEvidence(ctx context.Context, prefix netip.Prefix, jail string) (Evidence, error) {
	if !prefix.IsValid() {
		return Evidence{}, s.wrap("ban evidence", fmt.Errorf("%w: invalid prefix %v", ErrInvalid, prefix))
	}
	rows, err := s.db.QueryContext(ctx, `
SELECT failures, data FROM history WHERE prefix = ? AND (? = '' OR jail = ?) ORDER BY time, jail`,
		prefixText(prefix), jail, jail)
	if err != nil {
		return Evidence{}, s.wrap("ban evidence", err)
	}
	defer rows.Close()
	var ev Evidence
	for rows.Next() {
		var (
			failures int
			data     string
		)
		if err := rows.Scan(&failures, &data); err != nil {
			return Evidence{}, s.wrap("ban evidence", err)
		}
		ev.Failures += failures
		m, err := decodeData(data)
		if err != nil {
			s.log.Warn("dropping unreadable matches", "prefix", prefix, "err", err)
		}
		ev.Matches = append(ev.Matches, m...)
	}
	if err := rows.Err(); err != nil {
		return Evidence{}, s.wrap("ban evidence", err)
	}
	if len(ev.Matches) > s.maxMatches {
		ev.Matches = ev.Matches[len(ev.Matches)-s.maxMatches:]
	}
	return ev, nil
}

// outdatedFactor: history of a ban is kept until its ban time has passed
// this many times over, besides being older than the purge age, so a long
// ban's record outlives the ban itself (fail2ban uses the same factor).
const outdatedFactor = 3

// PurgeStats counts what Purge deleted.
type PurgeStats struct {
	History int // history entries
	Bans    int // active-ban rows that had already ended
	Jails   int // disabled jails left with nothing
}

// Purge deletes history of bans that started before before and ended more
// than outdatedFactor ban times before it (permanent bans are kept), ended
// bans, and disabled jails that no longer hold bans or history (with their
// log positions and journal cursors). before is normally now - dbpurgeage.
func (s *Store) Purge(ctx context.Context, before time.Time) (PurgeStats, error) {
	var st PurgeStats
	cut := before.Unix()
	steps := []struct {
		q    string
		args []any
		n    *int
	}{
		{`DELETE FROM history WHERE bantime >= 0 AND time < ? AND time + bantime * ? < ?`,
			[]any{cut, outdatedFactor, cut}, &st.History},
		{`DELETE FROM bans WHERE bantime >= 0 AND time + bantime < ?`, []any{cut}, &st.Bans},
		{`DELETE FROM jails WHERE enabled = 0
	AND NOT EXISTS (SELECT 1 FROM bans WHERE bans.jail = jails.name)
	AND NOT EXISTS (SELECT 1 FROM history WHERE history.jail = jails.name)`, nil, &st.Jails},
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, step := range steps {
			res, err := tx.ExecContext(ctx, step.q, step.args...)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			*step.n = int(n)
		}
		return nil
	})
	return st, s.wrap("purge", err)
}
