package server

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"warden/internal/control"
)

// TestStopDuringReload: a stop that comes while a reload's new ban manager
// is still putting the stored bans back ends Run without an error, as any
// stop does (an error exit makes systemd mark a plain stop as a failure).
// The store holds 20,000 bans so that the restore takes a while, and the
// stop follows the reload after 0-9 ms, over 20 starts.
func TestStopDuringReload(t *testing.T) {
	r := &reloadRig{t: t, dir: t.TempDir()}
	r.write("filter.d/app.conf", "[Definition]\nfailregex = login failed from <HOST>$\n")
	r.write("app.log", "")
	r.write("jail.conf", reloadJailHead+"\n[app]\nenabled = true\nfilter = app\nlogpath = "+
		filepath.Join(r.dir, "app.log")+"\nmaxretry = 3\n")
	for i := range 20 {
		cfg, err := r.load()
		if err != nil {
			t.Fatal(err)
		}
		ready := make(chan struct{})
		srv := r.server(cfg, func(s string) error {
			if s == "READY=1" {
				close(ready)
			}
			return nil
		})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- srv.Run(ctx) }()
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			t.Fatal("no READY=1 within 10 s")
		}
		if i == 0 {
			c, err := control.Dial(ctx, filepath.Join(r.dir, "w.sock"))
			if err != nil {
				t.Fatal(err)
			}
			ips := make([]netip.Addr, 20_000)
			a := netip.MustParseAddr("10.1.0.1")
			for j := range ips {
				ips[j], a = a, a.Next()
			}
			for j := 0; j < len(ips); j += 4000 {
				if _, err := c.BanIP(ctx, "app", ips[j:j+4000]...); err != nil {
					t.Fatal(err)
				}
			}
			c.Close()
		}
		go func() { _ = srv.Reload(ctx, control.ReloadOptions{}) }()
		time.Sleep(time.Duration(i%10) * time.Millisecond)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("start %d: Run after a stop during a reload: %v", i, err)
		}
	}
}
