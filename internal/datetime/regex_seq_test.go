package datetime

import (
	"fmt"
	"strings"
	"testing"
)

// TestSequenceLiteralRuns: plain characters join the literal text before
// them, except one a quantifier applies to, which stays a node of its own.
func TestSequenceLiteralRuns(t *testing.T) {
	tests := []struct{ src, want string }{
		{`abc`, `"abc"`},
		{`ab+c`, `"a" class{1,-1} "c"`},
		{`abc{2}de`, `"ab" class{2,2} "de"`},
		{`ab?`, `"a" class{0,1}`},
		{`a}b{x`, `"a}b{x"`},
		{`a{2,x}b`, `"a{2,x}b"`},
		{`(\d+) at x.y`, `op4 class{1,-1} op4 " at x" class{1,1} "y"`},
		{`x\.yz*`, `"x.y" class{0,-1}`},
		{`ab|cd*e`, `"ab" | "c" class{0,-1} "e"`},
	}
	for _, tt := range tests {
		prog, err := parseRegex(tt.src)
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		var alts []string
		for _, seq := range prog.top {
			var parts []string
			for _, n := range seq {
				switch n.op {
				case opString:
					parts = append(parts, fmt.Sprintf("%q", n.str))
				case opClass:
					parts = append(parts, fmt.Sprintf("class{%d,%d}", n.min, n.max))
				case opGroup:
					parts = append(parts, "group")
				default:
					parts = append(parts, fmt.Sprintf("op%d", n.op))
				}
			}
			alts = append(alts, strings.Join(parts, " "))
		}
		if got := strings.Join(alts, " | "); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.src, got, tt.want)
		}
	}
}
