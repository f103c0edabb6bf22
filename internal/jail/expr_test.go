package jail

import (
	"errors"
	"math"
	"testing"
)

// formulas are evaluated by Python and by the evaluator, both with
// ban.Time=600, ban.Count=3, banFactor=2 unless a case says otherwise.
var formulas = []string{
	DefaultFormula,
	"ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)",
	"ban.Time * 2**ban.Count",
	"-2**2", "2**-1", "2**3**2", "(-7) // 2", "-7 % 3", "7 % -3", "7.5 // 2", "-7.5 % 2",
	"1 << 62", "1 << 63", "1 << 70", "-1 << 63", "3 << 61", "round(-25, -1)", "round(1234.5678, -2)", "00 + 0.5 + 08.5", "5 >> 1", "6 & 3 | 8 ^ 1", "~5",
	"1 < 2 < 3", "3 > 2 > 2", "1 == 1.0", "2 != 2",
	"not 0", "0 or 5", "3 and 0", "3 and 4", "0 and 1/0",
	"ban.Time if ban.Count < 2 else ban.Time * ban.Count * 3 // 2",
	"min(ban.Time * (ban.Count + 1), 3600) + max(ban.Count, 2) % 7",
	"abs(-3) + abs(-2.5)", "int(2.9) + int(-2.9)", "round(2.5) + round(3.5) + round(-0.5)",
	"round(2.675, 2)", "math.floor(-1.5) + math.ceil(1.2)", "math.sqrt(16) + math.log(math.e)",
	"math.log(8, 2) + math.log2(1024) + math.log10(1000)", "math.pow(2, 10)",
	"1_000 + 0x10 + 1e3 + .5", "10 / 4", "10 // 4", "True + False",
	"ban.Time * banFactor * ban.Count", "banFactor / 3",
	"1/0", "1 % 0", "math.log(0)", "math.sqrt(-1)", "1.5 << 2", "1 << -1", "0 ** -1",
}

func TestFormulaAgainstPython(t *testing.T) {
	type job struct {
		Mode  string  `json:"mode"`
		Cases [][]any `json:"cases"`
	}
	var cases [][]any
	for _, f := range formulas {
		cases = append(cases, []any{f, 600, 3, 2})
	}
	var want [][]*[2]any
	runF2B(t, []job{{"eval", cases}}, &want)
	for i, src := range formulas {
		f, err := ParseFormula(src)
		if err != nil {
			t.Errorf("%q: %v", src, err)
			continue
		}
		v, err := f.root(&Vars{Time: 600, Count: 3, Factor: 2})
		w := want[0][i]
		if w == nil {
			if err == nil {
				t.Errorf("%q = %v, Python raised", src, v)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v, Python %v", src, err, w[0])
			continue
		}
		wf := w[0].(float64)
		// Ints beyond int64 become floats here (Python's are unbounded).
		typeOK := v.isFloat == w[1].(bool) || math.Abs(wf) >= 1<<63
		if math.Abs(v.float()-wf) > 1e-9*max(1, math.Abs(wf)) || !typeOK {
			t.Errorf("%q = %v (float %v), Python %v (float %v)", src, v.float(), v.isFloat, wf, w[1])
		}
	}
}

func TestParseFormulaErrors(t *testing.T) {
	for _, src := range []string{
		"", "ban.Time *", "(1", "1)", "__import__('os')", "open('x')", "ban.Time.__class__",
		"lambda: 1", "[1]", "x", "1 if 2", "min()", "math.exp(1, 2)", "'a'", "1 = 2", "08", "0x", "1..2",
		"ban.Time; 1", "a.b.c(1)", "1 @ 2",
	} {
		if _, err := ParseFormula(src); !errors.Is(err, ErrFormula) {
			t.Errorf("ParseFormula(%q) = %v, want ErrFormula", src, err)
		}
	}
}

func TestParseFactor(t *testing.T) {
	for src, want := range map[string]float64{"": 1, "1": 1, "2": 2, "1.5": 1.5, "3/2": 1.5, " 4 ": 4} {
		got, err := ParseFactor(src)
		if err != nil || got != want {
			t.Errorf("ParseFactor(%q) = %v, %v; want %v", src, got, err, want)
		}
	}
	if _, err := ParseFactor("ban.Count"); err != nil {
		t.Logf("ban.Count in a factor: %v", err)
	}
	if _, err := ParseFactor("1/0"); !errors.Is(err, ErrFormula) {
		t.Errorf("ParseFactor(1/0) = %v, want ErrFormula", err)
	}
}

func FuzzParseFormula(f *testing.F) {
	for _, s := range formulas {
		f.Add(s, 600.0, 3)
	}
	f.Fuzz(func(t *testing.T, src string, bt float64, count int) {
		fm, err := ParseFormula(src)
		if err != nil {
			if !errors.Is(err, ErrFormula) {
				t.Fatalf("error %v is not ErrFormula", err)
			}
			return
		}
		if fm.String() != src {
			t.Fatalf("String() = %q", fm.String())
		}
		// Evaluation must not panic or hang, whatever the values.
		_, _ = fm.Eval(Vars{Time: bt, Count: count, Factor: bt})
	})
}
