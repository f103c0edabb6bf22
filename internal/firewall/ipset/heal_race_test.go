package ipset

import (
	"testing"

	"warden/internal/firewall/firewalltest"
)

// TestHealRaces commits our own changes (and others') while a heal reads
// the sets without the batch lock: the heal must neither put back what was
// just unbanned nor count what was just banned, yet mend what was lost.
// The table is firewalltest's; deleting behind our back is done with ipset.
func TestHealRaces(t *testing.T) {
	cases := firewalltest.Only(firewalltest.HealRaceCases(),
		firewalltest.RaceNothing, firewalltest.RaceBan, firewalltest.RaceUnbanLost,
		firewalltest.RaceMendAndBan, firewalltest.RaceSetup, firewalltest.RaceDeletedOther)
	firewalltest.HealRaces(t, cases, func(t *testing.T, _ int) *firewalltest.RaceRig {
		ns := newNetns(t, "nft")
		b := ns.backend(t)
		return &firewalltest.RaceRig{
			B:        b,
			Jail:     "sshd",
			Jails:    testJails,
			Delete:   func(t *testing.T, addr string) { ns.run(t, "ipset", "del", "f2b-sshd", addr) },
			ReadDone: func(f func()) { b.hooks.readDone = f },
			Drained:  func() bool { return b.changes.End(b.changes.Begin()).Len() == 0 },
		}
	})
}
