package filter

import (
	"bytes"
	"fmt"
	"regexp/syntax"
	"slices"
)

// condPart is one of the Go regexes a regex with conditionals was
// rewritten into (uncond.go); they serve pure-ASCII subjects, tried in
// order, instead of the backtracking engine.
type condPart struct {
	re  *lazyRegexp
	dfa *dfa
	// chain finds re's groups faster when it can (chain.go); may be nil
	chain *chain
	// slot[j] is the pattern's group number of re's group j
	slot []int
	// simple is re's syntax tree, simplified
	simple *syntax.Regexp
	// gate: whether dfa is worth asking before chain (see findParts)
	gate dfaGate
	// own: literals every match of this part holds that some other part
	// of the pattern does not require; one missing rules the part out
	// before any automaton runs (partLits)
	own [][]byte
}

// buildParts compiles the rewrite of p for ASCII subjects; nil when there
// is none or any part is not a plain Go regex over p's named groups.
func (p *pattern) buildParts() []condPart {
	srcs, ok := unconditional(p.expanded, p.multiline)
	if !ok {
		return nil
	}
	var parts []condPart
	for _, src := range srcs {
		tr, err := translate(src, transOpts{target: targetGo, asciiInput: true, multiline: p.multiline})
		if err != nil || len(tr.reasons) > 0 {
			return nil
		}
		re, parsed, err := goRegexp(tr.expr)
		if err != nil {
			return nil
		}
		cp := condPart{re: re, simple: parsed.Simplify(), chain: chainOf(parsed), slot: make([]int, len(tr.names))}
		cp.dfa = dfaOf(cp.simple)
		for j, n := range tr.names[1:] {
			k := slices.Index(p.names, n)
			if n == "" || k < 1 {
				return nil
			}
			cp.slot[j+1] = k
		}
		parts = append(parts, cp)
	}
	partLits(parts)
	return parts
}

// partLits sets each part's own literals: the single literals its
// expression requires (allReqs) that are not required by every part.
// The parts of one regex differ in a few places (a conditional's two
// branches: "invalid user " or not, ": " at the end or the end of the
// line), and a line usually lacks the literal of all but the part it
// matches. A required literal that is absent means no match, so the
// check only spares an automaton's walk; the answer is the same.
func partLits(parts []condPart) {
	reqs := make([][]string, len(parts))
	count := map[string]int{}
	for i := range parts {
		for _, r := range allReqs(parts[i].simple) {
			if len(r) == 1 && !slices.Contains(reqs[i], r[0]) {
				reqs[i] = append(reqs[i], r[0])
				count[r[0]]++
			}
		}
	}
	for i := range parts {
		parts[i].own = nil
		for _, l := range reqs[i] {
			if count[l] < len(parts) {
				parts[i].own = append(parts[i].own, []byte(l))
			}
		}
	}
}

// ruledOut reports whether buf lacks one of the part's own literals.
func (cp *condPart) ruledOut(buf []byte) bool {
	for _, l := range cp.own {
		if !bytes.Contains(buf, l) {
			return true
		}
	}
	return false
}

// cloneParts gives a worker its own automata.
func cloneParts(parts []condPart) []condPart {
	if parts == nil {
		return nil
	}
	out := slices.Clone(parts)
	for i := range out {
		out[i].dfa = parts[i].dfa.clone()
		out[i].chain = parts[i].chain.clone()
		out[i].gate = dfaGate{}
	}
	return out
}

// findParts is find for an ASCII subject through the parts: the first
// part that matches gives the match, its groups moved to p's numbering.
// The answer is scratch space (v.partLoc), valid until the next call.
//
// A part's automaton answers "no" cheaply, but where it keeps saying
// "yes" (the part the lines that get this far match) it is a pass for
// nothing: the chain is walked first then (dfaGate), and a walk that gets
// through is the match, as regexp would give it. Only when the walk
// cannot tell are the automaton and regexp asked. Either way the answer
// is the same.
func (p *pattern) findParts(v *variant, buf []byte) []int {
	for i := range v.parts {
		cp := &v.parts[i]
		if cp.ruledOut(buf) {
			continue
		}
		var sub []int
		ok, walked := false, false
		if cp.chain != nil && !cp.gate.use() {
			sub, ok = cp.chain.find(buf)
			walked = true
		}
		if !ok {
			if m, known := cp.dfa.match(buf); known {
				cp.gate.note(m)
				if !m {
					continue
				}
			}
			if !walked {
				sub, ok = cp.chain.find(buf)
			}
			if !ok {
				sub = cp.re.FindSubmatchIndex(buf)
			}
		}
		if sub == nil {
			continue
		}
		if len(v.partLoc) != 2*len(p.names) {
			v.partLoc = make([]int, 2*len(p.names))
		}
		loc := v.partLoc
		for k := range loc {
			loc[k] = -1
		}
		loc[0], loc[1] = sub[0], sub[1]
		for j := 1; j < len(cp.slot); j++ {
			loc[2*cp.slot[j]], loc[2*cp.slot[j]+1] = sub[2*j], sub[2*j+1]
		}
		return loc
	}
	return nil
}

// matchParts is matches for an ASCII subject through the parts.
func (v *variant) matchParts(buf []byte) bool {
	for i := range v.parts {
		cp := &v.parts[i]
		if cp.ruledOut(buf) {
			continue
		}
		if m, ok := cp.dfa.match(buf); ok {
			if m {
				return true
			}
			continue
		}
		if cp.re.Match(buf) {
			return true
		}
	}
	return false
}

// partsReason is what Explain says about a pattern run through parts.
func partsReason(n int) string {
	return fmt.Sprintf("conditionals rewritten into %d Go regexes tried in order (uncond.go); regexp2 for non-ASCII lines:", n)
}
