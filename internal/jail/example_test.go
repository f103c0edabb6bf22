package jail_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"warden/internal/jail"
)

// The server feeds a jail the failures its filter found and bans on a
// ticket; the ban time comes from the store's history of the address.
func Example() {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	ignore, err := jail.NewIgnoreList(jail.IgnoreConfig{Entries: []string{"127.0.0.1/8", "::1"}})
	if err != nil {
		panic(err)
	}
	j := jail.New(jail.Config{
		Name: "sshd", MaxRetry: 3, FindTime: 10 * time.Minute, MaxMatches: 3,
		Ignore: ignore,
		Clock:  func() time.Time { return now },
	})
	addr := netip.MustParseAddr("192.0.2.7")
	for i := range 3 {
		f := jail.Failure{Host: addr.String(), Addr: addr, Time: now.Add(time.Duration(i-3) * time.Second),
			Lines: []string{fmt.Sprintf("Failed password for root from %v (%d)", addr, i)}}
		if tk, ok := j.AddFailure(context.Background(), f); ok {
			bt := jail.BanTime(&jail.BanTimeConfig{BanTime: 10 * time.Minute, Increment: true},
				jail.History{Count: 2})
			fmt.Println("ban", tk.Prefix, "after", tk.Failures, "failures for", bt)
		}
	}
	// Output: ban 192.0.2.7/32 after 3 failures for 40m0s
}
