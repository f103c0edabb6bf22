package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"time"
)

// fail2ban's database (fail2ban.sqlite3) has gone through four layouts,
// recorded in its fail2banDb table:
//
//	1, 2  bans(jail, ip, timeofban, data): one row per ban event, no ban
//	      time; 2 only changed the logs table's constraints.
//	3     bans gained bantime and bancount; rows upgraded from 2 carry
//	      bantime -2, meaning "unknown".
//	4     bips(ip, jail, timeofban, bantime, bancount, data): the latest
//	      ban per address and jail, which is what warden's history is.
//
// data is JSON (stored as text or as a blob) with "matches" and
// "failures" members. timeofban is Unix seconds, a real number in the
// oldest files.

// fail2banDefaultBanTime is fail2ban's default bantime, used for bans
// whose ban time the file does not record.
const fail2banDefaultBanTime = 10 * time.Minute

// ImportOptions tune ImportFail2ban.
type ImportOptions struct {
	// Now decides which imported bans are still in force. Zero means
	// time.Now().
	Now time.Time
	// DefaultBanTime is the ban time given to bans the file has none for
	// (schema 1 and 2, and rows upgraded to 3). Zero means 10 minutes,
	// fail2ban's default.
	DefaultBanTime time.Duration
	// Positions also imports log file positions. Their first-line hash is
	// stored as "md5:<hex>", fail2ban's form, which the file reader may or
	// may not use; off by default.
	Positions bool
}

// ImportStats says what ImportFail2ban read and wrote.
type ImportStats struct {
	Version   int      // fail2ban schema version of the file
	Jails     int      // jails found
	History   int      // history entries written (one per address and jail)
	Active    int      // of which bans still in force, written as active bans
	Positions int      // log positions written
	Skipped   []string // rows (or parts of rows) left out, each with the reason
}

// ImportFail2ban reads fail2ban's database at src, without changing it, and
// merges its bans and history into s in one transaction: where s already
// has an entry for the same address and jail, the later ban wins, so
// importing twice changes nothing. Jails new to s keep fail2ban's enabled
// flag. Rows whose address is not an IP address or prefix (fail2ban can
// ban other identifiers) are skipped and listed in the stats.
func (s *Store) ImportFail2ban(ctx context.Context, src string, opts ImportOptions) (ImportStats, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.DefaultBanTime == 0 {
		opts.DefaultBanTime = fail2banDefaultBanTime
	}
	f, err := readFail2ban(ctx, src, opts)
	if err != nil {
		return ImportStats{}, wrapErr(src, "read fail2ban database", err)
	}
	st := f.stats
	var active []Ban
	for _, b := range f.history {
		if !b.Expired(opts.Now) {
			active = append(active, b)
		}
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		for _, j := range f.jails {
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO jails(name, enabled) VALUES(?, ?) ON CONFLICT(name) DO NOTHING`,
				j.Name, j.Enabled); err != nil {
				return fmt.Errorf("jail %s: %w", j.Name, err)
			}
		}
		if err := s.writeBans(ctx, tx, f.history, historyOnly); err != nil {
			return err
		}
		if err := s.writeBans(ctx, tx, active, keepNewest); err != nil {
			return err
		}
		for _, p := range f.positions {
			if err := ensureJail(ctx, tx, p.jail); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `
INSERT INTO logs(jail, path, inode, hash, offset) VALUES(?, ?, 0, ?, ?)
ON CONFLICT(jail, path) DO NOTHING`, p.jail, p.Path, p.Hash, p.Offset); err != nil {
				return fmt.Errorf("log position %s %s: %w", p.jail, p.Path, err)
			}
		}
		return nil
	})
	if err != nil {
		return ImportStats{}, s.wrap("import "+src, err)
	}
	st.History, st.Active, st.Positions = len(f.history), len(active), len(f.positions)
	return st, nil
}

// fail2banFile is what readFail2ban found.
type fail2banFile struct {
	jails     []Jail
	history   []Ban // latest ban per address and jail
	positions []jailPosition
	stats     ImportStats
}

type jailPosition struct {
	jail string
	Position
}

// readFail2ban reads the jails, bans and (if asked) log positions of the
// fail2ban database at path, opened read-only.
func readFail2ban(ctx context.Context, path string, opts ImportOptions) (*fail2banFile, error) {
	u := url.URL{Path: path}
	db, err := sql.Open("sqlite", "file:"+u.EscapedPath()+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	f := &fail2banFile{}
	if err := db.QueryRowContext(ctx, `SELECT version FROM fail2banDb LIMIT 1`).Scan(&f.stats.Version); err != nil {
		return nil, fmt.Errorf("not a fail2ban database (no version): %w", err)
	}
	if f.jails, err = readFail2banJails(ctx, db); err != nil {
		return nil, err
	}
	f.stats.Jails = len(f.jails)
	hasBips, err := hasTable(ctx, db, "bips")
	if err != nil {
		return nil, err
	}
	// Oldest first, rowid breaking ties, so the latest row of a key wins.
	var q string
	switch cols, err := columns(ctx, db, "bans"); {
	case hasBips:
		q = `SELECT ip, jail, timeofban, bantime, bancount, data FROM bips ORDER BY timeofban, rowid`
	case err != nil:
		return nil, err
	case cols["bantime"] && cols["bancount"]:
		q = `SELECT ip, jail, timeofban, bantime, bancount, data FROM bans ORDER BY timeofban, rowid`
	default:
		q = `SELECT ip, jail, timeofban, -2, 1, data FROM bans ORDER BY timeofban, rowid`
	}
	if f.history, err = readFail2banBans(ctx, db, q, opts, &f.stats); err != nil {
		return nil, err
	}
	if opts.Positions {
		if f.positions, err = readFail2banLogs(ctx, db, &f.stats); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func readFail2banJails(ctx context.Context, db *sql.DB) ([]Jail, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, enabled FROM jails ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("jails: %w", err)
	}
	defer rows.Close()
	var out []Jail
	for rows.Next() {
		var j Jail
		if err := rows.Scan(&j.Name, &j.Enabled); err != nil {
			return nil, fmt.Errorf("jails: %w", err)
		}
		out = append(out, j)
	}
	return out, rows.Err()
}

// fail2banRow is one row of fail2ban's bans or bips table.
type fail2banRow struct {
	ip, jail  string
	timeofban float64
	bantime   int64 // -1 for ever, -2 unknown
	bancount  int64
	data      []byte
}

// toBan converts a row, resolving an unknown ban time to def. Unreadable
// data does not lose the ban: it comes back as dataErr, beside a ban
// without matches.
func (r fail2banRow) toBan(def time.Duration) (b Ban, dataErr, err error) {
	p, err := parsePrefixText(r.ip)
	if err != nil {
		return Ban{}, nil, err
	}
	if r.jail == "" {
		return Ban{}, nil, fmt.Errorf("%w: empty jail", ErrInvalid)
	}
	if math.IsNaN(r.timeofban) || r.timeofban < 0 || r.timeofban > 1<<40 {
		return Ban{}, nil, fmt.Errorf("%w: time of ban %v", ErrInvalid, r.timeofban)
	}
	d, dataErr := parseFail2banData(r.data)
	b = Ban{
		Jail: r.jail, Prefix: p, Time: time.Unix(int64(r.timeofban), 0),
		Count: int(max(1, min(r.bancount, math.MaxInt32))), Failures: d.failures, Matches: d.matches,
	}
	switch {
	case r.bantime == -1:
		b.BanTime = -1
	case r.bantime < 0:
		b.BanTime = def
	default:
		b.BanTime = banDuration(r.bantime)
	}
	return b, dataErr, nil
}

// readFail2banBans reads rows oldest first and keeps the latest per address
// and jail. Where the file keeps one row per ban event (schema 1 to 3) the
// count is the number of rows, when that is more than the row says.
func readFail2banBans(ctx context.Context, db *sql.DB, q string, opts ImportOptions, st *ImportStats) ([]Ban, error) {
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("bans: %w", err)
	}
	defer rows.Close()
	type key struct {
		jail   string
		prefix string
	}
	latest := make(map[key]Ban)
	seen := make(map[key]int)
	for rows.Next() {
		var (
			r        fail2banRow
			ip       sql.NullString
			bantime  sql.NullInt64
			bancount sql.NullInt64
		)
		if err := rows.Scan(&ip, &r.jail, &r.timeofban, &bantime, &bancount, &r.data); err != nil {
			return nil, fmt.Errorf("bans: %w", err)
		}
		r.ip, r.bantime, r.bancount = ip.String, -2, 1
		if bantime.Valid {
			r.bantime = bantime.Int64
		}
		if bancount.Valid {
			r.bancount = bancount.Int64
		}
		b, dataErr, err := r.toBan(opts.DefaultBanTime)
		if err != nil {
			st.Skipped = append(st.Skipped, fmt.Sprintf("jail %q address %q: %v", r.jail, r.ip, err))
			continue
		}
		if dataErr != nil {
			st.Skipped = append(st.Skipped, fmt.Sprintf("jail %q address %q: matches dropped: %v",
				r.jail, r.ip, dataErr))
		}
		k := key{b.Jail, prefixText(b.Prefix)}
		seen[k]++
		b.Count = max(b.Count, seen[k])
		latest[k] = b
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("bans: %w", err)
	}
	out := make([]Ban, 0, len(latest))
	for _, b := range latest {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		if out[i].Jail != out[j].Jail {
			return out[i].Jail < out[j].Jail
		}
		return prefixText(out[i].Prefix) < prefixText(out[j].Prefix)
	})
	return out, nil
}

// readFail2banLogs reads log file positions. fail2ban keeps journal
// positions in the same table under a name that is not a path; those are
// skipped, as warden's journal cursors are a different thing.
func readFail2banLogs(ctx context.Context, db *sql.DB, st *ImportStats) ([]jailPosition, error) {
	rows, err := db.QueryContext(ctx,
		`SELECT jail, path, firstlinemd5, lastfilepos FROM logs ORDER BY jail, path`)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	defer rows.Close()
	var out []jailPosition
	for rows.Next() {
		var (
			jail       string
			path, hash sql.NullString
			pos        sql.NullInt64
		)
		if err := rows.Scan(&jail, &path, &hash, &pos); err != nil {
			return nil, fmt.Errorf("logs: %w", err)
		}
		if !strings.HasPrefix(path.String, "/") || pos.Int64 < 0 {
			st.Skipped = append(st.Skipped, fmt.Sprintf("jail %q log %q: not a file position", jail, path.String))
			continue
		}
		p := jailPosition{jail: jail, Position: Position{Path: path.String, Offset: pos.Int64}}
		if hash.String != "" {
			p.Hash = "md5:" + hash.String
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// fail2banData is the part of a fail2ban ban's JSON data warden keeps.
type fail2banData struct {
	matches  []string
	failures int
}

// parseFail2banData reads fail2ban's JSON ban data. Matches are strings,
// or lists of strings that together make one (multi-line) match; other
// members are ignored. Empty or null data is no data.
func parseFail2banData(raw []byte) (fail2banData, error) {
	var d fail2banData
	if len(strings.TrimSpace(string(raw))) == 0 {
		return d, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return d, fmt.Errorf("%w: ban data: %w", ErrInvalid, err)
	}
	if m, ok := obj["matches"]; ok && string(m) != "null" {
		var items []json.RawMessage
		if err := json.Unmarshal(m, &items); err != nil {
			return d, fmt.Errorf("%w: ban data matches: %w", ErrInvalid, err)
		}
		for _, it := range items {
			var line string
			if json.Unmarshal(it, &line) == nil {
				d.matches = append(d.matches, line)
				continue
			}
			var parts []string
			if json.Unmarshal(it, &parts) == nil {
				d.matches = append(d.matches, strings.Join(parts, ""))
			}
		}
	}
	if f, ok := obj["failures"]; ok && string(f) != "null" {
		var n float64
		if err := json.Unmarshal(f, &n); err != nil {
			return d, fmt.Errorf("%w: ban data failures: %w", ErrInvalid, err)
		}
		if n >= 0 && n <= math.MaxInt32 {
			d.failures = int(n)
		}
	}
	return d, nil
}

func hasTable(ctx context.Context, db *sql.DB, name string) (bool, error) {
	var n int
	err := db.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n)
	return n > 0, err
}

// columns returns the column names of table.
func columns(ctx context.Context, db *sql.DB, table string) (map[string]bool, error) {
	rows, err := db.QueryContext(ctx, `SELECT name FROM pragma_table_info(?)`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]bool)
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out[n] = true
	}
	if len(out) == 0 && rows.Err() == nil {
		return nil, errors.New("no table " + table)
	}
	return out, rows.Err()
}
