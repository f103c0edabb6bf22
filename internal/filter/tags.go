package filter

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Building blocks of the address tags, written in Python's dialect (they go
// through the translator like the user's regex). The named groups are the
// ones fail2ban's tags produce: ip4, ip6, dns, cidr, fid, fport.
const (
	reIPv4 = `\d{1,3}(?:\.\d{1,3}){3}`
	// An IPv6 address: one to seven "hextet:" / "hextet::" / "::" steps,
	// then a hextet or a final ':' (every step ends in ':', so "::" at the
	// end needs no look-behind).
	reIPv6   = `(?:[0-9A-Fa-f]{1,4}::?|::){1,7}(?:[0-9A-Fa-f]{1,4}|:)`
	tagIP4   = `(?:::f{4,6}:)?(?P<ip4>` + reIPv4 + `)`
	tagIP6   = `(?P<ip6>` + reIPv6 + `)`
	tagDNS   = `(?P<dns>[-.^_\w]*\w)`
	tagCIDR  = `(?P<cidr>\d+)`
	tagADDR  = `\[?(?:` + tagIP4 + `|` + tagIP6 + `)\]?`
	tagHOST  = `(?:` + tagADDR + `|` + tagDNS + `)`
	tagSUBNT = `\[?(?:` + tagIP4 + `|` + tagIP6 + `)(?:/` + tagCIDR + `)?\]?`
)

// fixedTags are the tags replaced by a fixed expression.
func fixedTag(name string) (string, bool) {
	switch name {
	case "IP4", "F-IP4/":
		return tagIP4, true
	case "IP6", "F-IP6/":
		return tagIP6, true
	case "ADDR", "F-ADDR/":
		return tagADDR, true
	case "CIDR", "F-CIDR/":
		return tagCIDR, true
	case "SUBNET", "F-SUBNET/":
		return tagSUBNT, true
	case "DNS", "F-DNS/":
		return tagDNS, true
	case "F-ID/":
		return `(?P<fid>\S+)`, true
	case "F-PORT/":
		return `(?P<fport>\w+)`, true
	}
	return "", false
}

// groupForTag maps an F-NAME tag to its group name: lower case, with id and
// port renamed to fid and fport.
func groupForTag(tag string) string {
	n := strings.ToLower(tag)
	switch n {
	case "id":
		return "fid"
	case "port":
		return "fport"
	}
	return n
}

// isTagRune reports whether r may appear in a tag name (Python \w or '-').
func isTagRune(r rune) bool {
	return r == '_' || r == '-' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// customTagName reports whether name (without <>) is an F- tag: an
// optional leading '/', then F-, then upper-case letters, digits, '_' or '-'.
func customTagName(name string) (closing bool, tag string, ok bool) {
	if strings.HasPrefix(name, "/") {
		closing, name = true, name[1:]
	}
	rest, found := strings.CutPrefix(name, "F-")
	if !found || rest == "" {
		return false, "", false
	}
	for _, r := range rest {
		if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-') {
			return false, "", false
		}
	}
	return closing, rest, true
}

// expandTags replaces fail2ban's tags (<HOST>, <F-USER>...</F-USER>, ...)
// by regex text. useDNS "no" makes <HOST> match addresses only. Unknown
// tags are left as they are, as fail2ban does.
func expandTags(re, useDNS string) (string, error) {
	var b strings.Builder
	opened := map[string]bool{}
	var order []string
	skip := 0
	for i := 0; i < len(re); {
		if re[i] != '<' {
			b.WriteByte(re[i])
			i++
			continue
		}
		end, ok := scanTag(re, i)
		if !ok {
			b.WriteByte('<')
			i++
			continue
		}
		tag := re[i:end]
		name := tag[1 : len(tag)-1]
		i = end
		switch {
		case name == "HOST":
			if useDNS == "no" {
				b.WriteString(tagADDR)
			} else {
				b.WriteString(tagHOST)
			}
			continue
		case name == "SKIPLINES":
			fmt.Fprintf(&b, `\n(?P<skiplines%d>(?:(?:.*\n)*?))`, skip)
			skip++
			continue
		}
		if x, ok := fixedTag(name); ok {
			b.WriteString(x)
			continue
		}
		closing, tn, ok := customTagName(name)
		switch {
		case !ok:
			b.WriteString(tag)
		case closing && opened[tn]:
			b.WriteString(")")
		case closing:
			b.WriteString(tag) // never opened: literal text, like fail2ban
		default:
			if !opened[tn] {
				order = append(order, tn)
			}
			opened[tn] = true
			fmt.Fprintf(&b, "(?P<%s>", groupForTag(tn))
		}
	}
	return b.String(), checkClosed(re, order)
}

// checkClosed gives a clear error for an <F-X> tag without </F-X>.
func checkClosed(re string, order []string) error {
	for _, tn := range order {
		if !strings.Contains(re, "</F-"+tn+">") {
			return fmt.Errorf("tag <F-%s> is never closed by </F-%s>", tn, tn)
		}
	}
	return nil
}

// scanTag finds the end of a tag </?[\w-]+/?> starting at re[i] == '<'.
func scanTag(re string, i int) (int, bool) {
	j := i + 1
	if j < len(re) && re[j] == '/' {
		j++
	}
	start := j
	for j < len(re) {
		r, size := rune(re[j]), 1
		if r >= 0x80 {
			r, size = utf8.DecodeRuneInString(re[j:])
		}
		if !isTagRune(r) {
			break
		}
		j += size
	}
	if j == start {
		return 0, false
	}
	if j < len(re) && re[j] == '/' {
		j++
	}
	if j < len(re) && re[j] == '>' {
		return j + 1, true
	}
	return 0, false
}

// globalToLocalFlags rewrites "((?i)x)" and "(?:(?i)x)" into "(?i:x)", as
// fail2ban does before compiling, so that such flags need not stand at the
// start of the pattern.
func globalToLocalFlags(re string) string {
	var b strings.Builder
	for i := 0; i < len(re); i++ {
		if re[i] == '(' && (i == 0 || re[i-1] != '\\') {
			j := i + 1
			if strings.HasPrefix(re[j:], "?:") {
				j += 2
			}
			if strings.HasPrefix(re[j:], "(?") {
				k := j + 2
				for k < len(re) && re[k] >= 'a' && re[k] <= 'z' {
					k++
				}
				if k > j+2 && k < len(re) && re[k] == ')' {
					b.WriteString(re[j:k])
					b.WriteByte(':')
					i = k
					continue
				}
			}
		}
		b.WriteByte(re[i])
	}
	return b.String()
}

// altName reports whether group name is an alternative for another group
// (alt_user, alt_user_2 → user) and returns that group's name.
func altName(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, "alt_")
	if !ok || rest == "" {
		return "", false
	}
	// drop a trailing _<digits>
	if k := strings.LastIndexByte(rest, '_'); k >= 0 && k < len(rest)-1 {
		digits := true
		for _, r := range rest[k+1:] {
			if r < '0' || r > '9' {
				digits = false
				break
			}
		}
		if digits {
			rest = rest[:k]
		}
	}
	return groupForTag(rest), true
}

// altPairs lists (alt group, target) pairs of a regex's groups, sorted
// like fail2ban sorts them.
func altPairs(names []string) [][2]string {
	var out [][2]string
	for _, n := range names {
		if t, ok := altName(n); ok {
			out = append(out, [2]string{n, t})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i][0] != out[j][0] {
			return out[i][0] < out[j][0]
		}
		return out[i][1] < out[j][1]
	})
	return out
}
