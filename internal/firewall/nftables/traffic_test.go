package nftables

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"warden/internal/firewall"
)

// inNetns runs fn on an OS thread switched into the namespace. Sockets
// created by fn stay in that namespace. If the thread cannot be switched
// back it is left locked, so the runtime discards it with the goroutine.
func inNetns(fd int, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns: %w", err)
			return
		}
		err = fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// TestTraffic bans a real client: namespace srv runs the firewall and two
// listeners, namespace cli connects over a veth pair.
func TestTraffic(t *testing.T) {
	srv, cli := newNetns(t), newNetns(t)
	ip(t, "-n", srv.name, "link", "add", "wv0", "type", "veth", "peer", "name", "wv1", "netns", cli.name)
	for _, n := range []struct {
		ns     netns
		dev    string
		v4, v6 string
	}{
		{srv, "wv0", "10.200.0.1/24", "fd00:200::1/64"},
		{cli, "wv1", "10.200.0.2/24", "fd00:200::2/64"},
	} {
		ip(t, "-n", n.ns.name, "addr", "add", n.v4, "dev", n.dev)
		ip(t, "-n", n.ns.name, "addr", "add", n.v6, "dev", n.dev, "nodad")
		ip(t, "-n", n.ns.name, "link", "set", n.dev, "up")
		ip(t, "-n", n.ns.name, "link", "set", "lo", "up")
	}

	// Two listeners: the jail guards the first port only.
	var lns [2]net.Listener
	if err := inNetns(srv.fd, func() error {
		for i := range lns {
			l, err := net.Listen("tcp", ":0")
			if err != nil {
				return err
			}
			lns[i] = l
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, l := range lns {
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				c.Close()
			}
		}()
	}
	guarded := uint16(lns[0].Addr().(*net.TCPAddr).Port)
	other := uint16(lns[1].Addr().(*net.TCPAddr).Port)

	dial := func(host string, port uint16) error {
		return inNetns(cli.fd, func() error {
			c, err := net.DialTimeout("tcp", net.JoinHostPort(host, fmt.Sprint(port)), 2*time.Second)
			if err == nil {
				c.Close()
			}
			return err
		})
	}

	b := srv.backend(t)
	ctx := context.Background()
	jail := firewall.JailSpec{Name: "svc", Ports: []firewall.PortRange{pr(guarded, guarded)}}
	if err := b.Setup(ctx, []firewall.JailSpec{jail}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		host string
		ban  netip.Prefix
	}{
		{"10.200.0.1", mustPrefix("10.200.0.2/32")},
		{"fd00:200::1", mustPrefix("fd00:200::2/128")},
		{"10.200.0.1", mustPrefix("10.200.0.0/30")},
		{"fd00:200::1", mustPrefix("fd00:200::/120")},
	} {
		t.Run(tc.ban.String(), func(t *testing.T) {
			if err := dial(tc.host, guarded); err != nil {
				t.Fatalf("before ban: %v", err)
			}
			ban := []firewall.Ban{{Jail: "svc", Prefix: tc.ban, Expires: time.Now().Add(time.Minute)}}
			if err := b.Ban(ctx, ban); err != nil {
				t.Fatal(err)
			}
			if err := dial(tc.host, guarded); !errors.Is(err, syscall.ECONNREFUSED) {
				t.Errorf("banned client on guarded port: %v, want connection refused", err)
			}
			if err := dial(tc.host, other); err != nil {
				t.Errorf("banned client on another port: %v", err)
			}
			if err := b.Unban(ctx, ban); err != nil {
				t.Fatal(err)
			}
			if err := dial(tc.host, guarded); err != nil {
				t.Errorf("after unban: %v", err)
			}
		})
	}
}
