package store_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"warden/internal/store"
)

// The daemon's use: open, declare the configured jails, restore the bans
// in force, look up history to lengthen a repeat offender's ban, record
// the ban, and purge old history now and then.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "store-example")
	defer os.RemoveAll(dir)
	s, err := store.Open(ctx, filepath.Join(dir, "warden.db"), store.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	_ = s.SyncJails(ctx, []string{"sshd"})

	now := time.Unix(1_700_000_000, 0)
	addr := netip.MustParsePrefix("192.0.2.7/32")
	_ = s.AddBans(ctx, []store.Ban{{Jail: "sshd", Prefix: addr, Time: now.Add(-2 * time.Hour),
		BanTime: time.Hour, Count: 1, Failures: 5}})

	active, _ := s.ActiveBans(ctx, now) // the first ban has ended
	h, _ := s.BanHistory(ctx, addr, "sshd")
	fmt.Println("active:", len(active), "earlier bans:", h.Count)

	next := store.Ban{Jail: "sshd", Prefix: addr, Time: now, BanTime: 2 * time.Hour, Count: h.Count + 1, Failures: 5}
	_ = s.AddBans(ctx, []store.Ban{next})
	active, _ = s.ActiveBans(ctx, now)
	fmt.Println("active:", active[0].Prefix, active[0].Count, active[0].End().Sub(now))

	st, _ := s.Purge(ctx, now.Add(-24*time.Hour))
	fmt.Printf("purged: %+v\n", st)
	// Output:
	// active: 0 earlier bans: 1
	// active: 192.0.2.7/32 2 2h0m0s
	// purged: {History:0 Bans:0 Jails:0}
}
