package filter

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unsafe"
)

// within reports whether s's bytes lie inside buf's.
func within(s, buf string) bool {
	if s == "" || buf == "" {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	b := uintptr(unsafe.Pointer(unsafe.StringData(buf)))
	return p >= b && p < b+uintptr(len(buf))
}

// cacheStrings lists every string the multi-line id cache holds.
func cacheStrings(c *mlfidCache) []string {
	var out []string
	for el := c.order.Front(); el != nil; el = el.Next() {
		e := el.Value.(*mlfidEntry)
		out = append(out, e.id)
		d := e.data
		for _, g := range d.g {
			out = append(out, g.v.s)
		}
		out = append(out, d.matches...)
		out = append(out, d.nofailMatches...)
		out = append(out, d.users...)
		for _, v := range d.fields {
			out = append(out, v)
		}
	}
	return out
}

// TestSharedLines feeds sshd lines cut from one large buffer, as warden
// regex does, to Process and to ProcessSeq with two workers: with
// SharedLines the multi-line cache keeps no text of the buffer (without
// it, it does: the test can tell), and the results are the same either
// way.
func TestSharedLines(t *testing.T) {
	def := f2bDefinition(t, "sshd", nil)
	var sb strings.Builder
	for i := range 40 {
		fmt.Fprintf(&sb, "Nov 27 18:00:%02d web01 sshd[%d]: Failed password for invalid user u%d from 192.0.2.%d port 4000 ssh2\n", i%60, 100+i%7, i%3, i%11)
		fmt.Fprintf(&sb, "Nov 27 18:00:%02d web01 sshd[%d]: Failed password for invalid user u%d from 192.0.2.%d port 4001 ssh2\n", i%60, 100+i%7, i%3, i%11)
		fmt.Fprintf(&sb, "Nov 27 18:00:%02d web01 sshd[%d]: Connection closed by 192.0.2.%d port 4000 [preauth]\n", i%60, 100+i%7, i%11)
	}
	buf := sb.String()
	lines := strings.Split(strings.TrimSuffix(buf, "\n"), "\n")
	for _, counting := range []bool{false, true} {
		for _, workers := range []int{1, 2} {
			var results [2][]Result
			for k, shared := range []bool{false, true} {
				f := mustCompile(t, def, Options{SharedLines: shared, Counting: counting})
				held := false
				note := func(_ string, res Result) {
					results[k] = append(results[k], res)
					held = held || slices.ContainsFunc(cacheStrings(f.mlfid), func(s string) bool { return within(s, buf) })
				}
				if err := f.ProcessSeq(context.Background(), slices.Values(lines), workers, note); err != nil {
					t.Fatal(err)
				}
				if held == shared {
					t.Errorf("counting %v, %d workers, SharedLines %v: cache holds text of the buffer: %v", counting, workers, shared, held)
				}
			}
			for i := range results[0] {
				a, b := results[0][i], results[1][i]
				if fmt.Sprint(a) != fmt.Sprint(b) {
					t.Fatalf("line %d: %v without SharedLines, %v with", i, a, b)
				}
			}
		}
	}
}

// TestFailureSlicesKept: a failure's Lines and Users stay as they were
// when it was made while more lines of the same id come, and an append
// to them by the receiver does not reach later failures.
func TestFailureSlicesKept(t *testing.T) {
	def := f2bDefinition(t, "sshd", nil)
	f, err := Compile(def, Options{})
	if err != nil {
		t.Fatal(err)
	}
	type seen struct {
		fl           Failure
		lines, users []string
	}
	var got []seen
	for i := range 8 {
		line := fmt.Sprintf("Nov 27 18:00:%02d web01 sshd[77]: Failed password for invalid user u%d from 192.0.2.1 port %d ssh2", i, i%3, 4000+i)
		res := f.Process(line)
		if len(res.Failures) != 1 {
			t.Fatalf("line %d: %d failures", i, len(res.Failures))
		}
		fl := res.Failures[0]
		got = append(got, seen{fl, slices.Clone(fl.Lines), slices.Clone(fl.Users)})
		if !slices.Equal(fl.Lines, []string{line}) {
			t.Fatalf("line %d: Lines %q", i, fl.Lines)
		}
		_ = append(fl.Lines, "appended by the receiver")
		_ = append(fl.Users, "appended by the receiver")
	}
	for i, s := range got {
		if !slices.Equal(s.fl.Lines, s.lines) || !slices.Equal(s.fl.Users, s.users) {
			t.Errorf("failure %d changed: Lines %q (was %q), Users %q (was %q)", i, s.fl.Lines, s.lines, s.fl.Users, s.users)
		}
	}
	if u := got[len(got)-1].fl.Users; !slices.Equal(u, []string{"u0", "u1", "u2"}) {
		t.Errorf("users of the id: %q", u)
	}
}

// TestFloodLineAllocs guards the allocations of a failure line with the
// server's options: the failure with its Lines (one, failRoom), and on
// the first line of a multi-line id its Fields map (two, shared by the
// id's later failures while the groups stay the same) and the id's cache
// list element (the entry and its data reuse a dropped one's storage).
// floodLines gives six lines an address, each address its own id.
func TestFloodLineAllocs(t *testing.T) {
	def := f2bDefinition(t, "sshd", nil)
	f, err := Compile(def, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lines := floodLines(50)
	for _, l := range lines {
		f.Process(l) // automata and caches built
	}
	i := 0
	n := testing.AllocsPerRun(300, func() {
		f.Process(lines[i%len(lines)])
		i++
	})
	if n > 1.75 {
		t.Errorf("%.2f allocations a failure line, want at most 1.75", n)
	}
	// the same line again: the same id and groups, the failure alone
	line := lines[0]
	n = testing.AllocsPerRun(100, func() { f.Process(line) })
	if n != 1 {
		t.Errorf("%.2f allocations a repeated failure line, want 1", n)
	}
}

// TestSharedLinesDateText: an undated line is shown with the date text of
// the last dated line. With SharedLines that line's storage may be
// written again once its result is out, so the filter keeps its own copy
// of the text: the undated line's failure still reads the old date.
func TestSharedLinesDateText(t *testing.T) {
	now := func() time.Time { return time.Date(2026, 11, 27, 18, 0, 30, 0, time.UTC) }
	f, err := Compile(Definition{FailRegex: []string{`^ ?fail from <HOST>$`}}, Options{SharedLines: true, Now: now, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	buf := []byte("Nov 27 18:00:01 fail from 192.0.2.1")
	line := unsafe.String(unsafe.SliceData(buf), len(buf))
	if res := f.Process(line); len(res.Failures) != 1 {
		t.Fatalf("dated line: %+v", res)
	}
	copy(buf, "XXX XX XX:XX:XX")
	res := f.Process("fail from 192.0.2.2")
	if len(res.Failures) != 1 || len(res.Failures[0].Lines) != 1 {
		t.Fatalf("undated line: %+v", res)
	}
	if got, want := res.Failures[0].Lines[0], "Nov 27 18:00:01fail from 192.0.2.2"; got != want {
		t.Errorf("undated line after the dated line's storage was reused: %q, want %q", got, want)
	}
}

// TestMLFIDCacheReuse: ids beyond the cache's size, some ended early
// (F-MLFFORGET), so that dropped entries' storage is reused: no failure
// changes after it was handed out, the cache stays at its size, and each
// line's failures are those the id's lines alone give (fail2ban's: an
// id's failures depend on its own lines while it is kept), worked out by
// a copy of the filter with a cache of its own for each id.
func TestMLFIDCacheReuse(t *testing.T) {
	def := f2bDefinition(t, "sshd", nil)
	f := mustCompile(t, def, Options{})
	base := mustCompile(t, def, Options{})
	alone := map[int]*Filter{}
	type seen struct {
		fl   Failure
		snap string
	}
	var got []seen
	for i := range 600 {
		id := 1000 + i/3
		var line string
		switch i % 3 {
		case 0:
			line = fmt.Sprintf("Nov 27 18:00:%02d web01 sshd[%d]: Failed password for invalid user u%d from 192.0.2.%d port 4000 ssh2", i%60, id, i%5, i%200)
		case 1:
			line = fmt.Sprintf("Nov 27 18:00:%02d web01 sshd[%d]: Failed password for u%d from 192.0.2.%d port 4001 ssh2", i%60, id, i%7, i%200)
		default:
			if id%2 == 0 {
				line = fmt.Sprintf("Nov 27 18:00:%02d web01 sshd[%d]: Connection closed by authenticating user u1 192.0.2.%d port 4002 [preauth]", i%60, id, i%200)
			} else {
				line = fmt.Sprintf("Nov 27 18:00:%02d web01 sshd[%d]: Failed password for invalid user v from 192.0.2.%d port 4002 ssh2", i%60, id, i%200)
			}
		}
		ref := alone[id]
		if ref == nil {
			c := *base
			c.mlfid = newMLFIDCache(100, 5*time.Minute)
			ref = &c
			alone[id] = ref
		}
		res, want := f.Process(line), ref.Process(line)
		if fmt.Sprint(res) != fmt.Sprint(want) {
			t.Fatalf("line %d %q:\n%v\nthe id alone: %v", i, line, res, want)
		}
		for _, fl := range res.Failures {
			got = append(got, seen{fl, fmt.Sprint(fl)})
		}
		if n := f.mlfid.order.Len(); n > 100 || n != len(f.mlfid.byID) {
			t.Fatalf("line %d: %d entries, %d ids", i, n, len(f.mlfid.byID))
		}
	}
	for i, s := range got {
		if fmt.Sprint(s.fl) != s.snap {
			t.Fatalf("failure %d changed after it was handed out:\n%v\nwas %s", i, s.fl, s.snap)
		}
	}
}
