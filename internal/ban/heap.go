package ban

import (
	"net/netip"
	"time"
)

// entry is one active ban of a jail as the manager's code handles it; the
// table keeps it packed (banRec). What only actions read (the ticket's id,
// matched lines and fields) is behind a pointer that jails without actions
// leave nil.
type entry struct {
	jail     string
	prefix   netip.Prefix
	start    int64         // Unix nanoseconds
	banTime  time.Duration // negative: for ever
	count    int32
	failures int32
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
		count: int32(count), failures: int32(failures)}
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

// banHeap orders the non-permanent bans of the table by end time. It is
// container/heap's algorithm on int32 record numbers, written out so that
// a push boxes nothing.
type banHeap struct {
	t *banTable
	s []int32
}

func (h *banHeap) less(a, b int) bool { return h.t.at(h.s[a]).end() < h.t.at(h.s[b]).end() }

func (h *banHeap) swap(a, b int) {
	h.s[a], h.s[b] = h.s[b], h.s[a]
	h.t.at(h.s[a]).hidx = int32(a)
	h.t.at(h.s[b]).hidx = int32(b)
}

func (h *banHeap) up(j int) {
	for j > 0 {
		i := (j - 1) / 2
		if !h.less(j, i) {
			break
		}
		h.swap(i, j)
		j = i
	}
}

func (h *banHeap) down(i0, n int) bool {
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

func (h *banHeap) push(s int32) {
	h.t.at(s).hidx = int32(len(h.s))
	h.s = append(h.s, s)
	h.up(len(h.s) - 1)
}

// fix restores the order after record s's end changed.
func (h *banHeap) fix(s int32) {
	i := int(h.t.at(s).hidx)
	if !h.down(i, len(h.s)) {
		h.up(i)
	}
}

// remove takes record s out.
func (h *banHeap) remove(s int32) {
	i, n := int(h.t.at(s).hidx), len(h.s)-1
	if n != i {
		h.swap(i, n)
		if !h.down(i, n) {
			h.up(i)
		}
	}
	h.s = h.s[:n]
	h.t.at(s).hidx = -1
}
