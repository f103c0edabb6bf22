package filter

import (
	"strings"
	"testing"
)

// BenchmarkLitScan: one required-literal scan of fail2ban's sshd filter
// per op over auth.log lines (about 100 bytes each).
func BenchmarkLitScan(b *testing.B) {
	lines := authLog(4096)
	bufs := make([][]byte, len(lines))
	for i, l := range lines {
		bufs[i] = []byte(l)
	}
	f, err := Compile(f2bDefinition(b, "sshd", map[string]string{"mode": "normal"}), Options{Dates: noDates{}})
	if err != nil {
		b.Fatal(err)
	}
	found := make(litMask, len(f.found))
	cpuLoop(b, func(i int) { f.lits.scan(bufs[i%len(bufs)], found) })
}

// checkAnchorScan compares the anchor scan with the automaton on buf.
func checkAnchorScan(t *testing.T, s *litSet, buf []byte) {
	t.Helper()
	if s.dfa == nil {
		s.buildAutomaton() // build leaves it out where anchors serve
	}
	want := make(litMask, s.words)
	s.scanAutomaton(buf, want)
	got := make(litMask, s.words)
	s.anchors.scan(buf, got)
	for w := range want {
		if got[w] != want[w] {
			t.Fatalf("anchor scan of %q: literals %b, automaton %b", buf, got, want)
		}
	}
}

// TestAnchorScanSamples: on every stock filter's sample lines (and each
// line's halves, to cut literals at the ends), the anchor scan finds the
// same literals as the automaton; sshd's set must use the anchors at all.
func TestAnchorScanSamples(t *testing.T) {
	used := 0
	names, all := stockSamples(t)
	for _, name := range names {
		fd := all[name]
		def := Definition{Name: name, PrefRegex: fd.PrefRegex, FailRegex: fd.FailRegex, IgnoreRegex: fd.IgnoreRegex,
			MaxLines: fd.MaxLines, DatePattern: fd.DatePattern}
		f, err := Compile(def, Options{Dates: noDates{}})
		if fd.Error != "" || err != nil || !f.lits.useAnchors {
			continue
		}
		used++
		for _, r := range fd.Rows {
			l, _ := r[0].(string)
			b := []byte(l)
			checkAnchorScan(t, &f.lits, b)
			checkAnchorScan(t, &f.lits, b[:len(b)/2])
			checkAnchorScan(t, &f.lits, b[len(b)/2:])
		}
	}
	if used == 0 {
		t.Fatal("no stock filter uses the anchor scan")
	}
	f, err := Compile(f2bDefinition(t, "sshd", map[string]string{"mode": "normal"}), Options{Dates: noDates{}})
	if err != nil {
		t.Fatal(err)
	}
	if !f.lits.useAnchors {
		t.Fatal("sshd's literals do not use the anchor scan")
	}
	if f.lits.dfa != nil {
		t.Error("sshd's literals: the automaton was built though the anchors serve")
	}
}

// FuzzAnchorScan: literals cut from the first input at '|' against the
// second input as the buffer.
func FuzzAnchorScan(f *testing.F) {
	f.Add("Failed |Fail| from |(sshd:auth):|ROOT", "Nov 1 host sshd[1]: Failed Failed password for root from 1.2.3.4 (sshd:auth):")
	f.Add("aXa|XaX|Xa", "aXaXaXa")
	f.Add("AAA|AA|zzA", "AAAAzzAA")
	f.Fuzz(func(t *testing.T, lits, buf string) {
		var s litSet
		for l := range strings.SplitSeq(lits, "|") {
			if len(l) >= minScanLit && len(s.lits) < 200 {
				s.add([]byte(l))
			}
		}
		s.build()
		if len(s.lits) == 0 || !s.buildAnchors() {
			return
		}
		checkAnchorScan(t, &s, []byte(buf))
	})
}

// TestFailReqAgrees: the one-word form of the failregexes' literal
// requirements (failPass) says the same as pattern.passes on every stock
// filter's sample lines that has it.
func TestFailReqAgrees(t *testing.T) {
	names, all := stockSamples(t)
	used := 0
	for _, name := range names {
		fd := all[name]
		def := Definition{Name: name, PrefRegex: fd.PrefRegex, FailRegex: fd.FailRegex, IgnoreRegex: fd.IgnoreRegex,
			MaxLines: fd.MaxLines, DatePattern: fd.DatePattern}
		f, err := Compile(def, Options{Dates: noDates{}})
		if fd.Error != "" || err != nil || f.failBy == nil {
			continue
		}
		used++
		for _, r := range fd.Rows {
			l, _ := r[0].(string)
			f.lits.scan([]byte(l), f.found)
			pass := f.failPass(f.found[0])
			for i, p := range f.fail {
				if got := pass&(1<<i) != 0; got != p.passes(f.found) {
					t.Fatalf("%s, failregex %d on %q: failPass says %v", name, i, l, got)
				}
			}
		}
	}
	if used == 0 {
		t.Fatal("no stock filter has failBy")
	}
}
