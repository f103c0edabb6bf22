package ban

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestBanTable drives the table and a plain map with the same puts
// (new, prolonged, made permanent, shortened), deletes and expiries, and
// compares them: every ban found with its fields, the expiries in end
// order, the per-jail counts.
func TestBanTable(t *testing.T) {
	jails := []string{"sshd", "web"}
	tests := []struct {
		name  string
		space int // prefixes per jail
		ops   int
	}{
		{"few", 3, 3000},
		{"many", 400, 20000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, uint64(tc.space)))
			tb := newBanTable(jails)
			want := map[jailPrefix]entry{}
			prefix := func(i int) netip.Prefix {
				switch i % 4 {
				case 0:
					return netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), 32)
				case 1:
					return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i), 0, 0}), 16)
				case 2:
					return netip.PrefixFrom(netip.MustParseAddr(fmt.Sprintf("2001:db8::%x", i)), 128)
				}
				// An IPv4-mapped IPv6 prefix is not the IPv4 one.
				return netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(i - 3)}).Unmap(), 32)
			}
			now := int64(1_700_000_000e9)
			for op := range tc.ops {
				j := uint16(rng.IntN(len(jails)))
				p := prefix(rng.IntN(tc.space))
				key := jailPrefix{jails[j], p}
				switch rng.IntN(5) {
				case 0, 1, 2:
					e := entry{jail: jails[j], prefix: p, start: now + rng.Int64N(1e12),
						banTime: time.Duration(rng.Int64N(1e12)), count: rng.Int32N(9), failures: rng.Int32N(9),
						restored: rng.IntN(2) == 0}
					if rng.IntN(8) == 0 {
						e.banTime = -1
					}
					if rng.IntN(4) == 0 {
						e.more = &entryMore{id: "x"}
					}
					_, had := want[key]
					if got := tb.put(j, &e); got != had {
						t.Fatalf("op %d: put replaced %v, want %v", op, got, had)
					}
					want[key] = e
				case 3:
					e, ok := tb.del(j, p)
					w, had := want[key]
					if ok != had || ok && e != w {
						t.Fatalf("op %d: del = %+v %v, want %+v %v", op, e, ok, w, had)
					}
					delete(want, key)
				case 4:
					now += rng.Int64N(2e11)
					var due []entry
					for _, e := range want {
						if e.banTime >= 0 && e.start+int64(e.banTime) <= now {
							due = append(due, e)
						}
					}
					got := tb.popDue(time.Unix(0, now))
					if len(got) != len(due) {
						t.Fatalf("op %d: %d due, want %d", op, len(got), len(due))
					}
					for i, e := range got {
						if i > 0 && e.end().Before(got[i-1].end()) {
							t.Fatalf("op %d: expiries out of order", op)
						}
						k := jailPrefix{e.jail, e.prefix}
						if want[k] != e {
							t.Fatalf("op %d: popped %+v, want %+v", op, e, want[k])
						}
						delete(want, k)
					}
				}
				if tb.n != len(want) {
					t.Fatalf("op %d: %d bans, want %d", op, tb.n, len(want))
				}
			}
			for k, w := range want {
				j := uint16(slices.Index(jails, k.jail))
				if e, ok := tb.get(j, k.prefix); !ok || e != w {
					t.Errorf("get %v = %+v %v, want %+v", k, e, ok, w)
				}
			}
			for j := range jails {
				n := 0
				tb.each(uint16(j), false, func(e entry) {
					n++
					if want[jailPrefix{e.jail, e.prefix}] != e || e.jail != jails[j] {
						t.Errorf("each: %+v", e)
					}
				})
				if n != tb.count(uint16(j)) {
					t.Errorf("jail %s: each saw %d, count %d", jails[j], n, tb.count(uint16(j)))
				}
			}
		})
	}
}

// TestBanTableFarEnd: an end beyond what Unix nanoseconds hold sorts last
// and never expires by accident.
func TestBanTableFarEnd(t *testing.T) {
	tb := newBanTable([]string{"sshd"})
	now := time.Unix(1_700_000_000, 0)
	far := entry{jail: "sshd", prefix: netip.MustParsePrefix("192.0.2.1/32"), start: now.UnixNano(), banTime: math.MaxInt64 - 10}
	near := entry{jail: "sshd", prefix: netip.MustParsePrefix("192.0.2.2/32"), start: now.UnixNano(), banTime: time.Hour}
	tb.put(0, &far)
	tb.put(0, &near)
	got := tb.popDue(now.Add(2 * time.Hour))
	if len(got) != 1 || got[0].prefix != near.prefix {
		t.Errorf("popped %+v, want only the hour's ban", got)
	}
	if end, ok := tb.nextEnd(); !ok || end.Before(now.AddDate(230, 0, 0)) {
		t.Errorf("next end %v", end)
	}
}

// TestBanTableMemory guards what 100,000 bans cost the manager's table:
// under 64 bytes a ban (the map of pointers to 88-byte entries and a heap
// of pointers it replaced took about 150).
func TestBanTableMemory(t *testing.T) {
	const n = 100_000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	tb := newBanTable([]string{"sshd"})
	start := time.Unix(1_700_000_000, 0).UnixNano()
	for i := range n {
		a := netip.AddrFrom4([4]byte{100, 64 + byte(i>>16), byte(i >> 8), byte(i)})
		e := entry{jail: "sshd", prefix: netip.PrefixFrom(a, 32), start: start + int64(i), banTime: 24 * time.Hour, count: 1, failures: 6}
		tb.put(0, &e)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.1f bytes per ban", per)
	if per > 64 {
		t.Errorf("%.1f bytes of heap per ban, want under 64", per)
	}
	runtime.KeepAlive(tb)
}

// hookLocker is a mutex that runs hook, holding it, on every Lock: the
// table changes it makes stand for the loop's, between wanted's chunks.
type hookLocker struct {
	sync.Mutex
	locks int
	hook  func(lock int)
}

func (l *hookLocker) Lock() {
	l.Mutex.Lock()
	l.locks++
	l.hook(l.locks)
}

// TestWantedChunks reads a table with freed records among live ones
// through wanted, while bans are lifted and made between its chunks
// (freed records reused, or the table emptied and given back), and finds
// every ban in force throughout once, with its end; nothing listed twice,
// and nothing that was never in force.
func TestWantedChunks(t *testing.T) {
	const n = 3*wantedChunk + 100
	tests := []struct {
		name string
		// at the chunk read at lock (the first lock reads the count),
		// lift bans [0, lift) and make add new ones
		lock, lift, add int
	}{
		{"still", 0, 0, 0},
		{"lift and reuse", 3, n / 2, 500},
		{"lift and grow", 4, 200, 3 * wantedChunk},
		{"emptied", 3, n, 100},
	}
	addr := func(i int) netip.Prefix {
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tb := newBanTable([]string{"sshd", "web"})
			now := int64(1_700_000_000e9)
			ever := map[jailPrefix]time.Time{} // every ban in force at some time
			var order []jailPrefix             // live at the start, in put order
			put := func(i int) {
				j := uint16(i % 2)
				e := entry{jail: tb.jails[j], prefix: addr(i), start: now, banTime: time.Duration(i+1) * time.Second}
				if i%7 == 0 {
					e.banTime = -1
				}
				tb.put(j, &e)
				ever[jailPrefix{e.jail, e.prefix}] = e.end()
			}
			for i := range n {
				put(i)
				order = append(order, jailPrefix{tb.jails[i%2], addr(i)})
			}
			// Freed records among the live ones from the start.
			for i := 1; i < n; i += 3 {
				if _, ok := tb.del(uint16(i%2), addr(i)); !ok {
					t.Fatalf("ban %d not found", i)
				}
				order[i] = jailPrefix{}
			}
			throughout := map[jailPrefix]bool{}
			for _, k := range order {
				if k.jail != "" {
					throughout[k] = true
				}
			}
			mu := &hookLocker{hook: func(lock int) {
				if lock != tc.lock {
					return
				}
				for i, k := range order[:tc.lift] {
					if k.jail != "" {
						tb.del(uint16(i%2), k.prefix)
						delete(throughout, k)
					}
				}
				for i := range tc.add {
					put(n + i)
				}
			}}
			got := tb.wanted(mu)
			if tc.lock > 0 && mu.locks < tc.lock {
				t.Fatalf("wanted took the lock %d times, the change was due at %d", mu.locks, tc.lock)
			}
			listed := map[jailPrefix]bool{}
			for _, b := range got {
				k := jailPrefix{b.Jail, b.Prefix}
				end, ok := ever[k]
				if !ok {
					t.Fatalf("%v listed, never in force", b)
				}
				if listed[k] {
					t.Fatalf("%v listed twice", b)
				}
				listed[k] = true
				if !b.Expires.Equal(end) {
					t.Errorf("%v: expires %v, want %v", b.Prefix, b.Expires, end)
				}
			}
			for k := range throughout {
				if !listed[k] {
					t.Errorf("%v in force throughout, not listed", k)
				}
			}
			if tc.lock == 0 && len(got) != len(throughout) {
				t.Errorf("%d bans listed, want %d", len(got), len(throughout))
			}
		})
	}
}
