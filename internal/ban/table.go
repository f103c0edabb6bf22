package ban

import (
	"math"
	"net/netip"
	"sync"
	"time"

	"warden/internal/firewall"
	"warden/internal/jail/slots"
)

// banTable holds every active ban of every jail. Under a flood it holds
// 100,000 of them, so a ban is a fixed 48-byte record, kept in chunks of
// 1,024 (growing copies nothing) and holding no pointer for the collector
// to follow: the prefix's address in 16 bytes, the jail as an index, the
// start as Unix nanoseconds. Bans are found through a slots.Index on
// (jail, prefix), and the non-permanent ones are ordered by end in one
// heap of record numbers. What only actions read (entryMore) sits in a map
// beside, empty for jails without actions. With index and heap a ban costs
// about 60 bytes (a map of pointers to entries and a heap of pointers cost
// about 150).
type banTable struct {
	recs    [][]banRec
	used    int32 // records handed out so far, free ones included
	free    int32 // first free record, or -1; free records chain by hidx
	n       int
	jails   []string // jail names by index
	perJail []int    // bans by jail index
	index   *slots.Index
	more    map[int32]*entryMore
	heap    slots.Heap[*banTable]
}

type banRec struct {
	a        [16]byte // the prefix's address, As16
	start    int64    // Unix nanoseconds
	banTime  int64    // nanoseconds; negative: for ever
	count    int32
	failures int32
	hidx     int32 // position in the heap, -1 when permanent; next free record when free
	jail     uint16
	bits     uint8
	flags    banFlags
}

type banFlags uint8

const (
	banUsed banFlags = 1 << iota
	ban4             // an IPv4 prefix
	banRestored
)

// chunkBans is the records of one chunk (48 KiB).
const chunkBans = 1024

func newBanTable(jails []string) *banTable {
	t := &banTable{free: -1, jails: jails, perJail: make([]int, len(jails)), more: map[int32]*entryMore{}}
	t.index = slots.New(func(s int32) slots.Key { return t.at(s).key() })
	t.heap = slots.NewHeap(t)
	return t
}

// at returns record s.
func (t *banTable) at(s int32) *banRec { return &t.recs[s/chunkBans][s%chunkBans] }

func banKey(j uint16, p netip.Prefix) slots.Key {
	var k slots.Key
	a := p.Addr().As16()
	copy(k[:], a[:])
	k[16], k[17], k[18] = byte(j), byte(j>>8), byte(p.Bits())
	if p.Addr().Is4() {
		k[19] = 1
	}
	return k
}

func (r *banRec) key() slots.Key {
	var k slots.Key
	copy(k[:], r.a[:])
	k[16], k[17], k[18] = byte(r.jail), byte(r.jail>>8), r.bits
	if r.flags&ban4 != 0 {
		k[19] = 1
	}
	return k
}

func (r *banRec) prefix() netip.Prefix {
	a := netip.AddrFrom16(r.a)
	if r.flags&ban4 != 0 {
		a = a.Unmap()
	}
	return netip.PrefixFrom(a, int(r.bits))
}

// end returns the ban's end in Unix nanoseconds (meaningless when
// permanent); an end past 2262 is taken as then.
func (r *banRec) end() int64 {
	if e := r.start + r.banTime; e >= r.start {
		return e
	}
	return math.MaxInt64
}

// entry returns record s as an entry.
func (t *banTable) entry(s int32) entry {
	r := t.at(s)
	return entry{jail: t.jails[r.jail], prefix: r.prefix(), start: r.start, banTime: time.Duration(r.banTime),
		count: r.count, failures: r.failures, restored: r.flags&banRestored != 0, more: t.more[s]}
}

// get returns the ban of prefix p in jail j.
func (t *banTable) get(j uint16, p netip.Prefix) (entry, bool) {
	s, ok := t.index.Get(banKey(j, p))
	if !ok {
		return entry{}, false
	}
	return t.entry(s), true
}

// has reports whether p is banned in jail j.
func (t *banTable) has(j uint16, p netip.Prefix) bool {
	_, ok := t.index.Get(banKey(j, p))
	return ok
}

// count returns the bans of jail j.
func (t *banTable) count(j uint16) int { return t.perJail[j] }

// put installs e in jail j, replacing the jail's ban of the same prefix;
// it reports whether there was one.
func (t *banTable) put(j uint16, e *entry) (replaced bool) {
	k := banKey(j, e.prefix)
	s, replaced := t.index.Get(k)
	if !replaced {
		s = t.alloc()
		r := t.at(s)
		*r = banRec{a: e.prefix.Addr().As16(), jail: j, bits: uint8(e.prefix.Bits()), hidx: -1, flags: banUsed}
		if e.prefix.Addr().Is4() {
			r.flags |= ban4
		}
		t.index.Put(k, s)
		t.perJail[j]++
		t.n++
	}
	r := t.at(s)
	r.start, r.banTime, r.count, r.failures = e.start, int64(e.banTime), e.count, e.failures
	r.flags &^= banRestored
	if e.restored {
		r.flags |= banRestored
	}
	if e.more != nil {
		t.more[s] = e.more
	} else if replaced {
		delete(t.more, s)
	}
	switch {
	case r.banTime < 0 && r.hidx >= 0:
		t.heap.Remove(s)
	case r.banTime < 0:
	case r.hidx >= 0:
		t.heap.Fix(s)
	default:
		t.heap.Push(s)
	}
	return replaced
}

func (t *banTable) alloc() int32 {
	if t.free >= 0 {
		s := t.free
		t.free = t.at(s).hidx
		return s
	}
	if t.used%chunkBans == 0 {
		t.recs = append(t.recs, make([]banRec, chunkBans))
	}
	t.used++
	return t.used - 1
}

// del removes the ban of p in jail j and returns it.
func (t *banTable) del(j uint16, p netip.Prefix) (entry, bool) {
	s, ok := t.index.Get(banKey(j, p))
	if !ok {
		return entry{}, false
	}
	e := t.entry(s)
	t.drop(s)
	return e, true
}

// drop frees record s.
func (t *banTable) drop(s int32) {
	r := t.at(s)
	if r.hidx >= 0 {
		t.heap.Remove(s)
	}
	t.index.Delete(r.key())
	t.perJail[r.jail]--
	delete(t.more, s)
	*r = banRec{hidx: t.free}
	t.free = s
	t.n--
	if t.n == 0 {
		// A flood's table is given back once its bans are over.
		t.recs, t.used, t.free = nil, 0, -1
		t.heap.Reset()
	}
}

// each calls fn with every ban of jail j (all jails when all), in no
// particular order; fn must not change the table.
func (t *banTable) each(j uint16, all bool, fn func(entry)) {
	for s := range t.used {
		if r := t.at(s); r.flags&banUsed != 0 && (all || r.jail == j) {
			fn(t.entry(s))
		}
	}
}

// wantedChunk is how many ban records wanted reads under one hold of the
// manager's lock: at 100,000 bans the whole list took 5-9 ms to build,
// which, taken at once, a ban waiting for the lock waited too.
const wantedChunk = 4096

// wanted returns the table's bans as the firewall should hold them,
// reading wantedChunk records under each hold of mu, the lock that guards
// t. Records keep their numbers while they live, so no ban that stays in
// force throughout is missed; one put in place meanwhile may be missing
// and one lifted meanwhile may be listed.
func (t *banTable) wanted(mu sync.Locker) []firewall.Ban {
	mu.Lock()
	n := t.n
	mu.Unlock()
	if n == 0 {
		return nil
	}
	out := make([]firewall.Ban, 0, n+n/16)
	for from := int32(0); ; from += wantedChunk {
		mu.Lock()
		more := from < t.used
		for s := from; more && s < min(from+wantedChunk, t.used); s++ {
			if r := t.at(s); r.flags&banUsed != 0 {
				e := t.entry(s)
				out = append(out, firewall.Ban{Jail: e.jail, Prefix: e.prefix, Expires: e.end()})
			}
		}
		mu.Unlock()
		if !more {
			return out
		}
	}
}

// nextEnd returns the earliest end of a non-permanent ban.
func (t *banTable) nextEnd() (time.Time, bool) {
	s, ok := t.heap.Top()
	if !ok {
		return time.Time{}, false
	}
	return time.Unix(0, t.at(s).end()), true
}

// popDue removes and returns the bans whose end is at or before now.
func (t *banTable) popDue(now time.Time) []entry {
	var out []entry
	limit := now.UnixNano()
	for {
		s, ok := t.heap.Top()
		if !ok || t.at(s).end() > limit {
			break
		}
		out = append(out, t.entry(s))
		t.drop(s)
	}
	return out
}

// reserve makes room in the index and heap for n bans in all.
func (t *banTable) reserve(n int) {
	t.index.Reserve(n)
	t.heap.Reserve(n)
}
