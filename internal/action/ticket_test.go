package action

import (
	"net/netip"
	"testing"
)

func TestTicketAddr(t *testing.T) {
	for _, tc := range []struct {
		name       string
		t          Ticket
		addr, text string
	}{
		{"address", Ticket{Addr: netip.MustParseAddr("192.0.2.7")}, "192.0.2.7", "192.0.2.7"},
		{"network", Ticket{Prefix: netip.MustParsePrefix("192.0.2.77/24")}, "192.0.2.0", "192.0.2.0/24"},
		{"whole-length prefix", Ticket{Prefix: netip.MustParsePrefix("2001:db8::5/128")}, "2001:db8::5", "2001:db8::5"},
		{"whole-length v4 prefix", Ticket{Prefix: netip.MustParsePrefix("198.51.100.9/32")}, "198.51.100.9", "198.51.100.9"},
		{"prefix wins over address", Ticket{Addr: netip.MustParseAddr("198.51.100.1"),
			Prefix: netip.MustParsePrefix("2001:db8:1::/48")}, "2001:db8:1::", "2001:db8:1::/48"},
		{"zone kept", Ticket{Addr: netip.MustParseAddr("fe80::1%eth0")}, "fe80::1%eth0", "fe80::1%eth0"},
		{"no address", Ticket{}, "invalid IP", ""},
	} {
		addr, text := TicketAddr(&tc.t)
		if addr.String() != tc.addr || text != tc.text {
			t.Errorf("%s: %s %q, want %s %q", tc.name, addr, text, tc.addr, tc.text)
		}
	}
}
