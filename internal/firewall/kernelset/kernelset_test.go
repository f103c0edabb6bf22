package kernelset

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestTimeout: whole seconds rounded up; none for a ban without end; the
// kernel's limit for longer bans (the heal puts them back); a ban that has
// ended belongs in no set.
func TestTimeout(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		exp  time.Time
		secs int64
		ok   bool
	}{
		{time.Time{}, 0, true},
		{now.Add(time.Hour), 3600, true},
		{now.Add(1500 * time.Millisecond), 2, true},
		{now.Add(time.Millisecond), 1, true},
		{now, 0, false},
		{now.Add(-time.Hour), 0, false},
		{now.Add(MaxTimeout * time.Second), MaxTimeout, true},
		{now.Add(365 * 24 * time.Hour), MaxTimeout, true},
	} {
		if secs, ok := Timeout(tc.exp, now); secs != tc.secs || ok != tc.ok {
			t.Errorf("Timeout(now%+v) = %d, %v; want %d, %v", tc.exp.Sub(now), secs, ok, tc.secs, tc.ok)
		}
	}
}

func TestLines(t *testing.T) {
	host, net6 := netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/48")
	for _, tc := range []struct{ got, want string }{
		{Element(host), "192.0.2.7"},
		{Element(net6), "2001:db8::/48"},
		{string(AppendAdd(nil, "s4", host, 90)), "add s4 192.0.2.7 timeout 90 -exist\n"},
		{string(AppendAdd([]byte("x\n"), "s6", net6, 0)), "x\nadd s6 2001:db8::/48 timeout 0 -exist\n"},
		{string(AppendDel(nil, "s4", host)), "del s4 192.0.2.7 -exist\n"},
		{CreateLine("s6", "hash:net", true, 4096, 1<<20), "create s6 hash:net family inet6 hashsize 4096 maxelem 1048576 timeout 0 -exist\n"},
		{CreateLine("s4", "hash:ip", false, 1024, 65536), "create s4 hash:ip family inet hashsize 1024 maxelem 65536 timeout 0 -exist\n"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestParseSave(t *testing.T) {
	in := `create other list:set size 8
create wfd4-ssh hash:net family inet hashsize 4096 maxelem 1048576 timeout 0 bucketsize 12 initval 0x1
add wfd4-ssh 192.0.2.9 timeout 0
add wfd4-ssh 198.51.100.0/24 timeout 3599
add wfd4-ssh 203.0.113.77/24 timeout 5
create f2b-web6 hash:ip family inet6 hashsize 1024 maxelem 65536
add f2b-web6 2001:db8::1

create skipped hash:ip family inet
add skipped 10.0.0.1
`
	sets, err := ParseSave([]byte(in), func(n string) bool { return n != "skipped" })
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 3 || sets["skipped"] != nil || sets["other"] == nil || sets["other"].Type != "list:set" {
		t.Fatalf("sets %v, want other, wfd4-ssh and f2b-web6", sets)
	}
	v4, v6 := sets["wfd4-ssh"], sets["f2b-web6"]
	if v4.Type != "hash:net" || v4.V6 || v6.Type != "hash:ip" || !v6.V6 {
		t.Errorf("headers %+v, %+v", v4, v6)
	}
	// A network printed unmasked is read masked, as bans are normalised.
	want4 := map[netip.Prefix]int64{
		netip.MustParsePrefix("192.0.2.9/32"): 0, netip.MustParsePrefix("198.51.100.0/24"): 3599,
		netip.MustParsePrefix("203.0.113.0/24"): 5,
	}
	if len(v4.Elems) != len(want4) {
		t.Errorf("v4 elements %v, want %v", v4.Elems, want4)
	}
	for p, to := range want4 {
		if got, ok := v4.Elems[p]; !ok || got != to {
			t.Errorf("v4 element %v: %d, %v; want timeout %d", p, got, ok, to)
		}
	}
	if to, ok := v6.Elems[netip.MustParsePrefix("2001:db8::1/128")]; !ok || to != 0 || len(v6.Elems) != 1 {
		t.Errorf("v6 elements %v", v6.Elems)
	}
	if all, err := ParseSave([]byte(in), nil); err != nil || len(all) != 4 {
		t.Errorf("ParseSave without keep: %d sets, %v; want all 4", len(all), err)
	}

	for _, tc := range []struct{ name, in, want string }{
		{"unknown command", "flush wfd4-ssh x\n", "line 1: unknown command"},
		{"bad element", "create a hash:net family inet\nadd a nonsense\n", "line 2: element"},
		{"bad timeout", "create a hash:net family inet\nadd a 1.2.3.4 timeout -3\n", "line 2: timeout"},
		{"element first", "add a 1.2.3.4\n", "line 1: element of set"},
		{"short", "create\n", "line 1"},
		{"short create", "create a\n", "line 1"},
	} {
		if _, err := ParseSave([]byte(tc.in), nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one with %q", tc.name, err, tc.want)
		}
	}
}

func TestRun(t *testing.T) {
	ctx := context.Background()
	out, err := Run(ctx, []string{"sh", "-c", "cat; echo \"$0\"", "a"}, []byte("in\n"))
	if err != nil || string(out) != "in\na\n" {
		t.Errorf("Run = %q, %v", out, err)
	}
	_, err = Run(ctx, []string{"sh", "-c", "echo broken >&2; exit 3"}, nil)
	if !errors.Is(err, ErrCommand) || !strings.Contains(err.Error(), "broken") {
		t.Errorf("failing Run: %v, want ErrCommand with the tool's stderr", err)
	}
	if _, err := Save(ctx, []string{"sh", "-c", "printf 'create a hash:ip family inet\nadd a 10.0.0.1 timeout 7\n'", "x"}, nil); err != nil {
		t.Errorf("Save: %v", err)
	}
}

func FuzzParseSave(f *testing.F) {
	f.Add("create wfd4-ssh hash:net family inet timeout 0\nadd wfd4-ssh 192.0.2.9 timeout 0\n")
	f.Add("create f2b-a6 hash:net family inet6\nadd f2b-a6 2001:db8::1/32 timeout 5\n")
	f.Add("create other list:set size 8\nadd other 1.2.3.4\n")
	f.Add("add x y\n")
	f.Fuzz(func(t *testing.T, in string) {
		keep := func(n string) bool { return !strings.HasPrefix(n, "o") }
		sets, err := ParseSave([]byte(in), keep)
		if err != nil {
			return
		}
		for name, s := range sets {
			if name == "" || !keep(name) || s.Type == "" {
				t.Fatalf("set %q %+v from %q", name, s, in)
			}
			for p, to := range s.Elems {
				if !p.IsValid() || p != p.Masked() || to < 0 {
					t.Fatalf("bad element %v timeout %d from %q", p, to, in)
				}
			}
		}
	})
}
