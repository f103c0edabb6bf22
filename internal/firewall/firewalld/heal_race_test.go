package firewalld

import (
	"fmt"
	"testing"

	"warden/internal/firewall"
	"warden/internal/firewall/firewalltest"
)

// TestHealRaces commits our own changes (and others') while a heal reads
// the kernel sets without the batch lock: the heal must neither put back
// what was just unbanned nor count what was just banned, yet mend what was
// lost. The table is firewalltest's; each case has its own set prefix on
// the shared firewalld, and deleting behind our back is done with ipset.
func TestHealRaces(t *testing.T) {
	cases := firewalltest.Only(firewalltest.HealRaceCases(),
		firewalltest.RaceBan, firewalltest.RaceUnbanLost, firewalltest.RaceMendAndBan,
		firewalltest.RaceSetup, firewalltest.RaceDeletedOther)
	firewalltest.HealRaces(t, cases, func(t *testing.T, i int) *firewalltest.RaceRig {
		prefix := fmt.Sprintf("hr%d", i)
		b, in := newBackend(t, prefix)
		set := setName(prefix, "ssh", false)
		return &firewalltest.RaceRig{
			B:        b,
			Jail:     "ssh",
			Jails:    []firewall.JailSpec{{Name: "ssh", Ports: []firewall.PortRange{pr(22, 22)}}},
			Delete:   func(t *testing.T, addr string) { in.Run(t, "ipset", "del", set, addr) },
			ReadDone: func(f func()) { b.hooks.readDone = f },
		}
	})
}
