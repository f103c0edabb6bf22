package ban

import (
	"net/netip"
	"time"

	"warden/internal/store"
)

// row is a ban waiting for the database, packed without pointers: 48
// bytes, where a store.Ban is 120 and points at its jail's name, its
// address's zone and its matched lines. Rows wait in the writer's queue
// (writerSpacing, or while a transaction runs) in memory the collector
// never scans, and become store.Bans a chunk at a time as they are
// written.
type row struct {
	addr     [16]byte
	bits     uint8
	is4      bool
	jail     uint16 // index into the writer's jail names
	count    int32
	failures int32
	start    int64 // Unix seconds: the store keeps whole seconds
	banTime  time.Duration
}

// rowBatch is one batch's rows for the database. matches is nil unless a
// row has matched lines (a jail with actions keeps them); then it runs
// parallel to rows.
type rowBatch struct {
	rows    []row
	matches [][]string
}

// add packs e, whose jail is the writer's jail number idx.
func (rb *rowBatch) add(idx uint16, e *entry) {
	a := e.prefix.Addr()
	r := row{addr: a.As16(), bits: uint8(e.prefix.Bits()), is4: a.Is4(), jail: idx,
		count: e.count, failures: e.failures, start: e.begins().Unix(), banTime: e.banTime}
	if m := e.matches(); m != nil || rb.matches != nil {
		if rb.matches == nil {
			rb.matches = make([][]string, len(rb.rows), cap(rb.rows))
		}
		rb.matches = append(rb.matches, m)
	}
	rb.rows = append(rb.rows, r)
}

// ban unpacks row i; jails are the writer's jail names.
func (rb *rowBatch) ban(i int, jails []string) store.Ban {
	r := &rb.rows[i]
	a := netip.AddrFrom16(r.addr)
	if r.is4 {
		a = a.Unmap()
	}
	b := store.Ban{Jail: jails[r.jail], Prefix: netip.PrefixFrom(a, int(r.bits)), Time: time.Unix(r.start, 0),
		BanTime: r.banTime, Count: int(r.count), Failures: int(r.failures)}
	if rb.matches != nil {
		b.Matches = rb.matches[i]
	}
	return b
}
