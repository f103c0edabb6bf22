package jail

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"
	"unsafe"
)

// TestKeepEvidence drives two jails with the same failures, one keeping
// evidence and one not: their tickets must be the same but for the matched
// lines and fields, which only the first carries.
func TestKeepEvidence(t *testing.T) {
	clk := &fakeClock{now: base}
	cfg := Config{MaxRetry: 3, FindTime: time.Minute, MaxMatches: 2, Clock: clk.Now}
	keep, drop := New(cfg), New(cfg)
	drop.KeepEvidence(false)
	type step struct {
		addr   string
		at     time.Duration
		noFail bool
	}
	var steps []step
	for i := range 12 {
		// Three addresses, failures 7 s apart, an F-NOFAIL line now and
		// then, one address with a gap longer than findtime.
		at := time.Duration(i) * 7 * time.Second
		a := fmt.Sprintf("192.0.2.%d", i%3+1)
		if a == "192.0.2.3" && i > 6 {
			at += 2 * time.Minute
		}
		steps = append(steps, step{a, at, i%5 == 4})
	}
	bans := 0
	for i, s := range steps {
		clk.now = base.Add(s.at)
		f := fail(s.addr, s.at, fmt.Sprintf("line %d", i))
		f.Fields = map[string]string{"user": fmt.Sprint("u", i)}
		f.NoFail = s.noFail
		tk1, ok1 := keep.AddFailure(t.Context(), f)
		tk2, ok2 := drop.AddFailure(t.Context(), f)
		if ok1 != ok2 {
			t.Fatalf("step %d: ban %v with evidence, %v without", i, ok1, ok2)
		}
		if !ok1 {
			continue
		}
		bans++
		if len(tk1.Matches) == 0 || len(tk1.Fields) == 0 {
			t.Errorf("step %d: ticket kept no evidence: %+v", i, tk1)
		}
		if tk2.Matches != nil || tk2.Fields != nil {
			t.Errorf("step %d: ticket without evidence carries %q %q", i, tk2.Matches, tk2.Fields)
		}
		tk1.Matches, tk1.Fields = nil, nil
		if fmt.Sprint(tk1) != fmt.Sprint(tk2) {
			t.Errorf("step %d: tickets differ:\n%+v\n%+v", i, tk1, tk2)
		}
	}
	if bans == 0 {
		t.Fatal("no ban: the steps test nothing")
	}
	if s1, s2 := keep.Stats(), drop.Stats(); s1 != s2 {
		t.Errorf("stats differ: %+v and %+v", s1, s2)
	}

	// Turned back on, the jail keeps evidence again.
	drop.KeepEvidence(true)
	var tk Ticket
	for i := range 3 {
		f := fail("198.51.100.1", steps[len(steps)-1].at, fmt.Sprint("again ", i))
		f.Fields = map[string]string{"user": "root"}
		tk, _ = drop.AddFailure(t.Context(), f)
	}
	if !slices.Equal(tk.Matches, []string{"again 1", "again 2"}) || !maps.Equal(tk.Fields, map[string]string{"user": "root"}) {
		t.Errorf("evidence back on: ticket %q %q", tk.Matches, tk.Fields)
	}
}

// TestEntrySize guards the per-id memory a flood costs: a record must stay
// at 48 bytes.
func TestEntrySize(t *testing.T) {
	if n := unsafe.Sizeof(rec{}); n > 48 {
		t.Errorf("rec is %d bytes, want at most 48", n)
	}
}

// TestRetune: a running jail takes new options and keeps its counts.
func TestRetune(t *testing.T) {
	clk := &fakeClock{now: base}
	j := New(Config{MaxRetry: 5, FindTime: time.Hour, Clock: clk.Now})
	for i := range 3 {
		if _, ok := j.AddFailure(t.Context(), fail("192.0.2.1", time.Duration(i)*time.Second)); ok {
			t.Fatal("banned before maxretry")
		}
	}
	j.AddFailure(t.Context(), fail("192.0.2.2", 0))
	ign, err := NewIgnoreList(IgnoreConfig{Entries: []string{"192.0.2.9"}})
	if err != nil {
		t.Fatal(err)
	}
	j.Retune(New(Config{MaxRetry: 4, FindTime: time.Minute, Ignore: ign}))
	if j.MaxRetry() != 4 || j.Failures("192.0.2.1") != 3 {
		t.Fatalf("after Retune: maxretry %d, count %d; want 4 and 3 kept", j.MaxRetry(), j.Failures("192.0.2.1"))
	}
	// The fourth failure reaches the new maxretry.
	clk.now = base.Add(10 * time.Second)
	if tk, ok := j.AddFailure(t.Context(), fail("192.0.2.1", 10*time.Second)); !ok || tk.Failures != 4 {
		t.Errorf("fourth failure after maxretry 5 -> 4: ban %v, ticket %+v", ok, tk)
	}
	// The new findtime expires 192.0.2.2 (last failure at base) a minute on.
	clk.now = base.Add(61 * time.Second)
	j.Purge()
	if n := j.Failures("192.0.2.2"); n != 0 {
		t.Errorf("192.0.2.2 still counts %d after the new findtime", n)
	}
	// The new ignore list applies.
	j.AddFailure(t.Context(), fail("192.0.2.9", 61*time.Second))
	if s := j.Stats(); s.Ignored != 1 {
		t.Errorf("ignored %d, want 1", s.Ignored)
	}
}
