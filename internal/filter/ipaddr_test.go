package filter

import (
	"testing"
	"unsafe"
)

// TestAddrMemo: addrFailure gives, host after host, what parsing each
// host afresh gives, whether or not the memo of the last host serves;
// and it serves for a repeated canonical address.
func TestAddrMemo(t *testing.T) {
	v := func(s string) gval { return gval{s, true} }
	ip4 := func(h string) hostRef { return hostRef{host: h, family: 4, exact: true} }
	ip6 := func(h string) hostRef { return hostRef{host: h, family: 6, exact: true} }
	dns := func(h string) hostRef { return hostRef{host: h} }
	for _, tc := range []struct {
		name    string
		rawHost bool
		refs    []hostRef
		hits    int // failures the memo served
	}{
		{"same address", false, []hostRef{ip4("192.0.2.1"), ip4("192.0.2.1"), ip4("192.0.2.1")}, 2},
		{"another address", false, []hostRef{ip4("192.0.2.1"), ip4("192.0.2.2"), ip4("192.0.2.1")}, 0},
		{"same text, another family", false, []hostRef{ip4("192.0.2.1"), dns("192.0.2.1"), ip6("192.0.2.1")}, 0},
		{"IPv6 canonical", false, []hostRef{ip6("2001:db8::1"), ip6("2001:db8::1")}, 1},
		{"IPv6 not canonical", false, []hostRef{ip6("2001:DB8::1"), ip6("2001:DB8::1")}, 0},
		{"mapped", false, []hostRef{ip6("::ffff:192.0.2.1"), ip6("::ffff:192.0.2.1")}, 0},
		{"cidr", false, []hostRef{{host: "192.0.2.1", cidr: "24", exact: true}, {host: "192.0.2.1", cidr: "24", exact: true}, ip4("192.0.2.1")}, 0},
		{"failure id", false, []hostRef{ip4("192.0.2.1"), {host: "192.0.2.1", family: 4, exact: true, fid: v("10.0.0.1")}}, 0},
		{"failure id the host", false, []hostRef{ip4("192.0.2.1"), {host: "192.0.2.1", family: 4, exact: true, fid: v("192.0.2.1")}}, 1},
		{"name", false, []hostRef{dns("example.com"), dns("example.com")}, 1},
		{"raw name", true, []hostRef{dns("example.com"), dns("example.com")}, 1},
		{"bracketed", false, []hostRef{dns("[192.0.2.1]"), dns("[192.0.2.1]")}, 0},
	} {
		f := &Filter{rawHost: tc.rawHost}
		hits := 0
		for i, r := range tc.refs {
			before := f.lastAddr
			got := f.addrFailure(r)
			if before.holds(r) {
				hits++
			}
			// the failure as the parse alone makes it
			var a ipAddr
			if r.exact {
				a = parseIPAddr(r.host, r.cidr, r.family, false)
			} else {
				a = parseIPAddr(r.host, "", 0, tc.rawHost)
			}
			want := Failure{Host: r.host, Addr: a.addr, Prefix: a.prefix, ID: a.str}
			if r.fid.ok && r.fid.s != r.host {
				want.ID = parseIPAddr(r.fid.s, "", 0, tc.rawHost).str
			}
			if got.Host != want.Host || got.Addr != want.Addr || got.Prefix != want.Prefix || got.ID != want.ID {
				t.Errorf("%s, host %d: %+v, want %+v", tc.name, i, got, want)
			}
		}
		if hits != tc.hits {
			t.Errorf("%s: the memo served %d failures, want %d", tc.name, hits, tc.hits)
		}
	}
}

// TestAddrMemoStorage: the memo keeps its own copy of the host text, so
// a line whose storage is written again (Options.SharedLines) with
// another address is parsed again, not taken for the old one.
func TestAddrMemoStorage(t *testing.T) {
	buf := []byte("192.0.2.1")
	host := unsafe.String(unsafe.SliceData(buf), len(buf))
	f := &Filter{}
	if got := f.addrFailure(hostRef{host: host, family: 4, exact: true}); got.Addr.String() != "192.0.2.1" {
		t.Fatalf("first: %v", got.Addr)
	}
	copy(buf, "192.0.2.7")
	got := f.addrFailure(hostRef{host: host, family: 4, exact: true})
	if got.Addr.String() != "192.0.2.7" || got.ID != "192.0.2.7" {
		t.Errorf("after the text changed: Addr %v, ID %q", got.Addr, got.ID)
	}
}
