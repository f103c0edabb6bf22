package whois

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxField caps a summary field, in runes, so that one long line of an answer
// cannot flood a mail subject or a chat message.
const maxField = 200

// maxPrefixes caps the CIDR list derived from one range.
const maxPrefixes = 8

// field is one "key: value" line of an answer; key is lower case.
type field struct{ key, val string }

// block is one object of an answer: lines between two blank lines.
type block []field

func (b block) get(keys ...string) string {
	for _, k := range keys {
		for _, f := range b {
			if f.key == k && f.val != "" {
				return f.val
			}
		}
	}
	return ""
}

// answer is a parsed whois answer.
type answer struct {
	blocks   []block
	abuse    string // from a "% Abuse contact for ... is '...'" comment (RIPE, APNIC, AFRINIC)
	referral string // host:port of a whois referral, "" when there is none to follow
}

// parseAnswer splits raw, already sanitised text into objects. Comment lines
// (starting with % or #) end nothing and carry nothing, except the abuse
// contact note RIPE-style databases print. Continuation lines (leading space,
// tab or '+') are ignored: the summary needs first lines only.
func parseAnswer(raw string) answer {
	var a answer
	var cur block
	flush := func() {
		if len(cur) > 0 {
			a.blocks = append(a.blocks, cur)
			cur = nil
		}
	}
	for line := range strings.Lines(raw) {
		line = strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		switch line[0] {
		case '%', '#':
			if a.abuse == "" {
				a.abuse = abuseComment(line)
			}
			continue
		case ' ', '\t', '+':
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || !isKey(k) {
			continue
		}
		cur = append(cur, field{key: strings.ToLower(k), val: strings.TrimSpace(v)})
	}
	flush()
	a.referral = findReferral(a.blocks)
	return a
}

// isKey reports whether k looks like an attribute name: a letter, then
// letters, digits, '-' or '_'.
func isKey(k string) bool {
	if k == "" || len(k) > 40 {
		return false
	}
	for i, r := range k {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '-' || r == '_'):
		default:
			return false
		}
	}
	return true
}

// abuseComment extracts the address of a line such as
// "% Abuse contact for '192.0.2.0 - 192.0.2.255' is 'abuse@example.net'".
func abuseComment(line string) string {
	const marker = "abuse contact for "
	l := strings.ToLower(line)
	i := strings.Index(l, marker)
	if i < 0 {
		return ""
	}
	j := strings.LastIndex(line, "' is '")
	if j < i {
		return ""
	}
	v := line[j+len("' is '"):]
	v, _, ok := strings.Cut(v, "'")
	if !ok {
		return ""
	}
	return v
}

// findReferral returns the first referral worth following: IANA's refer: or
// whois: keys and ARIN's ReferralServer. rwhois and other schemes are
// skipped; so is anything that is not a plain host name or address.
func findReferral(blocks []block) string {
	for _, b := range blocks {
		for _, f := range b {
			switch f.key {
			case "refer", "whois", "referralserver":
				if s, ok := referralTarget(f.val); ok {
					return s
				}
			}
		}
	}
	return ""
}

// referralTarget turns "whois.ripe.net", "whois://whois.ripe.net" or
// "whois://whois.example.net:43/" into host:port. Other ports and
// non-public address literals are refused.
func referralTarget(v string) (string, bool) {
	v = strings.TrimSpace(v)
	if scheme, rest, ok := strings.Cut(v, "://"); ok {
		if !strings.EqualFold(scheme, "whois") {
			return "", false // rwhois://, http:// and the like
		}
		v = rest
	}
	v = strings.TrimSuffix(v, "/")
	s, ok := normalizeServer(v)
	if !ok {
		return "", false
	}
	host, port, _ := net.SplitHostPort(s)
	if port != "43" {
		return "", false
	}
	if a, err := netip.ParseAddr(host); err == nil && !isPublic(a) {
		return "", false
	}
	return s, true
}

// normalizeServer validates a whois server name, adds port 43 when none is
// given and lower-cases the host so loop detection compares like with like.
func normalizeServer(s string) (string, bool) {
	host, port := s, "43"
	if h, p, err := net.SplitHostPort(s); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", false
	}
	host = strings.ToLower(host)
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", false
		}
		return net.JoinHostPort(a.String(), port), true
	}
	if !isHostname(host) {
		return "", false
	}
	return net.JoinHostPort(host, port), true
}

func isHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// network is a block that describes address space, with the prefixes it
// covers.
type network struct {
	idx      int            // index in answer.blocks
	prefixes []netip.Prefix // all prefixes of the block
	match    netip.Prefix   // the one holding the queried address, if any
}

// networks returns the blocks carrying inetnum, inet6num, NetRange, CIDR,
// route or route6 keys.
func networks(blocks []block) []network {
	var out []network
	for i, b := range blocks {
		var ps []netip.Prefix
		for _, f := range b {
			switch f.key {
			case "inetnum", "inet6num", "netrange", "cidr":
				for _, p := range parseSpace(f.val) {
					if !slices.Contains(ps, p) && len(ps) < maxPrefixes {
						ps = append(ps, p)
					}
				}
			}
		}
		if len(ps) > 0 {
			out = append(out, network{idx: i, prefixes: ps})
		}
	}
	return out
}

// routes returns the route/route6 prefixes of an answer.
func routes(blocks []block) []network {
	var out []network
	for i, b := range blocks {
		var ps []netip.Prefix
		for _, f := range b {
			if f.key == "route" || f.key == "route6" {
				ps = append(ps, parseSpace(f.val)...)
			}
		}
		if len(ps) > 0 {
			out = append(out, network{idx: i, prefixes: ps})
		}
	}
	return out
}

// parseSpace reads "192.0.2.0 - 192.0.2.255", "192.0.2.0/24, 198.51.100.0/25",
// "2001:db8::/32" or LACNIC's short "200.3.0/20".
func parseSpace(v string) []netip.Prefix {
	if lo, hi, ok := strings.Cut(v, "-"); ok && !strings.Contains(v, "/") {
		a, err1 := netip.ParseAddr(strings.TrimSpace(lo))
		b, err2 := netip.ParseAddr(strings.TrimSpace(hi))
		if err1 != nil || err2 != nil || a.BitLen() != b.BitLen() || b.Less(a) {
			return nil
		}
		return rangePrefixes(a, b)
	}
	var out []netip.Prefix
	for part := range strings.SplitSeq(v, ",") {
		if p, ok := parsePrefix(strings.TrimSpace(part)); ok && len(out) < maxPrefixes {
			out = append(out, p)
		}
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, bool) {
	addr, bits, ok := strings.Cut(s, "/")
	if !ok {
		return netip.Prefix{}, false
	}
	if !strings.Contains(addr, ":") {
		if n := strings.Count(addr, "."); n < 3 {
			addr += strings.Repeat(".0", 3-n)
		}
	}
	p, err := netip.ParsePrefix(addr + "/" + bits)
	if err != nil {
		return netip.Prefix{}, false
	}
	return p.Masked(), true
}

// rangePrefixes splits the inclusive range a..b into the fewest prefixes, at
// most maxPrefixes of them.
func rangePrefixes(a, b netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for len(out) < maxPrefixes {
		var p netip.Prefix
		for bits := 0; bits <= a.BitLen(); bits++ {
			c := netip.PrefixFrom(a, bits).Masked()
			if c.Addr() == a && !b.Less(lastAddr(c)) {
				p = c
				break
			}
		}
		if !p.IsValid() {
			break
		}
		out = append(out, p)
		last := lastAddr(p)
		if last == b {
			break
		}
		a = last.Next()
		if !a.IsValid() {
			break
		}
	}
	return out
}

// lastAddr is the highest address of p.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().AsSlice()
	for i := range b {
		hostBits := max(0, min(8, (i+1)*8-p.Bits()))
		b[i] |= byte(1<<hostBits - 1)
	}
	a, _ := netip.AddrFromSlice(b)
	return a
}

// chooseNetwork returns the most specific network holding addr; a later
// block wins a tie (ARIN lists the customer assignment after the
// allocation). ok is false when no block holds addr.
func chooseNetwork(nets []network, addr netip.Addr) (network, bool) {
	var best network
	found := false
	for _, n := range nets {
		for _, p := range n.prefixes {
			if p.Contains(addr) && (!found || p.Bits() >= best.match.Bits()) {
				best, found = n, true
				best.match = p
			}
		}
	}
	return best, found
}

// summarize builds the display summary of one answer for addr.
func summarize(a answer, addr netip.Addr) (Summary, netip.Prefix) {
	var s Summary
	nets := networks(a.blocks)
	net, ok := chooseNetwork(nets, addr)
	start := 0
	if ok {
		start = net.idx
	} else if len(nets) > 0 {
		net = nets[len(nets)-1]
		start = net.idx
	}
	// Search the chosen block, then the objects after it (its organisation,
	// roles, route), then those before it.
	order := make([]block, 0, len(a.blocks))
	order = append(order, a.blocks[start:]...)
	for i := start - 1; i >= 0; i-- {
		order = append(order, a.blocks[i])
	}
	find := func(keys ...string) string {
		for _, b := range order {
			if v := b.get(keys...); v != "" {
				return v
			}
		}
		return ""
	}
	s.NetName = find("netname", "net-name")
	s.Country = find("country")
	s.Org = find("org-name", "orgname", "owner", "custname")
	if s.Org == "" {
		s.Org = find("descr")
	}
	s.AS = normalizeAS(find("originas", "origin", "aut-num"))
	s.Abuse = a.abuse
	if s.Abuse == "" {
		s.Abuse = find("orgabuseemail", "abuse-mailbox")
	}
	if s.Abuse == "" {
		s.Abuse = resolveHandle(a.blocks, find("abuse-c"))
	}
	var cidrs []string
	for _, p := range net.prefixes {
		cidrs = append(cidrs, p.String())
	}
	if len(cidrs) == 0 {
		if r, ok := chooseNetwork(routes(a.blocks), addr); ok {
			cidrs = []string{r.match.String()}
			net.match = r.match
		}
	}
	s.CIDR = strings.Join(cidrs, ", ")
	s.NetName = cleanField(s.NetName)
	s.Country = cleanField(s.Country)
	s.Org = cleanField(s.Org)
	s.AS = cleanField(s.AS)
	s.Abuse = cleanField(s.Abuse)
	return s, net.match
}

// resolveHandle finds the e-mail of the contact object named handle
// (LACNIC lists abuse-c: HANDLE and a nic-hdl: HANDLE object with e-mail:).
func resolveHandle(blocks []block, handle string) string {
	if handle == "" {
		return ""
	}
	for _, b := range blocks {
		if strings.EqualFold(b.get("nic-hdl"), handle) {
			return b.get("abuse-mailbox", "e-mail")
		}
	}
	return ""
}

// normalizeAS turns "AS64496", "as64496, AS64497" or "64496" into "AS64496";
// anything else ("N/A", "") gives "".
func normalizeAS(v string) string {
	v, _, _ = strings.Cut(v, ",")
	v, _, _ = strings.Cut(strings.TrimSpace(v), " ")
	if len(v) >= 2 && strings.EqualFold(v[:2], "AS") {
		v = v[2:]
	}
	if _, err := strconv.ParseUint(v, 10, 32); err != nil {
		return ""
	}
	return "AS" + v
}

// cleanField makes one summary value safe to show anywhere, a mail header
// included: invalid UTF-8 becomes U+FFFD, control and format characters
// (CR, LF, ESC, bidi overrides...) become spaces, runs of spaces collapse
// and the value is cut at maxField runes. Characters such as "~!" are kept:
// they are only data, and warden never hands text to mail(1) or a shell.
func cleanField(v string) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	var b strings.Builder
	n := 0
	space := false
	for _, r := range v {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		if n >= maxField {
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// cleanRaw keeps the lines of an answer but removes every control or format
// character other than newline and tab; CRLF becomes LF and invalid UTF-8
// becomes U+FFFD.
func cleanRaw(raw []byte) string {
	var b strings.Builder
	b.Grow(len(raw))
	for len(raw) > 0 {
		if c := raw[0]; c < utf8.RuneSelf {
			if c >= 0x20 && c != 0x7f || c == '\n' || c == '\t' {
				b.WriteByte(c)
			}
			raw = raw[1:]
			continue
		}
		r, size := utf8.DecodeRune(raw)
		raw = raw[size:]
		switch {
		case r == '\n' || r == '\t':
			b.WriteRune(r)
		case r == utf8.RuneError && size == 1:
			b.WriteRune(unicode.ReplacementChar)
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
