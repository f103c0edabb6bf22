package filter

import "regexp/syntax"

// The tests build automata from expression text; the package itself
// builds them from the tree compilePattern parsed once (dfaOf, chainOf,
// firstBytesOf). These read the text the way regexp.Compile does.

// parseExpr parses a Go expression as regexp.Compile reads it; nil if it
// does not parse.
func parseExpr(expr string) *syntax.Regexp {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil
	}
	return re
}

// newDFA is dfaOf for expr; nil if expr does not parse.
func newDFA(expr string) *dfa {
	re := parseExpr(expr)
	if re == nil {
		return nil
	}
	return dfaOf(re.Simplify())
}

// newChain is chainOf for expr; nil if expr does not parse.
func newChain(expr string) *chain {
	re := parseExpr(expr)
	if re == nil {
		return nil
	}
	return chainOf(re)
}

// firstBytes is firstBytesOf for expr; nil if expr does not parse.
func firstBytes(expr string) *byteSet {
	re := parseExpr(expr)
	if re == nil {
		return nil
	}
	return firstBytesOf(re.Simplify())
}
