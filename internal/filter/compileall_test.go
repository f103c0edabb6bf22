package filter

import (
	"errors"
	"reflect"
	"runtime"
	"testing"
	"time"
)

// TestCompilePatterns: the regexes compiled on several goroutines are
// those compiled one after the other, in the order of the definition,
// and Compile reports the first bad regex of the definition whichever
// goroutine got to it first.
func TestCompilePatterns(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	}
	def := f2bDefinition(t, "sshd", map[string]string{"mode": "aggressive"})
	def.IgnoreRegex = []string{`^ignored <HOST>$`, `from <HOST> port 1$`}
	got := compilePatterns(def, false, time.Second)
	srcs := append(append([]string{def.PrefRegex}, def.FailRegex...), def.IgnoreRegex...)
	if len(got) != len(srcs) {
		t.Fatalf("%d patterns for %d regexes", len(got), len(srcs))
	}
	for i, src := range srcs {
		want, err := compilePattern(src, def.UseDNS, false, time.Second)
		if err != nil || got[i].err != nil {
			t.Fatalf("regex %d: %v / %v", i, err, got[i].err)
		}
		ge, gr := got[i].p.engine()
		we, wr := want.engine()
		if got[i].p.source != src || got[i].p.expanded != want.expanded || got[i].p.asciiExpr != want.asciiExpr ||
			!reflect.DeepEqual(got[i].p.names, want.names) || ge != we || !reflect.DeepEqual(gr, wr) {
			t.Errorf("regex %d %q: compiled unlike compilePattern", i, src)
		}
	}
	bad := Definition{FailRegex: []string{`^ok <HOST>$`, `^(bad <HOST>$`, `^ok2 <HOST>$`, `^[worse <HOST>$`}}
	for range 20 {
		_, err := Compile(bad, Options{})
		if !errors.Is(err, ErrBadRegex) || err.Error() != mustErr(Compile(Definition{FailRegex: bad.FailRegex[:2]}, Options{})) {
			t.Fatalf("error %v, want failregex[1]'s", err)
		}
	}
}

func mustErr(_ *Filter, err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
