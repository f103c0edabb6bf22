package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// arith evaluates the small arithmetic language fail2ban time values turn
// into: decimal numbers, + - * / // % **, unary signs and parentheses.
type arith struct {
	s   string
	pos int
}

var errArith = errors.New("not a valid time expression")

func evalArith(s string) (float64, error) {
	p := &arith{s: s}
	v, err := p.expr(0)
	if err != nil {
		return 0, err
	}
	p.skip()
	if p.pos != len(p.s) {
		return 0, fmt.Errorf("%w: unexpected %q", errArith, clip(p.s[p.pos:]))
	}
	return v, nil
}

func (p *arith) skip() {
	for p.pos < len(p.s) && isSpaceByte(p.s[p.pos]) {
		p.pos++
	}
}

func (p *arith) peek(tok string) bool {
	p.skip()
	return strings.HasPrefix(p.s[p.pos:], tok)
}

// maxArithDepth bounds nesting so hostile input cannot exhaust the stack.
const maxArithDepth = 200

func (p *arith) expr(depth int) (float64, error) {
	if depth > maxArithDepth {
		return 0, fmt.Errorf("%w: nested too deep", errArith)
	}
	v, err := p.term(depth)
	if err != nil {
		return 0, err
	}
	for {
		switch {
		case p.peek("+"):
			p.pos++
			w, err := p.term(depth)
			if err != nil {
				return 0, err
			}
			v += w
		case p.peek("-"):
			p.pos++
			w, err := p.term(depth)
			if err != nil {
				return 0, err
			}
			v -= w
		default:
			return v, nil
		}
	}
}

func (p *arith) term(depth int) (float64, error) {
	v, err := p.unary(depth)
	if err != nil {
		return 0, err
	}
	for {
		var op string
		switch {
		case p.peek("**"):
			return v, nil // handled in power; cannot follow here
		case p.peek("//"):
			op = "//"
		case p.peek("*"):
			op = "*"
		case p.peek("/"):
			op = "/"
		case p.peek("%"):
			op = "%"
		default:
			return v, nil
		}
		p.pos += len(op)
		w, err := p.unary(depth)
		if err != nil {
			return 0, err
		}
		switch op {
		case "*":
			v *= w
		case "/", "//", "%":
			if w == 0 {
				return 0, fmt.Errorf("%w: division by zero", errArith)
			}
			switch op {
			case "/":
				v /= w
			case "//":
				v = math.Floor(v / w)
			default:
				v -= w * math.Floor(v/w)
			}
		}
	}
}

func (p *arith) unary(depth int) (float64, error) {
	if depth > maxArithDepth {
		return 0, fmt.Errorf("%w: nested too deep", errArith)
	}
	switch {
	case p.peek("+"):
		p.pos++
		return p.unary(depth + 1)
	case p.peek("-"):
		p.pos++
		v, err := p.unary(depth + 1)
		return -v, err
	}
	v, err := p.atom(depth)
	if err != nil {
		return 0, err
	}
	if p.peek("**") {
		p.pos += 2
		w, err := p.unary(depth + 1)
		if err != nil {
			return 0, err
		}
		v = math.Pow(v, w)
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return 0, fmt.Errorf("%w: out of range", errArith)
		}
	}
	return v, nil
}

func (p *arith) atom(depth int) (float64, error) {
	p.skip()
	if p.pos >= len(p.s) {
		return 0, fmt.Errorf("%w: unexpected end", errArith)
	}
	if p.s[p.pos] == '(' {
		p.pos++
		v, err := p.expr(depth + 1)
		if err != nil {
			return 0, err
		}
		if !p.peek(")") {
			return 0, fmt.Errorf("%w: missing ')'", errArith)
		}
		p.pos++
		return v, nil
	}
	start := p.pos
	dot := false
	for p.pos < len(p.s) && (isDigit(p.s[p.pos]) || (p.s[p.pos] == '.' && !dot)) {
		if p.s[p.pos] == '.' {
			dot = true
		}
		p.pos++
	}
	lit := p.s[start:p.pos]
	if lit == "" || lit == "." {
		return 0, fmt.Errorf("%w: unexpected %q", errArith, clip(p.s[start:]))
	}
	if !dot && len(lit) > 1 && lit[0] == '0' && strings.Trim(lit, "0") != "" {
		return 0, fmt.Errorf("%w: leading zeros in %q", errArith, lit)
	}
	v, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%w: bad number %q", errArith, lit)
	}
	return v, nil
}
