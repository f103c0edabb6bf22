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
//   - Fields: when the map the merged data would give is the guessed one
//     (fieldsStill: the same groups took part, with the same text).
//
// So the failures are the ones failureFrom makes without a guess.
type guess struct {
	lines    []string          // the hit's matched lines (nil when counting)
	ref      hostRef           // the host picked from the hit's groups
	addr     ipAddr            // the parse of ref.host, when addrOK
	id       string            // the failure id from ref
	addrOK   bool              //
	fields   map[string]string // the Fields a failure from the hit has, when fieldsOK
	fieldsOK bool              //
}

// guessFor works out, on a worker, the parts of the failure of hit h
// (groups g, before anything changes them) that depend on the hit alone.
// room, when not nil, holds the hit's one line (newRoom). lines says the
// hit is not expected to give a failure: only its lines are worked out
// then (the cache keeps them either way), and the ordered stage works out
// the rest itself if a failure comes of it after all.
func (f *Filter) guessFor(h *hit, g groupSet, room *failRoom, lines bool) guess {
	var gs guess
	mlfid := g.get("mlfid")
	switch {
	case room != nil:
		gs.lines = room.l[:]
	case !f.opts.Counting:
		gs.lines = f.matchedLines(h, mlfid.ok)
	}
	if lines {
		return gs
	}
	k := g.idKeys()
	r, found := f.hostRefOf(k)
	if !found && k.fid.ok {
		r.host, r.raw, found = k.fid.s, true, true
	}
	if found && (r.exact || r.raw) {
		fl := f.addrFailure(r)
		gs.ref, gs.addrOK = r, true
		gs.addr, gs.id = ipAddr{addr: fl.Addr, prefix: fl.Prefix, str: fl.ID}, fl.ID
	}
	switch {
	case !f.opts.Counting:
		// the worker's map for the hit before serves again when the
		// groups are the same (the next line of the same id, mostly);
		// not with SharedLines, where its text is the earlier line's
		if m := f.lastGuess; m != nil && !f.opts.SharedLines && f.fieldsStill(g, m) {
			gs.fields = m
		} else {
			gs.fields = allFields(g)
			f.lastGuess = gs.fields
		}
		gs.fieldsOK = true
	case len(f.opts.CountingFields) > 0:
		gs.fields, gs.fieldsOK = f.countingFields(g), true
	}
	return gs
}

// failure is the guessed address part of a failure.
func (gs *guess) failure() Failure {
	return Failure{Host: gs.ref.host, Addr: gs.addr.addr, Prefix: gs.addr.prefix, ID: gs.id}
}

// fieldsStill reports whether g gives the Fields map m (allFields, or
// countingFields when counting): then the guessed map serves as it is.
func (f *Filter) fieldsStill(g groupSet, m map[string]string) bool {
	if !f.opts.Counting {
		n := 0
		for _, e := range g {
			if e.v.ok {
				n++
				if v, ok := m[e.name]; !ok || v != e.v.s {
					return false
				}
			}
		}
		return n == len(m) // (a name twice in g: never equal, so not taken)
	}
	for _, name := range f.opts.CountingFields {
		var last string
		found := false
		for _, e := range g {
			if e.v.ok && e.name == name {
				last, found = e.v.s, true // pickFields: a later entry wins
			}
		}
		if v, ok := m[name]; ok != found || v != last {
			return false
		}
	}
	return true
}
