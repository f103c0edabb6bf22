package filter

import (
	"fmt"
	"testing"
	"time"
)

// TestMLFIDCacheLast: get answers the same through the remembered last
// entry as through the map: an id whose entry was dropped (evicted,
// unset, expired, its storage reused for another id) is not found, and
// a run of one id and ids taking turns find their own data.
func TestMLFIDCacheLast(t *testing.T) {
	t0 := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	type op struct {
		kind string // add, get, unset
		id   string
		at   time.Duration
		want string // get: the id whose data is found, "" for none
	}
	for _, tc := range []struct {
		name string
		max  int
		ops  []op
	}{
		{"run of one id", 3, []op{{"add", "a", 0, ""}, {"get", "a", 1, "a"}, {"get", "a", 2, "a"}, {"get", "b", 2, ""}, {"get", "a", 3, "a"}}},
		{"ids taking turns", 3, []op{{"add", "a", 0, ""}, {"add", "b", 0, ""}, {"get", "a", 1, "a"}, {"get", "b", 1, "b"}, {"get", "a", 1, "a"}}},
		{"last evicted", 2, []op{{"add", "a", 0, ""}, {"add", "b", 0, ""}, {"get", "a", 1, "a"}, {"add", "c", 1, ""}, {"get", "a", 1, ""}, {"get", "c", 1, "c"}}},
		{"last evicted, storage reused", 1, []op{{"add", "a", 0, ""}, {"get", "a", 0, "a"}, {"add", "b", 1, ""}, {"get", "a", 1, ""}, {"get", "b", 1, "b"}}},
		{"last unset", 3, []op{{"add", "a", 0, ""}, {"get", "a", 0, "a"}, {"unset", "a", 0, ""}, {"get", "a", 0, ""}, {"add", "b", 0, ""}, {"get", "a", 0, ""}}},
		{"last expired", 3, []op{{"add", "a", 0, ""}, {"get", "a", 59, "a"}, {"get", "a", 60, ""}, {"add", "b", 60, ""}, {"get", "a", 60, ""}, {"get", "b", 61, "b"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newMLFIDCache(tc.max, time.Minute)
			owner := map[*failData]string{}
			for i, o := range tc.ops {
				now := t0.Add(o.at * time.Second)
				switch o.kind {
				case "add":
					owner[c.add(o.id, now)] = o.id
				case "unset":
					c.unset(o.id)
				case "get":
					got := ""
					if d := c.get(o.id, now); d != nil {
						got = owner[d]
					}
					if got != o.want {
						t.Fatalf("op %d: get(%q) found the data of %q, want %q", i, o.id, got, o.want)
					}
				}
				if n := c.order.Len(); n != len(c.byID) {
					t.Fatalf("op %d: %d entries listed, %d mapped", i, n, len(c.byID))
				}
				if c.last != nil && c.byID[c.last.Value.(*mlfidEntry).id] != c.last {
					t.Fatalf("op %d: the last entry is not the cache's", i)
				}
			}
		})
	}
}

// BenchmarkMLFIDCache measures get over runs of six lines an id, as a
// flood's attackers write them, with an add for each new id.
func BenchmarkMLFIDCache(b *testing.B) {
	ids := make([]string, 2000)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench sshd[%d]: ", 1000+i)
	}
	c := newMLFIDCache(100, 5*time.Minute)
	now := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		id := ids[i/6%len(ids)]
		if c.get(id, now) == nil {
			c.add(id, now)
		}
	}
}
