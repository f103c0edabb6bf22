package firewalld

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"warden/internal/firewall"
	"warden/internal/firewall/firewalltest"
)

// TestHealAfterReload reloads firewalld under the backend: the runtime
// direct rules go, Changed fires (the backend's, and a standalone Watch's),
// Check counts the loss and Heal puts it back. Then a lost kernel set is recreated with its elements.
func TestHealAfterReload(t *testing.T) {
	b, in := newBackend(t, "th")
	ctx := t.Context()
	if err := b.Setup(ctx, []firewall.JailSpec{{Name: "ssh", Ports: []firewall.PortRange{pr(22, 22)}}}); err != nil {
		t.Fatal(err)
	}
	want := []firewall.Ban{
		{Jail: "ssh", Prefix: netip.MustParsePrefix("192.0.2.1/32"), Expires: time.Now().Add(time.Hour)},
		{Jail: "ssh", Prefix: netip.MustParsePrefix("2001:db8::1/128")},
	}
	if err := b.Ban(ctx, want); err != nil {
		t.Fatal(err)
	}
	if rep, err := b.Check(ctx, want); err != nil || rep != (firewall.Repair{}) {
		t.Fatalf("Check before the reload: %+v, %v; want nothing missing", rep, err)
	}
	select { // drop a notification left from an earlier test
	case <-b.Changed():
	default:
	}
	// A Watch of its own, as the server keeps for shell actions, on the
	// system bus the environment names.
	t.Setenv("DBUS_SYSTEM_BUS_ADDRESS", in.Bus)
	w, err := WatchRunning(ctx, firewalltest.Logger(t))
	if err != nil {
		t.Fatalf("WatchRunning with firewalld on the bus: %v", err)
	}
	defer w.Close()

	in.Run(t, "firewall-cmd", "--reload")
	for name, ch := range map[string]<-chan struct{}{"Backend": b.Changed(), "Watch": w.Changed()} {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no Changed notification within 5 s of firewall-cmd --reload", name)
		}
	}
	if got := directRules(t, in, "th"); len(got) != 0 {
		t.Fatalf("firewalld kept runtime direct rules over a reload (FlushAllOnReload=yes): %q", got)
	}
	rep, err := b.Check(ctx, want)
	if err != nil {
		t.Fatal(err)
	}
	if rep != (firewall.Repair{Objects: 2}) {
		t.Errorf("Check after reload = %+v, want the two rules missing", rep)
	}
	if rep, err := b.Heal(ctx, want); err != nil || rep != (firewall.Repair{Objects: 2}) {
		t.Fatalf("Heal = %+v, %v", rep, err)
	}
	if got := directRules(t, in, "th"); len(got) != 2 {
		t.Errorf("rules after Heal: %q", got)
	}

	// Someone removes our rule and destroys the IPv4 set.
	r := jailRules("th", b.jails["ssh"])[0]
	in.Run(t, "firewall-cmd", append([]string{"--direct", "--remove-rule", r.IPV, r.Table, r.Chain, "0"}, r.Args...)...)
	in.Run(t, "ipset", "destroy", "th4-ssh")
	if rep, err := b.Heal(ctx, want); err != nil || rep != (firewall.Repair{Objects: 2, Bans: 1}) {
		t.Fatalf("Heal after destroy = %+v, %v; want a set, a rule and a ban", rep, err)
	}
	in.Run(t, "ipset", "test", "th4-ssh", "192.0.2.1")
	if rep, err := b.Check(ctx, want); err != nil || rep != (firewall.Repair{}) {
		t.Errorf("Check after Heal: %+v, %v", rep, err)
	}
}

// TestBan100k bans 100,000 addresses (IPv4 and IPv6) in one batch, and
// reads them back.
func TestBan100k(t *testing.T) {
	b, in := newBackend(t, "tk")
	ctx := t.Context()
	if err := b.Setup(ctx, []firewall.JailSpec{{Name: "big", Ports: []firewall.PortRange{pr(22, 22)}}}); err != nil {
		t.Fatal(err)
	}
	const n = 100_000
	bans := make([]firewall.Ban, n)
	end := time.Now().Add(time.Hour)
	for i := range bans {
		var a netip.Addr
		if i%4 == 3 {
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 12: byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)})
		} else {
			a = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		}
		bans[i] = firewall.Ban{Jail: "big", Prefix: netip.PrefixFrom(a, a.BitLen()), Expires: end}
	}
	start := time.Now()
	if err := b.Ban(ctx, bans); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("Ban of %d addresses in one batch: %v", n, took)
	count := func(set string) int {
		out := in.Run(t, "ipset", "list", "-t", set)
		for _, l := range strings.Split(out, "\n") {
			if v, ok := strings.CutPrefix(l, "Number of entries: "); ok {
				c, _ := strconv.Atoi(strings.TrimSpace(v))
				return c
			}
		}
		t.Fatalf("no entry count in:\n%s", out)
		return 0
	}
	if c4, c6 := count("tk4-big"), count("tk6-big"); c4 != n*3/4 || c6 != n/4 {
		t.Errorf("ipset counts %d + %d, want %d + %d", c4, c6, n*3/4, n/4)
	}
	start = time.Now()
	got, err := b.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("List of %d bans: %v", len(got), time.Since(start))
	if len(got) != n {
		t.Errorf("List returned %d bans, want %d", len(got), n)
	}
	start = time.Now()
	if rep, err := b.Check(ctx, bans); err != nil || rep != (firewall.Repair{}) {
		t.Errorf("Check: %+v, %v", rep, err)
	}
	t.Logf("Check of %d bans: %v", n, time.Since(start))
}

// TestHealAfterFirewalldRestart restarts firewalld (its runtime rules go
// with it): the bus name's new owner fires Changed, and Heal puts the rules
// back; the bans, in kernel sets, were never lost.
func TestHealAfterFirewalldRestart(t *testing.T) {
	b, in := newBackend(t, "ts")
	ctx := t.Context()
	if err := b.Setup(ctx, []firewall.JailSpec{{Name: "ssh", Ports: []firewall.PortRange{pr(22, 22)}}}); err != nil {
		t.Fatal(err)
	}
	want := []firewall.Ban{{Jail: "ssh", Prefix: netip.MustParsePrefix("192.0.2.5/32")}}
	if err := b.Ban(ctx, want); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Changed():
	default:
	}
	if err := in.RestartFirewalld(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-b.Changed():
	case <-time.After(5 * time.Second):
		t.Fatal("no Changed notification within 5 s of a firewalld restart")
	}
	if rep, err := b.Heal(ctx, want); err != nil || rep != (firewall.Repair{Objects: 2}) {
		t.Fatalf("Heal after restart = %+v, %v; want the two rules", rep, err)
	}
	if got := directRules(t, in, "ts"); len(got) != 2 {
		t.Errorf("rules after Heal: %q", got)
	}
}
