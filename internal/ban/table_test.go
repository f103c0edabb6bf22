package ban

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"slices"
	"testing"
	"time"

	"warden/internal/firewall"
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

// TestAppendWantedChunks reads a table with freed records among live ones
// chunk by chunk, as Manager.Wanted does, and finds every live ban once,
// with its end, and no freed one.
func TestAppendWantedChunks(t *testing.T) {
	tb := newBanTable([]string{"sshd", "web"})
	now := int64(1_700_000_000e9)
	const n = 3*wantedChunk + 100
	live := map[jailPrefix]time.Time{}
	for i := range n {
		j := uint16(i % 2)
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
		e := entry{jail: tb.jails[j], prefix: p, start: now, banTime: time.Duration(i+1) * time.Second}
		if i%7 == 0 {
			e.banTime = -1
		}
		tb.put(j, &e)
		live[jailPrefix{e.jail, p}] = e.end()
	}
	for i := 0; i < n; i += 3 {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32)
		if _, ok := tb.del(uint16(i%2), p); !ok {
			t.Fatalf("ban %d not found", i)
		}
		delete(live, jailPrefix{tb.jails[i%2], p})
	}
	var got []firewall.Ban
	for from := int32(0); from < tb.used; from += wantedChunk {
		got = tb.appendWanted(got, from, min(from+wantedChunk, tb.used))
	}
	if len(got) != len(live) {
		t.Fatalf("%d bans listed, want %d", len(got), len(live))
	}
	for _, b := range got {
		end, ok := live[jailPrefix{b.Jail, b.Prefix}]
		if !ok {
			t.Fatalf("%v listed, not in force (or twice)", b)
		}
		if !b.Expires.Equal(end) {
			t.Errorf("%v: expires %v, want %v", b.Prefix, b.Expires, end)
		}
		delete(live, jailPrefix{b.Jail, b.Prefix})
	}
}
