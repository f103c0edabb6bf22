package store

import (
	"context"
	"database/sql"
	"strings"
)

// batchRows is how many rows one multi-row INSERT carries. Fewer, larger
// statements cut the per-statement cost of database/sql and the driver,
// which dominates bulk writes of small rows.
const batchRows = 128

// batchInsert collects rows for one table and writes them batchRows at a
// time with a multi-row INSERT inside tx. Rows are written in the order
// added, so with an upsert tail the last row for a key wins.
type batchInsert struct {
	tx   *sql.Tx
	head string // "INSERT INTO t(a, b) VALUES "
	row  string // "(?, ?)"
	tail string // e.g. an ON CONFLICT clause
	cols int
	full *sql.Stmt // prepared on first use, for batchRows rows
	args []any
}

func newBatchInsert(tx *sql.Tx, head, tail string, cols int) *batchInsert {
	return &batchInsert{
		tx: tx, head: head, tail: tail, cols: cols,
		row:  "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")",
		args: make([]any, 0, batchRows*cols),
	}
}

func (b *batchInsert) query(rows int) string {
	var sb strings.Builder
	sb.WriteString(b.head)
	for i := range rows {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(b.row)
	}
	sb.WriteString(" ")
	sb.WriteString(b.tail)
	return sb.String()
}

// add queues one row of len == cols values, writing a full batch.
func (b *batchInsert) add(ctx context.Context, vals ...any) error {
	b.args = append(b.args, vals...)
	if len(b.args) < batchRows*b.cols {
		return nil
	}
	if b.full == nil {
		st, err := b.tx.PrepareContext(ctx, b.query(batchRows))
		if err != nil {
			return err
		}
		b.full = st
	}
	_, err := b.full.ExecContext(ctx, b.args...)
	b.args = b.args[:0]
	return err
}

// flush writes the rows still queued and releases the statement.
func (b *batchInsert) flush(ctx context.Context) error {
	defer b.close()
	if len(b.args) == 0 {
		return nil
	}
	_, err := b.tx.ExecContext(ctx, b.query(len(b.args)/b.cols), b.args...)
	b.args = b.args[:0]
	return err
}

func (b *batchInsert) close() {
	if b.full != nil {
		b.full.Close()
		b.full = nil
	}
}
