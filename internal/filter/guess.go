package filter

// A hit deferred to the ordered stage (parallel.go: an <F-MLFID> hit,
// every sshd failure) has its failure made there, one line after the
// other, while the workers wait. Most of that work depends on the hit
// alone, though: its matched lines, the parse of its host, its Fields map.
// The worker works those out ahead (a guess), for the failure data being
// the hit's own groups; the ordered stage merges the hit into the
// multi-line cache as before and then takes each guessed part only where
// what it would have worked out from is the same:
//
//   - the lines: always (they depend on the hit alone; mergeFailure
//     decides which of them a failure lists);
//   - Host, Addr, Prefix and ID: when the host reference picked from the
//     merged data (host text, how it matched, cidr, id) equals the one
//     picked from the hit's groups, since they are a function of it;
//   - Fields: when the groups that took part, and their text, are the
//     same in the merged data and in the hit (okSame), since Fields is
//     a function of those.
//
// So the failures are the ones failureFrom makes without a guess.
type guess struct {
	g        groupSet          // the hit's groups, merged with the prefregex's
	lines    []string          // its matched lines (nil when counting)
	ref      hostRef           // the host picked from g
	addr     Failure           // addrFailure(ref), when addrOK
	addrOK   bool              //
	fields   map[string]string // the Fields a failure from g has, when fieldsOK
	fieldsOK bool              //
}

// guessFor works out, on a worker, the parts of the failure of hit h
// (groups g) that depend on the hit alone.
func (f *Filter) guessFor(h *hit, g groupSet) guess {
	gs := guess{g: g}
	mlfid := g.get("mlfid")
	if !f.opts.Counting {
		gs.lines = f.matchedLines(h, mlfid.ok)
	}
	k := g.idKeys()
	r, found := f.hostRefOf(k)
	if !found && k.fid.ok {
		r.host, r.raw, found = k.fid.s, true, true
	}
	if found && (r.exact || r.raw) {
		gs.ref, gs.addr, gs.addrOK = r, f.addrFailure(r), true
	}
	switch {
	case !f.opts.Counting:
		gs.fields, gs.fieldsOK = allFields(g), true
	case len(f.opts.CountingFields) > 0:
		gs.fields, gs.fieldsOK = f.countingFields(g), true
	}
	return gs
}

// okSame reports whether a and b have the same groups that took part,
// with the same text (the Fields a failure from either would have).
func okSame(a, b groupSet) bool {
	n := 0
	for _, e := range a {
		if !e.v.ok {
			continue
		}
		n++
		if v, ok := b.lookup(e.name); !ok || v != e.v {
			return false
		}
	}
	for _, e := range b {
		if e.v.ok {
			n--
		}
	}
	return n == 0
}
