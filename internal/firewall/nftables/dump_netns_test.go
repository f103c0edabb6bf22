package nftables

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"warden/internal/firewall"
)

// hostBans returns n bans of 10.x.y.z in jail, starting at the from-th.
func hostBans(jail string, from, n int, expires time.Time) []firewall.Ban {
	out := make([]firewall.Ban, n)
	for i := range out {
		j := from + i
		a := netip.AddrFrom4([4]byte{10, byte(j >> 16), byte(j >> 8), byte(j)})
		out[i] = firewall.Ban{Jail: jail, Prefix: netip.PrefixFrom(a, 32), Expires: expires}
	}
	return out
}

// hostList is hostBans' addresses as an nft element list.
func hostList(from, n int) string {
	var sb strings.Builder
	for i, ban := range hostBans("", from, n, time.Time{}) {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(ban.Prefix.Addr().String())
	}
	return "{ " + sb.String() + " }"
}

// TestDumpSettled checks dumpSet against the kernel: every element read
// once when nothing commits meanwhile, and the dump reported unsettled
// when a commit lands between two of its messages.
func TestDumpSettled(t *testing.T) {
	ns := newNetns(t)
	b := ns.backend(t)
	ctx := context.Background()
	mustDo(t, b.Setup(ctx, testJails))
	const n = 5000 // several messages of about 32 KiB
	hour := time.Now().Add(time.Hour)
	mustDo(t, b.Ban(ctx, hostBans("sshd", 0, n, hour)))
	c, err := b.dialRaw()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	seen := map[netip.Addr]bool{}
	settled, err := b.dumpSet(c, "addr4-sshd", func(e setElem) {
		if e.left <= 0 || e.left > time.Hour || e.end {
			t.Errorf("element %+v: want a timeout of at most an hour", e)
		}
		seen[e.key] = true
	})
	if err != nil || !settled || len(seen) != n {
		t.Fatalf("quiet dump: %d elements, settled %v, %v; want %d, true", len(seen), settled, err, n)
	}

	elems, committed := 0, false
	settled, err = b.dumpSet(c, "addr4-sshd", func(setElem) {
		if elems++; elems == 1 {
			mustDo(t, b.Ban(ctx, hostBans("web", 0, 1, hour)))
			committed = true
		}
	})
	if err != nil || settled || !committed {
		t.Fatalf("dump with a commit midway: settled %v, %v; want unsettled", settled, err)
	}

	if _, err := b.dumpSet(c, "addr4-nosuch", func(setElem) {}); err == nil {
		t.Error("dump of a missing set: no error")
	}
	// The socket is still good for another dump after an error.
	if _, err := b.dumpSet(c, "addr6-sshd", func(e setElem) { t.Errorf("addr6-sshd holds %v", e.key) }); err != nil {
		t.Errorf("dump of an empty set: %v", err)
	}
}

func TestProbeHosts(t *testing.T) {
	ns := newNetns(t)
	b := ns.backend(t)
	ctx := context.Background()
	mustDo(t, b.Setup(ctx, testJails))
	const n = probeChunk + 500 // two chunks
	bans := hostBans("sshd", 0, n, time.Time{})
	var in []firewall.Ban
	for i, ban := range bans {
		if i%3 != 0 {
			in = append(in, ban)
		}
	}
	mustDo(t, b.Ban(ctx, in))
	addrs := make([]netip.Addr, n)
	for i, ban := range bans {
		addrs[i] = ban.Prefix.Addr()
	}
	c, err := b.dialRaw()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	present, err := b.probeHosts(c, "addr4-sshd", addrs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d lookups took %v", n, time.Since(start))
	wrong := 0
	for i, p := range present {
		if p != (i%3 != 0) {
			wrong++
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d lookups wrong", wrong, n)
	}
}

// TestHealUnsettledRead commits into the very set a heal is reading,
// between the messages of its dump (the walk may then skip elements that
// were there all along), and checks that the heal mends nothing that was
// there, yet still mends an element really deleted.
func TestHealUnsettledRead(t *testing.T) {
	for _, tc := range []struct {
		name   string
		damage []string // nft's arguments, run before the read
		want   firewall.Repair
	}{
		{name: "our commits only", want: firewall.Repair{}},
		{name: "and a real deletion", damage: []string{"delete", "element", "inet", "warden", "addr4-sshd", "{ 10.0.0.1 }"},
			want: firewall.Repair{Bans: 1}},
		// Half of the set lacking: each is looked up all the same.
		{name: "and half of it deleted", damage: []string{"delete", "element", "inet", "warden", "addr4-sshd", hostList(0, 10_000)},
			want: firewall.Repair{Bans: 10_000}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNetns(t)
			b := ns.backend(t)
			ctx := context.Background()
			mustDo(t, b.Setup(ctx, testJails))
			const n = 20_000
			hour := time.Now().Add(time.Hour)
			want := hostBans("sshd", 0, n, hour)
			mustDo(t, b.Ban(ctx, want))
			elems, checked := 0, -1
			b.mu.Lock()
			b.hooks.readElem = func() {
				// Between messages (about 700 elements each), our own
				// bans of new addresses land in the same set, enough to
				// grow its hash table.
				if elems++; elems%1000 == 1 && elems < n/2 {
					mustDo(t, b.Ban(ctx, hostBans("sshd", n+elems, 2000, hour)))
				}
			}
			if tc.damage != nil {
				// Gone before the read starts: among what the unsettled
				// read lacks, and still lacking when confirmed.
				b.hooks.readStart = func() { ns.nft(t, tc.damage...) }
			}
			b.hooks.confirmed = func(c, _ int) { checked = c }
			b.mu.Unlock()
			rep, err := b.Heal(ctx, want)
			if err != nil || rep != tc.want {
				t.Fatalf("Heal = %+v, %v; want %+v", rep, err, tc.want)
			}
			// Whether the walk skips elements depends on where the hash
			// table puts them (it missed 0 to 5,853 of 20,000 in tests);
			// with the deletion at least one is missing, so the check
			// under the lock must run.
			t.Logf("the read lacked %d of %d elements (-1: none), confirmed under the lock", checked, n)
			if tc.damage != nil {
				if checked < tc.want.Bans {
					t.Errorf("the unsettled read lacking 10.0.0.1 was not confirmed (checked %d)", checked)
				}
				if out := ns.nft(t, "get", "element", "inet", "warden", "addr4-sshd", "{ 10.0.0.1 }"); out == "" {
					t.Error("10.0.0.1 not put back")
				}
			}
		})
	}
}

// TestHealSettledReadSkips heals right after 100,000 bans. The kernel
// grows a set's hash table after the batch that filled it, in the
// background and without a new ruleset generation, and a dump running
// meanwhile skips some elements and repeats others (an experiment here:
// 100,000 elements read, 97,355 distinct, the dump settled). The heal must
// confirm what its read lacked rather than report those bans as put back.
func TestHealSettledReadSkips(t *testing.T) {
	ns := newNetns(t)
	b := ns.backend(t)
	ctx := context.Background()
	mustDo(t, b.Setup(ctx, testJails))
	const n = 100_000
	hour := time.Now().Add(time.Hour)
	want := hostBans("sshd", 0, n, hour)
	for i := 0; i < n; i += 8192 {
		mustDo(t, b.Ban(ctx, want[i:min(i+8192, n)]))
	}
	checked := -1
	b.mu.Lock()
	b.hooks.confirmed = func(c, _ int) { checked = c }
	b.mu.Unlock()
	rep, err := b.Heal(ctx, want)
	if err != nil || rep != (firewall.Repair{}) {
		t.Fatalf("Heal = %+v, %v; want nothing repaired", rep, err)
	}
	t.Logf("the read lacked %d of %d elements (-1: none), confirmed under the lock", checked, n)
}
