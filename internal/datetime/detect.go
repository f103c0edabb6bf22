package datetime

import (
	"time"

	"github.com/dlclark/regexp2"
	"unicode"
	"unicode/utf8"
)

// This file is the template selection of fail2ban's DateDetector.matchTime:
// try the last winning template first (within the same boundaries when it
// is not anchored), otherwise scan all templates, preferring line-anchored
// ones and the match closest to the start of the line, then count the hit
// and let the winner bubble up the list.

// candidate is a reserved match found during the scan.
type candidate struct {
	idx            int
	ms, me, gs, ge int            // byte offsets
	cms            int            // ms in characters
	caps           bool           // the groups are saved in Detector.foundCaps
	re2m           *regexp2.Match // the groups of a fallback template
}

func runeAt(s string, i int) rune {
	if i < 0 || i >= len(s) {
		return noRune
	}
	if s[i] < utf8.RuneSelf {
		return rune(s[i])
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r
}

func runeBefore(s string, i int) rune {
	if i <= 0 || i > len(s) {
		return noRune
	}
	if s[i-1] < utf8.RuneSelf {
		return rune(s[i-1])
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return r
}

func isAlnum(r rune) bool {
	if r == noRune {
		return false
	}
	if r < utf8.RuneSelf {
		return isWordRune(r) && r != '_'
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// lazyFeatures computes a line's features when a template first asks.
type lazyFeatures struct {
	done bool
	f    feature // features present
}

// has reports whether line has all features in needs.
func (lf *lazyFeatures) has(line string, needs feature) bool {
	if !lf.done {
		lf.f, lf.done = lineFeatures(line), true
	}
	return needs&^lf.f == 0
}

// search runs template e.t and counts a successful search: the fast
// matcher first, then the line-feature prefilter, then the engine.
func (d *Detector) search(e *entry, line string, from, end int, lf *lazyFeatures) (ms, me, gs, ge int, ok bool) {
	return d.searchLimit(e, line, from, end, len(line), lf)
}

// searchLimit is search for matches starting at or before limit.
func (d *Detector) searchLimit(e *entry, line string, from, end, limit int, lf *lazyFeatures) (ms, me, gs, ge int, ok bool) {
	t := e.t
	d.viaFast = false
	if t.m != nil && t.m.prog.anchored && t.m.fast != fastNone && from == 0 && end >= len(line) && t.m.fastAt0(line) {
		c := t.m.caps
		ms, me, gs, ge, ok = c[0], c[1], c[2], c[3], true
		d.viaFast = true
	} else {
		if t.needs != 0 && !lf.has(line, t.needs) {
			return 0, 0, 0, 0, false
		}
		if t.m != nil && limit < len(line) {
			if ok = t.m.searchLimit(line, from, end, limit); ok {
				c := t.m.caps
				ms, me, gs, ge = c[0], c[1], c[2], c[3]
			}
		} else {
			ms, me, gs, ge, ok = t.matchEngine(line, from, end)
		}
	}
	if ok {
		t.hits++
	}
	return
}

func (d *Detector) saveCaps(t *template) bool {
	if t.m == nil {
		return false
	}
	copy(d.foundCaps, t.m.caps)
	return true
}

func (d *Detector) restoreCaps(t *template) {
	if t.m != nil {
		copy(t.m.caps, d.foundCaps[:len(t.m.caps)])
	}
}

const anchoredFlags = flagLineBegin | flagLineEnd

// relevantStart bounds where a match of template i can still change the
// outcome of the scan: a match that starts farther than both the
// template's and the detector's last distance only counts when closer
// than the best candidate so far (at foundMS). The last template and
// anchored ones always count, and a template that never matched is
// searched fully because whether it ever matched steers the scan.
func (d *Detector) relevantStart(i, foundMS int) int { // in characters
	e := d.list[i]
	if i+1 >= len(d.list) || e.t.flags&anchoredFlags != 0 || e.t.hits == 0 || foundMS >= unset {
		return unset
	}
	lim := min(e.distance, d.lastPos)
	return max(lim, foundMS-1)
}

// matchTime selects the template for line and returns its entry and the
// span of the date text (group 1), and the time of the match; the clock is
// read only when a template matched.
func (d *Detector) matchTime(line string) (e *entry, gs, ge int, now time.Time, ok bool) {
	// Positions kept across lines (last start/end, distances) count
	// characters like fail2ban's; ms/me/gs/ge are byte offsets in line.
	var lf lazyFeatures
	pc := posConv{line: line}
	found := candidate{idx: -1, cms: unset}
	ignore := unset
	var ms, me int
	matched := false
	repeatable := false // a stampMemo may stand for this path (stampmemo.go)
	i := d.lastIdx
	if i < len(d.list) {
		e = d.list[i]
		t := e.t
		if t.flags&anchoredFlags != 0 {
			ms, me, gs, ge, matched = d.search(e, line, 0, len(line), &lf)
			ignore = i
			repeatable = matched && d.viaFast && t.m.fast == fastSyslog && t.kind == kindPattern
		} else {
			dist, endp := pc.toByte(d.lastPos), pc.toByte(d.lastEnd)
			left := runeBefore(line, dist) == d.lastBefore ||
				(runeAt(line, dist) == d.lastAt && !isAlnum(d.lastAt))
			right := runeAt(line, endp) == d.lastEndAfter ||
				(runeBefore(line, endp) == d.lastEndIn && !isAlnum(d.lastEndIn))
			if left && right {
				ms, me, gs, ge, matched = d.search(e, line, dist, endp, &lf)
			} else {
				ms, me, gs, ge, matched = d.search(e, line, 0, len(line), &lf)
				ignore = i
			}
		}
		if matched && !(len(d.list) == 1 || t.flags&anchoredFlags != 0 ||
			(pc.toChar(ms) == d.lastPos && pc.toChar(me) == d.lastEnd)) {
			// Same template, other place: maybe a date inside the message.
			found = candidate{idx: i, ms: ms, me: me, gs: gs, ge: ge, cms: pc.toChar(ms), caps: d.saveCaps(t), re2m: t.re2m}
			matched = false
		}
	}
	if !matched {
		for i = 0; i < len(d.list); i++ {
			if i == ignore {
				continue
			}
			e = d.list[i]
			t := e.t
			limit := len(line)
			if l := d.relevantStart(i, found.cms); l < unset {
				limit = pc.toByte(l)
			}
			ms, me, gs, ge, matched = d.searchLimit(e, line, 0, len(line), limit, &lf)
			if !matched {
				continue
			}
			if i+1 >= len(d.list) || t.flags&anchoredFlags != 0 {
				break
			}
			if ms == 0 && e.hits > 0 && d.list[i+1].t.hits == 0 {
				break
			}
			if cms := pc.toChar(ms); cms > e.distance || cms > d.lastPos {
				// Farther than before: keep the closest and look further.
				if cms < found.cms {
					found = candidate{idx: i, ms: ms, me: me, gs: gs, ge: ge, cms: cms, caps: d.saveCaps(t), re2m: t.re2m}
				}
				matched = false
				continue
			}
			break
		}
		if !matched && found.idx >= 0 {
			i = found.idx
			e = d.list[i]
			ms, me, gs, ge = found.ms, found.me, found.gs, found.ge
			if found.caps {
				d.restoreCaps(e.t)
			}
			if e.t.m == nil {
				e.t.re2m = found.re2m
			}
			matched = true
		}
	}
	if !matched {
		return nil, 0, 0, now, false
	}
	now = d.now()
	e.hits++
	e.lastUsed = float64(now.UnixNano()) / 1e9
	e.distance = pc.toChar(ms)
	if d.firstUnused == i {
		d.firstUnused++
	}
	d.lastPos, d.lastBefore, d.lastAt = e.distance, runeBefore(line, ms), runeAt(line, ms)
	in := runeBefore(line, me)
	if me == 0 {
		in = runeBefore(line, len(line)) // fail2ban indexes line[-1] here
	}
	d.lastEnd, d.lastEndIn, d.lastEndAfter = pc.toChar(me), in, runeAt(line, me)
	if i != 0 && i != d.lastIdx {
		i = d.reorder(i)
	}
	if repeatable && i == d.lastIdx && ms == 0 && gs == 0 && ge == me {
		d.stamp.remember(line, me, e)
	}
	d.lastIdx = i
	return e, gs, ge, now, true
}

// unusedAfter is how long (seconds) a template may stay unused before a
// newly winning template may take its place regardless of weight.
const unusedAfter = 300

// reorder lets the template at num bubble up and returns its new index.
func (d *Detector) reorder(num int) int {
	if num == 0 {
		return num
	}
	list := d.list
	e := list[num]
	untime := e.lastUsed - unusedAfter
	w := e.weight()
	pos := num / 2
	if d.firstUnused < num {
		pos = d.firstUnused
	}
	movable := func() bool {
		return w > list[pos].weight() || untime > list[pos].lastUsed
	}
	if !movable() {
		if pos == num-1 {
			return num
		}
		pos = num - 1
		if !movable() {
			return num
		}
	}
	copy(list[pos+1:num+1], list[pos:num])
	list[pos] = e
	for d.firstUnused < len(list) && list[d.firstUnused].hits > 0 {
		d.firstUnused++
	}
	return pos
}

// cpIndex converts byte offset b of line to a character index (offsets
// past the end count one character per byte).
func cpIndex(line string, b int) int {
	if b > len(line) {
		return utf8.RuneCountInString(line) + b - len(line)
	}
	for i := 0; i < b; i++ {
		if line[i] >= utf8.RuneSelf {
			return i + utf8.RuneCountInString(line[i:b])
		}
	}
	return b
}

// byteIndex converts character index c to a byte offset of line (past
// the end: len(line) plus the excess).
func byteIndex(line string, c int) int {
	b, n := 0, 0
	for b < len(line) && n < c {
		if line[b] < utf8.RuneSelf {
			b++
		} else {
			_, size := utf8.DecodeRuneInString(line[b:])
			b += size
		}
		n++
	}
	return b + (c - n)
}

// posConv converts between byte offsets and character indexes of one
// line, with a shortcut for all-ASCII lines.
type posConv struct {
	line  string
	ascii int8 // 0 unknown, 1 yes, -1 no
}

func (p *posConv) isASCII() bool {
	if p.ascii == 0 {
		p.ascii = -1
		if isASCII(p.line) {
			p.ascii = 1
		}
	}
	return p.ascii > 0
}

func (p *posConv) toByte(c int) int {
	if c <= 0 || p.isASCII() {
		return c
	}
	return byteIndex(p.line, c)
}

func (p *posConv) toChar(b int) int {
	if b <= 0 || b <= 64 && isASCII(p.line[:min(b, len(p.line))]) || p.isASCII() {
		return b
	}
	return cpIndex(p.line, b)
}
