// Package kernelset speaks the ipset tool's language for the backends that
// keep bans as elements of kernel ip sets (ipset and firewalld): element
// timeouts, `ipset restore` lines, reading `ipset save` back, and running
// the tools. It holds no state; each backend names its own sets.
package kernelset

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// MaxTimeout is the longest element timeout the kernel accepts, in seconds
// (about 24.8 days).
const MaxTimeout = 2147483

// ErrCommand reports a tool that failed; the error text carries its output.
var ErrCommand = errors.New("command failed")

// Timeout is the element timeout, in whole seconds rounded up, of a ban
// ending at expires: 0 (no timeout) for a ban without end. A ban longer
// than MaxTimeout gets MaxTimeout: the kernel timeout stays a safety net
// that never outlives the ban, and the backend's heal puts the element
// back when the kernel drops it early. ok is false for a ban that has
// ended, which belongs in no set.
func Timeout(expires, now time.Time) (secs int64, ok bool) {
	if expires.IsZero() {
		return 0, true
	}
	left := expires.Sub(now)
	if left <= 0 {
		return 0, false
	}
	secs = int64((left + time.Second - 1) / time.Second)
	return min(secs, MaxTimeout), true
}

// AppendElement appends p as ipset writes it: a host without its prefix
// length, a network with it.
func AppendElement(buf []byte, p netip.Prefix) []byte {
	if p.IsSingleIP() {
		return p.Addr().AppendTo(buf)
	}
	return p.AppendTo(buf)
}

// Element is AppendElement as a string.
func Element(p netip.Prefix) string { return string(AppendElement(nil, p)) }

// AppendAdd appends the restore line that adds p to set with a timeout in
// seconds (0: none), refreshing the timeout of an element already there.
func AppendAdd(buf []byte, set string, p netip.Prefix, timeout int64) []byte {
	buf = append(buf, "add "...)
	buf = append(buf, set...)
	buf = append(buf, ' ')
	buf = AppendElement(buf, p)
	buf = append(buf, " timeout "...)
	buf = strconv.AppendInt(buf, timeout, 10)
	return append(buf, " -exist\n"...)
}

// AppendDel appends the restore line that deletes p from set, if there.
func AppendDel(buf []byte, set string, p netip.Prefix) []byte {
	buf = append(buf, "del "...)
	buf = append(buf, set...)
	buf = append(buf, ' ')
	buf = AppendElement(buf, p)
	return append(buf, " -exist\n"...)
}

// CreateLine is the restore line that creates a set of type typ (hash:ip,
// hash:net) with element timeouts, kept as it is when it exists.
func CreateLine(name, typ string, v6 bool, hashSize, maxElem int) string {
	family := "inet"
	if v6 {
		family = "inet6"
	}
	return fmt.Sprintf("create %s %s family %s hashsize %d maxelem %d timeout 0 -exist\n", name, typ, family, hashSize, maxElem)
}

// Set is one set as `ipset save` shows it.
type Set struct {
	Type string // hash:ip, hash:net, ...
	V6   bool   // family inet6
	// Elems maps each element to its remaining timeout in seconds (0:
	// none, or a set without timeouts).
	Elems map[netip.Prefix]int64
}

// ParseSave reads `ipset save` output: "create NAME TYPE [family F] ..."
// and "add NAME ELEMENT [timeout N] ..." lines. Sets whose name fails keep
// (nil keeps all), and their elements, are skipped. Errors carry the line
// number.
func ParseSave(out []byte, keep func(name string) bool) (map[string]*Set, error) {
	sets := map[string]*Set{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) < 3 {
			return nil, fmt.Errorf("ipset save line %d: %q: too short", line, sc.Text())
		}
		name := f[1]
		kept := keep == nil || keep(name)
		switch f[0] {
		case "create":
			if !kept {
				continue
			}
			s := &Set{Type: f[2], Elems: map[netip.Prefix]int64{}}
			for i := 3; i+1 < len(f); i++ {
				if f[i] == "family" {
					s.V6 = f[i+1] == "inet6"
				}
			}
			sets[name] = s
		case "add":
			s := sets[name]
			if s == nil {
				if kept {
					return nil, fmt.Errorf("ipset save line %d: element of set %q before its create line", line, name)
				}
				continue
			}
			p, err := ParseElement(f[2])
			if err != nil {
				return nil, fmt.Errorf("ipset save line %d: %w", line, err)
			}
			var timeout int64
			for i := 3; i+1 < len(f); i++ {
				if f[i] == "timeout" {
					if timeout, err = strconv.ParseInt(f[i+1], 10, 64); err != nil || timeout < 0 {
						return nil, fmt.Errorf("ipset save line %d: timeout %q: not a count of seconds", line, f[i+1])
					}
				}
			}
			s.Elems[p] = timeout
		default:
			return nil, fmt.Errorf("ipset save line %d: unknown command %q", line, f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ipset save: %w", err)
	}
	return sets, nil
}

// ParseElement reads an address or network as ipset prints it. A network
// is masked (10.1.2.3/24 is 10.1.2.0/24), as the kernel stores it and as
// firewall.NormalizeBans gives bans, so that the two compare equal.
func ParseElement(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("element %q: not an address or network", s)
	}
	return p.Masked(), nil
}

// Run runs argv (the tool, behind any prefix such as
// {"ip", "netns", "exec", "ns1"}) with args, feeding it stdin when not
// nil, and returns its standard output. A failure is ErrCommand, with the
// tool's standard error (cut at 2,000 bytes).
func Run(ctx context.Context, argv []string, stdin []byte, args ...string) ([]byte, error) {
	full := append(append([]string(nil), argv...), args...)
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "..."
		}
		return stdout.Bytes(), fmt.Errorf("%s %s: %w: %w: %s", argv[len(argv)-1], strings.Join(args, " "), ErrCommand, err, msg)
	}
	return stdout.Bytes(), nil
}

// Save runs `ipset save` with the tool argv and parses it (see ParseSave).
func Save(ctx context.Context, argv []string, keep func(name string) bool) (map[string]*Set, error) {
	out, err := Run(ctx, argv, nil, "save")
	if err != nil {
		return nil, err
	}
	return ParseSave(out, keep)
}
