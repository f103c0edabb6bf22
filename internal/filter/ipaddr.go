package filter

import (
	"net/netip"
	"strconv"
	"strings"
)

// ipAddr is what fail2ban's IPAddr makes of a matched host text.
type ipAddr struct {
	addr   netip.Addr   // valid when the text is an address
	prefix netip.Prefix // valid when a prefix length below the full one applies
	str    string       // fail2ban's text form: canonical address[/len] or the raw text
}

// parseIPAddr reads text as fail2ban does: family 4 or 6 restricts the
// parse, cidr (decimal, may be "") masks the address, raw keeps the text
// as it is. With no family and no cidr, "[addr]" and "addr/len" (or
// "addr/mask") forms are accepted.
func parseIPAddr(text, cidr string, family int, raw bool) ipAddr {
	if raw {
		return ipAddr{str: text}
	}
	bits := -1
	s := text
	if cidr != "" {
		n, err := strconv.Atoi(cidr)
		if err != nil {
			return ipAddr{str: text}
		}
		bits, family = n, 0
	} else if family == 0 {
		if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
			s = s[1 : len(s)-1]
		}
		if a, m, ok := strings.Cut(s, "/"); ok {
			n, ok := maskBits(m)
			if !ok {
				return ipAddr{str: text}
			}
			s, bits = a, n
		}
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" || (family == 4 && !a.Is4()) || (family == 6 && !a.Is6()) {
		return ipAddr{str: text}
	}
	full := a.BitLen()
	if bits < 0 {
		// an IPv4-mapped IPv6 address counts as IPv4
		a = a.Unmap()
		return ipAddr{addr: a, str: canonical(a, s)}
	}
	if bits > full {
		bits = full
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ipAddr{str: text}
	}
	out := ipAddr{addr: p.Addr(), str: p.Addr().String()}
	if bits > 0 && bits < full {
		out.prefix = p
		out.str += "/" + strconv.Itoa(bits)
	}
	return out
}

// canonical is a.String(), without a new string when the text it was
// parsed from (s) already reads so, as addresses in logs mostly do.
func canonical(a netip.Addr, s string) string {
	var tmp [48]byte
	if c := a.AppendTo(tmp[:0]); string(c) != s {
		return string(c)
	}
	return s
}

// maskBits reads a prefix length given as a number or as a netmask.
func maskBits(m string) (int, bool) {
	if !strings.ContainsAny(m, ".:") {
		n, err := strconv.Atoi(m)
		return n, err == nil && n >= 0
	}
	a, err := netip.ParseAddr(m)
	if err != nil {
		return 0, false
	}
	b := a.AsSlice()
	n := 0
	for _, x := range b {
		for bit := 7; bit >= 0; bit-- {
			if x&(1<<bit) == 0 {
				return n, true
			}
			n++
		}
	}
	return n, true
}

// resolve turns a matched host name into failures, as fail2ban's
// DNSUtils.textToIp: an address text is used as is; a name is resolved
// only when usedns is yes or warn.
func (f *Filter) resolve(host string) []Failure {
	if a := parseIPAddr(host, "", 0, false); a.addr.IsValid() {
		return []Failure{{Host: host, Addr: a.addr, Prefix: a.prefix, ID: a.str}}
	}
	switch f.def.UseDNS {
	case "yes", "warn", "":
	default:
		return nil
	}
	if f.opts.Resolve == nil {
		return []Failure{{Host: host, ID: host, Unresolved: true}}
	}
	var out []Failure
	seen := map[netip.Addr]bool{}
	for _, a := range f.opts.Resolve(host) {
		a = a.Unmap()
		if !a.IsValid() || seen[a] {
			continue
		}
		seen[a] = true
		out = append(out, Failure{Host: host, Addr: a, ID: a.String()})
	}
	return out
}
