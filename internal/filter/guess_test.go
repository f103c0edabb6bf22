package filter

import (
	"reflect"
	"testing"
)

func TestFieldsStill(t *testing.T) {
	v := func(s string) gval { return gval{s, true} }
	g := groupSet{{"ip4", v("1.2.3.4")}, {"ip6", gval{}}, {"user", v("bob")}}
	for _, tc := range []struct {
		opts Options
		g    groupSet
		same bool
	}{
		{Options{}, g, true},
		{Options{}, groupSet{{"user", v("bob")}, {"ip4", v("1.2.3.4")}}, true},
		{Options{}, groupSet{{"ip4", v("1.2.3.4")}, {"user", v("bob")}, {"nofail", v("x")}}, false},
		{Options{}, groupSet{{"ip4", v("1.2.3.4")}}, false},
		{Options{}, groupSet{{"ip4", v("1.2.3.4")}, {"user", v("alice")}}, false},
		{Options{}, groupSet{{"ip4", v("1.2.3.4")}, {"user", v("bob")}, {"user", v("bob")}}, false},
		{Options{Counting: true, CountingFields: []string{"user"}}, groupSet{{"ip4", v("9.9.9.9")}, {"user", v("bob")}}, true},
		{Options{Counting: true, CountingFields: []string{"user"}}, groupSet{{"user", v("eve")}}, false},
		{Options{Counting: true, CountingFields: []string{"user"}}, groupSet{{"user", gval{}}}, false},
	} {
		f := &Filter{opts: tc.opts}
		want := allFields(g)
		if tc.opts.Counting {
			want = pickFields(g, tc.opts.CountingFields)
		}
		if got := f.fieldsStill(tc.g, want); got != tc.same {
			t.Errorf("%+v: fieldsStill(%v, %v) = %v", tc.opts, tc.g, want, got)
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

// TestMergeGroups: mergeGroups gives what setting each of the hit's
// groups over the prefregex's does, with and without repeated names.
func TestMergeGroups(t *testing.T) {
	v := func(s string) gval { return gval{s, true} }
	pre := groupSet{{"mlfid", v("sshd[1]: ")}, {"user", v("pre")}}
	for _, tc := range []struct {
		unique bool
		h      groupSet
	}{
		{true, groupSet{{"ip4", v("1.2.3.4")}, {"user", v("bob")}, {"dns", gval{}}}},
		{true, groupSet{{"mlfid", gval{}}, {"ip4", v("1.2.3.4")}}},
		{true, nil},
		{false, groupSet{{"user", v("a")}, {"x", v("1")}, {"x", v("2")}, {"user", v("b")}}},
	} {
		h := &hit{p: &pattern{uniqueNames: tc.unique}, groups: tc.h}
		want := append(groupSet(nil), pre...)
		for _, e := range tc.h {
			want.set(e.name, e.v)
		}
		if got := mergeGroups(nil, pre, h); !reflect.DeepEqual(got, want) {
			t.Errorf("unique %v, %v over %v: %v, want %v", tc.unique, tc.h, pre, got, want)
		}
	}
}
