package firewalld

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"

	"warden/internal/firewall"
)

// maxSetName is the kernel's limit on ipset names (IPSET_MAXNAMELEN - 1).
const maxSetName = 31

// setName is the kernel set holding jail's bans of one family:
// <prefix>4-<jail> or <prefix>6-<jail>. Names that would pass the kernel's
// limit keep a head of the jail name and end in a hash of the whole name,
// so that two long jail names never share a set.
func setName(prefix, jail string, v6 bool) string {
	fam := "4-"
	if v6 {
		fam = "6-"
	}
	name := prefix + fam + jail
	if len(name) <= maxSetName {
		return name
	}
	sum := sha256.Sum256([]byte(jail))
	tag := "-" + hex.EncodeToString(sum[:4])
	return name[:maxSetName-len(tag)] + tag
}

// ownedSet reports whether a kernel set name is one this backend makes.
func ownedSet(prefix, name string) bool {
	return strings.HasPrefix(name, prefix+"4-") || strings.HasPrefix(name, prefix+"6-")
}

// directRule is one rule of firewalld's direct interface, in the shape of
// its D-Bus signature (sssias): ipv, table, chain, priority, arguments.
type directRule struct {
	IPV      string
	Table    string
	Chain    string
	Priority int32
	Args     []string
}

// key identifies a rule as firewalld does: by all of its fields.
func (r directRule) key() string {
	return r.IPV + "\x00" + r.Table + "\x00" + r.Chain + "\x00" + strconv.Itoa(int(r.Priority)) + "\x00" +
		strings.Join(r.Args, "\x00")
}

// String renders the rule as firewall-cmd --direct --get-all-rules does.
func (r directRule) String() string {
	return r.IPV + " " + r.Table + " " + r.Chain + " " + strconv.Itoa(int(r.Priority)) + " " + strings.Join(r.Args, " ")
}

// matchSet returns the set the rule matches with "-m set --match-set NAME
// src", or "".
func (r directRule) matchSet() string {
	for i := 0; i+2 < len(r.Args); i++ {
		if r.Args[i] == "--match-set" && r.Args[i+2] == "src" {
			return r.Args[i+1]
		}
	}
	return ""
}

// directChain maps a jail's chain onto the chains firewalld provides for
// direct rules, the ones fail2ban's firewallcmd actions use.
func directChain(chain string) string {
	if chain == firewall.ChainForward {
		return "FORWARD_direct"
	}
	return "INPUT_direct"
}

// jailRules returns the direct rules of a normalized jail: for each family,
// one rule per protocol and group of ports (or a single rule for every
// protocol) matching the family's set.
func jailRules(prefix string, j firewall.JailSpec) []directRule {
	var out []directRule
	for _, v6 := range []bool{false, true} {
		ipv, reject := "ipv4", "icmp-port-unreachable"
		if v6 {
			ipv, reject = "ipv6", "icmp6-port-unreachable"
		}
		tail := []string{"-m", "set", "--match-set", setName(prefix, j.Name, v6), "src", "-j"}
		if j.BlockType == firewall.BlockDrop {
			tail = append(tail, "DROP")
		} else {
			tail = append(tail, "REJECT", "--reject-with", reject)
		}
		var heads [][]string
		switch {
		case len(j.Protocols) == 0:
			heads = [][]string{nil}
		case len(j.Ports) == 0:
			for _, p := range j.Protocols {
				heads = append(heads, []string{"-p", p})
			}
		default:
			for _, p := range j.Protocols {
				for _, g := range firewall.MultiportLists(j.Ports) {
					heads = append(heads, []string{"-p", p, "-m", "multiport", "--dports", g})
				}
			}
		}
		for _, h := range heads {
			args := append(append([]string{}, h...), tail...)
			out = append(out, directRule{IPV: ipv, Table: "filter", Chain: directChain(j.Chain), Args: args})
		}
	}
	return out
}
