package action

import (
	"context"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

func TestSmoke(t *testing.T) {
	a, rec := newTest(t, `[Definition]
actionstart = start <name> <timeout>
actionban = ban <ip> <failures> <F-USER> x<matches>y
[Init]
`, "", Options{})
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	err := a.Ban(ctx, Ticket{Addr: netip.MustParseAddr("192.0.2.1"), Failures: 3, Fields: map[string]string{"user": "r$oot"}, Matches: []string{"a b"}, Time: time.Unix(1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	got := rec.scripts()
	t.Logf("%q", got)
	_ = reflect.DeepEqual
}
