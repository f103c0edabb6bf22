package control

import (
	"context"
	"errors"
	"net/netip"
	"reflect"
	"testing"
)

// firewallFake is the fake handler with a firewall to report.
type firewallFake struct {
	*fakeHandler
	st []FirewallStatus
}

func (f firewallFake) FirewallStatus(context.Context) ([]FirewallStatus, error) { return f.st, nil }

func TestFirewallStatus(t *testing.T) {
	want := []FirewallStatus{{Backend: "nftables", Detail: "table inet warden", Jails: []FirewallJail{
		{Jail: "sshd", InPlace: 1, Wanted: 2, Missing: []netip.Prefix{netip.MustParsePrefix("192.0.2.1/32")}, Extra: []netip.Prefix{}},
	}}}
	ctx := testCtx(t)
	c := dial(t, startServer(t, firewallFake{newFakeHandler(), want}, ServeOptions{}))
	got, err := c.FirewallStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v\nwant %+v", got, want)
	}

	// A handler without the capability says so.
	plain := dial(t, startServer(t, newFakeHandler(), ServeOptions{}))
	if _, err := plain.FirewallStatus(ctx); !errors.Is(err, ErrNotSupported) {
		t.Errorf("err = %v, want ErrNotSupported", err)
	}
}
