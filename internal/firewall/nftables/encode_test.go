package nftables

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestSetNames(t *testing.T) {
	for _, k := range allKinds {
		for _, jail := range []string{"sshd", "nginx-http-auth", "a.b_c", "net4-x"} {
			name := setName(jail, k)
			j, kk, ok := parseSetName(name)
			if !ok || j != jail || kk != k {
				t.Errorf("parseSetName(%q) = %q, %+v, %v; want %q, %+v", name, j, kk, ok, jail, k)
			}
		}
	}
	for _, name := range []string{"__set0", "addr4-", "other", "net5-sshd", "addr4-bad name"} {
		if _, _, ok := parseSetName(name); ok {
			t.Errorf("parseSetName(%q) accepted a set we did not create", name)
		}
	}
}

func TestLastAddr(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.0/24":     "192.0.2.255",
		"192.0.2.7/32":     "192.0.2.7",
		"10.0.0.0/9":       "10.127.255.255",
		"2001:db8::/32":    "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff",
		"2001:db8::/127":   "2001:db8::1",
		"255.255.255.0/24": "255.255.255.255",
	} {
		if got := lastAddr(netip.MustParsePrefix(in)); got.String() != want {
			t.Errorf("lastAddr(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestElementsFor(t *testing.T) {
	tests := []struct {
		in   string
		keys []string // addresses; a trailing "!" marks an interval end
	}{
		{"192.0.2.7/32", []string{"192.0.2.7"}},
		{"2001:db8::7/128", []string{"2001:db8::7"}},
		{"192.0.2.0/24", []string{"192.0.2.0", "192.0.3.0!"}},
		{"2001:db8::/32", []string{"2001:db8::", "2001:db9::!"}},
		{"255.255.255.0/24", []string{"255.255.255.0"}},
		{"ffff::/16", []string{"ffff::"}},
	}
	for _, tc := range tests {
		elems := elementsFor(netip.MustParsePrefix(tc.in), time.Minute)
		var got []string
		for _, e := range elems {
			a, _ := netip.AddrFromSlice(e.Key)
			s := a.String()
			if e.IntervalEnd {
				s += "!"
				if e.Timeout != 0 {
					t.Errorf("%s: interval end carries a timeout (the kernel rejects that)", tc.in)
				}
			} else if e.Timeout != time.Minute {
				t.Errorf("%s: start element timeout %v", tc.in, e.Timeout)
			}
			got = append(got, s)
		}
		if !slices.Equal(got, tc.keys) {
			t.Errorf("elementsFor(%s) = %v, want %v", tc.in, got, tc.keys)
		}
	}
}

func TestTimeoutFor(t *testing.T) {
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		expires time.Time
		want    time.Duration
		ok      bool
	}{
		{time.Time{}, 0, true},
		{now.Add(time.Hour), time.Hour, true},
		{now.Add(time.Microsecond), time.Millisecond, true},
		{now.Add(1500 * time.Microsecond), 2 * time.Millisecond, true},
		{now, 0, false},
		{now.Add(-time.Second), 0, false},
	}
	for _, tc := range tests {
		got, ok := timeoutFor(tc.expires, now)
		if got != tc.want || ok != tc.ok {
			t.Errorf("timeoutFor(%v) = %v, %v; want %v, %v", tc.expires, got, ok, tc.want, tc.ok)
		}
	}
}

func TestRangePrefixes(t *testing.T) {
	tests := []struct {
		first, last string
		want        []string
	}{
		{"192.0.2.0", "192.0.2.255", []string{"192.0.2.0/24"}},
		{"192.0.2.7", "192.0.2.7", []string{"192.0.2.7/32"}},
		{"192.0.2.1", "192.0.2.6", []string{"192.0.2.1/32", "192.0.2.2/31", "192.0.2.4/31", "192.0.2.6/32"}},
		{"0.0.0.0", "255.255.255.255", []string{"0.0.0.0/0"}},
		{"255.255.255.254", "255.255.255.255", []string{"255.255.255.254/31"}},
		{"2001:db8::", "2001:db8::ffff", []string{"2001:db8::/112"}},
	}
	for _, tc := range tests {
		got := rangePrefixes(netip.MustParseAddr(tc.first), netip.MustParseAddr(tc.last))
		var s []string
		for _, p := range got {
			s = append(s, p.String())
		}
		if !slices.Equal(s, tc.want) {
			t.Errorf("rangePrefixes(%s, %s) = %v, want %v", tc.first, tc.last, s, tc.want)
		}
	}
}

// FuzzRangePrefixes checks that the prefixes decoded from an interval
// cover it exactly, in order, without gaps.
func FuzzRangePrefixes(f *testing.F) {
	f.Add([]byte{192, 0, 2, 1}, []byte{192, 0, 2, 6})
	f.Add([]byte{0, 0, 0, 0}, []byte{255, 255, 255, 255})
	f.Add(make([]byte, 16), []byte{0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		first, ok1 := netip.AddrFromSlice(a)
		last, ok2 := netip.AddrFromSlice(b)
		if !ok1 || !ok2 || first.BitLen() != last.BitLen() {
			return
		}
		if first.Compare(last) > 0 {
			first, last = last, first
		}
		got := rangePrefixes(first, last)
		if len(got) == 0 || len(got) > 2*first.BitLen() {
			t.Fatalf("rangePrefixes(%s, %s) gave %d prefixes", first, last, len(got))
		}
		next := first
		for _, p := range got {
			if p.Addr() != next || p.Masked() != p {
				t.Fatalf("rangePrefixes(%s, %s) = %v: gap or unaligned at %v", first, last, got, p)
			}
			next = lastAddr(p).Next()
		}
		if lastAddr(got[len(got)-1]) != last {
			t.Fatalf("rangePrefixes(%s, %s) = %v ends elsewhere", first, last, got)
		}
	})
}
