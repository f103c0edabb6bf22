package store

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
)

// TestBatchInsert: every row reaches the table, in the order added (an
// upsert's last row for a key wins), whatever the count: full statements
// of batchRows, and the rest as powers of two. The statements are prepared
// once per Store and serve later transactions too.
func TestBatchInsert(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 2, 3, 7, 127, 128, 129, 255, 256, 300} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			err := s.inTx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `DELETE FROM t`); err != nil {
					return err
				}
				b := newBatchInsert(tx, s.inserts, `INSERT INTO t(k, v) VALUES `, `ON CONFLICT(k) DO UPDATE SET v = excluded.v`, 2)
				// Keys 0 to n/2, most of them twice: the later
				// value must win.
				for i := range n {
					k := i % (n/2 + 1)
					if err := b.add(ctx, k, fmt.Sprintf("row %d", i)); err != nil {
						return err
					}
				}
				return b.flush(ctx)
			})
			if err != nil {
				t.Fatal(err)
			}
			want := map[int]string{}
			for i := range n {
				want[i%(n/2+1)] = fmt.Sprintf("row %d", i)
			}
			rows, err := s.db.QueryContext(ctx, `SELECT k, v FROM t`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			got := map[int]string{}
			for rows.Next() {
				var k int
				var v string
				if err := rows.Scan(&k, &v); err != nil {
					t.Fatal(err)
				}
				got[k] = v
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d", len(got), len(want))
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("key %d = %q, want %q", k, got[k], v)
				}
			}
		})
	}
	// One statement per power of two up to batchRows, whatever the counts.
	s.inserts.mu.Lock()
	defer s.inserts.mu.Unlock()
	for k := range s.inserts.m {
		if k.rows&(k.rows-1) != 0 || k.rows > batchRows {
			t.Errorf("statement of %d rows cached", k.rows)
		}
	}
	if len(s.inserts.m) > 8 {
		t.Errorf("%d statements cached, want at most 8", len(s.inserts.m))
	}
}
