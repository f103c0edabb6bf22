package server

import (
	"context"
	"net/netip"
	"slices"

	"warden/internal/control"
	"warden/internal/firewall"
)

var _ control.FirewallStatuser = handler{}

// FirewallStatus answers "status --firewall": for every native backend of
// the running generation, the bans read back from the firewall against
// the active bans of its jails.
func (h handler) FirewallStatus(ctx context.Context) ([]control.FirewallStatus, error) {
	v := h.s.view()
	if v.mgr == nil {
		return []control.FirewallStatus{}, nil
	}
	want := v.mgr.Wanted()
	out := make([]control.FirewallStatus, 0, len(v.fws))
	for _, u := range v.fws {
		st := control.FirewallStatus{Backend: u.kind, Jails: []control.FirewallJail{}}
		if t, ok := u.b.(interface{ Table() string }); ok {
			st.Detail = "table inet " + t.Table()
		}
		have, err := u.b.List(ctx)
		if err != nil {
			st.Error = err.Error()
			out = append(out, st)
			continue
		}
		st.Jails = compareBans(u.jails, want, have)
		out = append(out, st)
	}
	return out, nil
}

// compareBans compares, for each of jails (in name order), the bans that
// should be in place with those read back.
func compareBans(jails map[string]bool, want, have []firewall.Ban) []control.FirewallJail {
	type sets struct{ want, have map[netip.Prefix]bool }
	by := map[string]*sets{}
	get := func(j string) *sets {
		if by[j] == nil {
			by[j] = &sets{want: map[netip.Prefix]bool{}, have: map[netip.Prefix]bool{}}
		}
		return by[j]
	}
	for _, b := range want {
		if jails[b.Jail] {
			get(b.Jail).want[b.Prefix] = true
		}
	}
	for _, b := range have {
		if jails[b.Jail] {
			get(b.Jail).have[b.Prefix] = true
		}
	}
	names := make([]string, 0, len(jails))
	for j := range jails {
		names = append(names, j)
	}
	slices.Sort(names)
	out := make([]control.FirewallJail, 0, len(names))
	for _, j := range names {
		s := get(j)
		fj := control.FirewallJail{Jail: j, InPlace: len(s.have), Wanted: len(s.want),
			Missing: diff(s.want, s.have), Extra: diff(s.have, s.want)}
		out = append(out, fj)
	}
	return out
}

// diff lists, sorted and capped at control.MaxFirewallDiff, the prefixes
// of a not in b.
func diff(a, b map[netip.Prefix]bool) []netip.Prefix {
	out := []netip.Prefix{}
	for p := range a {
		if !b[p] {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(x, y netip.Prefix) int {
		if c := x.Addr().Compare(y.Addr()); c != 0 {
			return c
		}
		return x.Bits() - y.Bits()
	})
	if len(out) > control.MaxFirewallDiff {
		out = out[:control.MaxFirewallDiff]
	}
	return out
}
