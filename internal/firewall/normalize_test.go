package firewall

import (
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

// hosts returns n distinct canonical IPv4 host bans in jail.
func hosts(jail string, n int, expires time.Time) []Ban {
	out := make([]Ban, n)
	for i := range out {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		out[i] = Ban{Jail: jail, Prefix: netip.PrefixFrom(a, 32), Expires: expires}
	}
	return out
}

// TestNormalizeBansShares checks when NormalizeBans hands back its input
// (already normal) and when a merged copy, that both give what the
// merging path gives, and that the input is never changed.
func TestNormalizeBansShares(t *testing.T) {
	t1 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	p := netip.MustParsePrefix
	big := hosts("sshd", smallBatch+100, t1)
	dupBig := slices.Concat(big, []Ban{{Jail: "sshd", Prefix: big[0].Prefix, Expires: t1.Add(time.Hour)}})
	twoJails := slices.Concat(big, hosts("web", smallBatch+1, t1))
	mapped := slices.Clone(big)
	mapped[len(mapped)-1].Prefix = p("::ffff:192.0.2.9/128")
	unmasked := slices.Clone(big)
	unmasked[7].Prefix = p("192.0.2.9/24")
	for _, tc := range []struct {
		name   string
		in     []Ban
		shared bool
		n      int // bans out
	}{
		{"empty", nil, true, 0},
		{"one", big[:1], true, 1},
		{"small distinct", big[:smallBatch], true, smallBatch},
		{"small duplicate", []Ban{big[3], big[4], big[3]}, false, 2},
		{"same prefix two jails", []Ban{big[3], {Jail: "web", Prefix: big[3].Prefix}}, true, 2},
		{"v4 and v6 of the same bytes", []Ban{{Jail: "a", Prefix: p("1.2.3.4/32")}, {Jail: "a", Prefix: p("::102:304/128")}}, true, 2},
		{"large distinct", big, true, len(big)},
		{"large two jails", twoJails, true, len(twoJails)},
		{"large duplicate at the ends", dupBig, false, len(big)},
		{"large mapped address", mapped, false, len(big)},
		{"large unmasked network", unmasked, false, len(big)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.in)
			got, err := NormalizeBans(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(tc.in, before) {
				t.Fatal("NormalizeBans changed its input")
			}
			if len(got) != tc.n {
				t.Errorf("got %d bans, want %d", len(got), tc.n)
			}
			shared := len(got) > 0 && &got[0] == &tc.in[0]
			if len(got) > 0 && shared != tc.shared {
				t.Errorf("result shares the input: %v, want %v", shared, tc.shared)
			}
			merged, err := mergeBans(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(slices.Clip(got), slices.Clip(merged)) && len(got)+len(merged) > 0 {
				t.Errorf("NormalizeBans differs from mergeBans:\n%v\n%v", got, merged)
			}
		})
	}
	// The merged duplicate keeps the later expiry, at its first place.
	got, _ := NormalizeBans(dupBig)
	if got[0].Expires != t1.Add(time.Hour) {
		t.Errorf("duplicate merged to %v, want the later expiry", got[0])
	}
}

// FuzzNormalizeBans checks on arbitrary lists that NormalizeBans equals
// the merging path, errors included, and leaves its input alone. Each
// 4-byte record is a jail (of three, one invalid), an address byte and a
// prefix length.
func FuzzNormalizeBans(f *testing.F) {
	f.Add([]byte{0, 1, 32, 0, 0, 2, 32, 0})
	f.Add([]byte{0, 1, 32, 0, 1, 1, 32, 5, 0, 1, 32, 9})
	f.Add([]byte{0, 1, 24, 0, 0, 1, 24, 1})
	f.Add([]byte{2, 1, 32, 0})
	f.Add([]byte{0, 0, 0, 0})
	f.Add(slices.Repeat([]byte{0, 7, 32, 3}, 40))
	jails := []string{"sshd", "web", "bad jail"}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		var in []Ban
		for i := 0; i+4 <= len(data); i += 4 {
			j, a, bits, exp := data[i], data[i+1], data[i+2], data[i+3]
			addr := netip.AddrFrom4([4]byte{10, 0, a >> 4, a})
			if a&0x80 != 0 {
				addr = netip.AddrFrom16([16]byte{10: 0xff, 11: 0xff, 12: 10, 14: a >> 4, 15: a})
				if a&0x40 != 0 {
					addr = netip.AddrFrom16([16]byte{0: 0x20, 1: 0x01, 15: a})
				}
			}
			b := Ban{Jail: jails[int(j)%len(jails)], Prefix: netip.PrefixFrom(addr, int(bits)%(addr.BitLen()+1))}
			if exp%4 != 0 {
				b.Expires = t0.Add(time.Duration(exp) * time.Minute)
			}
			in = append(in, b)
		}
		before := slices.Clone(in)
		got, err := NormalizeBans(in)
		want, werr := mergeBans(in)
		if !slices.Equal(in, before) {
			t.Fatal("NormalizeBans changed its input")
		}
		if (err == nil) != (werr == nil) || err != nil && err.Error() != werr.Error() {
			t.Fatalf("errors differ: %v / %v", err, werr)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("NormalizeBans = %v\nmergeBans = %v", got, want)
		}
	})
}

// BenchmarkNormalizeBans100k measures the shared (already normal) case
// at heal-round size.
func BenchmarkNormalizeBans100k(b *testing.B) {
	bans := shuffledHosts(100_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := NormalizeBans(bans); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMergeBans100k(b *testing.B) {
	bans := shuffledHosts(100_000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := mergeBans(bans); err != nil {
			b.Fatal(err)
		}
	}
}

// shuffledHosts is hosts of one jail, out of address order, as the ban
// table hands them.
func shuffledHosts(n int) []Ban {
	bans := hosts("sshd", n, time.Now().Add(time.Hour))
	for i := range bans {
		j := (i * 7919) % len(bans)
		bans[i], bans[j] = bans[j], bans[i]
	}
	return bans
}
