package firewalld

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"

	"warden/internal/firewall"
	"warden/internal/firewall/firewalld/fwdtest"
	"warden/internal/firewall/firewalltest"
)

// shared is the one firewalld of this test binary (python, slow to start):
// nil when it cannot run here (why says why) or failed to start (err).
var shared struct {
	in  *fwdtest.Instance
	why string
	err error
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if shared.why = fwdtest.Missing(); shared.why == "" {
		dir, err := os.MkdirTemp("", "warden-fwd-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		in, err := fwdtest.Launch(ctx, dir)
		cancel()
		if err == nil {
			defer in.Stop()
		}
		shared.in, shared.err = in, err
	}
	return m.Run()
}

// instance returns the shared firewalld, skipping the test without one.
func instance(t *testing.T) *fwdtest.Instance {
	t.Helper()
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	if shared.in == nil {
		t.Skip(shared.why)
	}
	return shared.in
}

// newBackend opens a Backend on the shared firewalld with its own set
// prefix, torn down at the end of the test.
func newBackend(t *testing.T, prefix string) (*Backend, *fwdtest.Instance) {
	t.Helper()
	in := instance(t)
	conn, err := dbus.Connect(in.Bus)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Options{Conn: conn, IPSet: []string{"ip", "netns", "exec", in.NS, "ipset"}, SetPrefix: prefix, Logger: firewalltest.Logger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Teardown(context.Background()); err != nil {
			t.Errorf("Teardown: %v", err)
		}
		b.Close()
		conn.Close()
	})
	return b, in
}

// directRules lists firewall-cmd's view of the runtime direct rules that
// mention prefix, sorted.
func directRules(t *testing.T, in *fwdtest.Instance, prefix string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(in.Run(t, "firewall-cmd", "--direct", "--get-all-rules"), "\n") {
		if strings.Contains(l, "--match-set "+prefix) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	slices.Sort(out)
	return out
}

// setNames lists the kernel sets of the namespace starting with prefix.
func setNames(t *testing.T, in *fwdtest.Instance, prefix string) []string {
	t.Helper()
	var out []string
	for _, n := range strings.Fields(in.Run(t, "ipset", "list", "-n")) {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func banStrings(bans []firewall.Ban) []string {
	out := make([]string, len(bans))
	for i, b := range bans {
		out[i] = b.Jail + " " + b.Prefix.String()
	}
	slices.Sort(out)
	return out
}

func TestSetupBanListTeardown(t *testing.T) {
	b, in := newBackend(t, "tc")
	ctx := t.Context()
	jails := []firewall.JailSpec{
		{Name: "ssh", Ports: []firewall.PortRange{pr(22, 22)}, Protocols: []string{"tcp"}},
		{Name: "web", Ports: []firewall.PortRange{pr(80, 80), pr(443, 443)}, Protocols: []string{"tcp"}, BlockType: "drop"},
	}
	if err := b.Setup(ctx, jails); err != nil {
		t.Fatal(err)
	}
	if err := b.Setup(ctx, jails); err != nil { // idempotent
		t.Fatal(err)
	}
	wantRules := []string{
		"ipv4 filter INPUT_direct 0 -p tcp -m multiport --dports 22 -m set --match-set tc4-ssh src -j REJECT --reject-with icmp-port-unreachable",
		"ipv4 filter INPUT_direct 0 -p tcp -m multiport --dports 80,443 -m set --match-set tc4-web src -j DROP",
		"ipv6 filter INPUT_direct 0 -p tcp -m multiport --dports 22 -m set --match-set tc6-ssh src -j REJECT --reject-with icmp6-port-unreachable",
		"ipv6 filter INPUT_direct 0 -p tcp -m multiport --dports 80,443 -m set --match-set tc6-web src -j DROP",
	}
	if got := directRules(t, in, "tc"); !slices.Equal(got, wantRules) {
		t.Fatalf("direct rules after Setup:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantRules, "\n"))
	}
	if got, want := setNames(t, in, "tc"), []string{"tc4-ssh", "tc4-web", "tc6-ssh", "tc6-web"}; !slices.Equal(got, want) {
		t.Fatalf("sets %v, want %v", got, want)
	}

	hour := time.Now().Add(time.Hour)
	bans := []firewall.Ban{
		{Jail: "ssh", Prefix: netip.MustParsePrefix("192.0.2.7/32"), Expires: hour},
		{Jail: "ssh", Prefix: netip.MustParsePrefix("2001:db8::7/128")},
		{Jail: "ssh", Prefix: netip.MustParsePrefix("198.51.100.0/24"), Expires: hour},
		{Jail: "web", Prefix: netip.MustParsePrefix("::ffff:203.0.113.9/128"), Expires: hour}, // mapped: stored as IPv4
	}
	if err := b.Ban(ctx, bans); err != nil {
		t.Fatal(err)
	}
	got, err := b.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ssh 192.0.2.7/32", "ssh 198.51.100.0/24", "ssh 2001:db8::7/128", "web 203.0.113.9/32"}
	if !slices.Equal(banStrings(got), want) {
		t.Errorf("List = %v, want %v", banStrings(got), want)
	}
	for _, g := range got {
		if g.Prefix == netip.MustParsePrefix("2001:db8::7/128") && !g.Expires.IsZero() {
			t.Errorf("ban without end listed with end %v", g.Expires)
		}
		if g.Prefix == netip.MustParsePrefix("192.0.2.7/32") && (g.Expires.Before(hour.Add(-time.Minute)) || g.Expires.After(hour.Add(time.Minute))) {
			t.Errorf("ban ending in an hour listed ending %v", g.Expires)
		}
	}
	// The kernel matches the set: ipset agrees, and the rule is in nft's view.
	in.Run(t, "ipset", "test", "tc4-ssh", "198.51.100.77")
	if out := in.Run(t, "nft", "list", "ruleset"); !strings.Contains(out, "tcp dport 22 xt match \"set\"") &&
		!strings.Contains(out, "tcp dport 22 xt match set") {
		t.Errorf("nft list ruleset shows no set match on port 22:\n%s", out)
	}

	if err := b.Unban(ctx, bans[:2]); err != nil {
		t.Fatal(err)
	}
	if err := b.Unban(ctx, bans[:1]); err != nil { // not there: ignored
		t.Fatal(err)
	}
	got, _ = b.List(ctx)
	if want := []string{"ssh 198.51.100.0/24", "web 203.0.113.9/32"}; !slices.Equal(banStrings(got), want) {
		t.Errorf("after Unban List = %v, want %v", banStrings(got), want)
	}

	// Dropping a jail removes its rules and sets; the other keeps its bans.
	if err := b.Setup(ctx, jails[:1]); err != nil {
		t.Fatal(err)
	}
	if got := directRules(t, in, "tc"); len(got) != 2 || strings.Contains(strings.Join(got, ""), "web") {
		t.Errorf("rules after dropping web: %q", got)
	}
	if got, want := setNames(t, in, "tc"), []string{"tc4-ssh", "tc6-ssh"}; !slices.Equal(got, want) {
		t.Errorf("sets after dropping web: %v, want %v", got, want)
	}
	got, _ = b.List(ctx)
	if want := []string{"ssh 198.51.100.0/24"}; !slices.Equal(banStrings(got), want) {
		t.Errorf("after dropping web List = %v, want %v", banStrings(got), want)
	}

	if err := b.Teardown(ctx); err != nil {
		t.Fatal(err)
	}
	if got := directRules(t, in, "tc"); len(got) != 0 {
		t.Errorf("rules left after Teardown: %q", got)
	}
	if got := setNames(t, in, "tc"); len(got) != 0 {
		t.Errorf("sets left after Teardown: %q", got)
	}
}

// TestRestart checks that a second backend (warden restarted) finds the
// bans in the kernel sets after its Setup.
func TestRestart(t *testing.T) {
	b, _ := newBackend(t, "tr")
	ctx := t.Context()
	jails := []firewall.JailSpec{{Name: "ssh", Ports: []firewall.PortRange{pr(22, 22)}}}
	if err := b.Setup(ctx, jails); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban(ctx, []firewall.Ban{{Jail: "ssh", Prefix: netip.MustParsePrefix("192.0.2.8/32")}}); err != nil {
		t.Fatal(err)
	}
	b2, _ := newBackend(t, "tr")
	if err := b2.Setup(ctx, jails); err != nil {
		t.Fatal(err)
	}
	got, err := b2.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ssh 192.0.2.8/32"}; !slices.Equal(banStrings(got), want) {
		t.Errorf("after restart List = %v, want %v", banStrings(got), want)
	}
}
