package ban

import (
	"container/heap"
	"net/netip"
	"time"
)

// entry is one active ban of a jail.
type entry struct {
	jail     string
	prefix   netip.Prefix
	id       string
	start    time.Time
	banTime  time.Duration // negative: for ever
	count    int
	failures int
	matches  []string
	fields   map[string]string
	restored bool
	idx      int // position in the expiry heap; -1 when not in it (permanent)
}

// end returns when the ban ends; zero for a permanent ban.
func (e *entry) end() time.Time {
	if e.banTime < 0 {
		return time.Time{}
	}
	return e.start.Add(e.banTime)
}

// expiryHeap orders the non-permanent bans of every jail by end time.
type expiryHeap []*entry

func (h expiryHeap) Len() int { return len(h) }
func (h expiryHeap) Less(i, j int) bool {
	return h[i].end().Before(h[j].end())
}
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = i
	h[j].idx = j
}
func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.idx = len(*h)
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	n := len(old)
	e := old[n-1]
	old[n-1] = nil
	e.idx = -1
	*h = old[:n-1]
	return e
}

// track puts e in the heap, or fixes its place after its end changed, or
// takes it out when it became permanent.
func (h *expiryHeap) track(e *entry) {
	switch {
	case e.banTime < 0 && e.idx >= 0:
		heap.Remove(h, e.idx)
	case e.banTime < 0:
	case e.idx >= 0:
		heap.Fix(h, e.idx)
	default:
		heap.Push(h, e)
	}
}

// untrack removes e from the heap when it is there.
func (h *expiryHeap) untrack(e *entry) {
	if e.idx >= 0 {
		heap.Remove(h, e.idx)
	}
}

// popDue removes and returns the bans whose end is at or before now.
func (h *expiryHeap) popDue(now time.Time) []*entry {
	var out []*entry
	for h.Len() > 0 && !(*h)[0].end().After(now) {
		out = append(out, heap.Pop(h).(*entry))
	}
	return out
}
