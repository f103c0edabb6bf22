package filter

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// gval is a group value; ok is false for Python's None (group did not
// take part in the match).
type gval struct {
	s  string
	ok bool
}

func (v gval) truthy() bool { return v.ok && v.s != "" }

// gentry is one named value of a group set.
type gentry struct {
	name string
	v    gval
}

// groupSet maps group names to values like fail2ban's dict of groups; a
// small slice searched linearly is cheaper than a map for the handful of
// groups a regex has.
type groupSet []gentry

func (g groupSet) lookup(name string) (gval, bool) {
	for _, e := range g {
		if e.name == name {
			return e.v, true
		}
	}
	return gval{}, false
}

func (g groupSet) get(name string) gval { v, _ := g.lookup(name); return v }

func (g *groupSet) set(name string, v gval) {
	for i := range *g {
		if (*g)[i].name == name {
			(*g)[i].v = v
			return
		}
	}
	*g = append(*g, gentry{name, v})
}

// del removes name and reports its value and whether it was there.
func (g *groupSet) del(name string) (gval, bool) {
	for i, e := range *g {
		if e.name == name {
			*g = append((*g)[:i], (*g)[i+1:]...)
			return e.v, true
		}
	}
	return gval{}, false
}

// mergeGroups is pre with h's groups set over it (an entry of h replaces
// one of the same name), in dst's storage. When h's pattern names each
// group once, an entry of h can only meet one of pre's, which is all that
// is searched; else each is set in turn.
func mergeGroups(dst, pre groupSet, h *hit) groupSet {
	g := append(dst[:0], pre...)
	if !h.p.uniqueNames {
		for _, e := range h.groups {
			g.set(e.name, e.v)
		}
		return g
	}
	np := len(g)
next:
	for _, e := range h.groups {
		for i := range np {
			if g[i].name == e.name {
				g[i].v = e.v
				continue next
			}
		}
		g = append(g, e)
	}
	return g
}

// idKeys are the groups failureFrom reads to make failures.
type idKeys struct{ fid, cidr, ip4, ip6, dns, nofail gval }

// idKeys looks up the groups of idKeys in one pass over g; like get, it
// takes a name's first entry.
func (g groupSet) idKeys() (k idKeys) {
	var seen uint8
	take := func(bit uint8, dst *gval, v gval) {
		if seen&bit == 0 {
			seen |= bit
			*dst = v
		}
	}
	for i := range g {
		e := &g[i]
		switch e.name {
		case "fid":
			take(1, &k.fid, e.v)
		case "cidr":
			take(2, &k.cidr, e.v)
		case "ip4":
			take(4, &k.ip4, e.v)
		case "ip6":
			take(8, &k.ip6, e.v)
		case "dns":
			take(16, &k.dns, e.v)
		case "nofail":
			take(32, &k.nofail, e.v)
		}
	}
	return k
}

// failData is fail2ban's per-failure dict: the regex groups plus the
// bookkeeping keys it stores next to them.
type failData struct {
	g             groupSet
	matches       []string
	nofailMatches []string
	users         []string
	hasUsers      bool
	pending       bool
	// fields is the Fields map last made from g for a multi-line id's
	// failure, handed out again while g stays the same (nil once
	// mergeFailure changes g); see Failure.Fields
	fields map[string]string
}

func (d *failData) get(k string) gval { return d.g.get(k) }

// hit is one successful regex search.
type hit struct {
	p                  *pattern
	groups             groupSet
	matched, unmatched []tupleLine
}

// fillBuf joins the lines (without their date text) with "\n" and a final
// "\n", like fail2ban's buffer, into *dst.
func fillBuf(dst *[]byte, lines []tupleLine) []byte {
	b := (*dst)[:0]
	for i, l := range lines {
		if i > 0 {
			b = append(b, '\n')
		}
		b = append(b, l.pre...)
		b = append(b, l.post...)
	}
	b = append(b, '\n')
	*dst = b
	return b
}

// isASCII reports whether b holds no byte ≥ 0x80, eight bytes at a time.
func isASCII(b []byte) bool {
	var or uint64
	for len(b) >= 8 {
		or |= binary.LittleEndian.Uint64(b)
		b = b[8:]
	}
	for _, c := range b {
		or |= uint64(c)
	}
	return or&0x8080808080808080 == 0
}

// search runs p over buf and works out which of org's lines the match
// covers, as fail2ban's Regex.search does. src are the lines buf was
// filled from (org, or what replaced them); the groups' text is taken
// from them where it can be, else copied out of buf. The groups are
// appended to dst[:0] (nil: a new slice); a caller passing scratch space
// must be done with the groups before it passes the same space again.
func (f *Filter) search(p *pattern, buf []byte, ascii bool, org, src []tupleLine, dst groupSet) (hit, bool) {
	loc, err := p.find(buf, ascii, f.found)
	if err != nil {
		f.timeouts++
		return hit{}, false
	}
	if loc == nil {
		return hit{}, false
	}
	if n := len(p.index) + len(p.alts) + 2; cap(dst) < n {
		dst = make(groupSet, 0, n)
	}
	h := hit{p: p, groups: dst[:0]}
	lo, hi := -1, -1 // one string for all groups
	for i, n := range p.names {
		if n != "" && loc[2*i] >= 0 {
			if lo < 0 || loc[2*i] < lo {
				lo = loc[2*i]
			}
			hi = max(hi, loc[2*i+1])
		}
	}
	var text string
	if lo >= 0 {
		text = groupText(buf, lo, hi, src)
	}
	for i, n := range p.names {
		if n == "" {
			continue
		}
		if loc[2*i] >= 0 {
			h.groups = append(h.groups, gentry{n, gval{text[loc[2*i]-lo : loc[2*i+1]-lo], true}})
		} else {
			h.groups = append(h.groups, gentry{n, gval{}})
		}
	}
	for _, a := range p.alts {
		if v := h.groups.get(a[0]); v.truthy() && !h.groups.get(a[1]).truthy() {
			h.groups.set(a[1], v)
		}
	}
	if len(org) <= 1 {
		h.matched = org
		return h, true
	}
	s := string(buf)
	start, end := loc[0], loc[1]
	lineStart := strings.LastIndexByte(s[:min(start+1, len(s))], '\n') + 1
	from := end - 1
	if from < 0 {
		from += len(s)
	}
	lineEnd := len(s)
	if k := strings.IndexByte(s[from:], '\n'); k >= 0 {
		lineEnd = from + k + 1
	}
	lc1 := min(strings.Count(s[:lineStart], "\n"), len(org))
	lc2 := min(strings.Count(s[:lineEnd], "\n"), len(org))
	if lc2 < lc1 {
		lc2 = lc1
	}
	h.matched = append([]tupleLine(nil), org[lc1:lc2]...)
	h.unmatched = append([]tupleLine(nil), org[:lc1]...)
	n := 0
	for _, skipped := range h.skippedLines(buf, loc) {
		for m, l := range h.matched[n:] {
			if l.pre+l.post == skipped {
				h.unmatched = append(h.unmatched, l)
				h.matched = append(h.matched[:n+m], h.matched[n+m+1:]...)
				n += m
				break
			}
		}
	}
	h.unmatched = append(h.unmatched, org[lc2:]...)
	return h, true
}

// groupText is buf[lo:hi] as a string: a part of the line buf was filled
// from (fillBuf: pre, post, "\n") when it lies within one of those, so
// no copy is made; else a copy.
func groupText(buf []byte, lo, hi int, src []tupleLine) string {
	if len(src) == 1 {
		l := &src[0]
		np := len(l.pre)
		switch {
		case hi <= np:
			return l.pre[lo:hi]
		case lo >= np && hi <= np+len(l.post):
			return l.post[lo-np : hi-np]
		}
	}
	return string(buf[lo:hi])
}

// skippedLines returns the lines captured by <SKIPLINES> tags.
func (h *hit) skippedLines(buf []byte, loc []int) []string {
	var all strings.Builder
	for _, g := range h.p.skiplines {
		if loc[2*g] >= 0 {
			all.Write(buf[loc[2*g]:loc[2*g+1]])
		}
	}
	return pySplitLines(all.String())
}

// pySplitLines splits like Python's str.splitlines().
func pySplitLines(s string) []string {
	var out []string
	rs := []rune(s)
	var cur []rune
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '\r':
			out = append(out, string(cur))
			cur = cur[:0]
			if i+1 < len(rs) && rs[i+1] == '\n' {
				i++
			}
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			out = append(out, string(cur))
			cur = cur[:0]
		default:
			cur = append(cur, rs[i])
		}
	}
	if len(cur) > 0 {
		out = append(out, string(cur))
	}
	return out
}

func joinLines(ls []tupleLine) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.full()
	}
	return out
}

// ignoreLine reports whether an ignoreregex matches, as fail2ban's
// _ignoreLine; with a failregex hit in multi-line mode only its lines
// count. src are the lines buf was filled from (see search).
func (f *Filter) ignoreLine(buf []byte, ascii bool, org, src []tupleLine, fh *hit) int {
	if fh != nil && f.maxLines > 1 {
		org = fh.matched
		var tmp []byte
		buf = fillBuf(&tmp, org)
		ascii = isASCII(buf)
		src = org
	}
	found := -1
	for i, p := range f.ignore {
		if h, ok := f.search(p, buf, ascii, org, src, f.ignGroups); ok {
			f.ignGroups = h.groups // only whether it matched counts
			found = i
			if fh != nil && (!f.opts.CheckAllRegex || f.maxLines > 1) {
				f.lineBuf = fh.unmatched
			}
			if !f.opts.CheckAllRegex {
				break
			}
		}
	}
	return found
}

// findFailure applies the regexes to the buffer ending with tl, as
// fail2ban's Filter.findFailure does.
func (f *Filter) findFailure(tl tupleLine, date time.Time, noDate bool, res *Result) {
	var org []tupleLine
	if f.maxLines > 1 {
		f.lineBuf = append(f.lineBuf, tl)
		if n := len(f.lineBuf); n > f.maxLines {
			f.lineBuf = append([]tupleLine(nil), f.lineBuf[n-f.maxLines:]...)
		}
		org = f.lineBuf
	} else {
		f.one[0] = tl
		org = f.one[:]
		f.lineBuf = org
	}
	buf := fillBuf(&f.buf, org)
	src := org // the lines buf holds
	f.lits.scan(buf, f.found)
	// Fast path: when no failregex can match, nothing else has an effect
	// (except prefregex replacing a multi-line buffer by its content), but
	// for the diagnostics: the early ignoreregex check and whether the
	// prefregex matches, which needs no groups.
	possible := true
	// pass: bit i set when failregex i's literals are present, worked out
	// once here for the loop below (passKnown; up to 64 failregexes)
	var pass uint64
	passKnown := false
	if f.pref == nil || f.maxLines == 1 {
		possible = false
		switch {
		case f.failGate != nil && !f.failGate.intersects(f.found):
			passKnown = true
		case f.failBy != nil:
			// passes for every failregex, on one word (setupLiterals)
			pass = f.failPass(f.found[0])
			possible, passKnown = pass != 0, true
		case len(f.fail) <= 64:
			for i, p := range f.fail {
				if p.passes(f.found) {
					pass |= 1 << i
				}
			}
			possible, passKnown = pass != 0, true
		default:
			for _, p := range f.fail {
				if p.passes(f.found) {
					possible = true
					break
				}
			}
		}
		if !possible && !f.opts.Diagnostics {
			return
		}
	}
	ascii := isASCII(buf)
	if len(f.ignore) > 0 && len(f.ignore) < len(f.fail)-2 {
		if i := f.ignoreLine(buf, ascii, org, src, nil); i >= 0 {
			res.Ignored, res.IgnoreRegex = true, i
			return
		}
	}
	if !possible {
		if f.pref != nil {
			m, err := f.pref.matches(buf, ascii, f.found)
			if err != nil {
				f.timeouts++
			}
			res.PrefMatched = m
		}
		return
	}
	var pre groupSet
	valid := true
	if f.pref != nil {
		// pre is copied by failureFrom before it is kept anywhere
		h, ok := f.search(f.pref, buf, ascii, org, src, f.prefGroups)
		if !ok {
			return
		}
		res.PrefMatched = true
		pre = h.groups
		f.prefGroups = pre
		if c := pre.get("content"); c.truthy() {
			f.content[0] = tupleLine{post: c.s}
			f.lineBuf = f.content[:] // a later append copies it
			valid = false
		}
		pre.del("content")
	}
	for i, p := range f.fail {
		// what search would find out first (variantFor)
		if passKnown && pass&(1<<i) == 0 || !passKnown && !p.passes(f.found) {
			continue
		}
		if !valid {
			buf = fillBuf(&f.cbuf, f.lineBuf)
			src = f.lineBuf
			ascii = isASCII(buf)
			valid = true
		}
		// the groups live in scratch space until the next search: whatever
		// keeps them (deferHit, mergeFailure) copies them
		h, ok := f.search(p, buf, ascii, org, src, f.failGroups)
		if !ok {
			continue
		}
		f.failGroups = h.groups
		if len(f.ignore) > 0 {
			if k := f.ignoreLine(buf, ascii, org, src, &h); k >= 0 {
				res.Ignored, res.IgnoreRegex = true, k
				valid = false
				f.noteStep(step{kind: stepIgnored, ign: k})
				if !f.opts.CheckAllRegex {
					return
				}
				continue
			}
		}
		if noDate && date.IsZero() && f.opts.FindTime > 0 {
			continue
		}
		if !f.opts.CheckAllRegex || f.maxLines > 1 {
			f.lineBuf, valid = h.unmatched, false
		}
		if f.deferHit(i, &h, pre, res) {
			continue // on a worker: the ordered stage decides (parallel.go)
		}
		lo := len(res.Failures)
		stop := f.failureFrom(i, &h, pre, date, res, nil)
		f.noteStep(step{kind: stepDone, lo: lo, hi: len(res.Failures), stop: stop})
		if stop && !f.opts.CheckAllRegex {
			return
		}
	}
}

// failureFrom turns a failregex hit into failures; it reports whether the
// search is over (a failure or a pending/no-fail state was reached; with
// CheckAllRegex only an error lets the search go on either way). gs, when
// not nil, is what a worker worked out ahead for the hit (guess.go).
func (f *Filter) failureFrom(idx int, h *hit, pre groupSet, date time.Time, res *Result, gs *guess) bool {
	// d is scratch space, and so may be d.g (the hit's groups, or the
	// merged set): what is kept is copied (mergeFailure), else read and
	// dropped
	d := &f.curData
	*d = failData{g: h.groups}
	if len(pre) > 0 {
		f.mergeGroups = mergeGroups(f.mergeGroups, pre, h)
		d.g = f.mergeGroups
	}
	mlfid := d.get("mlfid")
	var matched []string // the lines behind a failure: none when only counting
	var room *failRoom   // the first failure's and its line's storage
	if !f.opts.Counting {
		switch {
		case gs != nil:
			matched = gs.lines
		case len(h.matched) == 1 && cap(res.Failures) == 0:
			room = f.newRoom(h, mlfid.ok)
			matched = room.l[:]
		default:
			matched = f.matchedLines(h, mlfid.ok)
		}
	}
	if mlfid.ok {
		d = f.mergeFailure(mlfid.s, d, matched)
		if d.get("nofail").truthy() && !f.opts.CheckAllRegex {
			return true
		}
	} else {
		d.matches = matched
	}
	k := d.g.idKeys()
	fid := k.fid
	r, found := f.hostRefOf(k)
	if !found {
		if !fid.ok && !mlfid.ok {
			// fail2ban raises here ("no group found") and moves on
			return false
		}
		if !fid.ok {
			// multi-line id known, host still unknown: wait for it
			d.pending = true
			if !f.opts.KeepPending && !f.opts.CheckAllRegex {
				return true
			}
		}
		r.host, r.raw = fid.s, true
	}
	host := r.host
	first := len(res.Failures) // failures of this hit start here
	out := res.Failures
	switch {
	case !fid.ok && host == "" && d.pending:
		if f.opts.KeepPending || f.opts.CheckAllRegex {
			out = append(out, Failure{}) // no id yet: fail2ban's None
		}
	case r.exact || r.raw:
		var fl Failure
		if gs != nil && gs.addrOK && gs.ref == r {
			fl = gs.failure() // the same host: the same parse
		} else {
			fl = f.addrFailure(r)
		}
		if room != nil && cap(out) == 0 {
			room.f[0] = fl
			out = room.f[:]
		} else {
			out = append(out, fl)
		}
	default:
		out = append(out, f.resolve(host)...)
	}
	// the map last made from a multi-line id's groups serves while they
	// stay the same (failData.fields); else the worker's Fields serve
	// when the data are the hit's own groups
	keep := !f.opts.Counting && mlfid.ok // d.fields is Fields while set
	guessed := gs != nil && len(out)-first == 1 && gs.fieldsOK && !(keep && d.fields != nil) &&
		f.fieldsStill(d.g, gs.fields)
	for i := first; i < len(out); i++ {
		fl := &out[i]
		fl.Time = date
		fl.Regex = idx
		fl.NoFail = k.nofail.truthy()
		switch {
		case keep && d.fields != nil:
			fl.Fields = d.fields // g is what the map was made from
		case guessed:
			// the same text as d.g's, but the worker's map reads it from
			// the line: with SharedLines the cache keeps only its own
			// copies (mergeFailure), so it does not keep this map
			fl.Fields = gs.fields
			if keep && !f.opts.SharedLines {
				d.fields = fl.Fields
			}
		case f.opts.Counting:
			fl.Fields = f.countingFields(d.g)
		default:
			fl.Fields = allFields(d.g)
			if keep {
				d.fields = fl.Fields
			}
		}
		if f.opts.Counting {
			continue
		}
		// shared with what the multi-line cache keeps: the filter never
		// writes an element of either again (mergeFailure makes a new
		// matches slice and only appends users), and clipped, an append
		// by the receiver makes its own copy
		fl.Lines = slices.Clip(d.matches)
		fl.Users = slices.Clip(d.users)
	}
	res.Failures = out
	return true
}

// hostRef is what a failure's address is made from: the host text, how
// it was matched, and the failure id (idKeys).
type hostRef struct {
	host, cidr string
	family     int  // 4, 6, or 0: any
	exact      bool // an address group matched
	raw        bool
	fid        gval
}

// hostRefOf picks the host from the groups as fail2ban does: ip4, ip6,
// then dns; found is false when none took part (the id or nothing).
func (f *Filter) hostRefOf(k idKeys) (r hostRef, found bool) {
	r.fid, r.raw = k.fid, f.rawHost
	if k.cidr.truthy() {
		r.cidr = k.cidr.s
	}
	switch {
	case k.ip4.ok:
		r.host, r.family, r.exact = k.ip4.s, 4, true
	case k.ip6.ok:
		r.host, r.family, r.exact = k.ip6.s, 6, true
	case k.dns.ok:
		r.host = k.dns.s
	default:
		return r, false
	}
	return r, true
}

// addrFailure is the failure for an address host or a raw one: Host,
// Addr, Prefix and ID.
func (f *Filter) addrFailure(r hostRef) Failure {
	m := &f.lastAddr
	if m.holds(r) {
		// the host of the failure before, read again: the same parse
		return Failure{Host: r.host, Addr: m.addr, ID: r.host}
	}
	var a ipAddr
	if r.exact {
		a = parseIPAddr(r.host, r.cidr, r.family, false)
	} else {
		a = parseIPAddr(r.host, "", 0, f.rawHost)
	}
	m.note(r, a)
	fl := Failure{Host: r.host, Addr: a.addr, Prefix: a.prefix, ID: a.str}
	if r.fid.ok && r.fid.s != r.host {
		fl.ID = parseIPAddr(r.fid.s, "", 0, f.rawHost).str
	}
	return fl
}

// addrMemo remembers the last host text addrFailure parsed, when the
// parse gave back the text itself as the failure id (an address written
// canonically, as logs mostly write them) and no prefix: a failure line
// from the same host again (an attacker's lines come in runs) then skips
// the parse. The text is copied into the memo, as the line it came from
// may be written again (Options.SharedLines); the id handed out is the
// new failure's own host text, never the remembered one.
type addrMemo struct {
	text   [maxMemoHost]byte
	n      int
	valid  bool
	family int
	exact  bool
	addr   netip.Addr
}

// maxMemoHost: longer host texts (names) are not remembered.
const maxMemoHost = 64

// holds reports whether r is the remembered host, read the same way:
// an address group of the same family, or the same raw-or-not text, with
// no cidr and no separate failure id.
func (m *addrMemo) holds(r hostRef) bool {
	return m.valid && r.cidr == "" && r.exact == m.exact && r.family == m.family &&
		!(r.fid.ok && r.fid.s != r.host) && r.host == string(m.text[:m.n])
}

// note remembers r's parse a, when it qualifies (see addrMemo).
func (m *addrMemo) note(r hostRef, a ipAddr) {
	m.valid = false
	if r.cidr != "" || a.prefix.IsValid() || a.str != r.host || len(r.host) > maxMemoHost ||
		r.fid.ok && r.fid.s != r.host {
		return
	}
	m.n = copy(m.text[:], r.host)
	m.family, m.exact, m.addr, m.valid = r.family, r.exact, a.addr, true
}

// allFields is a whole failure's Fields: every group that took part.
func allFields(g groupSet) map[string]string {
	m := make(map[string]string, len(g))
	for _, e := range g {
		if e.v.ok {
			m[e.name] = e.v.s
		}
	}
	return m
}

// countingFields is Fields with Options.Counting (CountingFields).
func (f *Filter) countingFields(g groupSet) map[string]string {
	if len(f.opts.CountingFields) == 0 {
		return nil
	}
	return pickFields(g, f.opts.CountingFields)
}

// failRoom is the storage of a line's first failure and of its one
// matched line, allocated together: a failure line's Failures and Lines
// in one allocation instead of two. Failures holds the room with cap 1,
// as append would give it, and Lines shares its line (as the multi-line
// cache may; it never writes an element again).
type failRoom struct {
	f [1]Failure
	l [1]string
}

// newRoom is a failRoom with h's one matched line in place (copied when
// kept, as matchedLines does).
func (f *Filter) newRoom(h *hit, kept bool) *failRoom {
	r := new(failRoom)
	r.l[0] = h.matched[0].full()
	if kept && f.opts.SharedLines {
		r.l[0] = strings.Clone(r.l[0])
	}
	return r
}

// matchedLines are a hit's lines as a failure lists them; kept: the
// multi-line cache keeps them, so with SharedLines they are copies.
func (f *Filter) matchedLines(h *hit, kept bool) []string {
	m := joinLines(h.matched)
	if kept && f.opts.SharedLines {
		for i, l := range m {
			m[i] = strings.Clone(l)
		}
	}
	return m
}

// pickFields is the part of the Fields map a full failure would have
// (every matched group, a later entry of a name winning) for the given
// names; nil when none of them matched.
func pickFields(g groupSet, names []string) map[string]string {
	var m map[string]string
	for _, e := range g {
		if e.v.ok && slices.Contains(names, e.name) {
			if m == nil {
				m = make(map[string]string, len(names))
			}
			m[e.name] = e.v.s
		}
	}
	return m
}
