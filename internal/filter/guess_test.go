package filter

import (
	"reflect"
	"testing"
)

func TestOkSame(t *testing.T) {
	v := func(s string) gval { return gval{s, true} }
	for _, tc := range []struct {
		a, b groupSet
		same bool
	}{
		{groupSet{{"ip4", v("1.2.3.4")}, {"ip6", gval{}}}, groupSet{{"ip6", gval{}}, {"ip4", v("1.2.3.4")}}, true},
		{groupSet{{"ip4", v("1.2.3.4")}}, groupSet{{"ip4", v("1.2.3.4")}, {"nofail", gval{}}}, true},
		{groupSet{{"ip4", v("1.2.3.4")}}, groupSet{{"ip4", v("1.2.3.5")}}, false},
		{groupSet{{"ip4", v("1.2.3.4")}, {"user", v("x")}}, groupSet{{"ip4", v("1.2.3.4")}}, false},
		{groupSet{{"ip4", v("1.2.3.4")}}, groupSet{{"ip4", v("1.2.3.4")}, {"user", v("")}}, false},
		{groupSet{{"user", gval{}}}, groupSet{{"user", v("")}}, false},
		{nil, nil, true},
	} {
		if got := okSame(tc.a, tc.b); got != tc.same {
			t.Errorf("okSame(%v, %v) = %v", tc.a, tc.b, got)
		}
		if got := okSame(tc.b, tc.a); got != tc.same {
			t.Errorf("okSame(%v, %v) = %v", tc.b, tc.a, got)
		}
	}
}

// TestGuessTaken: the flood's lines, worked on a worker and finished in
// order, give Process's failures, with the worker's Fields map and
// address taken as they are (the guess was right); a line whose merged
// data differ from its own groups gets Process's failure too.
func TestGuessTaken(t *testing.T) {
	def := f2bDefinition(t, "sshd", nil)
	lines := floodLines(3)
	// the same connection: a user before, none after (a merge that
	// keeps the earlier user: the guess's Fields must not be used)
	lines = append(lines,
		"Nov 27 18:01:00 bench sshd[7]: Failed password for invalid user bob from 10.9.9.9 port 1 ssh2",
		"Nov 27 18:01:01 bench sshd[7]: Connection closed by 10.9.9.9 port 1 [preauth]")
	for _, opts := range []Options{{}, {Counting: true, CountingFields: []string{"ip4", "user"}}} {
		f, err := Compile(def, opts)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := Compile(def, opts)
		if err != nil {
			t.Fatal(err)
		}
		sh := f.shadow()
		taken := 0
		for _, line := range lines {
			l := &aheadLine{line: line}
			l.tl, l.date, l.noDate, l.skip = f.splitDate(line, &l.res)
			l.res.Time = l.date
			sh.work(l)
			var gs *guess
			if len(l.ahead.steps) > 0 {
				gs = &l.ahead.steps[0].gs
			}
			res := f.finish(l)
			want := ref.Process(line)
			if !reflect.DeepEqual(res, want) {
				t.Fatalf("%q:\nworker+finish %+v\nProcess       %+v", line, res, want)
			}
			if gs != nil && len(res.Failures) == 1 && gs.fieldsOK && gs.fields != nil &&
				reflect.ValueOf(res.Failures[0].Fields).Pointer() == reflect.ValueOf(gs.fields).Pointer() {
				taken++
			}
		}
		if taken < len(lines)-2 {
			t.Errorf("%+v: the guess's Fields served %d of %d lines", opts, taken, len(lines))
		}
	}
}
