package jail

import (
	"math"
	"net/netip"
	"strings"

	"warden/internal/jail/slots"
)

// tracker is a jail's table of failure ids. Under a flood it holds one
// record per attacker (a banned address's later failures still count, as
// in fail2ban), so a record is a fixed 48 bytes, kept in chunks of 1,024
// (growing copies nothing), without a pointer for the collector to follow: the address in 16 bytes, times as
// Unix nanoseconds. An id that is the text of the record's own address
// (nearly all of them) is found through a slots.Index on that address and
// is not kept as a string at all; other ids (F-ID values, prefixes, zoned
// addresses) sit in small maps beside, as do a zoned or foreign address and
// the evidence, which only jails with actions keep. With the index and the
// expiry heap, an id costs about 63 bytes (a map of pointers to entries
// cost 156: BenchmarkMemoryPerAddress).
type tracker struct {
	recs  [][]rec // chunks of chunkRecs: growing copies nothing
	used  int32   // records handed out so far, free ones included
	free  int32   // first free record, or -1; free records chain by hidx
	n     int
	index *slots.Index
	byStr map[string]int32     // ids that are not their address's text
	ids   map[int32]string     // the id of each record in byStr
	addrs map[int32]netip.Addr // addresses that do not fit rec.a (zoned, or not the id's)
	ev    map[int32]*evidence
	heap  slots.Heap[*tracker]
	// hot is the record last found or added by its address, and hotKey
	// that address's key (hotOK: both valid). An attacker's failures
	// come in runs (six lines of one address in a row under bench/flood),
	// so most lookups end here without hashing or touching the index.
	hot    int32
	hotKey slots.Key
	hotOK  bool
}

// rec is one id's state: fail2ban's FailTicket reduced to what the
// decision needs. The decayed retry count replaces a ring of failure
// times: fail2ban does not keep a sliding window.
type rec struct {
	first    int64    // start of the rate window, unix ns (log time)
	last     int64    // latest failure, unix ns (log time)
	retry    int32    // always a whole number (see count32)
	a        [16]byte // the address (As16) when flags has recAddr
	failures int32
	hidx     int32 // position in the expiry heap; next free record when free
	flags    recFlags
}

// count32 is a retry count as a record keeps it. fail2ban's count is a
// float, but only ever holds whole numbers here: failures add whole
// counts, the rate adjustment rounds to even, and RetryBoost is whole. A
// count beyond int32 (never reached: maxretry bans long before) saturates.
func count32(n int64) int32 { return int32(min(max(n, math.MinInt32), math.MaxInt32)) }

type recFlags uint8

const (
	recUsed    recFlags = 1 << iota
	recAddr             // a holds the address
	recAddr4            // ... an IPv4 one
	recAddrKey          // the id is the text of a's address: indexed by it
	recSide             // the address is in tracker.addrs instead
	recNoFail           // only F-NOFAIL matches so far
)

// chunkRecs is the records of one chunk (56 KiB).
const chunkRecs = 1024

// at returns record s.
func (t *tracker) at(s int32) *rec { return &t.recs[s/chunkRecs][s%chunkRecs] }

func newTracker() *tracker {
	t := &tracker{free: -1, byStr: map[string]int32{}, ids: map[int32]string{},
		addrs: map[int32]netip.Addr{}, ev: map[int32]*evidence{}}
	t.index = slots.New(func(s int32) slots.Key { return t.at(s).key() })
	t.heap = slots.NewHeap(t)
	return t
}

func addrKey(a [16]byte, is4 bool) slots.Key {
	var k slots.Key
	copy(k[:], a[:])
	if is4 {
		k[16] = 1 // ::ffff:a.b.c.d and a.b.c.d are different ids
	}
	return k
}

func (r *rec) key() slots.Key { return addrKey(r.a, r.flags&recAddr4 != 0) }

// plainAddr reports whether a fits a record's 16 bytes: valid, no zone.
func plainAddr(a netip.Addr) bool { return a.IsValid() && a.Zone() == "" }

// idAddr returns the address whose canonical text id is, if it is one.
func idAddr(id string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(id)
	if err != nil || a.Zone() != "" || !isText(id, a) {
		return netip.Addr{}, false
	}
	return a, true
}

// find returns the record of id; a is id's address when the caller knows
// that id is its canonical text (saves parsing it).
func (t *tracker) find(id string, a netip.Addr) (int32, bool) {
	if !plainAddr(a) {
		a, _ = idAddr(id)
	}
	if a.IsValid() {
		k := addrKey(a.As16(), a.Is4())
		if t.hotOK && k == t.hotKey {
			return t.hot, true
		}
		if s, ok := t.index.Get(k); ok {
			t.hot, t.hotKey, t.hotOK = s, k, true
			return s, true
		}
	}
	if len(t.byStr) == 0 {
		return 0, false
	}
	s, ok := t.byStr[id]
	return s, ok
}

// insert adds a record for id, with addr as its address; idIsAddr says id
// is addr's canonical text.
func (t *tracker) insert(id string, addr netip.Addr, idIsAddr bool) int32 {
	var s int32
	if t.free >= 0 {
		s = t.free
		t.free = t.at(s).hidx
	} else {
		if t.used%chunkRecs == 0 {
			t.recs = append(t.recs, make([]rec, chunkRecs))
		}
		s = t.used
		t.used++
	}
	r := t.at(s)
	*r = rec{}
	r.flags = recUsed
	if idIsAddr && plainAddr(addr) {
		r.a, r.flags = addr.As16(), r.flags|recAddr|recAddrKey
		if addr.Is4() {
			r.flags |= recAddr4
		}
		k := r.key()
		t.index.Put(k, s)
		t.hot, t.hotKey, t.hotOK = s, k, true
	} else {
		// A copy: id may be a slice of a longer text (a log line).
		id = strings.Clone(id)
		t.byStr[id], t.ids[s] = s, id
		t.setAddr(s, addr)
	}
	t.n++
	return s
}

// remove drops record s from the indexes, the heap and the side maps.
func (t *tracker) remove(s int32) {
	r := t.at(s)
	if s == t.hot {
		t.hotOK = false
	}
	t.heap.Remove(s)
	if r.flags&recAddrKey != 0 {
		t.index.Delete(r.key())
	} else {
		delete(t.byStr, t.ids[s])
		delete(t.ids, s)
	}
	if r.flags&recSide != 0 {
		delete(t.addrs, s)
	}
	delete(t.ev, s)
	*r = rec{hidx: t.free}
	t.free = s
	t.n--
	if t.n == 0 {
		// A flood's table is given back once it is over.
		t.recs, t.used, t.free = nil, 0, -1
		t.heap.Reset()
	}
}

// id returns record s's id.
func (t *tracker) id(s int32) string {
	if r := t.at(s); r.flags&recAddrKey != 0 {
		return fromA(*r).String()
	}
	return t.ids[s]
}

func fromA(r rec) netip.Addr {
	a := netip.AddrFrom16(r.a)
	if r.flags&recAddr4 != 0 {
		a = a.Unmap()
	}
	return a
}

// addr returns record s's address (invalid when it has none).
func (t *tracker) addr(s int32) netip.Addr {
	r := *t.at(s)
	switch {
	case r.flags&recSide != 0:
		return t.addrs[s]
	case r.flags&recAddr != 0:
		return fromA(r)
	}
	return netip.Addr{}
}

// setAddr makes a record's address a.
func (t *tracker) setAddr(s int32, a netip.Addr) {
	r := t.at(s)
	if r.flags&recAddrKey != 0 {
		// a keeps the key; an address other than the id's goes beside.
		if plainAddr(a) && a.As16() == r.a && a.Is4() == (r.flags&recAddr4 != 0) {
			r.flags &^= recSide
			delete(t.addrs, s)
		} else {
			r.flags |= recSide
			t.addrs[s] = a
		}
		return
	}
	r.flags &^= recAddr | recAddr4 | recSide
	delete(t.addrs, s)
	switch {
	case plainAddr(a):
		r.a, r.flags = a.As16(), r.flags|recAddr
		if a.Is4() {
			r.flags |= recAddr4
		}
	case a.IsValid():
		r.flags |= recSide
		t.addrs[s] = a
	}
}

// Before, SetPos and Pos order the expiry heap: oldest latest failure
// first (slots.Ordered).
func (t *tracker) Before(a, b int32) bool { return t.at(a).last < t.at(b).last }
func (t *tracker) SetPos(s, pos int32)    { t.at(s).hidx = pos }
func (t *tracker) Pos(s int32) int32      { return t.at(s).hidx }
