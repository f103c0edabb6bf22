package firewall

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// DefaultServicesPath is where service names are looked up on Linux.
const DefaultServicesPath = "/etc/services"

// PortRange is an inclusive range of destination ports.
type PortRange struct {
	First, Last uint16
}

// String renders a single port as "22" and a range as "8080-8090".
func (r PortRange) String() string {
	if r.First == r.Last {
		return strconv.Itoa(int(r.First))
	}
	return strconv.Itoa(int(r.First)) + "-" + strconv.Itoa(int(r.Last))
}

// Services resolves service names such as "ssh" to port numbers. The zero
// value knows no names.
type Services struct {
	// ports maps name -> protocol -> port; aliases are stored like names.
	ports map[string]map[string]uint16
}

// LoadServices reads a services(5) file.
func LoadServices(path string) (*Services, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load services: %w", err)
	}
	defer f.Close()
	return ParseServices(f, path)
}

// ParseServices reads services(5) syntax: "name port/protocol [aliases...]
// [# comment]". name labels errors, which carry name:line.
func ParseServices(r io.Reader, name string) (*Services, error) {
	s := &Services{ports: make(map[string]map[string]uint16)}
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("%s:%d: %q: missing port/protocol", name, line, sc.Text())
		}
		num, proto, ok := strings.Cut(fields[1], "/")
		if !ok || proto == "" {
			return nil, fmt.Errorf("%s:%d: %q: want port/protocol", name, line, fields[1])
		}
		port, err := strconv.ParseUint(num, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: port %q: %w", name, line, num, err)
		}
		for _, n := range append([]string{fields[0]}, fields[2:]...) {
			n = strings.ToLower(n)
			byProto := s.ports[n]
			if byProto == nil {
				byProto = make(map[string]uint16)
				s.ports[n] = byProto
			}
			if _, dup := byProto[proto]; !dup { // first entry wins, as in getservbyname
				byProto[proto] = uint16(port)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line, err)
	}
	return s, nil
}

// Lookup returns the port of a service name, preferring its tcp entry, then
// udp, then any other protocol (lowest port wins, for determinism).
func (s *Services) Lookup(name string) (uint16, bool) {
	if s == nil {
		return 0, false
	}
	byProto, ok := s.ports[strings.ToLower(name)]
	if !ok {
		return 0, false
	}
	for _, p := range []string{"tcp", "udp"} {
		if port, ok := byProto[p]; ok {
			return port, true
		}
	}
	var best uint16
	found := false
	for _, port := range byProto {
		if !found || port < best {
			best, found = port, true
		}
	}
	return best, found
}

// ParsePorts parses a fail2ban port option: a comma-separated list of
// numbers, service names and ranges written "a:b" or "a-b" (either end may
// be a name). Names are resolved through svc, which may be nil when only
// numbers are expected. The result is sorted and merged; an empty value
// yields no ranges, meaning all ports.
func ParsePorts(value string, svc *Services) ([]PortRange, error) {
	var out []PortRange
	for item := range strings.SplitSeq(value, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		sep := strings.IndexAny(item, ":-")
		// A dash may belong to a service name such as "ftp-data": only split
		// on it when the whole item is not itself a known name.
		if sep >= 0 && item[sep] == '-' {
			if _, ok := svc.Lookup(item); ok {
				sep = -1
			}
		}
		var r PortRange
		if sep < 0 {
			p, err := parsePort(item, svc)
			if err != nil {
				return nil, fmt.Errorf("%w in %q: %w", ErrInvalidPort, value, err)
			}
			r = PortRange{p, p}
		} else {
			first, err := parsePort(strings.TrimSpace(item[:sep]), svc)
			if err != nil {
				return nil, fmt.Errorf("%w in %q: %w", ErrInvalidPort, value, err)
			}
			last, err := parsePort(strings.TrimSpace(item[sep+1:]), svc)
			if err != nil {
				return nil, fmt.Errorf("%w in %q: %w", ErrInvalidPort, value, err)
			}
			if first > last {
				return nil, fmt.Errorf("%w in %q: range %q runs backwards", ErrInvalidPort, value, item)
			}
			r = PortRange{first, last}
		}
		out = append(out, r)
	}
	return MergePorts(out), nil
}

func parsePort(s string, svc *Services) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("empty port")
	}
	if s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.ParseUint(s, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("port %q is not a number in 0-65535", s)
		}
		return uint16(n), nil
	}
	if p, ok := svc.Lookup(s); ok {
		return p, nil
	}
	return 0, fmt.Errorf("unknown service %q", s)
}

// MergePorts returns the ranges sorted, with overlapping and adjacent ranges
// joined. The input is not modified.
func MergePorts(in []PortRange) []PortRange {
	if len(in) == 0 {
		return nil
	}
	rs := slices.Clone(in)
	slices.SortFunc(rs, func(a, b PortRange) int { return cmp.Compare(a.First, b.First) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if int(r.First) <= int(last.Last)+1 {
			last.Last = max(last.Last, r.Last)
			continue
		}
		out = append(out, r)
	}
	return out
}

// MultiportSlots is how many slots one iptables multiport match holds: a
// single port takes one, a range two.
const MultiportSlots = 15

// MultiportLists splits ports into comma-separated lists in iptables'
// syntax ("22,8000:8100", ranges with a colon) that each fit one multiport
// match, keeping their order. The iptables-based backends (ipset,
// firewalld) write one rule per list.
func MultiportLists(ports []PortRange) []string {
	var out, cur []string
	used := 0
	for _, p := range ports {
		cost, s := 1, strconv.Itoa(int(p.First))
		if p.Last != p.First {
			cost, s = 2, s+":"+strconv.Itoa(int(p.Last))
		}
		if used+cost > MultiportSlots {
			out = append(out, strings.Join(cur, ","))
			cur, used = nil, 0
		}
		cur = append(cur, s)
		used += cost
	}
	if len(cur) > 0 {
		out = append(out, strings.Join(cur, ","))
	}
	return out
}
