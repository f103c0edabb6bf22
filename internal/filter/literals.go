package filter

// litSet finds, in one pass over a buffer, which of a fixed set of
// literal strings occur in it (an Aho-Corasick automaton with byte
// classes). It lets a filter skip every regex whose required literals are
// absent, which is what most log lines come down to.
type litSet struct {
	lits   [][]byte
	class  [256]uint8
	nclass int
	next   []uint32 // state*nclass + class → state
	outs   []uint64 // state*words … : literals ending at this state
	hasOut []bool
	words  int
	// dfa is next with rows padded to 1<<shift entries, premultiplied
	// targets (state<<shift) and dfaOut set on states where a literal
	// ends; the padding turns finding a state's row back into a shift.
	dfa   []uint32
	shift uint
	// anchors, when useAnchors, replace the automaton in scan (anchor.go).
	anchors    anchorScan
	useAnchors bool
}

const dfaOut = 1 << 31

// litMask is a set of literal ids (bits over litSet.lits).
type litMask []uint64

func (m litMask) intersects(o litMask) bool {
	for i, w := range m {
		if i < len(o) && w&o[i] != 0 {
			return true
		}
	}
	return false
}

// newLitMask returns an empty mask of words words on cache lines of its
// own: a mask is a few bytes, and made with make it shared its line with
// whatever the allocator put next to it. The two workers' found masks,
// written on every line, and the read-only masks the workers test them
// against (failGate, each regex's) pulled each other's lines away from
// one core to the other (bench/README, regex round 18).
func newLitMask(words int) litMask {
	const line = 64 / 8 // words of a cache line; the allocator aligns a 64-byte object to 64
	return make(litMask, words, (words+line-1)/line*line)[:words:words]
}

// add registers a literal and returns its id.
func (s *litSet) add(lit []byte) int {
	for i, l := range s.lits {
		if string(l) == string(lit) {
			return i
		}
	}
	s.lits = append(s.lits, lit)
	return len(s.lits) - 1
}

// mask returns the mask holding the given ids.
func (s *litSet) mask(ids []int) litMask {
	m := newLitMask((len(s.lits) + 63) / 64)
	for _, id := range ids {
		m[id/64] |= 1 << (id % 64)
	}
	return m
}

// build prepares the scan for the literals added so far: the anchor scan
// when every literal has a byte rare enough, else the automaton (built
// only then: with anchors it is never walked).
func (s *litSet) build() {
	s.words = (len(s.lits) + 63) / 64
	if s.useAnchors = s.buildAnchors(); !s.useAnchors {
		s.buildAutomaton()
	}
}

// buildAutomaton compiles the automaton for the literals.
func (s *litSet) buildAutomaton() {
	// byte classes: each byte used in a literal gets its own class
	// (case-sensitive), all others share class 0
	s.nclass = 1
	for _, l := range s.lits {
		for _, c := range l {
			if s.class[c] == 0 {
				s.class[c] = uint8(s.nclass)
				s.nclass++
			}
		}
	}
	// trie
	type node struct {
		child map[uint8]uint32
		fail  uint32
	}
	nodes := []node{{child: map[uint8]uint32{}}}
	outs := [][]int{nil}
	for id, l := range s.lits {
		cur := uint32(0)
		for _, c := range l {
			k := s.class[c]
			nx, ok := nodes[cur].child[k]
			if !ok {
				nx = uint32(len(nodes))
				nodes = append(nodes, node{child: map[uint8]uint32{}})
				outs = append(outs, nil)
				nodes[cur].child[k] = nx
			}
			cur = nx
		}
		outs[cur] = append(outs[cur], id)
	}
	n := len(nodes)
	s.next = make([]uint32, n*s.nclass)
	s.outs = make([]uint64, n*max(s.words, 1))
	s.hasOut = make([]bool, n)
	// breadth-first: fail links and full transitions
	queue := []uint32{0}
	for len(queue) > 0 {
		st := queue[0]
		queue = queue[1:]
		f := nodes[st].fail
		for _, id := range outs[st] {
			s.outs[int(st)*s.words+id/64] |= 1 << (id % 64)
		}
		if st != 0 {
			for w := 0; w < s.words; w++ {
				s.outs[int(st)*s.words+w] |= s.outs[int(f)*s.words+w]
			}
		}
		for w := 0; w < s.words; w++ {
			if s.outs[int(st)*s.words+w] != 0 {
				s.hasOut[st] = true
			}
		}
		for k := 0; k < s.nclass; k++ {
			if ch, ok := nodes[st].child[uint8(k)]; ok {
				if st == 0 {
					nodes[ch].fail = 0
				} else {
					nodes[ch].fail = s.next[int(f)*s.nclass+k]
				}
				s.next[int(st)*s.nclass+k] = ch
				queue = append(queue, ch)
			} else if st != 0 {
				s.next[int(st)*s.nclass+k] = s.next[int(f)*s.nclass+k]
			}
		}
	}
	s.shift = 0
	for 1<<s.shift < s.nclass {
		s.shift++
	}
	s.dfa = make([]uint32, n<<s.shift)
	for st := range n {
		for k := range s.nclass {
			to := s.next[st*s.nclass+k]
			v := to << s.shift
			if s.hasOut[to] {
				v |= dfaOut
			}
			s.dfa[st<<s.shift+k] = v
		}
	}
}

// scan sets in found (len = words, cleared here) the literals present in buf.
func (s *litSet) scan(buf []byte, found litMask) {
	clear(found)
	if len(s.lits) == 0 {
		return
	}
	if s.useAnchors {
		s.anchors.scan(buf, found)
		return
	}
	s.scanAutomaton(buf, found)
}

// scanAutomaton is scan on the automaton; found is already clear.
func (s *litSet) scanAutomaton(buf []byte, found litMask) {
	tab, cls, shift := s.dfa, &s.class, s.shift
	st := uint32(0)
	for _, c := range buf {
		st = tab[st+uint32(cls[c])]
		if st&dfaOut != 0 {
			st &^= dfaOut
			base := int(st>>shift) * s.words
			for w := range found {
				found[w] |= s.outs[base+w]
			}
		}
	}
}
