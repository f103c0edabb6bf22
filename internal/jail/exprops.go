package jail

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
)

var (
	errZeroDiv  = errors.New("division by zero")
	errIntOnly  = errors.New("operator needs integers")
	errNegShift = errors.New("negative shift count")
	errDomain   = errors.New("math domain error")
)

// arith applies a binary operator with Python's int/float rules.
func arith(op string, x, y value) (value, error) {
	bothInt := !x.isFloat && !y.isFloat
	switch op {
	case "+", "-", "*":
		if bothInt {
			if r, ok := intArith(op, x.i, y.i); ok {
				return intVal(r), nil
			}
		}
		a, b := x.float(), y.float()
		switch op {
		case "+":
			return floatVal(a + b), nil
		case "-":
			return floatVal(a - b), nil
		}
		return floatVal(a * b), nil
	case "/":
		if y.float() == 0 {
			return value{}, errZeroDiv
		}
		return floatVal(x.float() / y.float()), nil
	case "//", "%":
		if !y.truthy() {
			return value{}, errZeroDiv
		}
		if bothInt && !(x.i == math.MinInt64 && y.i == -1) {
			q, m := x.i/y.i, x.i%y.i
			if m != 0 && (m < 0) != (y.i < 0) {
				q--
				m += y.i
			}
			if op == "//" {
				return intVal(q), nil
			}
			return intVal(m), nil
		}
		a, b := x.float(), y.float()
		m := math.Mod(a, b)
		if m != 0 && (m < 0) != (b < 0) {
			m += b
		}
		if op == "//" {
			return floatVal(math.Round((a - m) / b)), nil
		}
		return floatVal(m), nil
	case "**":
		if bothInt && y.i >= 0 {
			if r, ok := intPow(x.i, y.i); ok {
				return intVal(r), nil
			}
		}
		if x.float() == 0 && y.float() < 0 {
			return value{}, errZeroDiv
		}
		r := math.Pow(x.float(), y.float())
		if math.IsNaN(r) {
			return value{}, errDomain
		}
		return floatVal(r), nil
	}
	if !bothInt {
		return value{}, fmt.Errorf("%s: %w", op, errIntOnly)
	}
	switch op {
	case "<<", ">>":
		if y.i < 0 {
			return value{}, errNegShift
		}
		if op == ">>" {
			if y.i > 63 {
				y.i = 63
			}
			return intVal(x.i >> uint(y.i)), nil
		}
		if y.i < 63 && bits.Len64(absU(x.i))+int(y.i) <= 63 {
			return intVal(x.i << uint(y.i)), nil
		}
		return floatVal(math.Ldexp(float64(x.i), int(min(y.i, 1<<20)))), nil
	case "&":
		return intVal(x.i & y.i), nil
	case "|":
		return intVal(x.i | y.i), nil
	}
	return intVal(x.i ^ y.i), nil
}

func absU(i int64) uint64 {
	if i < 0 {
		return uint64(-i)
	}
	return uint64(i)
}

func intArith(op string, a, b int64) (int64, bool) {
	switch op {
	case "+":
		r := a + b
		return r, (r > a) == (b > 0)
	case "-":
		r := a - b
		return r, (r < a) == (b > 0)
	}
	if a == 0 || b == 0 {
		return 0, true
	}
	r := a * b
	return r, r/b == a && !(a == -1 && b == math.MinInt64) && !(b == -1 && a == math.MinInt64)
}

func intPow(a, n int64) (int64, bool) {
	r := int64(1)
	for ; n > 0; n-- {
		var ok bool
		if r, ok = intArith("*", r, a); !ok {
			return 0, false
		}
		if r == 0 || r == 1 && a == 1 {
			return r, true
		}
		if n > 64 && (a == -1) {
			if n%2 == 0 {
				return 1, true
			}
			return -1, true
		}
	}
	return r, true
}

func negate(op string, x value) (value, error) {
	switch op {
	case "+":
		return x, nil
	case "-":
		if x.isFloat {
			return floatVal(-x.f), nil
		}
		if x.i == math.MinInt64 {
			return floatVal(-float64(x.i)), nil
		}
		return intVal(-x.i), nil
	}
	if x.isFloat {
		return value{}, fmt.Errorf("~: %w", errIntOnly)
	}
	return intVal(^x.i), nil
}

// call parses the argument list of a function call and binds the function.
func (p *parser) call(name string) (node, error) {
	var args []node
	if !p.accept(")") {
		for {
			a, err := p.expr()
			if err != nil {
				return nil, err
			}
			args = append(args, a)
			if p.accept(")") {
				break
			}
			if !p.accept(",") {
				return nil, p.errf("expected , or )")
			}
		}
	}
	fn, lo, hi := function(name)
	if fn == nil {
		return nil, p.errf("unknown function %q", name)
	}
	if len(args) < lo || hi >= 0 && len(args) > hi {
		return nil, p.errf("%s() takes %d to %d arguments, got %d", name, lo, hi, len(args))
	}
	return func(v *Vars) (value, error) {
		vals := make([]value, len(args))
		for i, a := range args {
			x, err := a(v)
			if err != nil {
				return value{}, err
			}
			vals[i] = x
		}
		r, err := fn(vals)
		if err != nil {
			return value{}, fmt.Errorf("%s(): %w", name, err)
		}
		return r, nil
	}, nil
}

type function1 func(float64) float64

func floatFn(f function1, domain func(float64) bool) func([]value) (value, error) {
	return func(a []value) (value, error) {
		x := a[0].float()
		if domain != nil && !domain(x) {
			return value{}, errDomain
		}
		r := f(x)
		if math.IsInf(r, 0) && !math.IsInf(x, 0) {
			return value{}, errors.New("math range error")
		}
		return floatVal(r), nil
	}
}

func positive(x float64) bool    { return x > 0 }
func nonNegative(x float64) bool { return x >= 0 }

// toInt converts a float the way Python's int() does (truncation).
func toInt(f float64) (value, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return value{}, errDomain
	}
	if math.Abs(f) >= 1<<63 {
		return floatVal(math.Trunc(f)), nil
	}
	return intVal(int64(f)), nil
}

// function returns the implementation of a callable name and its arity
// bounds (hi < 0: variadic).
func function(name string) (fn func([]value) (value, error), lo, hi int) {
	switch name {
	case "math.exp":
		return floatFn(math.Exp, nil), 1, 1
	case "math.log":
		return func(a []value) (value, error) {
			x := a[0].float()
			if x <= 0 {
				return value{}, errDomain
			}
			if len(a) == 1 {
				return floatVal(math.Log(x)), nil
			}
			b := a[1].float()
			if b <= 0 || b == 1 {
				return value{}, errDomain
			}
			return floatVal(math.Log(x) / math.Log(b)), nil
		}, 1, 2
	case "math.log2":
		return floatFn(math.Log2, positive), 1, 1
	case "math.log10":
		return floatFn(math.Log10, positive), 1, 1
	case "math.sqrt":
		return floatFn(math.Sqrt, nonNegative), 1, 1
	case "math.pow":
		return func(a []value) (value, error) {
			r := math.Pow(a[0].float(), a[1].float())
			if math.IsNaN(r) {
				return value{}, errDomain
			}
			return floatVal(r), nil
		}, 2, 2
	case "math.floor", "math.ceil":
		f := math.Floor
		if name == "math.ceil" {
			f = math.Ceil
		}
		return func(a []value) (value, error) {
			if !a[0].isFloat {
				return a[0], nil
			}
			return toInt(f(a[0].f))
		}, 1, 1
	case "min", "max":
		return func(a []value) (value, error) {
			best := a[0]
			for _, x := range a[1:] {
				if name == "min" && compare("<", x, best) || name == "max" && compare(">", x, best) {
					best = x
				}
			}
			return best, nil
		}, 1, -1
	case "abs":
		return func(a []value) (value, error) {
			if compare("<", a[0], intVal(0)) {
				return negate("-", a[0])
			}
			return a[0], nil
		}, 1, 1
	case "int":
		return func(a []value) (value, error) {
			if !a[0].isFloat {
				return a[0], nil
			}
			return toInt(a[0].f)
		}, 1, 1
	case "float":
		return func(a []value) (value, error) { return floatVal(a[0].float()), nil }, 1, 1
	case "round":
		return func(a []value) (value, error) {
			if len(a) == 1 {
				if !a[0].isFloat {
					return a[0], nil
				}
				return toInt(math.RoundToEven(a[0].f))
			}
			if a[1].isFloat {
				return value{}, errIntOnly
			}
			if !a[0].isFloat && a[1].i >= 0 {
				return a[0], nil
			}
			x, n := a[0].float(), a[1].i
			if n >= 0 {
				// Like Python, round the exact binary value:
				// round(2.675, 2) is 2.67.
				r, err := strconv.ParseFloat(strconv.FormatFloat(x, 'f', int(min(n, 400)), 64), 64)
				return floatVal(r), err
			}
			p := math.Pow(10, float64(-n))
			r := math.RoundToEven(x/p) * p
			if !a[0].isFloat {
				return toInt(r)
			}
			return floatVal(r), nil
		}, 1, 2
	}
	return nil, 0, 0
}
