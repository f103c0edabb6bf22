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

// startWriter runs w until the test ends.
func startWriter(t *testing.T, w *writer) {
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		w.run(t.Context())
	}()
	t.Cleanup(func() {
		w.close()
		<-ran
	})
}

// TestWriterHoldsFlood: while the loop floods, the writer writes nothing
// after its first transaction; once the flood is quiet it writes every
// held row, then runs the checkpoint queued behind them, which finds them
// all stored.
func TestWriterHoldsFlood(t *testing.T) {
	st := &recStore{Store: openStore(t)}
	w := newWriter(st, []string{"sshd"}, slog.New(slog.DiscardHandler), func() { t.Error("store error") })
	startWriter(t, w)
	seen := make(chan int, 1)
	ctx, stop := context.WithCancel(t.Context())
	go func() { // the request loop, taking a flood's batches
		for ctx.Err() == nil {
			w.flood.flooding()
			time.Sleep(10 * time.Millisecond)
		}
	}()
	w.flood.flooding()
	w.push(storeOp{add: flood(t, 0, 100)})
	for i := 1; i < 10; i++ {
		time.Sleep(20 * time.Millisecond)
		w.push(storeOp{add: flood(t, i*100, 100)})
	}
	w.push(storeOp{mark: &mark{key: "pos", fn: func(context.Context) error { seen <- st.stored(t); return nil }}})
	time.Sleep(writerQuiet + 50*time.Millisecond)
	calls, _ := st.snapshot()
	if !slices.Equal(calls, []int{100}) {
		t.Fatalf("writes during the flood: %v, want only the first batch", calls)
	}
	stopped := time.Now()
	stop()
	select {
	case n := <-seen:
		if n != 1000 {
			t.Errorf("checkpoint ran with %d bans stored, want 1000", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("held rows not written 5 s after the flood")
	}
	calls, at := st.snapshot()
	if !slices.Equal(calls, []int{100, 900}) {
		t.Errorf("writes %v, want 100 then 900 in one transaction", calls)
	}
	if d := at[len(at)-1].Sub(stopped); d > writerQuiet+time.Second {
		t.Errorf("held rows written %v after the flood; quiet is %v", d, writerQuiet)
	}
}

// TestWriterHoldEnds: a waiter or holdRows waiting rows end a flood's hold
// at once.
func TestWriterHoldEnds(t *testing.T) {
	tests := []struct {
		name string
		want int // bans stored in the end
		end  func(t *testing.T, w *writer)
	}{
		{"waiter", 20, func(t *testing.T, w *writer) {
			w.push(storeOp{add: flood(t, 100, 10)})
			if err := w.wait(t.Context()); err != nil {
				t.Fatal(err)
			}
		}},
		{"row bound", 510, func(t *testing.T, w *writer) {
			w.mu.Lock()
			w.holdRows = 500 // the writer is in its hold
			w.mu.Unlock()
			w.push(storeOp{add: flood(t, 100, 300)})
			w.push(storeOp{add: flood(t, 400, 200)})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := &recStore{Store: openStore(t)}
			w := newWriter(st, []string{"sshd"}, slog.New(slog.DiscardHandler), func() { t.Error("store error") })
			startWriter(t, w)
			ctx, stop := context.WithCancel(t.Context())
			defer stop()
			go func() {
				for ctx.Err() == nil {
					w.flood.flooding()
					time.Sleep(10 * time.Millisecond)
				}
			}()
			w.flood.flooding()
			w.push(storeOp{add: flood(t, 0, 10)})
			time.Sleep(writerSpacing + 20*time.Millisecond)
			began := time.Now()
			tc.end(t, w)
			deadline := began.Add(writerHold / 5)
			for st.stored(t) < tc.want && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if n, d := st.stored(t), time.Since(began); n < tc.want || d > writerHold/5 {
				t.Fatalf("%d of %d bans stored after %v: the hold did not end while the flood goes on", n, tc.want, d)
			}
		})
	}
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
