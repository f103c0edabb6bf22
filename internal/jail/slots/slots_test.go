package slots

import (
	"math/rand/v2"
	"testing"
)

// table is a caller's table for the tests: keys by slot, with a free list.
type table struct {
	keys []Key
	free []int32
}

func (t *table) add(k Key) int32 {
	if n := len(t.free); n > 0 {
		s := t.free[n-1]
		t.free = t.free[:n-1]
		t.keys[s] = k
		return s
	}
	t.keys = append(t.keys, k)
	return int32(len(t.keys) - 1)
}

func key(i int) Key {
	var k Key
	k[0], k[1], k[15], k[19] = byte(i), byte(i>>8), byte(i>>16), 7
	return k
}

// TestAgainstMap drives an index and a Go map with the same random puts
// and deletes over a small key space (long probe runs, many deletes inside
// them) and compares every key after every step.
func TestAgainstMap(t *testing.T) {
	for _, tc := range []struct {
		name  string
		space int
		ops   int
	}{
		{"tiny", 5, 2000},
		{"small", 40, 20000},
		{"wide", 3000, 30000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.space)))
			tb := &table{}
			x := New(func(s int32) Key { return tb.keys[s] })
			want := map[Key]int32{}
			for op := range tc.ops {
				k := key(rng.IntN(tc.space))
				if s, ok := want[k]; ok && rng.IntN(2) == 0 {
					if !x.Delete(k) {
						t.Fatalf("op %d: delete of a held key failed", op)
					}
					delete(want, k)
					tb.free = append(tb.free, s)
				} else if !ok {
					s := tb.add(k)
					x.Put(k, s)
					want[k] = s
				}
				if x.Len() != len(want) {
					t.Fatalf("op %d: Len %d, want %d", op, x.Len(), len(want))
				}
				if op%97 == 0 || tc.space <= 40 {
					for i := range tc.space {
						k := key(i)
						s, ok := x.Get(k)
						ws, wok := want[k]
						if ok != wok || ok && s != ws {
							t.Fatalf("op %d: Get(%d) = %d %v, want %d %v", op, i, s, ok, ws, wok)
						}
					}
				}
			}
			if x.Delete(key(tc.space + 1)) {
				t.Error("delete of a key never put reported true")
			}
		})
	}
}

// TestReserve: after Reserve(n), n puts do not grow the table.
func TestReserve(t *testing.T) {
	for _, n := range []int{1, 6, 7, 100, 100_000} {
		tb := &table{}
		x := New(func(s int32) Key { return tb.keys[s] })
		x.Reserve(n)
		size := x.Bytes()
		for i := range n {
			x.Put(key(i), tb.add(key(i)))
		}
		if x.Bytes() != size {
			t.Errorf("n=%d: grew from %d to %d bytes", n, size, x.Bytes())
		}
		if x.Bytes() > 16*max(n, minCells) {
			t.Errorf("n=%d: %d bytes reserved", n, x.Bytes())
		}
	}
}

// TestEmptyGivesBack: the table of a flood is dropped once the last key
// goes, and Clear drops it at once.
func TestEmptyGivesBack(t *testing.T) {
	tb := &table{}
	x := New(func(s int32) Key { return tb.keys[s] })
	for i := range 1000 {
		x.Put(key(i), tb.add(key(i)))
	}
	for i := range 1000 {
		x.Delete(key(i))
	}
	if x.Bytes() != 0 || x.Len() != 0 {
		t.Errorf("after deleting all: %d bytes, %d keys", x.Bytes(), x.Len())
	}
	x.Put(key(1), 1)
	x.Clear()
	if _, ok := x.Get(key(1)); ok || x.Bytes() != 0 {
		t.Error("Clear kept a key or its table")
	}
}

func TestGetAllocates(t *testing.T) {
	tb := &table{}
	x := New(func(s int32) Key { return tb.keys[s] })
	for i := range 1000 {
		x.Put(key(i), tb.add(key(i)))
	}
	if n := testing.AllocsPerRun(100, func() { x.Get(key(5)) }); n != 0 {
		t.Errorf("Get allocates %v times", n)
	}
}

func BenchmarkPutGetDelete(b *testing.B) {
	tb := &table{}
	x := New(func(s int32) Key { return tb.keys[s] })
	for i := range 100_000 {
		x.Put(key(i), tb.add(key(i)))
	}
	b.ResetTimer()
	for i := range b.N {
		k := key(i % 100_000)
		s, _ := x.Get(k)
		x.Delete(k)
		x.Put(k, s)
	}
}

// FuzzIndex runs a byte string as puts and deletes over 64 keys and checks
// the index against a map after each.
func FuzzIndex(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 0x80, 0x81, 4, 0x82})
	f.Add([]byte{5, 5, 0x85, 5, 0x85, 0x85})
	f.Fuzz(func(t *testing.T, ops []byte) {
		tb := &table{}
		x := New(func(s int32) Key { return tb.keys[s] })
		want := map[Key]int32{}
		for _, op := range ops {
			k := key(int(op & 0x3f))
			if op&0x80 != 0 {
				s, had := want[k]
				if x.Delete(k) != had {
					t.Fatalf("delete %d: reported %v", op&0x3f, !had)
				}
				if had {
					delete(want, k)
					tb.free = append(tb.free, s)
				}
			} else if _, had := want[k]; !had {
				s := tb.add(k)
				x.Put(k, s)
				want[k] = s
			}
			for i := range 64 {
				s, ok := x.Get(key(i))
				ws, wok := want[key(i)]
				if ok != wok || ok && s != ws {
					t.Fatalf("Get(%d) = %d %v, want %d %v", i, s, ok, ws, wok)
				}
			}
		}
	})
}

// TestWiden puts slots past what a tagged cell holds: the index turns
// wide, and keeps every key it held before and after.
func TestWiden(t *testing.T) {
	keys := map[int32]Key{}
	x := New(func(s int32) Key { return keys[s] })
	slots := []int32{0, 1, 2, slotMask - 2, slotMask - 1}
	for i, s := range slots {
		keys[s] = key(i)
		x.Put(key(i), s)
	}
	if x.wide {
		t.Fatalf("wide after slot %d; want tagged cells up to %d", slotMask-1, slotMask-1)
	}
	for i, s := range []int32{slotMask, 1<<31 - 2, 1 << 30} {
		keys[s] = key(100 + i)
		x.Put(key(100+i), s)
		slots = append(slots, s)
	}
	if !x.wide {
		t.Fatal("not wide after slot", slotMask)
	}
	for s, k := range keys {
		if got, ok := x.Get(k); !ok || got != s {
			t.Errorf("Get(key of slot %d) = %d, %v", s, got, ok)
		}
	}
	if _, ok := x.Get(key(50)); ok {
		t.Error("Get of a key never put found a slot")
	}
	for _, s := range slots[:4] {
		if !x.Delete(keys[s]) {
			t.Errorf("Delete(key of slot %d) = false", s)
		}
		delete(keys, s)
	}
	for s, k := range keys {
		if got, ok := x.Get(k); !ok || got != s {
			t.Errorf("after deletes: Get(key of slot %d) = %d, %v", s, got, ok)
		}
	}
}

// TestAbsentFetchesFew looks up absent keys in a full index: the tags
// spare nearly every key fetch (linear probing at this fill visits several
// full cells a miss; without tags each was a fetch).
func TestAbsentFetchesFew(t *testing.T) {
	tb := &table{}
	fetches := 0
	x := New(func(s int32) Key { fetches++; return tb.keys[s] })
	const n = 90_000 // 131,072 cells, about 70 % full
	for i := range n {
		x.Put(key(i), tb.add(key(i)))
	}
	fetches = 0
	const misses = 20_000
	for i := range misses {
		if _, ok := x.Get(key(n + i)); ok {
			t.Fatal("found an absent key")
		}
	}
	if fetches > misses/10 {
		t.Errorf("%d key fetches for %d absent keys; want under %d", fetches, misses, misses/10)
	}
}

// BenchmarkGetAbsent looks up keys not held in a 100,000-key index, each
// new address of a flood; the caller's keys are in a separate table, as
// the tracker's records are.
func BenchmarkGetAbsent(b *testing.B) {
	tb := &table{}
	x := New(func(s int32) Key { return tb.keys[s] })
	for i := range 100_000 {
		x.Put(key(i), tb.add(key(i)))
	}
	i := 0
	for b.Loop() {
		x.Get(key(100_000 + i%(1<<16)))
		i++
	}
}
