package filter

import (
	"maps"
	"reflect"
	"testing"
	"unsafe"
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
		var prev map[string]string
		for _, line := range lines {
			l := &aheadLine{line: line}
			l.tl, l.date, l.noDate, l.skip = f.splitDate(line, &l.res)
			l.res.Time = l.date
			sh.work(l, false)
			var gs *guess
			if len(l.ahead.steps) > 0 {
				gs = &l.ahead.steps[0].gs
			}
			res := f.finish(l)
			want := ref.Process(line)
			if !reflect.DeepEqual(res, want) {
				t.Fatalf("%q:\nworker+finish %+v\nProcess       %+v", line, res, want)
			}
			// the ordered stage made no map: the guess's served, or the
			// one the line before of the same id had (failData.fields)
			if gs != nil && len(res.Failures) == 1 && gs.fieldsOK && gs.fields != nil {
				p := reflect.ValueOf(res.Failures[0].Fields).Pointer()
				if p == reflect.ValueOf(gs.fields).Pointer() || p == reflect.ValueOf(prev).Pointer() {
					taken++
				}
				prev = res.Failures[0].Fields
			}
		}
		if taken < len(lines)-2 {
			t.Errorf("%+v: the guess's or the id's Fields served %d of %d lines", opts, taken, len(lines))
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

// TestMLFIDFieldsShared: the failures of one multi-line id share their
// Fields map while the id's groups stay the same, get a new one when they
// change, and a map once handed out never changes. The reference is a
// second filter whose cached maps are dropped after every line, so that
// each of its failures gets a map made afresh.
func TestMLFIDFieldsShared(t *testing.T) {
	def := f2bDefinition(t, "sshd", nil)
	shared := mustCompile(t, def, Options{})
	fresh := mustCompile(t, def, Options{})
	lines := []string{
		"Nov 27 18:00:01 web01 sshd[77]: Failed password for invalid user u0 from 192.0.2.1 port 4000 ssh2",
		"Nov 27 18:00:02 web01 sshd[77]: Failed password for invalid user u0 from 192.0.2.1 port 4001 ssh2",
		"Nov 27 18:00:03 web01 sshd[77]: Failed password for invalid user u1 from 192.0.2.1 port 4002 ssh2",
		"Nov 27 18:00:04 web01 sshd[77]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.1  user=u1",
		"Nov 27 18:00:05 web01 sshd[77]: Failed password for u1 from 192.0.2.1 port 4003 ssh2",
		"Nov 27 18:00:06 web01 sshd[78]: Failed password for u1 from 192.0.2.9 port 4004 ssh2",
		"Nov 27 18:00:07 web01 sshd[77]: Failed password for u1 from 192.0.2.1 port 4005 ssh2",
		"Nov 27 18:00:08 web01 sshd[77]: Connection closed by authenticating user u1 192.0.2.1 port 4006 [preauth]",
		"Nov 27 18:00:09 web01 sshd[77]: Failed password for u1 from 192.0.2.1 port 4007 ssh2",
		"Nov 27 18:00:10 web01 sshd[77]: Failed password for u1 from 192.0.2.1 port 4008 ssh2",
	}
	type handed struct {
		m    map[string]string
		snap map[string]string
	}
	var all []handed
	distinct := map[unsafe.Pointer]bool{}
	for i, l := range lines {
		got, want := shared.Process(l), fresh.Process(l)
		for el := fresh.mlfid.order.Front(); el != nil; el = el.Next() {
			el.Value.(*mlfidEntry).data.fields = nil
		}
		if len(got.Failures) != len(want.Failures) {
			t.Fatalf("line %d: %d failures, fresh %d", i, len(got.Failures), len(want.Failures))
		}
		for k, fl := range got.Failures {
			if !maps.Equal(fl.Fields, want.Failures[k].Fields) {
				t.Errorf("line %d: Fields %v, fresh %v", i, fl.Fields, want.Failures[k].Fields)
			}
			distinct[reflect.ValueOf(fl.Fields).UnsafePointer()] = true
			all = append(all, handed{fl.Fields, maps.Clone(fl.Fields)})
		}
	}
	for i, h := range all {
		if !maps.Equal(h.m, h.snap) {
			t.Errorf("failure %d: Fields changed after it was handed out: %v, was %v", i, h.m, h.snap)
		}
	}
	// lines 1, 4, 6 (pid 77 again after 78) and 9 repeat their id's
	// groups: ten failures, at most six maps
	if n := len(distinct); n > 6 {
		t.Errorf("%d maps for ten failures, want at most 6", n)
	}
}
