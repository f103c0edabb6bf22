package server

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"warden/internal/config"
	"warden/internal/firewall"
	"warden/internal/firewall/firewalld/fwdtest"
)

// TestFirewalldSpec reads jails using fail2ban's own firewallcmd-* actions
// and checks the native jail each turns into.
func TestFirewalldSpec(t *testing.T) {
	for _, need := range []string{"/etc/fail2ban/action.d/firewallcmd-new.conf", "/etc/fail2ban/filter.d/sshd.conf"} {
		if _, err := os.Stat(need); err != nil {
			t.Skipf("needs fail2ban's configuration: %v", err)
		}
	}
	dir := t.TempDir()
	for _, sub := range []string{"filter.d", "action.d"} {
		if err := os.Symlink("/etc/fail2ban/"+sub, filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
	}
	pr := func(a, b uint16) firewall.PortRange { return firewall.PortRange{First: a, Last: b} }
	tests := []struct {
		jail, action string
		want         firewall.JailSpec
	}{
		{"new", "firewallcmd-new[name=SSH, port=ssh, protocol=tcp]",
			firewall.JailSpec{Ports: []firewall.PortRange{pr(22, 22)}, Protocols: []string{"tcp"}}},
		{"multi", "firewallcmd-multiport[name=web, port=\"http,https,8000:8010\"]",
			firewall.JailSpec{Ports: []firewall.PortRange{pr(80, 80), pr(443, 443), pr(8000, 8010)}, Protocols: []string{"tcp"}}},
		{"all", "firewallcmd-allports[name=all, protocol=udp]",
			firewall.JailSpec{Protocols: []string{"udp"}}},
		{"drop", "firewallcmd-multiport[name=d, port=22, blocktype=DROP, chain=FORWARD_direct]",
			firewall.JailSpec{Ports: []firewall.PortRange{pr(22, 22)}, Protocols: []string{"tcp"}, Chain: "forward", BlockType: "drop"}},
		{"ipset", "firewallcmd-ipset[name=i, port=ssh]",
			firewall.JailSpec{Ports: []firewall.PortRange{pr(22, 22)}, Protocols: []string{"tcp"}}},
		{"ipsetall", "firewallcmd-ipset[name=ia, actiontype=<allports>]",
			firewall.JailSpec{Protocols: []string{"tcp"}}},
		{"rich", "firewallcmd-rich-rules[name=r, port=\"22,2222\", rich-blocktype=drop]",
			firewall.JailSpec{Ports: []firewall.PortRange{pr(22, 22), pr(2222, 2222)}, Protocols: []string{"tcp"}, BlockType: "drop"}},
	}
	var jails strings.Builder
	for _, tt := range tests {
		jails.WriteString("[" + tt.jail + "]\nenabled = true\nfilter = sshd\nlogpath = /dev/null\naction = " + tt.action + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "jail.conf"), []byte(jails.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(os.DirFS(dir), config.Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := firewall.ParseServices(strings.NewReader("ssh 22/tcp\nhttp 80/tcp\nhttps 443/tcp\n"), "services")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		j := cfg.Jail(tt.jail)
		if j == nil || len(j.Actions) != 1 {
			t.Fatalf("jail %s not loaded with one action", tt.jail)
		}
		k, ok := nativeFor(nativeKinds(), actionBase(j.Actions[0]))
		if !ok || k.Name != "firewalld" {
			t.Errorf("%s: action %s not handled by the firewalld kind", tt.jail, actionBase(j.Actions[0]))
			continue
		}
		got, err := k.Spec(tt.jail, j.Actions[0], svc)
		if err != nil {
			t.Errorf("%s: %v", tt.jail, err)
			continue
		}
		got, err = got.Normalize()
		if err != nil {
			t.Errorf("%s: %v", tt.jail, err)
			continue
		}
		tt.want.Name = tt.jail
		want, _ := tt.want.Normalize()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: spec %+v, want %+v", tt.jail, got, want)
		}
	}
}

// TestFirewalldAvailable checks banaction = auto's probe against a real
// firewalld on a private bus: available while it runs, not once stopped,
// and not without a bus at all.
func TestFirewalldAvailable(t *testing.T) {
	if why := fwdtest.Missing(); why != "" {
		t.Skip(why)
	}
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path="+filepath.Join(t.TempDir(), "none"))
	ctx := t.Context()
	if firewalldRunning(ctx, nil) {
		t.Error("available without a system bus")
	}
	in := fwdtest.Start(t)
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", in.Bus)
	if !firewalldRunning(ctx, nil) {
		t.Error("not available while firewalld runs")
	}
	found := false
	for _, k := range nativeKinds() {
		if k.Name == "firewalld" {
			found = true
			if !k.Available(ctx, nil) {
				t.Error("the firewalld kind's Available disagrees")
			}
		}
	}
	if !found {
		t.Error("no firewalld kind in nativeKinds()")
	}
	in.StopFirewalld()
	if firewalldRunning(ctx, nil) {
		t.Error("available after firewalld stopped (bus still up)")
	}
}
