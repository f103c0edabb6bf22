// Package slots indexes and orders the int32 slot numbers of a table its
// caller keeps: the failure tracker of a jail and the ban manager's active
// bans, 100,000 entries each under a flood. Index finds a slot by its
// fixed-size key; Heap orders slots by the table's own key (latest
// failure, end of ban).
//
// A Go map from a 20-byte key to an int32 costs about 35 bytes an entry
// and a map to a pointer far more; this index is one []int32 of cells
// (open addressing, linear probing, at most three quarters full), about 8
// bytes an entry, and holds no pointer for the collector to scan. It keeps
// no keys: it asks the caller for the key of a slot when it compares,
// grows or deletes. Hashes are seeded per index, so an attacker choosing
// addresses cannot aim for long probe runs.
package slots

import "hash/maphash"

// Key is what the index maps from: a 16-byte address and four bytes more
// (a jail, a prefix length, a kind), as its caller packs them.
type Key [20]byte

// Index maps keys to slot numbers. The zero value is not usable; call New.
type Index struct {
	cells []int32 // slot+1; 0 is an empty cell
	n     int
	seed  maphash.Seed
	key   func(slot int32) Key
}

// minCells is the size of the smallest table.
const minCells = 8

// New returns an empty index; key returns the key of a slot the index
// holds, and must answer for every slot put in and not deleted.
func New(key func(slot int32) Key) *Index {
	return &Index{seed: maphash.MakeSeed(), key: key}
}

// Len returns the number of keys held.
func (x *Index) Len() int { return x.n }

// Bytes returns the memory the index holds.
func (x *Index) Bytes() int { return 4 * cap(x.cells) }

func (x *Index) hash(k *Key) uint64 { return maphash.Bytes(x.seed, k[:]) }

// Get returns the slot of k.
func (x *Index) Get(k Key) (int32, bool) {
	if x.n == 0 {
		return 0, false
	}
	mask := len(x.cells) - 1
	for i := int(x.hash(&k)) & mask; ; i = (i + 1) & mask {
		c := x.cells[i]
		if c == 0 {
			return 0, false
		}
		if x.key(c-1) == k {
			return c - 1, true
		}
	}
}

// Put adds k with slot; k must not be held already.
func (x *Index) Put(k Key, slot int32) {
	if (x.n+1)*4 > len(x.cells)*3 {
		x.resize(max(minCells, 2*len(x.cells)))
	}
	x.place(x.hash(&k), slot)
	x.n++
}

func (x *Index) place(h uint64, slot int32) {
	mask := len(x.cells) - 1
	i := int(h) & mask
	for x.cells[i] != 0 {
		i = (i + 1) & mask
	}
	x.cells[i] = slot + 1
}

// Reserve makes room for n keys in all, so that adding up to n grows
// nothing.
func (x *Index) Reserve(n int) {
	want := minCells
	for want*3 < n*4 {
		want *= 2
	}
	if want > len(x.cells) {
		x.resize(want)
	}
}

func (x *Index) resize(size int) {
	old := x.cells
	x.cells = make([]int32, size)
	for _, c := range old {
		if c != 0 {
			k := x.key(c - 1)
			x.place(x.hash(&k), c-1)
		}
	}
}

// Delete removes k and reports whether it was held. The cells after it are
// shifted back (no tombstones), so lookups never slow down with churn.
func (x *Index) Delete(k Key) bool {
	if x.n == 0 {
		return false
	}
	mask := len(x.cells) - 1
	i := int(x.hash(&k)) & mask
	for {
		c := x.cells[i]
		if c == 0 {
			return false
		}
		if x.key(c-1) == k {
			break
		}
		i = (i + 1) & mask
	}
	// i is the hole; move back any later cell of the run whose home is
	// not between the hole and itself.
	for j := (i + 1) & mask; x.cells[j] != 0; j = (j + 1) & mask {
		kj := x.key(x.cells[j] - 1)
		home := int(x.hash(&kj)) & mask
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			x.cells[i] = x.cells[j]
			i = j
		}
	}
	x.cells[i] = 0
	x.n--
	if x.n == 0 && len(x.cells) > minCells {
		x.cells = nil // a flood's table is given back once it is over
	}
	return true
}

// Clear removes every key, and gives the table back.
func (x *Index) Clear() {
	x.cells, x.n = nil, 0
}
