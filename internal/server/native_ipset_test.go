package server

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"warden/internal/config"
	"warden/internal/firewall"
)

func TestIpsetSpec(t *testing.T) {
	svc := specServices(t)
	reject := "REJECT --reject-with icmp-port-unreachable"
	tests := []specCase{
		{
			name:   "multiport by service name",
			file:   "action.d/iptables-multiport.conf",
			params: map[string]string{"name": "SSH", "port": "ssh", "protocol": "tcp", "chain": "INPUT", "blocktype": reject},
			want: firewall.JailSpec{Name: "j", Ports: []firewall.PortRange{{First: 22, Last: 22}},
				Protocols: []string{"tcp"}, Chain: "input", BlockType: "reject"},
		},
		{
			name:   "ipset proto6, list and range, drop, forward, hash:net",
			file:   "action.d/iptables-ipset-proto6.conf",
			params: map[string]string{"port": "http,https,8000:8010", "protocol": "tcp", "chain": "FORWARD", "blocktype": "DROP", "ipsettype": "hash:net"},
			want: firewall.JailSpec{Name: "j", Ports: []firewall.PortRange{{First: 80, Last: 80}, {First: 443, Last: 443}, {First: 8000, Last: 8010}},
				Protocols: []string{"tcp"}, Chain: "forward", BlockType: "drop", Networks: true},
		},
		{
			name:   "allports by file name ignores port",
			file:   "action.d/iptables-ipset-proto6-allports.conf",
			params: map[string]string{"port": "ssh", "protocol": "tcp,udp", "chain": "INPUT", "blocktype": reject},
			want:   firewall.JailSpec{Name: "j", Protocols: []string{"tcp", "udp"}, Chain: "input", BlockType: "reject"},
		},
		{
			name:   "allports by type",
			file:   "action.d/iptables.conf",
			params: map[string]string{"port": "ssh", "type": "allports"},
			want:   firewall.JailSpec{Name: "j", Chain: "input", BlockType: "reject"},
		},
		{
			name:   "other chain",
			file:   "action.d/iptables-multiport.conf",
			params: map[string]string{"port": "22", "chain": "DOCKER-USER"},
			want: firewall.JailSpec{Name: "j", Ports: []firewall.PortRange{{First: 22, Last: 22}},
				Chain: "input", ChainName: "DOCKER-USER", BlockType: "reject"},
		},
		{
			name:   "bad chain name",
			file:   "action.d/iptables-multiport.conf",
			params: map[string]string{"port": "22", "chain": "-j ACCEPT"},
			err:    firewall.ErrInvalidJail,
		},
		{
			name:   "bad port",
			file:   "action.d/iptables-multiport.conf",
			params: map[string]string{"port": "22-x"},
			err:    firewall.ErrInvalidPort,
		},
	}
	checkSpecs(t, ipsetSpec, svc, tests)
	if _, err := ipsetSpec("j", &config.Action{File: "iptables.conf", Params: map[string]string{"port": "nosuchservice"}}, svc); err == nil {
		t.Error("unknown service name accepted")
	}
}

// TestIpsetKindActions: every action name the ipset kind stands in for is
// one of fail2ban's action.d files (iptables-ipset only in newer releases),
// and no other kind claims it.
func TestIpsetKindActions(t *testing.T) {
	const dir = "/etc/fail2ban/action.d"
	if _, err := os.Stat(dir); err != nil {
		t.Skip("needs fail2ban's action.d (Debian package fail2ban)")
	}
	k := ipsetKind()
	for _, name := range k.Actions {
		if _, err := os.Stat(filepath.Join(dir, name+".conf")); err != nil && name != "iptables-ipset" {
			t.Errorf("action %s: %v", name, err)
		}
		for _, other := range nativeKinds() {
			if other.Name != k.Name && slices.Contains(other.Actions, name) {
				t.Errorf("action %s claimed by %s too", name, other.Name)
			}
		}
	}
}
