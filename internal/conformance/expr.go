package conformance

import (
	"errors"
	"fmt"
	"strings"
)

// ErrExpr is returned for a constraint the evaluator does not understand.
var ErrExpr = errors.New("constraint expression")

// Env is what a sample-log constraint can look at: the filter's name and
// the options set of the current run.
type Env struct {
	Name string
	Opts Opts
}

// Eval evaluates the small Python expression language the sample logs use
// in "constraint" and "test.condition": comparisons (== and !=) of name,
// opts.get('key'[, default]), string literals, None, True and False,
// combined with not, and, or and parentheses.
func Eval(expr string, env Env) (bool, error) {
	toks, err := lexExpr(expr)
	if err != nil {
		return false, err
	}
	p := &exprParser{toks: toks, env: env}
	v, err := p.or()
	if err != nil {
		return false, err
	}
	if p.pos != len(p.toks) {
		return false, fmt.Errorf("%w: unexpected %q in %q", ErrExpr, p.toks[p.pos].text, expr)
	}
	return truthy(v), nil
}

type exprTok struct {
	kind byte // 'i' identifier, 's' string, 'o' operator/punctuation
	text string
}

func lexExpr(s string) ([]exprTok, error) {
	var toks []exprTok
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '\'' || c == '"':
			j := i + 1
			var b strings.Builder
			for ; j < len(s) && s[j] != c; j++ {
				if s[j] == '\\' && j+1 < len(s) {
					j++
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("%w: unterminated string in %q", ErrExpr, s)
			}
			toks = append(toks, exprTok{'s', b.String()})
			i = j + 1
		case c == '=' || c == '!':
			if i+1 < len(s) && s[i+1] == '=' {
				toks = append(toks, exprTok{'o', s[i : i+2]})
				i += 2
				continue
			}
			return nil, fmt.Errorf("%w: bad operator at %d in %q", ErrExpr, i, s)
		case c == '(' || c == ')' || c == ',' || c == '.':
			toks = append(toks, exprTok{'o', string(c)})
			i++
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i
			for j < len(s) && (s[j] == '_' || s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z' || s[j] >= '0' && s[j] <= '9') {
				j++
			}
			toks = append(toks, exprTok{'i', s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("%w: unexpected %q in %q", ErrExpr, c, s)
		}
	}
	return toks, nil
}

type exprParser struct {
	toks []exprTok
	pos  int
	env  Env
}

func (p *exprParser) peek(kind byte, text string) bool {
	return p.pos < len(p.toks) && p.toks[p.pos].kind == kind && p.toks[p.pos].text == text
}

func (p *exprParser) expect(kind byte, text string) error {
	if !p.peek(kind, text) {
		return fmt.Errorf("%w: expected %q", ErrExpr, text)
	}
	p.pos++
	return nil
}

// Values are string, nil (None) or bool.
func (p *exprParser) or() (any, error) {
	v, err := p.and()
	for err == nil && p.peek('i', "or") {
		p.pos++
		var w any
		w, err = p.and()
		v = truthy(v) || truthy(w)
	}
	return v, err
}

func (p *exprParser) and() (any, error) {
	v, err := p.not()
	for err == nil && p.peek('i', "and") {
		p.pos++
		var w any
		w, err = p.not()
		v = truthy(v) && truthy(w)
	}
	return v, err
}

func (p *exprParser) not() (any, error) {
	if p.peek('i', "not") {
		p.pos++
		v, err := p.not()
		return !truthy(v), err
	}
	return p.cmp()
}

func (p *exprParser) cmp() (any, error) {
	a, err := p.operand()
	if err != nil {
		return nil, err
	}
	switch {
	case p.peek('o', "=="):
		p.pos++
		b, err := p.operand()
		return a == b, err
	case p.peek('o', "!="):
		p.pos++
		b, err := p.operand()
		return a != b, err
	}
	return a, nil
}

func (p *exprParser) operand() (any, error) {
	if p.pos >= len(p.toks) {
		return nil, fmt.Errorf("%w: unexpected end", ErrExpr)
	}
	t := p.toks[p.pos]
	p.pos++
	switch {
	case t.kind == 's':
		return t.text, nil
	case t.kind == 'o' && t.text == "(":
		v, err := p.or()
		if err != nil {
			return nil, err
		}
		return v, p.expect('o', ")")
	case t.kind == 'i' && t.text == "None":
		return nil, nil
	case t.kind == 'i' && t.text == "True":
		return true, nil
	case t.kind == 'i' && t.text == "False":
		return false, nil
	case t.kind == 'i' && t.text == "name":
		return p.env.Name, nil
	case t.kind == 'i' && t.text == "opts":
		return p.optsGet()
	}
	return nil, fmt.Errorf("%w: unknown operand %q", ErrExpr, t.text)
}

// optsGet parses the rest of opts.get('key'[, default]).
func (p *exprParser) optsGet() (any, error) {
	for _, want := range []exprTok{{'o', "."}, {'i', "get"}, {'o', "("}} {
		if err := p.expect(want.kind, want.text); err != nil {
			return nil, err
		}
	}
	key, err := p.operand()
	if err != nil {
		return nil, err
	}
	var def any
	if p.peek('o', ",") {
		p.pos++
		if def, err = p.operand(); err != nil {
			return nil, err
		}
	}
	if err := p.expect('o', ")"); err != nil {
		return nil, err
	}
	k, ok := key.(string)
	if !ok {
		return nil, fmt.Errorf("%w: opts.get key must be a string", ErrExpr)
	}
	v, ok := p.env.Opts.Get(k)
	if !ok {
		return def, nil
	}
	switch v.(type) {
	case nil, bool, string:
		return v, nil
	}
	return valueText(v), nil
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	}
	return true
}
