package datetime

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The matcher runs a program by backtracking, trying alternatives and
// repetition counts in the order Python's re module does, so the first
// match found is the one fail2ban would see. Continuations live in a
// reusable stack, so a warmed-up matcher does not allocate.

// maxSteps bounds the work for one search; a pathological user pattern
// gives "no match" instead of hanging the daemon.
const maxSteps = 1 << 21

type kontKind uint8

const (
	kSeq     kontKind = iota // continue with seq[i:]
	kIterEnd                 // one iteration of a group ended
	kEndAt                   // accept only at position at (look-behind)
	kAccept                  // accept anywhere
)

type kont struct {
	seq   *[]*node
	n     *node
	i     int32
	count int32
	start int32
	next  int32 // index into matcher.ks
	kind  kontKind
}

type matcher struct {
	fast  fastKind  // hand-written matcher tried before each attempt
	fs    fastSlots // its capture slots
	prog  *program
	s     string
	caps  []int
	ks    []kont
	steps int
}

func newMatcher(p *program) *matcher {
	return &matcher{prog: p, caps: make([]int, 2*p.ncap), ks: make([]kont, 0, 64)}
}

// search finds the leftmost match in s[:end] starting at or after from;
// characters before from are visible to look-behind and \b like Python's
// pattern.search(s, pos, endpos). On success m.caps holds the groups.
func (m *matcher) search(s string, from, end int) bool {
	return m.searchLimit(s, from, end, len(s))
}

// searchLimit is search restricted to matches starting at or before limit.
func (m *matcher) searchLimit(s string, from, end, limit int) bool {
	if end > len(s) {
		end = len(s)
	}
	if from < 0 {
		from = 0
	}
	if limit > end {
		limit = end
	}
	m.s = s[:end]
	m.steps = 0
	p := m.prog
	if p.anchored {
		if from != 0 || (end > 0 && !p.anyFirst && !p.first[s[0]]) {
			return false
		}
		return m.attempt(0)
	}
	if p.anchor.lit != "" {
		return m.searchAnchor(from, limit)
	}
	for pos := from; pos <= limit; pos++ {
		if pos < end {
			b := s[pos]
			if !p.anyFirst && !p.first[b] || !utf8.RuneStart(b) {
				continue
			}
		} else if !p.anyFirst {
			return false
		}
		if m.attempt(pos) {
			return true
		}
		if m.steps > maxSteps {
			return false
		}
	}
	return false
}

// searchAnchor tries only the start positions from which the program's
// required literal can be reached: for every occurrence at c, starts in
// [c-maxOff, c-minOff] (in bytes; widened for non-ASCII text).
func (m *matcher) searchAnchor(from, limit int) bool {
	s := m.s
	a := &m.prog.anchor
	maxOff, widened := a.maxOff, false
	next := from
	for c := from + a.minOff; c <= len(s); {
		i := strings.Index(s[c:], a.lit)
		if i < 0 {
			return false
		}
		c += i
		if !widened {
			if widened = true; !isASCII(s) {
				maxOff *= utf8.UTFMax
			}
		}
		lo, hi := c-maxOff, c-a.minOff
		if lo < next {
			lo = next
		}
		if hi > limit {
			hi = limit
		}
		for pos := lo; pos <= hi; pos++ {
			if pos < len(s) {
				b := s[pos]
				if !m.prog.anyFirst && !m.prog.first[b] || !utf8.RuneStart(b) {
					continue
				}
			}
			if m.attempt(pos) {
				return true
			}
			if m.steps > maxSteps {
				return false
			}
		}
		if hi+1 > next {
			next = hi + 1
		}
		if c-maxOff > limit {
			return false
		}
		c++
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// fastAt0 runs the fast matcher of an anchored program on a whole line.
func (m *matcher) fastAt0(line string) bool {
	m.s = line
	return m.fastAt(0)
}

// attempt tries one match starting exactly at pos.
func (m *matcher) attempt(pos int) bool {
	if m.fast != fastNone && !m.prog.anchored && pos < len(m.s) && m.fastAt(pos) {
		return true
	}
	for i := range m.caps {
		m.caps[i] = -1
	}
	m.ks = m.ks[:0]
	m.ks = append(m.ks, kont{kind: kAccept})
	if e, ok := m.alts(m.prog.top, pos, 0); ok {
		m.caps[0], m.caps[1] = pos, e
		return true
	}
	return false
}

func (m *matcher) push(k kont) int32 {
	m.ks = append(m.ks, k)
	return int32(len(m.ks) - 1)
}

// alts tries each alternative at pos, continuing with continuation k.
func (m *matcher) alts(alts [][]*node, pos int, k int32) (int, bool) {
	top := len(m.ks)
	for j := range alts {
		if e, ok := m.seq(&alts[j], 0, pos, k); ok {
			return e, true
		}
		m.ks = m.ks[:top]
	}
	return 0, false
}

// resume runs continuation k at pos.
func (m *matcher) resume(k int32, pos int) (int, bool) {
	c := m.ks[k]
	switch c.kind {
	case kSeq:
		return m.seq(c.seq, int(c.i), pos, c.next)
	case kIterEnd:
		n := c.n
		if n.slot >= 0 {
			o0, o1 := m.caps[2*n.slot], m.caps[2*n.slot+1]
			m.caps[2*n.slot], m.caps[2*n.slot+1] = int(c.start), pos
			if e, ok := m.iterate(n, int(c.count)+1, pos, int(c.start), c.next); ok {
				return e, true
			}
			m.caps[2*n.slot], m.caps[2*n.slot+1] = o0, o1
			return 0, false
		}
		return m.iterate(n, int(c.count)+1, pos, int(c.start), c.next)
	case kEndAt:
		if pos == int(c.start) {
			return pos, true
		}
		return 0, false
	}
	return pos, true
}

// iterate continues a group repetition after count iterations; prev is
// where the last iteration started (to stop empty loops).
func (m *matcher) iterate(n *node, count, pos, prev int, k int32) (int, bool) {
	more := n.max < 0 || count < n.max
	if count > n.min && pos == prev {
		more = false // an empty iteration: stop looping
	}
	stop := count >= n.min
	top := len(m.ks)
	if !n.lazy && more {
		ki := m.push(kont{kind: kIterEnd, n: n, count: int32(count), start: int32(pos), next: k})
		if e, ok := m.alts(n.alts, pos, ki); ok {
			return e, true
		}
		m.ks = m.ks[:top]
	}
	if stop {
		if e, ok := m.resume(k, pos); ok {
			return e, true
		}
		m.ks = m.ks[:top]
	}
	if n.lazy && more {
		ki := m.push(kont{kind: kIterEnd, n: n, count: int32(count), start: int32(pos), next: k})
		if e, ok := m.alts(n.alts, pos, ki); ok {
			return e, true
		}
		m.ks = m.ks[:top]
	}
	return 0, false
}

// seq matches seq[i:] at pos and then continuation k.
func (m *matcher) seq(sq *[]*node, i, pos int, k int32) (int, bool) {
	s := m.s
	seq := *sq
	for ; i < len(seq); i++ {
		m.steps++
		if m.steps > maxSteps {
			return 0, false
		}
		n := seq[i]
		switch n.op {
		case opString:
			np, ok := m.lit(n.str, pos)
			if !ok {
				return 0, false
			}
			pos = np
		case opClass:
			if n.min == 1 && n.max == 1 {
				np, ok := m.one(n.cls, pos)
				if !ok {
					return 0, false
				}
				pos = np
				continue
			}
			return m.repeatClass(sq, i, pos, k)
		case opAssert:
			if n.kind == asSave {
				m.caps[n.slot] = pos
				continue
			}
			if !m.assert(n.kind, pos) {
				return 0, false
			}
		case opGroup:
			if n.simple {
				for j := range n.alts {
					if !n.altEmpty[j] && (pos >= len(s) || !n.altFirst[j].has(s[pos])) {
						continue
					}
					if e, ok := m.simpleAlt(n, j, 0, pos, pos, sq, i, k); ok {
						return e, true
					}
					if m.steps > maxSteps {
						return 0, false
					}
				}
				if n.min == 0 {
					continue // the optional group matches nothing
				}
				return 0, false
			}
			top := len(m.ks)
			ki := m.push(kont{kind: kSeq, seq: sq, i: int32(i + 1), next: k})
			if n.min == 1 && n.max == 1 {
				// plain group: alternatives then the rest
				kk := ki
				if n.slot >= 0 {
					kk = m.push(kont{kind: kIterEnd, n: n, count: 0, start: int32(pos), next: ki})
				}
				e, ok := m.alts(n.alts, pos, kk)
				if !ok {
					m.ks = m.ks[:top]
				}
				return e, ok
			}
			e, ok := m.iterate(n, 0, pos, -1, ki)
			if !ok {
				m.ks = m.ks[:top]
			}
			return e, ok
		case opBackref:
			a, b := m.caps[2*n.slot], m.caps[2*n.slot+1]
			if a < 0 || b < 0 {
				return 0, false
			}
			ref := s[a:b]
			if len(s)-pos < len(ref) {
				return 0, false
			}
			got := s[pos : pos+len(ref)]
			if got != ref && !(m.prog.icase && strings.EqualFold(got, ref)) {
				return 0, false
			}
			pos += len(ref)
		case opLook:
			if !m.look(n, pos) {
				return 0, false
			}
		case opCond:
			branch := 1
			if m.caps[2*n.slot+1] >= 0 {
				branch = 0
			}
			if branch >= len(n.alts) {
				continue // no "no" branch: matches empty
			}
			top := len(m.ks)
			ki := m.push(kont{kind: kSeq, seq: sq, i: int32(i + 1), next: k})
			e, ok := m.seq(&n.alts[branch], 0, pos, ki)
			if !ok {
				m.ks = m.ks[:top]
			}
			return e, ok
		}
	}
	return m.resume(k, pos)
}

// simpleAlt matches item idx on of alternative j of the simple group n
// (which started at start), then the rest of sq after the group. Optional
// characters are tried taken first, like a greedy "?".
func (m *matcher) simpleAlt(n *node, j, idx, pos, start int, sq *[]*node, i int, k int32) (int, bool) {
	alt := n.alts[j]
	for ; idx < len(alt); idx++ {
		m.steps++
		it := alt[idx]
		if it.op == opString {
			np, ok := m.lit(it.str, pos)
			if !ok {
				return 0, false
			}
			pos = np
			continue
		}
		np, ok := m.one(it.cls, pos)
		if it.min == 1 {
			if !ok {
				return 0, false
			}
			pos = np
			continue
		}
		if ok {
			if e, ok := m.simpleAlt(n, j, idx+1, np, start, sq, i, k); ok {
				return e, true
			}
		}
	}
	if n.slot < 0 {
		return m.seq(sq, i+1, pos, k)
	}
	o0, o1 := m.caps[2*n.slot], m.caps[2*n.slot+1]
	m.caps[2*n.slot], m.caps[2*n.slot+1] = start, pos
	if e, ok := m.seq(sq, i+1, pos, k); ok {
		return e, true
	}
	m.caps[2*n.slot], m.caps[2*n.slot+1] = o0, o1
	return 0, false
}

// look evaluates a look-around at pos.
func (m *matcher) look(n *node, pos int) bool {
	top := len(m.ks)
	var ok bool
	if n.behind {
		start := pos
		for w := 0; w < n.width; w++ {
			if start <= 0 {
				return n.neg
			}
			_, size := utf8.DecodeLastRuneInString(m.s[:start])
			start -= size
		}
		ki := m.push(kont{kind: kEndAt, start: int32(pos)})
		_, ok = m.alts(n.alts, start, ki)
	} else {
		ki := m.push(kont{kind: kAccept})
		_, ok = m.alts(n.alts, pos, ki)
	}
	m.ks = m.ks[:top]
	return ok != n.neg
}

// lit matches the ASCII text str at pos. Under (?i) letters match either
// case and the non-ASCII characters that fold to them (U+017F for s,
// U+212A for k), as Python's re does.
func (m *matcher) lit(str string, pos int) (int, bool) {
	s := m.s
	if len(s)-pos >= len(str) {
		if got := s[pos : pos+len(str)]; got == str || m.prog.icase && asciiFoldEqual(got, str) {
			return pos + len(str), true
		}
	}
	if !m.prog.icase {
		return 0, false
	}
	p := pos
	for i := 0; i < len(str); i++ {
		if p >= len(s) {
			return 0, false
		}
		c, b := str[i], s[p]
		if b < utf8.RuneSelf {
			if b != c && !(isASCIILetter(c) && b == c^0x20) {
				return 0, false
			}
			p++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[p:])
		if !foldsTo(r, c) {
			return 0, false
		}
		p += size
	}
	return p, true
}

// foldsTo reports whether r is a case variant of the ASCII letter c.
func foldsTo(r rune, c byte) bool {
	if !isASCIILetter(c) {
		return false
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f == rune(c) || f == rune(c^0x20) {
			return true
		}
	}
	return false
}

// one matches a single character of cls at pos.
func (m *matcher) one(cls *charClass, pos int) (int, bool) {
	s := m.s
	if pos >= len(s) {
		return 0, false
	}
	if b := s[pos]; b < utf8.RuneSelf {
		return pos + 1, cls.hasASCII(b)
	}
	r, size := utf8.DecodeRuneInString(s[pos:])
	return pos + size, cls.matches(r)
}

// repeatClass matches seq[i] (a repeated class) and the rest of seq.
func (m *matcher) repeatClass(seq *[]*node, i, pos int, k int32) (int, bool) {
	n := (*seq)[i]
	start := pos
	count := 0
	if !n.lazy {
		for n.max < 0 || count < n.max {
			np, ok := m.one(n.cls, pos)
			if !ok {
				break
			}
			pos = np
			count++
		}
		for count >= n.min {
			top := len(m.ks)
			if e, ok := m.seq(seq, i+1, pos, k); ok {
				return e, true
			}
			m.ks = m.ks[:top]
			if count == 0 || m.steps > maxSteps {
				break
			}
			_, size := utf8.DecodeLastRuneInString(m.s[start:pos])
			pos -= size
			count--
		}
		return 0, false
	}
	for {
		if count >= n.min {
			top := len(m.ks)
			if e, ok := m.seq(seq, i+1, pos, k); ok {
				return e, true
			}
			m.ks = m.ks[:top]
		}
		if (n.max >= 0 && count >= n.max) || m.steps > maxSteps {
			return 0, false
		}
		np, ok := m.one(n.cls, pos)
		if !ok {
			return 0, false
		}
		m.steps++
		pos = np
		count++
	}
}

func (m *matcher) assert(kind, pos int) bool {
	s := m.s
	switch kind {
	case asBegin:
		return pos == 0
	case asEnd:
		return pos == len(s) || (pos == len(s)-1 && s[pos] == '\n')
	case asEndAbs:
		return pos == len(s)
	case asWordB:
		return wordBefore(s, pos) != wordAt(s, pos)
	case asNotWordB:
		if len(s) == 0 {
			return false
		}
		return wordBefore(s, pos) == wordAt(s, pos)
	case asWordStart:
		if pos == 0 {
			return true
		}
		if pos >= len(s) {
			return wordBefore(s, pos)
		}
		return !(wordAt(s, pos) && wordBefore(s, pos))
	case asWordEnd:
		return pos >= len(s) || !(wordAt(s, pos) && wordBefore(s, pos))
	}
	return false
}

func wordBefore(s string, pos int) bool {
	if pos <= 0 {
		return false
	}
	if b := s[pos-1]; b < utf8.RuneSelf {
		return isWordRune(rune(b))
	}
	r, _ := utf8.DecodeLastRuneInString(s[:pos])
	return isWordRune(r)
}

func wordAt(s string, pos int) bool {
	if pos >= len(s) {
		return false
	}
	if b := s[pos]; b < utf8.RuneSelf {
		return isWordRune(rune(b))
	}
	r, _ := utf8.DecodeRuneInString(s[pos:])
	return isWordRune(r)
}

func asciiFoldEqual(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z' {
			return false
		}
	}
	return true
}
