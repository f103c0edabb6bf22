package nftables

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	nft "github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"warden/internal/firewall"
)

// drift is what Check found missing, in the order Heal puts it back.
type drift struct {
	table  bool
	chains []string // chains to create
	sets   []setRef // sets to create
	rules  []setRef // rules missing; counted, but see rebuild
	// rebuild lists chains whose rules are all flushed and re-added so that
	// a missing rule comes back in its original place.
	rebuild []string
	bans    map[setRef][]firewall.Ban
}

// Repair implements firewall.Drift.
func (d *drift) Repair() firewall.Repair {
	r := firewall.Repair{Objects: len(d.chains) + len(d.sets) + len(d.rules)}
	if d.table {
		r.Objects++
	}
	for _, list := range d.bans {
		r.Bans += len(list)
	}
	return r
}

// Check implements firewall.Healer.
func (b *Backend) Check(ctx context.Context, want []firewall.Ban) (firewall.Repair, error) {
	return firewall.ReconcileRead(ctx, &b.mu, func() (*readBack, error) { return b.readBack(want) },
		func(r *readBack) (*drift, error) { return b.diff(want, r) }, nil)
}

// Heal implements firewall.Healer: whatever Check reports missing is queued
// and committed in one transaction. The sets are read back on a socket of
// their own without the batch lock (reading 100,000 elements takes about a
// quarter of a second, and a Ban must not wait for it); the lock is taken
// only to check the table, chains and rules, correct the read for our own
// commits since (see firewall.ChangeLog), confirm what a read interrupted
// by commits lacks (see confirm) and mend.
func (b *Backend) Heal(ctx context.Context, want []firewall.Ban) (firewall.Repair, error) {
	return firewall.ReconcileRead(ctx, &b.mu, func() (*readBack, error) { return b.readBack(want) },
		func(r *readBack) (*drift, error) { return b.diff(want, r) }, b.mend)
}

// mend puts back what d lacks in one transaction. The caller holds b.mu.
func (b *Backend) mend(d *drift) error {
	rep := d.Repair()
	if rep == (firewall.Repair{}) {
		return nil
	}
	if d.table {
		b.conn.AddTable(b.table)
	}
	for _, c := range d.chains {
		b.conn.AddChain(b.chain(c))
	}
	for _, ref := range d.sets {
		if err := b.conn.AddSet(b.newSet(ref.jail, ref.kind), nil); err != nil {
			return b.abort("heal", err)
		}
	}
	for _, c := range d.rebuild {
		b.conn.FlushChain(b.chain(c))
		for _, name := range b.order {
			if j := b.jails[name]; j.Chain == c {
				for _, k := range allKinds {
					if err := b.addRule(j, k); err != nil {
						return b.abort("heal", err)
					}
				}
			}
		}
	}
	now := time.Now()
	for ref, list := range d.bans {
		elems := make([]nft.SetElement, 0, len(list))
		for _, ban := range list {
			timeout, _ := timeoutFor(ban.Expires, now)
			elems = append(elems, elementsFor(ban.Prefix, timeout)...)
		}
		if _, err := b.queue(b.newSet(ref.jail, ref.kind), elems, b.conn.SetAddElements); err != nil {
			return b.abort("heal", err)
		}
	}
	if err := b.flush("heal"); err != nil {
		return err
	}
	b.log.Info("healed firewall", "objects", rep.Objects, "bans", rep.Bans)
	return nil
}

// readBack is what a heal read from the sets without the batch lock.
type readBack struct {
	mark   firewall.Mark
	groups map[setRef][]firewall.Ban // wanted and live, by set
	// missing holds, for each set that existed when read, the wanted bans
	// it lacked; a set with wanted bans and no entry was not there. What
	// a read lacks is confirmed under the lock before it is mended (see
	// confirm): a dump can skip elements whether or not it saw a commit.
	missing map[setRef][]firewall.Ban
}

// liveGroups sorts want by the sets of jails, dropping bans that have
// expired. The lists may share want's array (see groupIn); neither is
// changed.
func liveGroups(jails map[string]firewall.JailSpec, want []firewall.Ban) (map[setRef][]firewall.Ban, error) {
	groups, err := groupIn(jails, want)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	for ref, list := range groups {
		groups[ref] = keepOnly(list, func(ban firewall.Ban) bool {
			_, live := timeoutFor(ban.Expires, now)
			return live
		})
	}
	return groups, nil
}

// readBack reads the sets want needs on a socket of its own, holding b.mu
// only to take the installed jails and open a read in b.changes. A nil
// result with no error means nothing is installed yet.
func (b *Backend) readBack(want []firewall.Ban) (*readBack, error) {
	b.mu.Lock()
	jails, installed := b.jails, len(b.order) > 0
	r := &readBack{mark: b.changes.Begin(), missing: map[setRef][]firewall.Ban{}}
	hooks := b.hooks
	b.mu.Unlock()
	groups, err := liveGroups(jails, want)
	if err != nil || !installed {
		b.mu.Lock()
		b.changes.End(r.mark)
		b.mu.Unlock()
		return nil, err
	}
	r.groups = groups
	if hooks.readStart != nil {
		hooks.readStart()
	}
	if err := b.readMissing(r, hooks.readElem); err != nil {
		b.mu.Lock()
		b.changes.End(r.mark)
		b.mu.Unlock()
		return nil, err
	}
	if hooks.readDone != nil {
		hooks.readDone()
	}
	return r, nil
}

// readMissing fills r.missing on fresh sockets; b.conn and b.raw belong
// to b.mu.
func (b *Backend) readMissing(r *readBack, tick func()) error {
	conn, err := b.dial()
	if err != nil {
		return err
	}
	defer conn.CloseLasting()
	if _, err := conn.ListTableOfFamily(b.table.Name, b.table.Family); errors.Is(err, unix.ENOENT) {
		return nil // no table: every set is missing
	} else if err != nil {
		return fmt.Errorf("nftables: list table: %w", err)
	}
	sets, err := conn.GetSets(b.table)
	if err != nil {
		return fmt.Errorf("nftables: list sets: %w", err)
	}
	have := map[string]bool{}
	for _, s := range sets {
		if !s.Anonymous {
			have[s.Name] = true
		}
	}
	raw, err := b.dialRaw()
	if err != nil {
		return err
	}
	defer raw.Close()
	for ref, list := range r.groups {
		if !have[setName(ref.jail, ref.kind)] || len(list) == 0 {
			continue
		}
		missing, err := b.lackingIn(raw, ref, list, tick)
		if err != nil {
			return err
		}
		r.missing[ref] = missing
	}
	return nil
}

// lackingIn dumps the set ref over c and returns the bans of list it
// lacks, comparing each element as it is decoded. A set that is gone
// lacks them all. tick, if not nil, is called after each element (tests).
func (b *Backend) lackingIn(c *netlink.Conn, ref setRef, list []firewall.Ban, tick func()) ([]firewall.Ban, error) {
	t := newTally(list)
	var nets []setElem // interval sets are paired up once read
	name := setName(ref.jail, ref.kind)
	_, err := b.dumpSet(c, name, func(e setElem) {
		switch {
		case ref.kind.net:
			nets = append(nets, e)
		case !e.end:
			t.mark(netip.PrefixFrom(e.key, e.key.BitLen()))
		}
		if tick != nil {
			tick()
		}
	})
	if errors.Is(err, unix.ENOENT) {
		return list, nil
	}
	if err != nil {
		return nil, fmt.Errorf("nftables: read set %s: %w", name, err)
	}
	netPrefixes(nets, func(p netip.Prefix, _ setElem) { t.mark(p) })
	return t.missing(), nil
}

// tally marks which of a set's wanted bans a read of the set shows.
type tally struct {
	list []firewall.Ban
	idx  []int32 // positions in list, by prefix
	seen []bool  // by position in list
}

func newTally(list []firewall.Ban) *tally {
	idx := make([]int32, len(list))
	for i := range idx {
		idx[i] = int32(i)
	}
	slices.SortFunc(idx, func(x, y int32) int { return firewall.ComparePrefix(list[x].Prefix, list[y].Prefix) })
	return &tally{list: list, idx: idx, seen: make([]bool, len(list))}
}

// mark notes that p is in the set.
func (t *tally) mark(p netip.Prefix) {
	i, ok := slices.BinarySearchFunc(t.idx, p, func(x int32, p netip.Prefix) int {
		return firewall.ComparePrefix(t.list[x].Prefix, p)
	})
	if ok {
		t.seen[t.idx[i]] = true
	}
}

// missing returns the bans not marked, in list's order.
func (t *tally) missing() []firewall.Ban {
	var out []firewall.Ban
	for i, ban := range t.list {
		if !t.seen[i] {
			out = append(out, ban)
		}
	}
	return out
}

// confirm checks, under b.mu, the bans a read of the set ref found
// missing of those it should hold. A read can lack elements that are
// there: a dump is several netlink messages, and the kernel resumes each
// by skipping as many elements as it sent before, so a rehash of the set
// between two messages skips some and repeats others. A commit during the
// dump is one cause (dumpSet reports it unsettled); the kernel's deferred
// growth of a hash table after a large batch is another, and it changes no
// generation and is not held off by b.mu: a settled dump right after
// 100,000 bans read 100,000 elements of which 97,355 were distinct, and
// without this check TestHealSettledReadSkips' heal put back 7,502 and
// 17,685 bans that were there. So in a set of hosts each is looked up,
// which no rehash disturbs (about 6 us a lookup; 2,750 took 15 ms in
// TestHealUnsettledRead; all 100,000 of a flushed set would take about
// 0.55 s, against a dump's 0.25 s, but a dump could skip again). A set of
// networks is an interval tree, not a hash table: it is read again (our
// own commits cannot land meanwhile). It returns those really missing.
func (b *Backend) confirm(ref setRef, missing []firewall.Ban) ([]firewall.Ban, error) {
	start := time.Now()
	c, err := b.rawConn()
	if err != nil {
		return nil, err
	}
	var out []firewall.Ban
	if ref.kind.net {
		out, err = b.lackingIn(c, ref, missing, nil)
	} else {
		addrs := make([]netip.Addr, len(missing))
		for i, ban := range missing {
			addrs[i] = ban.Prefix.Addr()
		}
		var present []bool
		if present, err = b.probeHosts(c, setName(ref.jail, ref.kind), addrs); err == nil {
			for i, ban := range missing {
				if !present[i] {
					out = append(out, ban)
				}
			}
		}
	}
	if err != nil {
		b.dropRaw()
		return nil, fmt.Errorf("nftables: confirm set %s: %w", setName(ref.jail, ref.kind), err)
	}
	if b.hooks.confirmed != nil {
		b.hooks.confirmed(len(missing), len(out))
	}
	b.log.Debug("heal confirmed what a read lacked", "set", setName(ref.jail, ref.kind), "checked", len(missing), "missing", len(out), "took", time.Since(start))
	return out, nil
}

// diff compares the kernel with the installed jails and want. The caller
// holds b.mu. With r (the sets read without the lock) it trusts r for the
// elements, except those our own Ban and Unban changed since r was read:
// a ban committed since is there, a ban removed since is no longer wanted,
// so neither is mended. Without r, or when a Setup ran since, it reads the
// sets itself.
func (b *Backend) diff(want []firewall.Ban, r *readBack) (*drift, error) {
	var changes firewall.Changes
	if r != nil {
		changes = b.changes.End(r.mark)
		if changes.Reset {
			r = nil
		}
	}
	var groups map[setRef][]firewall.Ban
	if r != nil {
		groups = r.groups
	} else {
		var err error
		if groups, err = liveGroups(b.jails, want); err != nil {
			return nil, err
		}
	}
	d := &drift{bans: map[setRef][]firewall.Ban{}}
	names := b.order // recreate in Setup order, so the ruleset reads the same
	if len(names) == 0 {
		return d, nil // nothing installed yet: nothing to heal
	}
	unchanged := func(list []firewall.Ban) []firewall.Ban {
		if changes.Len() == 0 {
			return list
		}
		var out []firewall.Ban
		for _, ban := range list {
			if !changes.Touched(firewall.BanKey{Jail: ban.Jail, Prefix: ban.Prefix}) {
				out = append(out, ban)
			}
		}
		return out
	}
	exists, err := b.tableExists()
	if err != nil {
		return nil, err
	}
	if !exists {
		d.table = true
		d.chains = b.neededChains(names)
		d.rebuild = d.chains
		for _, name := range names {
			for _, k := range allKinds {
				d.sets = append(d.sets, setRef{name, k})
				d.rules = append(d.rules, setRef{name, k})
			}
		}
		for ref, list := range groups {
			if list = unchanged(list); len(list) > 0 {
				d.bans[ref] = list
			}
		}
		return d, nil
	}

	chains, err := b.ourChains()
	if err != nil {
		return nil, err
	}
	ruled := map[string]bool{} // set names some rule looks up
	for _, c := range b.neededChains(names) {
		have, ok := chains[c]
		if !ok {
			d.chains = append(d.chains, c)
			continue
		}
		have.Table = b.table
		rules, err := b.conn.GetRules(b.table, have)
		if err != nil {
			return nil, fmt.Errorf("nftables: list rules of %s: %w", c, err)
		}
		for _, r := range rules {
			if s := ruleSet(r); s != "" {
				ruled[s] = true
			}
		}
	}
	sets, err := b.ourSets()
	if err != nil {
		return nil, err
	}
	for _, name := range names {
		for _, k := range allKinds {
			ref := setRef{name, k}
			if !ruled[setName(name, k)] {
				d.rules = append(d.rules, ref)
				if c := b.jails[name].Chain; !slices.Contains(d.rebuild, c) {
					d.rebuild = append(d.rebuild, c)
				}
			}
			_, ok := sets[setName(name, k)]
			if !ok {
				d.sets = append(d.sets, ref)
				if list := unchanged(groups[ref]); len(list) > 0 {
					d.bans[ref] = list
				}
				continue
			}
			if len(groups[ref]) == 0 {
				continue
			}
			missing, read := []firewall.Ban(nil), false
			if r != nil {
				missing, read = r.missing[ref]
			}
			if !read {
				// Not read without the lock (no r, or the set appeared
				// since): read it now; what it lacks is confirmed too,
				// as a rehash can still skip elements.
				c, err := b.rawConn()
				if err != nil {
					return nil, err
				}
				if missing, err = b.lackingIn(c, ref, groups[ref], nil); err != nil {
					b.dropRaw()
					return nil, err
				}
			}
			list := unchanged(missing)
			// confirm reads a set of networks again; one just read
			// under the lock needs no second read
			if len(list) > 0 && (read || !ref.kind.net) {
				if list, err = b.confirm(ref, list); err != nil {
					return nil, err
				}
			}
			if len(list) > 0 {
				d.bans[ref] = list
			}
		}
	}
	return d, nil
}

// neededChains lists the chains the named jails hook into, in fixed order.
func (b *Backend) neededChains(names []string) []string {
	var out []string
	for _, c := range []string{firewall.ChainInput, firewall.ChainForward} {
		for _, n := range names {
			if b.jails[n].Chain == c {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// Generation reads the kernel's nftables ruleset generation: a counter
// that every committed transaction, ours or anyone's, moves on. A caller
// that saw the same generation at its last complete Heal knows the
// ruleset has not been touched since, and can spare the round (reading
// 100,000 elements back costs about a quarter of a CPU-second). It uses a socket of its
// own and does not wait for the backend's lock; a caller that reads often
// keeps a GenerationReader instead.
func (b *Backend) Generation() (uint32, error) {
	r := b.NewGenerationReader()
	defer r.Close()
	return r.Generation()
}

// GenerationReader reads the ruleset generation (see Backend.Generation)
// on one netlink socket, opened at the first read and again after Close or
// an error. It is not safe for concurrent use.
type GenerationReader struct {
	netns int
	c     *netlink.Conn
}

// NewGenerationReader returns a reader for b's network namespace.
func (b *Backend) NewGenerationReader() *GenerationReader {
	return &GenerationReader{netns: b.netns}
}

// Close releases the socket; a later Generation opens another.
func (r *GenerationReader) Close() error {
	if r.c == nil {
		return nil
	}
	err := r.c.Close()
	r.c = nil
	return err
}

// Generation reads the current generation.
func (r *GenerationReader) Generation() (uint32, error) {
	g, err := r.read()
	if err != nil {
		_ = r.Close()
		return 0, fmt.Errorf("nftables: generation: %w", err)
	}
	return g, nil
}

func (r *GenerationReader) read() (uint32, error) {
	if r.c == nil {
		c, err := netlink.Dial(unix.NETLINK_NETFILTER, &netlink.Config{NetNS: r.netns})
		if err != nil {
			return 0, err
		}
		r.c = c
	}
	msgs, err := r.c.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8 | unix.NFT_MSG_GETGEN),
			Flags: netlink.Request,
		},
		Data: []byte{unix.AF_UNSPEC, unix.NFNETLINK_V0, 0, 0}, // nfgenmsg
	})
	if err != nil {
		return 0, err
	}
	for _, m := range msgs {
		if m.Header.Type != netlink.HeaderType(unix.NFNL_SUBSYS_NFTABLES<<8|unix.NFT_MSG_NEWGEN) || len(m.Data) < 4 {
			continue
		}
		ad, err := netlink.NewAttributeDecoder(m.Data[4:])
		if err != nil {
			return 0, err
		}
		ad.ByteOrder = binary.BigEndian
		for ad.Next() {
			if ad.Type() == unix.NFTA_GEN_ID {
				return ad.Uint32(), nil
			}
		}
		if err := ad.Err(); err != nil {
			return 0, err
		}
	}
	return 0, errors.New("no NFTA_GEN_ID in the kernel's answer")
}
