package jail

import (
	"fmt"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

// TestIDKinds: ids are told apart, and found again, by their text alone,
// whichever way the tracker keeps them (by address, or as a string).
func TestIDKinds(t *testing.T) {
	type step struct {
		f       Failure
		wantBan bool
		wantID  string
		addr    string // the ticket's address ("" none)
	}
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	tests := []struct {
		name  string
		steps []step
	}{
		{"F-ID that is another address's text, then that address", []step{
			{Failure{Host: "192.0.2.5", Addr: a("192.0.2.5"), ID: "192.0.2.9"}, false, "", ""},
			{Failure{Host: "192.0.2.9", Addr: a("192.0.2.9")}, true, "192.0.2.9", "192.0.2.5"},
		}},
		{"address first, then an F-ID naming it from elsewhere", []step{
			{Failure{Host: "192.0.2.9", Addr: a("192.0.2.9")}, false, "", ""},
			{Failure{Host: "192.0.2.5", Addr: a("192.0.2.5"), ID: "192.0.2.9"}, true, "192.0.2.9", "192.0.2.9"},
		}},
		{"mapped IPv6 text is not the IPv4 id", []step{
			{Failure{Host: "x", ID: "::ffff:192.0.2.1"}, false, "", ""},
			{Failure{Host: "192.0.2.1", Addr: a("192.0.2.1")}, false, "", ""},
			{Failure{Host: "::ffff:192.0.2.1", Addr: a("::ffff:192.0.2.1")}, true, "192.0.2.1", "192.0.2.1"},
		}},
		{"zoned address", []step{
			{Failure{Host: "fe80::1%eth0", Addr: a("fe80::1%eth0")}, false, "", ""},
			{Failure{Host: "fe80::1%eth0", Addr: a("fe80::1%eth0")}, true, "fe80::1%eth0", "fe80::1%eth0"},
		}},
		{"same address in another zone is another id", []step{
			{Failure{Host: "fe80::1%eth0", Addr: a("fe80::1%eth0")}, false, "", ""},
			{Failure{Host: "fe80::1%eth1", Addr: a("fe80::1%eth1")}, false, "", ""},
			{Failure{Host: "fe80::1", Addr: a("fe80::1")}, false, "", ""},
			{Failure{Host: "fe80::1%eth1", Addr: a("fe80::1%eth1")}, true, "fe80::1%eth1", "fe80::1%eth1"},
		}},
		{"non-address id", []step{
			{Failure{Host: "h", ID: "user=root"}, false, "", ""},
			{Failure{Host: "h", ID: "user=root"}, true, "user=root", ""},
		}},
		{"non-canonical IPv6 text is a string id", []step{
			{Failure{Host: "h", ID: "2001:DB8::1"}, false, "", ""},
			{Failure{Host: "h", ID: "2001:db8::1"}, false, "", ""},
			{Failure{Host: "h", ID: "2001:DB8::1"}, true, "2001:DB8::1", ""},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &fakeClock{now: base}
			j := New(Config{MaxRetry: 2, FindTime: time.Hour, Clock: clk.Now})
			for i, st := range tc.steps {
				st.f.Time = base
				tk, ok := j.AddFailure(t.Context(), st.f)
				if ok != st.wantBan {
					t.Fatalf("step %d: banned %v, want %v", i, ok, st.wantBan)
				}
				if !ok {
					continue
				}
				var want netip.Addr
				if st.addr != "" {
					want = a(st.addr)
				}
				if tk.ID != st.wantID || tk.Addr != want {
					t.Errorf("step %d: ticket id %q addr %v, want %q %v", i, tk.ID, tk.Addr, st.wantID, want)
				}
				if j.Failures(st.wantID) != 0 {
					t.Errorf("step %d: %q still tracked after its ban", i, st.wantID)
				}
			}
		})
	}
}

// TestForgetAndFailuresByText: Failures and Forget find an id by its text.
func TestForgetAndFailuresByText(t *testing.T) {
	clk := &fakeClock{now: base}
	j := New(Config{MaxRetry: 9, FindTime: time.Hour, Clock: clk.Now})
	for _, id := range []string{"192.0.2.1", "2001:db8::1", "fe80::1%eth0", "name"} {
		f := Failure{Host: id, ID: id, Time: base}
		if a, err := netip.ParseAddr(id); err == nil {
			f.Addr = a
		}
		j.AddFailure(t.Context(), f)
		j.AddFailure(t.Context(), f)
		if got := j.Failures(id); got != 2 {
			t.Errorf("Failures(%q) = %d, want 2", id, got)
		}
		j.Forget(id)
		if got := j.Failures(id); got != 0 {
			t.Errorf("after Forget(%q): %d failures", id, got)
		}
	}
	if s := j.Stats(); s.Tracked != 0 {
		t.Errorf("%d ids tracked after forgetting all", s.Tracked)
	}
}

// TestTrackerReuse: records of banned, expired and evicted ids are reused,
// and the counts of the others survive the moves of the heap.
func TestTrackerReuse(t *testing.T) {
	clk := &fakeClock{now: base}
	j := New(Config{MaxRetry: 3, FindTime: time.Minute, MaxEntries: 50, Clock: clk.Now})
	for round := range 20 {
		for i := range 60 {
			at := time.Duration(round*60+i) * time.Second / 10
			clk.now = base.Add(at)
			f := fail(fmt.Sprintf("198.51.100.%d", i), at)
			j.AddFailure(t.Context(), f)
		}
	}
	s := j.Stats()
	if s.Tracked > 50 || s.Evicted == 0 {
		t.Errorf("stats %+v: want at most 50 tracked and some evicted", s)
	}
	if n := j.t.used; n > 50 {
		t.Errorf("%d records allocated for at most 50 ids", n)
	}
	// Every tracked record is found by its id and sits where the heap
	// says.
	hs := j.t.heap.Slots()
	for i, s := range hs {
		if int(j.t.at(s).hidx) != i {
			t.Fatalf("heap slot %d holds record %d whose hidx is %d", i, s, j.t.at(s).hidx)
		}
		if got, ok := j.t.find(j.t.id(s), netip.Addr{}); !ok || got != s {
			t.Fatalf("record %d (%s) not found by its id", s, j.t.id(s))
		}
		if i > 0 && j.t.at(hs[(i-1)/2]).last > j.t.at(s).last {
			t.Fatalf("heap order broken at %d", i)
		}
	}
	clk.now = clk.now.Add(time.Hour)
	j.Purge()
	if s := j.Stats(); s.Tracked != 0 || j.t.recs != nil || j.t.index.Bytes() != 0 {
		t.Errorf("after all expired: %d tracked, %d chunks, index %d bytes", s.Tracked, len(j.t.recs), j.t.index.Bytes())
	}
}

// TestTrackerMemory guards what a flood costs: 100,000 addresses with one
// failure each (a banned address's sixth) take under 70 bytes an id of
// heap, records, index and expiry heap together (a map of pointers to
// entries took about 150).
func TestTrackerMemory(t *testing.T) {
	const n = 100_000
	clk := &fakeClock{now: base}
	j := New(Config{MaxRetry: 6, FindTime: time.Hour, Clock: clk.Now})
	j.KeepEvidence(false)
	fs := make([]Failure, n)
	for i := range fs {
		a := netip.AddrFrom4([4]byte{100, 64 + byte(i>>16), byte(i >> 8), byte(i)})
		fs[i] = Failure{Host: a.String(), Addr: a, Time: base, Lines: []string{"line"}}
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, f := range fs {
		j.AddFailure(t.Context(), f)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if j.Stats().Tracked != n {
		t.Fatalf("%d tracked", j.Stats().Tracked)
	}
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.1f bytes per id", per)
	if per > 70 {
		t.Errorf("%.1f bytes of heap per id, want under 70", per)
	}
	runtime.KeepAlive(fs)
}

// TestTrackerHotRecord: the record last found by address (tracker.hot) is
// never returned for an id that was dropped since, whether by a ban, a
// Forget, an expiry or an eviction, nor for another address that took its
// record.
func TestTrackerHotRecord(t *testing.T) {
	const a, b = "192.0.2.1", "192.0.2.2"
	tests := []struct {
		name string
		drop func(j *Jail, clk *fakeClock) // drops a's record
	}{
		{"ban", func(j *Jail, _ *fakeClock) {
			for i := range 2 {
				if _, banned := j.AddFailure(t.Context(), fail(a, 0)); banned != (i == 1) {
					t.Fatalf("failure %d of 4: banned %v", 3+i, banned)
				}
			}
		}},
		{"forget", func(j *Jail, _ *fakeClock) { j.Forget(a) }},
		{"expiry", func(j *Jail, clk *fakeClock) {
			clk.now = clk.now.Add(2 * time.Minute)
			j.Purge()
		}},
		{"eviction", func(j *Jail, _ *fakeClock) {
			for i := range 4 {
				j.AddFailure(t.Context(), fail(fmt.Sprintf("198.51.100.%d", i), time.Second))
			}
		}},
	}
	for _, tc := range tests {
		for _, other := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/other=%v", tc.name, other), func(t *testing.T) {
				clk := &fakeClock{now: base}
				j := New(Config{MaxRetry: 4, FindTime: time.Minute, MaxEntries: 4, Clock: clk.Now})
				for range 2 {
					j.AddFailure(t.Context(), fail(a, 0))
				}
				if got := j.Failures(a); got != 2 {
					t.Fatalf("before the drop: %s has %d failures, want 2", a, got)
				}
				tc.drop(j, clk)
				if got := j.Failures(a); got != 0 {
					t.Errorf("after the drop: %s has %d failures, want 0", a, got)
				}
				if other {
					// b may take a's freed record; a must not find it.
					j.AddFailure(t.Context(), fail(b, clk.now.Sub(base)))
					if got := j.Failures(a); got != 0 {
						t.Errorf("after %s came: %s has %d failures, want 0", b, a, got)
					}
				}
				if _, banned := j.AddFailure(t.Context(), fail(a, clk.now.Sub(base))); banned {
					t.Errorf("%s banned by its first failure after the drop", a)
				}
				if got := j.Failures(a); got != 1 {
					t.Errorf("%s has %d failures after one more, want 1", a, got)
				}
			})
		}
	}
}
