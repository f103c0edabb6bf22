package slots

// Ordered is what a Heap asks of the table whose slots it orders.
type Ordered interface {
	// Before reports whether slot a leaves the heap before slot b.
	Before(a, b int32) bool
	// SetPos records slot s's position in the heap (-1: not in it).
	SetPos(s, pos int32)
	// Pos returns the position SetPos last recorded for s.
	Pos(s int32) int32
}

// Heap is a binary min-heap of slot numbers, ordered by its table, which
// also keeps each slot's position so that a slot can be fixed or removed
// where it stands. It is container/heap's algorithm on int32 slots,
// written out so that a push boxes nothing.
type Heap[T Ordered] struct {
	t T
	s []int32
}

// NewHeap returns an empty heap over table t.
func NewHeap[T Ordered](t T) Heap[T] { return Heap[T]{t: t} }

// Len returns the number of slots held.
func (h *Heap[T]) Len() int { return len(h.s) }

// Top returns the slot that leaves first.
func (h *Heap[T]) Top() (int32, bool) {
	if len(h.s) == 0 {
		return 0, false
	}
	return h.s[0], true
}

// Slots returns the slots in heap order (slot i's parent is at (i-1)/2),
// for checks; the caller must not change it.
func (h *Heap[T]) Slots() []int32 { return h.s }

// Reserve makes room for n slots in all.
func (h *Heap[T]) Reserve(n int) {
	if cap(h.s) < n {
		h.s = append(make([]int32, 0, n), h.s...)
	}
}

// Reset empties the heap and gives its memory back; the table's recorded
// positions are left as they are.
func (h *Heap[T]) Reset() { h.s = nil }

// Push adds slot s.
func (h *Heap[T]) Push(s int32) {
	h.t.SetPos(s, int32(len(h.s)))
	h.s = append(h.s, s)
	h.up(len(h.s) - 1)
}

// Fix restores the order after slot s's key changed.
func (h *Heap[T]) Fix(s int32) {
	i := int(h.t.Pos(s))
	if !h.down(i, len(h.s)) {
		h.up(i)
	}
}

// Remove takes slot s out; its position becomes -1.
func (h *Heap[T]) Remove(s int32) {
	i, n := int(h.t.Pos(s)), len(h.s)-1
	if n != i {
		h.swap(i, n)
		if !h.down(i, n) {
			h.up(i)
		}
	}
	h.s = h.s[:n]
	h.t.SetPos(s, -1)
}

func (h *Heap[T]) less(a, b int) bool { return h.t.Before(h.s[a], h.s[b]) }

func (h *Heap[T]) swap(a, b int) {
	h.s[a], h.s[b] = h.s[b], h.s[a]
	h.t.SetPos(h.s[a], int32(a))
	h.t.SetPos(h.s[b], int32(b))
}

func (h *Heap[T]) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h *Heap[T]) down(i0, n int) bool {
	i := i0
	for {
		j := 2*i + 1
		if j >= n || j < 0 {
			break
		}
		if j2 := j + 1; j2 < n && h.less(j2, j) {
			j = j2
		}
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		i = j
	}
	return i > i0
}
