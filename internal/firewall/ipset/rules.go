package ipset

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"warden/internal/firewall"
)

// rule is one iptables rule: its chain and its specification exactly as
// "iptables -S" prints it after "-A CHAIN ".
type rule struct {
	chain string
	spec  string
}

func (r rule) String() string { return r.chain + " " + r.spec }

// chainName is the iptables chain of a jail: the one it names, or the
// built-in chain of its hook.
func chainName(j firewall.JailSpec) string {
	switch {
	case j.ChainName != "":
		return j.ChainName
	case j.Chain == firewall.ChainForward:
		return "FORWARD"
	}
	return "INPUT"
}

// rulesFor returns the rules of a normalized jail for one family, in the
// order they should appear.
func rulesFor(j firewall.JailSpec, v6 bool) []rule {
	target := "-j DROP"
	if j.BlockType == firewall.BlockReject {
		target = "-j REJECT --reject-with icmp-port-unreachable"
		if v6 {
			target = "-j REJECT --reject-with icmp6-port-unreachable"
		}
	}
	match := fmt.Sprintf("-m set --match-set %s src -m comment --comment %q %s", SetName(j.Name, v6), comment(j.Name), target)
	chain := chainName(j)
	if len(j.Protocols) == 0 {
		return []rule{{chain, match}}
	}
	var out []rule
	for _, proto := range j.Protocols {
		if len(j.Ports) == 0 {
			out = append(out, rule{chain, "-p " + proto + " " + match})
			continue
		}
		for _, list := range firewall.MultiportLists(j.Ports) {
			out = append(out, rule{chain, "-p " + proto + " -m multiport --dports " + list + " " + match})
		}
	}
	return out
}

// ourRule is a rule of ours found in the kernel.
type ourRule struct {
	rule
	jail string
}

// parseRules picks our rules out of "iptables -S" output: "-A CHAIN spec"
// lines whose comment is warden:<jail>.
func parseRules(out []byte) []ourRule {
	var rules []ourRule
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, "-A ")
		if !ok {
			continue
		}
		_, after, ok := strings.Cut(line, `--comment "warden:`)
		if !ok {
			continue
		}
		jail, _, ok := strings.Cut(after, `"`)
		if !ok || firewall.ValidateJailName(jail) != nil {
			continue
		}
		chain, spec, ok := strings.Cut(rest, " ")
		if !ok || chain == "" {
			continue
		}
		rules = append(rules, ourRule{rule{chain, spec}, jail})
	}
	return rules
}

// readRules lists our rules of one family.
func (b *Backend) readRules(ctx context.Context, v6 bool) ([]ourRule, error) {
	out, err := b.run(ctx, b.iptables(v6), nil, "-w", "-t", "filter", "-S")
	if err != nil {
		return nil, err
	}
	return parseRules(out), nil
}

// wantRules lists the rules of the installed jails for one family.
func (b *Backend) wantRules(v6 bool) []rule {
	var out []rule
	for _, name := range b.order {
		out = append(out, rulesFor(b.jails[name], v6)...)
	}
	return out
}

// sameRules reports whether have holds exactly want, in order.
func sameRules(have []ourRule, want []rule) bool {
	return slices.EqualFunc(have, want, func(h ourRule, w rule) bool { return h.rule == w })
}

// replaceRules swaps our rules of one family for want in one atomic
// iptables-restore batch: the old ones deleted, the new ones inserted at
// the top of their chains in order.
func (b *Backend) replaceRules(ctx context.Context, v6 bool, have []ourRule, want []rule) error {
	var buf bytes.Buffer
	buf.WriteString("*filter\n")
	for _, r := range have {
		fmt.Fprintf(&buf, "-D %s %s\n", r.chain, r.spec)
	}
	for i := len(want) - 1; i >= 0; i-- {
		fmt.Fprintf(&buf, "-I %s 1 %s\n", want[i].chain, want[i].spec)
	}
	buf.WriteString("COMMIT\n")
	if _, err := b.run(ctx, b.iptables(v6)+"-restore", buf.Bytes(), "-w", "--noflush"); err != nil {
		return err
	}
	return nil
}
