package ban

import (
	"context"
	"log/slog"
	"net/netip"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"warden/internal/store"
)

// packBans packs bans as the ban loop does; their jails must be in jails.
func packBans(t testing.TB, jails []string, bans ...store.Ban) *rowBatch {
	t.Helper()
	rb := &rowBatch{}
	for _, b := range bans {
		idx := slices.Index(jails, b.Jail)
		if idx < 0 {
			t.Fatalf("jail %q not in %v", b.Jail, jails)
		}
		e := newEntry(b.Jail, b.Prefix, b.Time, b.BanTime, b.Count, b.Failures)
		if b.Matches != nil {
			e.more = &entryMore{matches: b.Matches}
		}
		rb.add(uint16(idx), e)
	}
	return rb
}

// TestRowRoundTrip: a packed row unpacks to the ban the store would have
// been given, to the second, with the matched lines of the rows that had
// them.
func TestRowRoundTrip(t *testing.T) {
	jails := []string{"sshd", "recidive"}
	at := time.Date(2026, 3, 1, 12, 0, 0, 700_000_000, time.UTC)
	tests := []struct {
		name string
		ban  store.Ban
	}{
		{"ipv4", store.Ban{Jail: "sshd", Prefix: pfx("192.0.2.1"), Time: at, BanTime: time.Hour, Count: 1, Failures: 5}},
		{"ipv4 net", store.Ban{Jail: "recidive", Prefix: pfx("198.51.100.0/24"), Time: at, BanTime: 7 * 24 * time.Hour, Count: 3, Failures: 1}},
		{"ipv6", store.Ban{Jail: "sshd", Prefix: pfx("2001:db8::5"), Time: at, BanTime: -1, Count: 2, Failures: 6,
			Matches: []string{"line one", "line two"}}},
		{"ipv6 net", store.Ban{Jail: "sshd", Prefix: pfx("2001:db8:1::/48"), Time: at.Add(time.Second), BanTime: time.Minute, Count: 1}},
	}
	var bans []store.Ban
	for _, tc := range tests {
		bans = append(bans, tc.ban)
	}
	rb := packBans(t, jails, bans...)
	if len(rb.matches) != len(rb.rows) {
		t.Fatalf("%d matches for %d rows", len(rb.matches), len(rb.rows))
	}
	for i, tc := range tests {
		want := tc.ban
		want.Time = time.Unix(want.Time.Unix(), 0)
		if got := rb.ban(i, jails); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, want)
		}
	}
	plain := packBans(t, jails, bans[0], bans[1])
	if plain.matches != nil {
		t.Errorf("rows without matched lines keep a matches slice: %v", plain.matches)
	}
}

// recStore records the size and time of each AddBans call, and how many
// bans were stored when each checkpoint ran.
type recStore struct {
	*store.Store
	mu    sync.Mutex
	calls []int
	at    []time.Time
}

func (s *recStore) AddBans(ctx context.Context, bans []store.Ban) error {
	s.mu.Lock()
	s.calls = append(s.calls, len(bans))
	s.at = append(s.at, time.Now())
	s.mu.Unlock()
	return s.Store.AddBans(ctx, bans)
}

func (s *recStore) snapshot() ([]int, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls), slices.Clone(s.at)
}

func (s *recStore) stored(t testing.TB) int {
	t.Helper()
	n, err := s.CountBans(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n["sshd"]
}

func flood(t testing.TB, from, n int) *rowBatch {
	bans := make([]store.Ban, n)
	for i := range bans {
		bans[i] = store.Ban{Jail: "sshd", Prefix: netip.PrefixFrom(addrN(from+i), 32), Time: t0, BanTime: time.Hour, Count: 1, Failures: 5}
	}
	return packBans(t, []string{"sshd"}, bans...)
}

// TestWriterChunks: a run of more than writeChunk rows is written in
// chunks, the checkpoint behind them after the last; a failed chunk drops
// the checkpoint.
func TestWriterChunks(t *testing.T) {
	st := &recStore{Store: openStore(t)}
	w := newWriter(st, []string{"sshd"}, slog.New(slog.DiscardHandler), func() { t.Error("store error") })
	var at int
	mk := &mark{key: "pos", fn: func(context.Context) error { at = st.stored(t); return nil }}
	w.apply(t.Context(), []storeOp{{add: flood(t, 0, writeChunk-3)}, {mark: mk}, {add: flood(t, writeChunk, 10)}, {mark: mk}})
	calls, _ := st.snapshot()
	if !slices.Equal(calls, []int{writeChunk, 7}) {
		t.Errorf("writes %v, want %d then 7", calls, writeChunk)
	}
	if at != writeChunk+7 {
		t.Errorf("checkpoint ran with %d bans stored, want %d", at, writeChunk+7)
	}
}
