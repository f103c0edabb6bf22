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
				b := newBatchInsert(tx, s.inserts, `INSERT INTO t(k, v) VALUES `, `ON CONFLICT(k) DO UPDATE SET v = excluded.v`, 2, 0)
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

// TestBatchInsertShared: rows that differ only in the key column are
// written with their shared values bound once (parameters numbered around
// a key in the middle of the row); a row that differs elsewhere makes its
// statement an ordinary one. Either way every row lands as added.
func TestBatchInsertShared(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE t3 (a TEXT NOT NULL, k INTEGER PRIMARY KEY, b INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	type row struct {
		a string
		b int64
	}
	tests := []struct {
		name string
		n    int
		odd  int // index of a row whose a differs, or -1
	}{
		{"one row", 1, -1},
		{"full statement", batchRows, -1},
		{"full and rest", batchRows + 77, -1},
		{"odd row in the full statement", batchRows + 77, 5},
		{"odd row in the rest", batchRows + 77, batchRows + 70},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := map[int]row{}
			err := s.inTx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `DELETE FROM t3`); err != nil {
					return err
				}
				b := newBatchInsert(tx, s.inserts, `INSERT INTO t3(a, k, b) VALUES `, ``, 3, 1)
				for i := range tc.n {
					r := row{"shared", 42}
					if i == tc.odd {
						r = row{"odd", 43}
					}
					want[1000+i] = r
					if err := b.add(ctx, r.a, 1000+i, r.b); err != nil {
						return err
					}
				}
				return b.flush(ctx)
			})
			if err != nil {
				t.Fatal(err)
			}
			rows, err := s.db.QueryContext(ctx, `SELECT a, k, b FROM t3`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			got := map[int]row{}
			for rows.Next() {
				var r row
				var k int
				if err := rows.Scan(&r.a, &k, &r.b); err != nil {
					t.Fatal(err)
				}
				got[k] = r
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d", len(got), len(want))
			}
			for k, r := range want {
				if got[k] != r {
					t.Errorf("key %d = %+v, want %+v", k, got[k], r)
				}
			}
		})
	}
	shared := 0
	s.inserts.mu.Lock()
	for k := range s.inserts.m {
		if k.shared {
			shared++
		}
	}
	s.inserts.mu.Unlock()
	if shared == 0 {
		t.Error("no shared statement was prepared")
	}
}

// TestInsertQuery: the text of an ordinary and of a shared statement.
func TestInsertQuery(t *testing.T) {
	k := insertKind{head: "INSERT INTO t(a, k, b) VALUES ", tail: "END", cols: 3, key: 1}
	for _, tc := range []struct {
		rows   int
		shared bool
		want   string
	}{
		{2, false, "INSERT INTO t(a, k, b) VALUES (?, ?, ?), (?, ?, ?) END"},
		{2, true, "INSERT INTO t(a, k, b) VALUES (?1, ?3, ?2), (?1, ?4, ?2) END"},
	} {
		if got := k.query(tc.rows, tc.shared); got != tc.want {
			t.Errorf("query(%d, %v) = %q, want %q", tc.rows, tc.shared, got, tc.want)
		}
	}
}

// TestSame: only equal strings and integers of one type count as shared.
func TestSame(t *testing.T) {
	for _, tc := range []struct {
		x, y any
		want bool
	}{
		{"a", "a", true},
		{"a", "b", false},
		{int64(1), int64(1), true},
		{int64(1), 1, false},
		{1, 1, true},
		{[]byte("a"), []byte("a"), false}, // == would panic
		{nil, nil, false},
	} {
		if got := same(tc.x, tc.y); got != tc.want {
			t.Errorf("same(%#v, %#v) = %v, want %v", tc.x, tc.y, got, tc.want)
		}
	}
}

// TestBatchInsertJSONKeys: rows with text keys and shared values go in
// through one json_each statement, and come out as bound one by one would
// give them: in order (the last row of a key wins the upsert), and keys
// that a plain JSON string cannot carry as is (quotes, backslashes,
// control or non-ASCII characters) through the ordinary statements.
func TestBatchInsertJSONKeys(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE t4 (a TEXT NOT NULL, k TEXT PRIMARY KEY, b INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		n     int
		odd   string // a key put in at row 3, or "" (16 rows: one statement)
		twice bool   // every key twice, the second row with b+1
		json  bool   // a json_each statement must have been used
	}{
		{"full statement", batchRows, "", false, true},
		{"full and rest", batchRows + 77, "", false, true},
		{"keys twice", batchRows + 5, "", true, true},
		{"quote", 16, `x"y`, false, false},
		{"backslash", 16, `x\y`, false, false},
		{"control", 16, "x\ny", false, false},
		{"non-ASCII", 16, "é", false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s.inserts.close()
			want := map[string]int64{}
			err := s.inTx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, `DELETE FROM t4`); err != nil {
					return err
				}
				b := newBatchInsert(tx, s.inserts, `INSERT INTO t4(a, k, b) VALUES `,
					`ON CONFLICT(k) DO UPDATE SET b = excluded.b`, 3, 1)
				var keys []string
				for i := range tc.n {
					keys = append(keys, fmt.Sprintf("192.0.2.%d/32", i))
				}
				if tc.odd != "" {
					keys[3] = tc.odd
				}
				for _, k := range keys {
					want[k] = 42
					if err := b.add(ctx, "shared", k, int64(42)); err != nil {
						return err
					}
				}
				if tc.twice {
					for _, k := range keys {
						want[k] = 43
						if err := b.add(ctx, "shared", k, int64(43)); err != nil {
							return err
						}
					}
				}
				return b.flush(ctx)
			})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int64{}
			rows, err := s.db.QueryContext(ctx, `SELECT a, k, b FROM t4`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			for rows.Next() {
				var a, k string
				var v int64
				if err := rows.Scan(&a, &k, &v); err != nil {
					t.Fatal(err)
				}
				if a != "shared" {
					t.Errorf("key %q: a = %q", k, a)
				}
				got[k] = v
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Errorf("%d rows, want %d", len(got), len(want))
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("key %q: b = %d, want %d", k, got[k], v)
				}
			}
			usedJSON := false
			s.inserts.mu.Lock()
			for k := range s.inserts.m {
				usedJSON = usedJSON || k.rows == 0
			}
			s.inserts.mu.Unlock()
			if usedJSON != tc.json {
				t.Errorf("json_each statement used: %v, want %v", usedJSON, tc.json)
			}
		})
	}
}

// TestJSONQuery: the text of a json_each statement.
func TestJSONQuery(t *testing.T) {
	k := insertKind{head: "INSERT INTO t(a, k, b) VALUES ", tail: "END", cols: 3, key: 1}
	want := "INSERT INTO t(a, k, b) SELECT ?1, value, ?2 FROM json_each(?3) WHERE true END"
	if got := k.jsonQuery(); got != want {
		t.Errorf("jsonQuery() = %q, want %q", got, want)
	}
}
