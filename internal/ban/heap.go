package ban

import (
	"container/heap"
	"net/netip"
	"time"
)

// entry is one active ban of a jail. There is one per ban, 100,000 under a
// flood, so it is kept small (88 bytes): the start as Unix nanoseconds,
// 32-bit counts, and what only actions read behind a pointer that jails
// without actions leave nil.
type entry struct {
	jail     string
	prefix   netip.Prefix
	start    int64         // Unix nanoseconds
	banTime  time.Duration // negative: for ever
	count    int32
	failures int32
	idx      int32 // position in the expiry heap; -1 when not in it (permanent)
	restored bool
	more     *entryMore
}

// entryMore is what the actions (and the store, once) read of a ban.
type entryMore struct {
	id      string
	matches []string
	fields  map[string]string
}

func newEntry(jail string, p netip.Prefix, start time.Time, bt time.Duration, count, failures int) *entry {
	return &entry{jail: jail, prefix: p, start: start.UnixNano(), banTime: bt,
		count: int32(count), failures: int32(failures), idx: -1}
}

// begins returns when the ban started.
func (e *entry) begins() time.Time { return time.Unix(0, e.start) }

// end returns when the ban ends; zero for a permanent ban.
func (e *entry) end() time.Time {
	if e.banTime < 0 {
		return time.Time{}
	}
	return e.begins().Add(e.banTime)
}

func (e *entry) id() string {
	if e.more == nil {
		return ""
	}
	return e.more.id
}

func (e *entry) matches() []string {
	if e.more == nil {
		return nil
	}
	return e.more.matches
}

func (e *entry) fields() map[string]string {
	if e.more == nil {
		return nil
	}
	return e.more.fields
}

// expiryHeap orders the non-permanent bans of every jail by end time.
type expiryHeap []*entry

func (h expiryHeap) Len() int { return len(h) }
func (h expiryHeap) Less(i, j int) bool {
	return h[i].end().Before(h[j].end())
}
func (h expiryHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx = int32(i)
	h[j].idx = int32(j)
}
func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.idx = int32(len(*h))
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
		heap.Remove(h, int(e.idx))
	case e.banTime < 0:
	case e.idx >= 0:
		heap.Fix(h, int(e.idx))
	default:
		heap.Push(h, e)
	}
}

// untrack removes e from the heap when it is there.
func (h *expiryHeap) untrack(e *entry) {
	if e.idx >= 0 {
		heap.Remove(h, int(e.idx))
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
