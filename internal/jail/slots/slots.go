// Package slots indexes and orders the int32 slot numbers of a table its
// caller keeps: the failure tracker of a jail and the ban manager's active
// bans, 100,000 entries each under a flood. Index finds a slot by its
// fixed-size key; Heap orders slots by the table's own key (latest
// failure, end of ban).
//
// A Go map from a 20-byte key to an int32 costs about 35 bytes an entry
// and a map to a pointer far more; this index is one []uint32 of cells
// (open addressing, linear probing, at most three quarters full), about 8
// bytes an entry, and holds no pointer for the collector to scan. It keeps
// no keys, only a few bits of each key's hash beside its slot: it asks the
// caller for the key of a slot when those bits agree, and when it grows or
// deletes. Hashes are seeded per index, so an attacker choosing
// addresses cannot aim for long probe runs.
package slots

import "hash/maphash"

// Key is what the index maps from: a 16-byte address and four bytes more
// (a jail, a prefix length, a kind), as its caller packs them.
type Key [20]byte

// Index maps keys to slot numbers. The zero value is not usable; call New.
//
// A cell holds its slot+1 in the low slotBits bits and, above them, the
// top bits of its key's hash (a tag): a probe asks the caller for a key,
// a cache miss in a large table, only when the tags agree, so a lookup of
// an absent key (each new address of a flood) rarely fetches a key at all.
// An index given a slot too large for the low bits turns wide for good:
// its cells then hold slot+1 alone, and every probe compares keys.
type Index struct {
	cells []uint32 // 0 is an empty cell
	n     int
	wide  bool
	seed  maphash.Seed
	key   func(slot int32) Key
}

const (
	slotBits = 24
	slotMask = 1<<slotBits - 1
)

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

// cell is what a cell holds for slot, whose key hashes to h.
func (x *Index) cell(h uint64, slot int32) uint32 {
	if x.wide {
		return uint32(slot) + 1
	}
	return uint32(slot) + 1 | uint32(h>>(64-(32-slotBits)))<<slotBits
}

// may reports whether the full cell c may hold a key that hashes to h.
func (x *Index) may(c uint32, h uint64) bool {
	return x.wide || c>>slotBits == uint32(h>>(64-(32-slotBits)))
}

// slot returns the slot of the full cell c.
func (x *Index) slot(c uint32) int32 {
	if x.wide {
		return int32(c - 1)
	}
	return int32(c&slotMask) - 1
}

// Get returns the slot of k.
func (x *Index) Get(k Key) (int32, bool) {
	if x.n == 0 {
		return 0, false
	}
	h := x.hash(&k)
	mask := len(x.cells) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		c := x.cells[i]
		if c == 0 {
			return 0, false
		}
		if x.may(c, h) {
			if s := x.slot(c); x.key(s) == k {
				return s, true
			}
		}
	}
}

// Put adds k with slot; k must not be held already.
func (x *Index) Put(k Key, slot int32) {
	if !x.wide && slot >= slotMask {
		x.widen()
	}
	if (x.n+1)*4 > len(x.cells)*3 {
		x.resize(max(minCells, 2*len(x.cells)))
	}
	x.place(x.hash(&k), slot)
	x.n++
}

// widen drops the tags of every cell.
func (x *Index) widen() {
	for i, c := range x.cells {
		if c != 0 {
			x.cells[i] = uint32(x.slot(c)) + 1
		}
	}
	x.wide = true
}

func (x *Index) place(h uint64, slot int32) {
	mask := len(x.cells) - 1
	i := int(h) & mask
	for x.cells[i] != 0 {
		i = (i + 1) & mask
	}
	x.cells[i] = x.cell(h, slot)
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
	x.cells = make([]uint32, size)
	for _, c := range old {
		if c != 0 {
			k := x.key(x.slot(c))
			x.place(x.hash(&k), x.slot(c))
		}
	}
}

// Delete removes k and reports whether it was held. The cells after it are
// shifted back (no tombstones), so lookups never slow down with churn.
func (x *Index) Delete(k Key) bool {
	if x.n == 0 {
		return false
	}
	h := x.hash(&k)
	mask := len(x.cells) - 1
	i := int(h) & mask
	for {
		c := x.cells[i]
		if c == 0 {
			return false
		}
		if x.may(c, h) && x.key(x.slot(c)) == k {
			break
		}
		i = (i + 1) & mask
	}
	// i is the hole; move back any later cell of the run whose home is
	// not between the hole and itself.
	for j := (i + 1) & mask; x.cells[j] != 0; j = (j + 1) & mask {
		kj := x.key(x.slot(x.cells[j]))
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
