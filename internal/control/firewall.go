package control

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// FirewallStatuser is implemented by a Handler that can compare its
// firewall backends with the bans it holds ("status --firewall"). A
// Handler without it answers that command with ErrNotSupported.
type FirewallStatuser interface {
	FirewallStatus(ctx context.Context) ([]FirewallStatus, error)
}

// FirewallStatus is one firewall backend's state: what is in place,
// read back from the firewall, against what the daemon holds active.
type FirewallStatus struct {
	Backend string `json:"backend"`
	// Detail names where the backend keeps its state ("table inet
	// warden"); may be empty.
	Detail string         `json:"detail,omitempty"`
	Jails  []FirewallJail `json:"jails"`
	// Error is set when the firewall could not be read back.
	Error string `json:"error,omitempty"`
}

// FirewallJail compares one jail's bans in one backend.
type FirewallJail struct {
	Jail    string `json:"jail"`
	InPlace int    `json:"in_place"` // bans read back from the firewall
	Wanted  int    `json:"wanted"`   // bans the daemon holds active
	// Missing are wanted bans not in place; Extra are bans in place the
	// daemon does not hold. Both are capped at MaxFirewallDiff entries.
	Missing []netip.Prefix `json:"missing"`
	Extra   []netip.Prefix `json:"extra"`
}

// MaxFirewallDiff caps the addresses listed as missing or extra per jail.
const MaxFirewallDiff = 20

// FirewallStatus asks for "status --firewall".
func (c *Client) FirewallStatus(ctx context.Context) ([]FirewallStatus, error) {
	var out []FirewallStatus
	err := c.Do(ctx, Command{Name: "status", Firewall: true}, &out)
	return out, err
}

func firewallStatus(ctx context.Context, h Handler) ([]FirewallStatus, error) {
	fs, ok := h.(FirewallStatuser)
	if !ok {
		return nil, fmt.Errorf("%w: status --firewall", ErrNotSupported)
	}
	return fs.FirewallStatus(ctx)
}

func formatFirewall(raw json.RawMessage) (string, error) {
	var st []FirewallStatus
	if err := json.Unmarshal(raw, &st); err != nil {
		return "", fmt.Errorf("decode status --firewall: %w", err)
	}
	return FormatFirewallStatus(st), nil
}

// FormatFirewallStatus renders "status --firewall" in the tree layout of
// the other status answers: one block per backend, one branch per jail.
func FormatFirewallStatus(st []FirewallStatus) string {
	if len(st) == 0 {
		return "Firewall: no native backend in use (shell actions only)"
	}
	parts := make([]string, 0, len(st))
	for _, s := range st {
		var b strings.Builder
		b.WriteString("Firewall backend: " + s.Backend)
		if s.Detail != "" {
			b.WriteString(" (" + s.Detail + ")")
		}
		if s.Error != "" {
			writeTree(&b, []treeItem{{name: "Error", value: s.Error}}, "")
			parts = append(parts, b.String())
			continue
		}
		items := make([]treeItem, 0, len(s.Jails))
		for _, j := range s.Jails {
			state := "ok"
			if len(j.Missing) > 0 || len(j.Extra) > 0 || j.InPlace != j.Wanted {
				state = "differs"
			}
			items = append(items, treeItem{name: "Jail: " + j.Jail, children: []treeItem{
				{name: "State", value: state},
				{name: "In place", value: strconv.Itoa(j.InPlace)},
				{name: "Should be", value: strconv.Itoa(j.Wanted)},
				{name: "Missing", value: joinPrefixes(j.Missing)},
				{name: "Extra", value: joinPrefixes(j.Extra)},
			}})
		}
		writeTree(&b, items, "")
		parts = append(parts, b.String())
	}
	return strings.Join(parts, "\n\n")
}

func joinPrefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		if p.IsSingleIP() {
			s[i] = p.Addr().String()
		} else {
			s[i] = p.String()
		}
	}
	return strings.Join(s, " ")
}
