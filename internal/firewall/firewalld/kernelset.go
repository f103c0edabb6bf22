package firewalld

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"warden/internal/firewall"
)

// Kernel set parameters. hash:net holds single addresses and networks
// alike; maxelem leaves room for a million bans per jail and family.
const (
	setType     = "hash:net"
	setHashSize = 4096
	setMaxElem  = 1 << 20
	// maxTimeout is the longest timeout the ipset tool accepts, in
	// seconds; longer bans get no timeout, as fail2ban does.
	maxTimeout = 2147483
)

// writeCreate adds a restore line creating a set (kept as it is when it
// exists, with "-exist").
func writeCreate(w *strings.Builder, name string, v6 bool) {
	fam := "inet"
	if v6 {
		fam = "inet6"
	}
	fmt.Fprintf(w, "create %s %s family %s hashsize %d maxelem %d timeout 0\n", name, setType, fam, setHashSize, setMaxElem)
}

// timeoutFor is the kernel timeout, in seconds, of a ban ending at exp: 0
// (none) for bans without end or beyond the kernel's limit, at least 1.
func timeoutFor(exp, now time.Time) int64 {
	if exp.IsZero() {
		return 0
	}
	s := int64(math.Ceil(exp.Sub(now).Seconds()))
	switch {
	case s > maxTimeout:
		return 0
	case s < 1:
		return 1
	}
	return s
}

// entry renders a prefix as ipset writes it: a plain address for a host.
func entry(p netip.Prefix) string { return string(appendEntry(nil, p)) }

func appendEntry(buf []byte, p netip.Prefix) []byte {
	if p.IsSingleIP() {
		return p.Addr().AppendTo(buf)
	}
	return p.AppendTo(buf)
}

// appendAdd appends a restore line adding p to set with a timeout.
func appendAdd(buf []byte, set string, p netip.Prefix, timeout int64) []byte {
	buf = append(buf, "add "...)
	buf = append(buf, set...)
	buf = append(buf, ' ')
	buf = appendEntry(buf, p)
	buf = append(buf, " timeout "...)
	buf = strconv.AppendInt(buf, timeout, 10)
	return append(buf, '\n')
}

// runIPSet runs the ipset tool with args, feeding it stdin.
func (b *Backend) runIPSet(ctx context.Context, stdin []byte, args ...string) error {
	_, err := b.ipsetOutput(ctx, stdin, args...)
	return err
}

// ipsetOutput is runIPSet returning the tool's standard output.
func (b *Backend) ipsetOutput(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, b.ipset[0], append(b.ipset[1:], args...)...)
	if len(stdin) > 0 {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ipset %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// kernelSet is one of our sets as the kernel holds it.
type kernelSet struct {
	v6 bool
	// elems maps each element to its remaining timeout in seconds (0:
	// none).
	elems map[netip.Prefix]int64
}

// readSets reads every set whose name passes keep, with its elements.
func (b *Backend) readSets(ctx context.Context, keep func(string) bool) (map[string]*kernelSet, error) {
	out, err := b.ipsetOutput(ctx, nil, "save")
	if err != nil {
		return nil, err
	}
	return parseSave(bytes.NewReader(out), keep)
}

// parseSave reads the output of `ipset save`: "create NAME TYPE options"
// and "add NAME ENTRY [timeout N]" lines. Sets whose name fails keep, and
// their elements, are skipped. Errors carry the line number.
func parseSave(r io.Reader, keep func(string) bool) (map[string]*kernelSet, error) {
	sets := map[string]*kernelSet{}
	sc := bufio.NewScanner(r)
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
		switch f[0] {
		case "create":
			if !keep(name) {
				continue
			}
			s := &kernelSet{elems: map[netip.Prefix]int64{}}
			for i := 3; i+1 < len(f); i++ {
				if f[i] == "family" {
					s.v6 = f[i+1] == "inet6"
				}
			}
			sets[name] = s
		case "add":
			s := sets[name]
			if s == nil {
				if keep(name) {
					return nil, fmt.Errorf("ipset save line %d: element of set %q before its create line", line, name)
				}
				continue
			}
			p, err := parseEntry(f[2])
			if err != nil {
				return nil, fmt.Errorf("ipset save line %d: %w", line, err)
			}
			var timeout int64
			for i := 3; i+1 < len(f); i++ {
				if f[i] == "timeout" {
					if timeout, err = strconv.ParseInt(f[i+1], 10, 64); err != nil || timeout < 0 {
						return nil, fmt.Errorf("ipset save line %d: timeout %q", line, f[i+1])
					}
				}
			}
			s.elems[p] = timeout
		default:
			return nil, fmt.Errorf("ipset save line %d: unknown command %q", line, f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("ipset save: %w", err)
	}
	return sets, nil
}

// parseEntry reads an address or network as ipset prints it.
func parseEntry(s string) (netip.Prefix, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("entry %q: not an address or network", s)
	}
	return p.Masked(), nil
}

// destroySets destroys our sets whose name passes which. Sets still
// referenced by a rule someone else added cannot be destroyed; that is an
// error.
func (b *Backend) destroySets(ctx context.Context, which func(string) bool) error {
	out, err := b.ipsetOutput(ctx, nil, "list", "-n")
	if err != nil {
		return err
	}
	var script strings.Builder
	for _, name := range strings.Fields(string(out)) {
		if ownedSet(b.prefix, name) && which(name) {
			fmt.Fprintf(&script, "destroy %s\n", name)
		}
	}
	if script.Len() == 0 {
		return nil
	}
	return b.runIPSet(ctx, []byte(script.String()), "restore")
}

// setOf returns the set a ban goes to, checking that its jail was set up.
func (b *Backend) setOf(ban firewall.Ban) (string, error) {
	if _, ok := b.jails[ban.Jail]; !ok {
		return "", fmt.Errorf("ban %s: %w %q", ban.Prefix, firewall.ErrUnknownJail, ban.Jail)
	}
	return setName(b.prefix, ban.Jail, ban.Prefix.Addr().Is6()), nil
}

// Ban implements firewall.Backend: one `ipset restore` adds every element
// with its timeout (refreshing the timeout of elements already there).
func (b *Backend) Ban(ctx context.Context, bans []firewall.Ban) error {
	bans, err := firewall.NormalizeBans(bans)
	if err != nil {
		return fmt.Errorf("firewalld: ban: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	script := make([]byte, 0, len(bans)*48)
	now := time.Now()
	for _, ban := range bans {
		set, err := b.setOf(ban)
		if err != nil {
			return fmt.Errorf("firewalld: ban: %w", err)
		}
		script = appendAdd(script, set, ban.Prefix, timeoutFor(ban.Expires, now))
	}
	if len(script) == 0 {
		return nil
	}
	if err := b.runIPSet(ctx, script, "-exist", "restore"); err != nil {
		return fmt.Errorf("firewalld: ban: %w", err)
	}
	for _, ban := range bans {
		b.changes.Note(firewall.BanKey{Jail: ban.Jail, Prefix: ban.Prefix})
	}
	return nil
}

// Unban implements firewall.Backend: one `ipset restore` deletes every
// element; elements not there are ignored.
func (b *Backend) Unban(ctx context.Context, bans []firewall.Ban) error {
	bans, err := firewall.NormalizeBans(bans)
	if err != nil {
		return fmt.Errorf("firewalld: unban: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	var script strings.Builder
	for _, ban := range bans {
		set, err := b.setOf(ban)
		if err != nil {
			return fmt.Errorf("firewalld: unban: %w", err)
		}
		fmt.Fprintf(&script, "del %s %s\n", set, entry(ban.Prefix))
	}
	if script.Len() == 0 {
		return nil
	}
	if err := b.runIPSet(ctx, []byte(script.String()), "-exist", "restore"); err != nil {
		return fmt.Errorf("firewalld: unban: %w", err)
	}
	for _, ban := range bans {
		b.changes.Note(firewall.BanKey{Jail: ban.Jail, Prefix: ban.Prefix})
	}
	return nil
}

// List implements firewall.Backend: the elements of the sets of the jails
// given to Setup, with their end computed from the remaining timeout.
func (b *Backend) List(ctx context.Context) ([]firewall.Ban, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	byName := b.setJails()
	sets, err := b.readSets(ctx, func(n string) bool { return byName[n] != "" })
	if err != nil {
		return nil, fmt.Errorf("firewalld: list: %w", err)
	}
	now := time.Now()
	var out []firewall.Ban
	for _, jail := range b.order {
		for _, v6 := range []bool{false, true} {
			s := sets[setName(b.prefix, jail, v6)]
			if s == nil {
				continue
			}
			for p, t := range s.elems {
				ban := firewall.Ban{Jail: jail, Prefix: p}
				if t > 0 {
					ban.Expires = now.Add(time.Duration(t) * time.Second)
				}
				out = append(out, ban)
			}
		}
	}
	return out, nil
}

// setJails maps the set names of the jails given to Setup to their jail.
func (b *Backend) setJails() map[string]string {
	m := make(map[string]string, 2*len(b.order))
	for _, j := range b.order {
		m[setName(b.prefix, j, false)] = j
		m[setName(b.prefix, j, true)] = j
	}
	return m
}
