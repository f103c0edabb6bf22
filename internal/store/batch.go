package store

import (
	"context"
	"database/sql"
	"math/bits"
	"strconv"
	"strings"
	"sync"
)

// batchRows is how many rows one multi-row INSERT carries. Fewer, larger
// statements cut the per-statement cost of database/sql and the driver,
// which dominates bulk writes of small rows.
const batchRows = 128

// batchInsert collects rows for one table and writes them batchRows at a
// time with a multi-row INSERT inside tx. Rows are written in the order
// added, so with an upsert tail the last row for a key wins.
//
// The statements come from the Store's stmtCache, prepared once for the
// life of the Store: one of batchRows rows, and one for each smaller power
// of two, which write the rows left at the end (116 rows as 64, 32, 16
// and 4). Preparing a statement of 128 rows took as long as writing them
// (a tenth of a flood's store CPU when each transaction prepared its own).
type batchInsert struct {
	tx     *sql.Tx
	stmts  *stmtCache
	kind   insertKind
	args   []any
	packed []any  // the arguments of a shared statement (exec)
	keys   []byte // the keys of a shared statement, as a JSON array
}

// insertKind names a multi-row INSERT without its row count.
type insertKind struct {
	head string // "INSERT INTO t(a, b) VALUES "
	tail string // e.g. an ON CONFLICT clause
	cols int
	// key is the column that differs from row to row in a flood's bans
	// (the prefix); see shared.
	key int
}

// query is the statement's text for rows rows. With shared, every column
// but key is bound once for all rows: parameters 1 to cols-1 are those
// columns in order, then one per row for key.
func (k insertKind) query(rows int, shared bool) string {
	var sb strings.Builder
	sb.WriteString(k.head)
	for i := range rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString("(")
		for c := range k.cols {
			if c > 0 {
				sb.WriteString(", ")
			}
			switch {
			case !shared:
				sb.WriteString("?")
			case c == k.key:
				sb.WriteString("?" + strconv.Itoa(k.cols+i))
			case c < k.key:
				sb.WriteString("?" + strconv.Itoa(c+1))
			default:
				sb.WriteString("?" + strconv.Itoa(c))
			}
		}
		sb.WriteString(")")
	}
	sb.WriteString(" ")
	sb.WriteString(k.tail)
	return sb.String()
}

// jsonQuery is the statement for any number of rows that differ only in
// key: the shared columns are parameters 1 to cols-1, as in query, and
// the keys come from a JSON array of strings, parameter cols, unpacked by
// SQLite's json_each in array order. One statement of cols parameters
// instead of cols-1+rows: binding a value costs more than SQLite's
// reading of it from the array. (WHERE true: an upsert after a SELECT
// needs a WHERE to be parsed as one.)
func (k insertKind) jsonQuery() string {
	var sb strings.Builder
	sb.WriteString(strings.Replace(k.head, " VALUES ", " SELECT ", 1))
	for c := range k.cols {
		if c > 0 {
			sb.WriteString(", ")
		}
		switch {
		case c == k.key:
			sb.WriteString("value")
		case c < k.key:
			sb.WriteString("?" + strconv.Itoa(c+1))
		default:
			sb.WriteString("?" + strconv.Itoa(c))
		}
	}
	sb.WriteString(" FROM json_each(?" + strconv.Itoa(k.cols) + ") WHERE true ")
	sb.WriteString(k.tail)
	return sb.String()
}

// newBatchInsert writes rows of cols values; key is the column whose
// value a flood's rows do not share (see insertKind).
func newBatchInsert(tx *sql.Tx, stmts *stmtCache, head, tail string, cols, key int) *batchInsert {
	return &batchInsert{
		tx: tx, stmts: stmts, kind: insertKind{head: head, tail: tail, cols: cols, key: key},
		args: make([]any, 0, batchRows*cols),
	}
}

// add queues one row of len == cols values, writing a full batch.
func (b *batchInsert) add(ctx context.Context, vals ...any) error {
	b.args = append(b.args, vals...)
	if len(b.args) < batchRows*b.kind.cols {
		return nil
	}
	err := b.exec(ctx, batchRows, b.args)
	b.args = b.args[:0]
	return err
}

// flush writes the rows still queued.
func (b *batchInsert) flush(ctx context.Context) error {
	rows := len(b.args) / b.kind.cols
	args := b.args
	for rows > 0 {
		n := 1 << (bits.Len(uint(rows)) - 1) // the largest power of two <= rows
		if err := b.exec(ctx, n, args[:n*b.kind.cols]); err != nil {
			return err
		}
		args = args[n*b.kind.cols:]
		rows -= n
	}
	b.args = b.args[:0]
	return nil
}

// exec writes rows rows (a power of two up to batchRows) with their args.
// When the rows differ only in the key column, as a flood's bans do (one
// jail, one time, one bantime, no matched lines), the values they share
// are bound once: binding and converting each value was a quarter of
// BenchmarkAddBansFlood's CPU.
func (b *batchInsert) exec(ctx context.Context, rows int, args []any) error {
	shared := rows > 1 && b.uniform(args)
	stRows := rows
	if shared {
		k, c := b.kind.key, b.kind.cols
		packed := b.packed[:0]
		packed = append(packed, args[:k]...)
		packed = append(packed, args[k+1:c]...)
		if keys, ok := jsonKeys(b.keys[:0], args, k, c); ok {
			// One statement for any row count (jsonQuery).
			b.keys = keys
			packed = append(packed, string(keys))
			stRows = 0
		} else {
			for i := range rows {
				packed = append(packed, args[i*c+k])
			}
		}
		b.packed, args = packed, packed
	}
	st, err := b.stmts.get(ctx, b.kind, stRows, shared)
	if err != nil {
		return err
	}
	ts := b.tx.StmtContext(ctx, st)
	_, err = ts.ExecContext(ctx, args...)
	if cerr := ts.Close(); err == nil {
		err = cerr
	}
	return err
}

// jsonKeys appends to buf the key column of the rows in args (c columns
// a row, the key at k) as a JSON array of strings. It reports false, to
// bind the keys one by one instead, when a key is not a string of plain
// characters (a prefix's text always is: digits, letters, '.', ':', '/').
func jsonKeys(buf []byte, args []any, k, c int) ([]byte, bool) {
	buf = append(buf, '[')
	for i := k; i < len(args); i += c {
		v, ok := args[i].(string)
		if !ok {
			return buf, false
		}
		for j := 0; j < len(v); j++ {
			if ch := v[j]; ch < ' ' || ch > '~' || ch == '"' || ch == '\\' {
				return buf, false
			}
		}
		if i > k {
			buf = append(buf, ',')
		}
		buf = append(buf, '"')
		buf = append(buf, v...)
		buf = append(buf, '"')
	}
	return append(buf, ']'), true
}

// uniform reports whether the rows in args have the same values in every
// column but the key.
func (b *batchInsert) uniform(args []any) bool {
	c := b.kind.cols
	for i := c; i < len(args); i += c {
		for j := range c {
			if j != b.kind.key && !same(args[i+j], args[j]) {
				return false
			}
		}
	}
	return true
}

// same reports whether x and y are the same string or integer; values of
// other types (which == might not even compare) are never the same.
func same(x, y any) bool {
	switch v := x.(type) {
	case string:
		w, ok := y.(string)
		return ok && v == w
	case int64:
		w, ok := y.(int64)
		return ok && v == w
	case int:
		w, ok := y.(int)
		return ok && v == w
	}
	return false
}

// stmtCache holds the Store's prepared multi-row INSERTs. A statement is
// prepared on the database (each pooled connection prepares it once, on
// first use) and used in a transaction through Tx.StmtContext.
type stmtCache struct {
	db *sql.DB
	mu sync.Mutex
	m  map[stmtKey]*sql.Stmt
}

type stmtKey struct {
	kind   insertKind
	rows   int // 0: jsonQuery
	shared bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[stmtKey]*sql.Stmt)}
}

// get returns the statement of kind for rows rows, preparing it first.
func (c *stmtCache) get(ctx context.Context, kind insertKind, rows int, shared bool) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := stmtKey{kind, rows, shared}
	if st := c.m[k]; st != nil {
		return st, nil
	}
	q := kind.jsonQuery()
	if rows > 0 {
		q = kind.query(rows, shared)
	}
	st, err := c.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.m[k] = st
	return st, nil
}

// close releases every statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, st := range c.m {
		st.Close()
		delete(c.m, k)
	}
}
