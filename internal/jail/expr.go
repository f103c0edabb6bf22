package jail

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrFormula reports a bantime.formula or bantime.factor that the
// expression evaluator cannot parse or evaluate.
var ErrFormula = errors.New("jail: bad formula")

// Formula is a compiled bantime.formula expression.
//
// fail2ban hands the option to Python's eval. We accept the subset of
// Python expressions that real formulas use instead, and nothing that
// could run code: number literals; the names ban.Time, ban.Count and
// banFactor; math.e and math.pi; the operators + - * / // % ** << >> & | ^ ~,
// comparisons, not/and/or and "a if cond else b"; and the functions
// math.exp, math.log, math.log2, math.log10, math.sqrt, math.pow,
// math.floor, math.ceil, min, max, abs, int, float and round.
// Integer and float values keep Python's distinction: / always yields a
// float, << needs integers, round() of one argument yields an integer.
type Formula struct {
	src  string
	root node
}

// Vars are the names a formula can read. A whole-numbered Time or
// Factor reads as a Python int, any other as a float.
type Vars struct {
	Time   float64 // ban.Time, seconds
	Count  int     // ban.Count, previous bans
	Factor float64 // banFactor
}

// String returns the formula's source text.
func (f *Formula) String() string { return f.src }

// DefaultFormula is fail2ban's built-in bantime.formula, spelled out.
const DefaultFormula = "ban.Time * (1<<(ban.Count if ban.Count<20 else 20)) * banFactor"

// ParseFormula compiles a bantime.formula expression.
func ParseFormula(src string) (*Formula, error) {
	p := &parser{src: src}
	if err := p.lex(); err != nil {
		return nil, err
	}
	n, err := p.expr()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		return nil, p.errf("unexpected %q", p.toks[p.pos].text)
	}
	return &Formula{src: src, root: n}, nil
}

// Eval evaluates the formula and returns its value as a float.
func (f *Formula) Eval(v Vars) (float64, error) {
	r, err := f.root(&v)
	if err != nil {
		return 0, fmt.Errorf("%w: %q: %w", ErrFormula, f.src, err)
	}
	return r.float(), nil
}

// ParseFactor evaluates a bantime.factor value (fail2ban evals it too, so
// "2", "1.5" and "3/2" are all accepted). It may not use ban.* names.
func ParseFactor(src string) (float64, error) {
	v, err := parseConst(src)
	if err != nil {
		return 0, err
	}
	return v.float(), nil
}

func parseConst(src string) (value, error) {
	if strings.TrimSpace(src) == "" {
		return intVal(1), nil
	}
	f, err := ParseFormula(src)
	if err != nil {
		return value{}, err
	}
	v, err := f.root(&Vars{Factor: 1})
	if err != nil {
		return value{}, fmt.Errorf("%w: %q: %w", ErrFormula, src, err)
	}
	return v, nil
}

// value is a Python int or float. Ints that overflow int64 turn into
// floats, which is close enough for ban times.
type value struct {
	isFloat bool
	i       int64
	f       float64
}

func intVal(i int64) value     { return value{i: i} }
func floatVal(f float64) value { return value{isFloat: true, f: f} }

func (v value) float() float64 {
	if v.isFloat {
		return v.f
	}
	return float64(v.i)
}

func (v value) truthy() bool {
	if v.isFloat {
		return v.f != 0
	}
	return v.i != 0
}

// number reads a whole float as an int.
func number(f float64) value {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return intVal(int64(f))
	}
	return floatVal(f)
}

func boolVal(b bool) value {
	if b {
		return intVal(1)
	}
	return intVal(0)
}

type node func(*Vars) (value, error)

type token struct {
	text string
	num  bool
	name bool
	at   int
}

type parser struct {
	src  string
	toks []token
	pos  int
}

func (p *parser) errf(format string, args ...any) error {
	at := len(p.src)
	if p.pos < len(p.toks) {
		at = p.toks[p.pos].at
	}
	return fmt.Errorf("%w: %q at offset %d: %s", ErrFormula, p.src, at, fmt.Sprintf(format, args...))
}

var operators = []string{"**", "//", "<<", ">>", "<=", ">=", "==", "!=",
	"+", "-", "*", "/", "%", "&", "|", "^", "~", "<", ">", "(", ")", ","}

func (p *parser) lex() error {
	s := p.src
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i
			for j < len(s) && (isDigit(s[j]) || s[j] == '.' || s[j] == '_' || s[j] == 'x' || s[j] == 'X' ||
				isHex(s[j]) || (s[j] == '+' || s[j] == '-') && (s[j-1] == 'e' || s[j-1] == 'E') && !strings.HasPrefix(s[i:], "0x")) {
				j++
			}
			p.toks = append(p.toks, token{text: s[i:j], num: true, at: i})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '.' || isDigit(s[j]) || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
				j++
			}
			p.toks = append(p.toks, token{text: s[i:j], name: true, at: i})
			i = j
		default:
			op := ""
			for _, o := range operators {
				if strings.HasPrefix(s[i:], o) {
					op = o
					break
				}
			}
			if op == "" {
				return fmt.Errorf("%w: %q at offset %d: unexpected character %q", ErrFormula, s, i, c)
			}
			p.toks = append(p.toks, token{text: op, at: i})
			i += len(op)
		}
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
func isHex(c byte) bool   { return c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// peek reports whether the next token is the operator or keyword t.
func (p *parser) peek(t string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].text == t && !p.toks[p.pos].num
}

func (p *parser) accept(t string) bool {
	if p.peek(t) {
		p.pos++
		return true
	}
	return false
}

// expr parses a conditional expression: or_expr ["if" or_expr "else" expr].
func (p *parser) expr() (node, error) {
	a, err := p.or()
	if err != nil {
		return nil, err
	}
	if !p.accept("if") {
		return a, nil
	}
	cond, err := p.or()
	if err != nil {
		return nil, err
	}
	if !p.accept("else") {
		return nil, p.errf("expected else")
	}
	b, err := p.expr()
	if err != nil {
		return nil, err
	}
	return func(v *Vars) (value, error) {
		c, err := cond(v)
		if err != nil {
			return value{}, err
		}
		if c.truthy() {
			return a(v)
		}
		return b(v)
	}, nil
}

func (p *parser) or() (node, error)  { return p.logic("or", p.and, true) }
func (p *parser) and() (node, error) { return p.logic("and", p.not, false) }

// logic parses a left-associative chain of and/or; like Python it
// returns the deciding operand, not a bool.
func (p *parser) logic(kw string, sub func() (node, error), stopOnTrue bool) (node, error) {
	a, err := sub()
	if err != nil {
		return nil, err
	}
	for p.accept(kw) {
		b, err := sub()
		if err != nil {
			return nil, err
		}
		l := a
		a = func(v *Vars) (value, error) {
			x, err := l(v)
			if err != nil || x.truthy() == stopOnTrue {
				return x, err
			}
			return b(v)
		}
	}
	return a, nil
}

func (p *parser) not() (node, error) {
	if p.accept("not") {
		a, err := p.not()
		if err != nil {
			return nil, err
		}
		return func(v *Vars) (value, error) {
			x, err := a(v)
			return boolVal(!x.truthy()), err
		}, nil
	}
	return p.comparison()
}

var compareOps = []string{"<", "<=", ">", ">=", "==", "!="}

// comparison parses chained comparisons (a < b < c means a<b and b<c).
func (p *parser) comparison() (node, error) {
	first, err := p.binary(0)
	if err != nil {
		return nil, err
	}
	var ops []string
	nodes := []node{first}
	for {
		op := ""
		for _, o := range compareOps {
			if p.peek(o) {
				op = o
			}
		}
		if op == "" {
			break
		}
		p.pos++
		n, err := p.binary(0)
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
		nodes = append(nodes, n)
	}
	if len(ops) == 0 {
		return first, nil
	}
	return func(v *Vars) (value, error) {
		l, err := nodes[0](v)
		if err != nil {
			return value{}, err
		}
		for i, op := range ops {
			r, err := nodes[i+1](v)
			if err != nil {
				return value{}, err
			}
			if !compare(op, l, r) {
				return boolVal(false), nil
			}
			l = r
		}
		return boolVal(true), nil
	}, nil
}

func compare(op string, a, b value) bool {
	if !a.isFloat && !b.isFloat {
		switch op {
		case "<":
			return a.i < b.i
		case "<=":
			return a.i <= b.i
		case ">":
			return a.i > b.i
		case ">=":
			return a.i >= b.i
		case "==":
			return a.i == b.i
		}
		return a.i != b.i
	}
	x, y := a.float(), b.float()
	switch op {
	case "<":
		return x < y
	case "<=":
		return x <= y
	case ">":
		return x > y
	case ">=":
		return x >= y
	case "==":
		return x == y
	}
	return x != y
}

// binaryLevels lists the binary operators from loosest to tightest.
var binaryLevels = [][]string{{"|"}, {"^"}, {"&"}, {"<<", ">>"}, {"+", "-"}, {"*", "/", "//", "%"}}

func (p *parser) binary(level int) (node, error) {
	if level == len(binaryLevels) {
		return p.unary()
	}
	a, err := p.binary(level + 1)
	if err != nil {
		return nil, err
	}
	for {
		op := ""
		for _, o := range binaryLevels[level] {
			if p.peek(o) {
				op = o
			}
		}
		if op == "" {
			return a, nil
		}
		p.pos++
		b, err := p.binary(level + 1)
		if err != nil {
			return nil, err
		}
		a = binaryNode(op, a, b)
	}
}

func binaryNode(op string, a, b node) node {
	return func(v *Vars) (value, error) {
		x, err := a(v)
		if err != nil {
			return value{}, err
		}
		y, err := b(v)
		if err != nil {
			return value{}, err
		}
		return arith(op, x, y)
	}
}

func (p *parser) unary() (node, error) {
	for _, op := range []string{"-", "+", "~"} {
		if p.accept(op) {
			a, err := p.unary()
			if err != nil {
				return nil, err
			}
			return func(v *Vars) (value, error) {
				x, err := a(v)
				if err != nil {
					return value{}, err
				}
				return negate(op, x)
			}, nil
		}
	}
	return p.power()
}

// power parses primary ["**" unary]; ** is right-associative and binds
// tighter than a unary minus on its left.
func (p *parser) power() (node, error) {
	a, err := p.primary()
	if err != nil {
		return nil, err
	}
	if !p.accept("**") {
		return a, nil
	}
	b, err := p.unary()
	if err != nil {
		return nil, err
	}
	return binaryNode("**", a, b), nil
}

func (p *parser) primary() (node, error) {
	if p.pos >= len(p.toks) {
		return nil, p.errf("unexpected end")
	}
	t := p.toks[p.pos]
	p.pos++
	switch {
	case t.num:
		c, err := parseNumber(t.text)
		if err != nil {
			p.pos--
			return nil, p.errf("bad number %q", t.text)
		}
		return func(*Vars) (value, error) { return c, nil }, nil
	case t.text == "(":
		n, err := p.expr()
		if err != nil {
			return nil, err
		}
		if !p.accept(")") {
			return nil, p.errf("expected )")
		}
		return n, nil
	case t.name:
		if p.accept("(") {
			return p.call(t.text)
		}
		return p.name(t.text)
	}
	p.pos--
	return nil, p.errf("unexpected %q", t.text)
}

func (p *parser) name(n string) (node, error) {
	switch n {
	case "ban.Time":
		return func(v *Vars) (value, error) { return number(v.Time), nil }, nil
	case "ban.Count":
		return func(v *Vars) (value, error) { return intVal(int64(v.Count)), nil }, nil
	case "banFactor":
		return func(v *Vars) (value, error) { return number(v.Factor), nil }, nil
	case "math.e":
		return func(*Vars) (value, error) { return floatVal(math.E), nil }, nil
	case "math.pi":
		return func(*Vars) (value, error) { return floatVal(math.Pi), nil }, nil
	case "True":
		return func(*Vars) (value, error) { return intVal(1), nil }, nil
	case "False":
		return func(*Vars) (value, error) { return intVal(0), nil }, nil
	}
	p.pos--
	return nil, p.errf("unknown name %q", n)
}

func parseNumber(s string) (value, error) {
	s = strings.ReplaceAll(s, "_", "")
	if len(s) > 1 && s[0] == '0' && strings.Trim(s, "0123456789") == "" && strings.Trim(s, "0") != "" {
		// Python rejects 017 (no C octal), though 0.5 and 00 are fine.
		return value{}, fmt.Errorf("leading zero")
	}
	if i, err := strconv.ParseInt(s, 0, 64); err == nil {
		return intVal(i), nil
	}
	if strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X") {
		return value{}, fmt.Errorf("bad hex")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return value{}, err
	}
	return floatVal(f), nil
}
