package nftables

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	nft "github.com/google/nftables"
	"golang.org/x/sys/unix"

	"warden/internal/firewall"
)

// chunkElements bounds the elements per netlink message: the element list
// is one nested attribute whose length field is 16 bits, and an IPv6
// element with a timeout takes about 40 bytes.
const chunkElements = 1024

// setRef names one of a jail's sets.
type setRef struct {
	jail string
	kind setKind
}

func kindOf(p netip.Prefix) setKind {
	return setKind{v6: p.Addr().Is6(), net: p.Bits() != p.Addr().BitLen()}
}

// lastAddr returns the highest address inside p.
func lastAddr(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr()
	raw := a.AsSlice()
	for i := p.Bits(); i < len(raw)*8; i++ {
		raw[i/8] |= 0x80 >> (i % 8)
	}
	last, _ := netip.AddrFromSlice(raw)
	return last
}

// timeoutFor converts an expiry into the remaining time for the kernel,
// rounded up to whole milliseconds. ok is false when the ban has expired.
func timeoutFor(expires, now time.Time) (d time.Duration, ok bool) {
	if expires.IsZero() {
		return 0, true
	}
	left := expires.Sub(now)
	if left <= 0 {
		return 0, false
	}
	return (left + time.Millisecond - 1).Truncate(time.Millisecond), true
}

// elementsFor encodes a prefix: a host is one element; a network is a start
// element and an interval-end element one past its last address (omitted
// when the network reaches the top of the address space).
func elementsFor(p netip.Prefix, timeout time.Duration) []nft.SetElement {
	start := nft.SetElement{Key: p.Addr().AsSlice(), Timeout: timeout}
	if !kindOf(p).net {
		return []nft.SetElement{start}
	}
	end := lastAddr(p).Next()
	if !end.IsValid() {
		return []nft.SetElement{start}
	}
	return []nft.SetElement{start, {Key: end.AsSlice(), IntervalEnd: true}}
}

// group validates bans against the installed jails and sorts them by set.
// The caller holds b.mu.
func (b *Backend) group(bans []firewall.Ban) (map[setRef][]firewall.Ban, error) {
	return groupIn(b.jails, bans)
}

// groupIn is group against jails, a map Setup installed (Setup replaces
// b.jails and never changes one in place, so it may be read without b.mu).
func groupIn(jails map[string]firewall.JailSpec, bans []firewall.Ban) (map[setRef][]firewall.Ban, error) {
	norm, err := firewall.NormalizeBans(bans)
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	// Batches are usually long runs for one set: count runs, so the map
	// is touched once a run, then share one array cut to each set's count
	// (growing a list by append copied a 100,000-ban list about five
	// times over).
	counts := map[setRef]int{}
	var cur setRef
	run, runs := 0, 0
	for i, ban := range norm {
		if i == 0 || ban.Jail != cur.jail {
			if _, ok := jails[ban.Jail]; !ok {
				return nil, fmt.Errorf("nftables: ban %s: %w %q", ban.Prefix, firewall.ErrUnknownJail, ban.Jail)
			}
		}
		if r := (setRef{ban.Jail, kindOf(ban.Prefix)}); i == 0 || r != cur {
			if i > 0 {
				counts[cur] += run
			}
			cur, run = r, 0
			runs++
		}
		run++
	}
	if run > 0 {
		counts[cur] += run
	}
	out := make(map[setRef][]firewall.Ban, len(counts))
	if len(norm) == 0 {
		return out, nil
	}
	if runs == len(counts) {
		// One run a set (all of a batch in one set, or a wanted list in
		// set order): each set's list is a piece of norm, which may be
		// the caller's array (see firewall.NormalizeBans), so no list is
		// changed in place.
		at := 0
		for at < len(norm) {
			r := setRef{norm[at].Jail, kindOf(norm[at].Prefix)}
			n := counts[r]
			out[r] = norm[at : at+n : at+n]
			at += n
		}
		return out, nil
	}
	all := make([]firewall.Ban, len(norm))
	at := 0
	for r, n := range counts {
		out[r] = all[at : at : at+n]
		at += n
	}
	var list []firewall.Ban
	for i, ban := range norm {
		if r := (setRef{ban.Jail, kindOf(ban.Prefix)}); i == 0 || r != cur {
			if i > 0 {
				out[cur] = list
			}
			cur, list = r, out[r]
		}
		list = append(list, ban)
	}
	out[cur] = list
	return out, nil
}

// Ban implements firewall.Backend. Jails must have been installed by Setup
// on this Backend (ErrUnknownJail otherwise). Each element carries its
// remaining time as a kernel timeout, so a ban lapses even if warden dies;
// bans that have already expired are skipped. Re-banning an element
// updates its timeout (kernel 6.18 was tested; older kernels may keep the
// first one). Networks must not overlap other networks of the same jail
// (ErrOverlap); hosts inside a banned network are fine.
func (b *Backend) Ban(ctx context.Context, bans []firewall.Ban) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	groups, err := b.group(bans)
	if err != nil {
		return err
	}
	for ref, list := range groups {
		if ref.kind.net {
			if err := b.checkOverlap(ref, list); err != nil {
				return err
			}
		}
	}
	now := time.Now()
	var e elemBatch
	b.beginElems(&e, unix.NFT_MSG_NEWSETELEM)
	for ref, list := range groups {
		e.forSet(b.table.Name, setName(ref.jail, ref.kind))
		for _, ban := range list {
			timeout, ok := timeoutFor(ban.Expires, now)
			if !ok {
				continue
			}
			e.add(ban.Prefix, timeout)
		}
	}
	if e.elems == 0 {
		return nil
	}
	prepared := time.Now()
	if err := b.commitElems(&e); err != nil {
		return fmt.Errorf("nftables: ban: %w", err)
	}
	b.note(groups)
	b.log.Debug("ban batch committed", "elements", e.elems,
		"validate", now.Sub(start), "prepare", prepared.Sub(now), "commit", time.Since(prepared))
	return nil
}

// queue adds elems to the batch in chunks that fit a netlink message; an
// interval's start and end stay in the same chunk.
func (b *Backend) queue(s *nft.Set, elems []nft.SetElement, op func(*nft.Set, []nft.SetElement) error) (int, error) {
	total := len(elems)
	for len(elems) > 0 {
		n := min(chunkElements, len(elems))
		if n < len(elems) && elems[n].IntervalEnd {
			n++
		}
		if err := op(s, elems[:n]); err != nil {
			return 0, fmt.Errorf("set %s: %w", s.Name, err)
		}
		elems = elems[n:]
	}
	return total, nil
}

// checkOverlap rejects networks that overlap each other or a different
// network already in the set; re-banning an identical network is fine.
func (b *Backend) checkOverlap(ref setRef, list []firewall.Ban) error {
	existing, err := b.readSet(setName(ref.jail, ref.kind))
	if err != nil {
		return err
	}
	all := make([]netip.Prefix, 0, len(existing)+len(list))
	for _, e := range existing {
		all = append(all, e.Prefix)
	}
	for _, ban := range list {
		for _, other := range all {
			if other != ban.Prefix && other.Overlaps(ban.Prefix) {
				return fmt.Errorf("nftables: ban %s in jail %q: %w with %s", ban.Prefix, ref.jail, firewall.ErrOverlap, other)
			}
		}
		all = append(all, ban.Prefix)
	}
	return nil
}

// Unban implements firewall.Backend. Deleting an element that is not in
// its set fails the whole kernel transaction, so on ENOENT the sets are read
// back and the batch is retried with only the elements present.
func (b *Backend) Unban(ctx context.Context, bans []firewall.Ban) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	groups, err := b.group(bans)
	if err != nil {
		return err
	}
	err = b.deleteGroups(groups)
	if err == nil {
		b.note(groups)
	}
	if !errors.Is(err, unix.ENOENT) {
		return err
	}
	// Whether deleted now or found absent, none of these is banned after
	// a successful retry.
	var keys []firewall.BanKey
	for _, list := range groups {
		for _, ban := range list {
			keys = append(keys, firewall.BanKey{Jail: ban.Jail, Prefix: ban.Prefix})
		}
	}
	for ref, list := range groups {
		present, err := b.readSet(setName(ref.jail, ref.kind))
		if err != nil {
			return err
		}
		in := make(map[netip.Prefix]bool, len(present))
		for _, p := range present {
			in[p.Prefix] = true
		}
		// A new list: list may share the caller's array.
		groups[ref] = keepOnly(list, func(ban firewall.Ban) bool { return in[ban.Prefix] })
	}
	if err := b.deleteGroups(groups); err != nil {
		return err
	}
	for _, k := range keys {
		b.changes.Note(k)
	}
	return nil
}

// keepOnly returns the bans of list that keep reports true for: list
// itself when that is all of them, else a new slice, so that list (which
// may share a caller's array) is never changed.
func keepOnly(list []firewall.Ban, keep func(firewall.Ban) bool) []firewall.Ban {
	i := slices.IndexFunc(list, func(ban firewall.Ban) bool { return !keep(ban) })
	if i < 0 {
		return list
	}
	out := make([]firewall.Ban, i, len(list)-1)
	copy(out, list[:i])
	for _, ban := range list[i+1:] {
		if keep(ban) {
			out = append(out, ban)
		}
	}
	return out
}

// note records committed changes for a heal reading meanwhile. The caller
// holds b.mu.
func (b *Backend) note(groups map[setRef][]firewall.Ban) {
	for _, list := range groups {
		for _, ban := range list {
			b.changes.Note(firewall.BanKey{Jail: ban.Jail, Prefix: ban.Prefix})
		}
	}
}

func (b *Backend) deleteGroups(groups map[setRef][]firewall.Ban) error {
	var e elemBatch
	b.beginElems(&e, unix.NFT_MSG_DELSETELEM)
	for ref, list := range groups {
		e.forSet(b.table.Name, setName(ref.jail, ref.kind))
		for _, ban := range list {
			e.add(ban.Prefix, 0)
		}
	}
	if e.elems == 0 {
		return nil
	}
	if err := b.commitElems(&e); err != nil {
		return fmt.Errorf("nftables: unban: %w", err)
	}
	return nil
}

// List implements firewall.Backend: it reads every set of the table.
func (b *Backend) List(ctx context.Context) ([]firewall.Ban, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	exists, err := b.tableExists()
	if err != nil || !exists {
		return nil, err
	}
	sets, err := b.ourSets()
	if err != nil {
		return nil, err
	}
	var out []firewall.Ban
	for name := range sets {
		if _, _, ok := parseSetName(name); !ok {
			continue
		}
		bans, err := b.readSet(name)
		if err != nil {
			return nil, err
		}
		out = append(out, bans...)
	}
	slices.SortFunc(out, func(x, y firewall.Ban) int {
		if x.Jail != y.Jail {
			if x.Jail < y.Jail {
				return -1
			}
			return 1
		}
		return firewall.ComparePrefix(x.Prefix, y.Prefix)
	})
	return out, nil
}

// readSet returns the bans held in our set name, read on b.raw; a missing
// set holds none. The caller holds b.mu.
func (b *Backend) readSet(name string) ([]firewall.Ban, error) {
	jail, kind, ok := parseSetName(name)
	if !ok {
		return nil, fmt.Errorf("nftables: set %q is not one of ours", name)
	}
	c, err := b.rawConn()
	if err != nil {
		return nil, err
	}
	var elems []setElem
	if _, err := b.dumpSet(c, name, func(e setElem) { elems = append(elems, e) }); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		b.dropRaw() // answers may be left unread on it
		return nil, fmt.Errorf("nftables: read set %s: %w", name, err)
	}
	now := time.Now()
	expiry := func(e setElem) time.Time {
		if e.left == 0 {
			return time.Time{}
		}
		return now.Add(e.left)
	}
	out := make([]firewall.Ban, 0, len(elems))
	if !kind.net {
		for _, e := range elems {
			if !e.end {
				out = append(out, firewall.Ban{Jail: jail, Prefix: netip.PrefixFrom(e.key, e.key.BitLen()), Expires: expiry(e)})
			}
		}
		return out, nil
	}
	netPrefixes(elems, func(p netip.Prefix, e setElem) {
		out = append(out, firewall.Ban{Jail: jail, Prefix: p, Expires: expiry(e)})
	})
	return out, nil
}

// netPrefixes calls fn with the prefixes an interval set's elements cover
// and the start element each came from. It sorts elems.
func netPrefixes(elems []setElem, fn func(netip.Prefix, setElem)) {
	// By address, an end before a start at the same address: an interval
	// may end where the next one starts.
	slices.SortFunc(elems, func(x, y setElem) int {
		if c := x.key.Compare(y.key); c != 0 {
			return c
		}
		switch {
		case x.end == y.end:
			return 0
		case x.end:
			return -1
		}
		return 1
	})
	for i, e := range elems {
		if e.end {
			continue
		}
		last := lastAddr(netip.PrefixFrom(e.key, 0))
		if i+1 < len(elems) && elems[i+1].end && elems[i+1].key.BitLen() == e.key.BitLen() {
			last = elems[i+1].key.Prev()
		}
		for _, p := range rangePrefixes(e.key, last) {
			fn(p, e)
		}
	}
}

// rangePrefixes covers [first, last] with the fewest prefixes. Ranges we
// wrote are single prefixes; this also copes with ranges added by hand.
func rangePrefixes(first, last netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for first.IsValid() && first.Compare(last) <= 0 {
		bits := first.BitLen()
		for bits > 0 {
			wider := netip.PrefixFrom(first, bits-1)
			if wider.Masked().Addr() != first || lastAddr(wider).Compare(last) > 0 {
				break
			}
			bits--
		}
		p := netip.PrefixFrom(first, bits)
		out = append(out, p)
		first = lastAddr(p).Next()
	}
	return out
}
