package filter

import (
	"context"
	"fmt"
	"iter"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// sameAsProcess runs lines through two filters compiled alike, one with
// Process line by line and one with ProcessSeq on the given workers, and
// reports the first difference in any result; then the same with
// ProcessSeqTurns.
func sameAsProcess(t *testing.T, def Definition, opts Options, lines []string, workers int) {
	t.Helper()
	sameAsProcessBy(t, def, opts, lines, workers, (*Filter).ProcessSeq)
	sameAsProcessBy(t, def, opts, lines, workers, func(f *Filter, ctx context.Context, lines iter.Seq[string], workers int, emit func(string, Result)) error {
		// a result's Failures may be used again once emit returns
		return f.ProcessSeqTurns(ctx, lines, workers, func(l string, r Result) {
			r.Failures = slices.Clone(r.Failures)
			emit(l, r)
		})
	})
}

// seqFunc is ProcessSeq or ProcessSeqTurns.
type seqFunc func(f *Filter, ctx context.Context, lines iter.Seq[string], workers int, emit func(string, Result)) error

func sameAsProcessBy(t *testing.T, def Definition, opts Options, lines []string, workers int, process seqFunc) {
	t.Helper()
	seq, err := Compile(def, opts)
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	par, err := Compile(def, opts)
	if err != nil {
		t.Fatal(err)
	}
	var want []Result
	for _, l := range lines {
		want = append(want, seq.Process(l))
	}
	var got []Result
	var gotLines []string
	err = process(par, context.Background(), slices.Values(lines), workers, func(l string, r Result) {
		gotLines = append(gotLines, l)
		got = append(got, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || !slices.Equal(gotLines, lines) {
		t.Fatalf("%d results for %d lines, lines in order: %v", len(got), len(want), slices.Equal(gotLines, lines))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("line %d %q:\nProcessSeq %+v\nProcess    %+v", i+1, lines[i], got[i], want[i])
		}
	}
	if seq.Timeouts() != par.Timeouts() {
		t.Errorf("timeouts: ProcessSeq %d, Process %d", par.Timeouts(), seq.Timeouts())
	}
}

// fixedNow is the clock of the differential tests: dates without a year
// resolve the same way in both filters.
func fixedNow() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC) }

// TestProcessSeqGenerated: fail2ban's sshd filter in both modes on a
// generated, dated auth.log, with the options of the daemon and those of
// warden regex.
func TestProcessSeqGenerated(t *testing.T) {
	mix := authLog(6000)
	lines := make([]string, 0, len(mix))
	for i, l := range mix {
		if i%97 == 5 {
			lines = append(lines, l) // undated: carries the last date over
			continue
		}
		lines = append(lines, fmt.Sprintf("Nov %2d 10:%02d:%02d %s", 1+i/3000, i/60%60, i%60, l))
	}
	lines = append(lines, "Nov 27 10:00:00 web01 sshd[1]: Failed password for r\xc3\xb6ot from 192.0.2.9 port 22 ssh2", "", "x")
	for _, mode := range []string{"normal", "aggressive"} {
		def := f2bDefinition(t, "sshd", map[string]string{"mode": mode})
		for _, o := range []struct {
			name string
			opts Options
		}{
			{"daemon", Options{Now: fixedNow, FindTime: 10 * time.Minute}},
			// restoring: the Nov 1 lines are too old and skipped, Nov 2's are not
			{"restoring", Options{Now: fixedNow, FindTime: 25*24*time.Hour + 3*time.Hour, Restoring: true}},
			{"regex", Options{Now: fixedNow, Diagnostics: true}},
			{"check-all", Options{Now: fixedNow, Diagnostics: true, CheckAllRegex: true, KeepPending: true}},
			{"counting", Options{Now: fixedNow, Diagnostics: true, Counting: true, CountingFields: []string{"ip", "user"}}},
			{"shared", Options{Now: fixedNow, Diagnostics: true, SharedLines: true}},
		} {
			for _, w := range []int{2, 3} {
				t.Run(fmt.Sprintf("%s/%s/%d", mode, o.name, w), func(t *testing.T) {
					sameAsProcess(t, def, o.opts, lines, w)
				})
			}
		}
	}
}

// TestProcessSeqSamples: every stock filter on its sample log from
// fail2ban's test files, multi-line ones (served sequentially) included.
func TestProcessSeqSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every stock filter")
	}
	names, all := stockSamples(t)
	for _, name := range names {
		fd := all[name]
		if fd.Error != "" || len(fd.FailRegex) == 0 {
			continue
		}
		def := Definition{Name: name, PrefRegex: fd.PrefRegex, FailRegex: fd.FailRegex, IgnoreRegex: fd.IgnoreRegex,
			MaxLines: fd.MaxLines, DatePattern: fd.DatePattern, UseDNS: "raw"}
		var lines []string
		for _, r := range fd.Rows {
			if l, _ := r[0].(string); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, l)
			}
		}
		t.Run(name, func(t *testing.T) {
			sameAsProcess(t, def, Options{Now: fixedNow, Diagnostics: true, CheckAllRegex: true, KeepPending: true}, lines, 2)
			sameAsProcess(t, def, Options{Now: fixedNow}, lines, 2)
		})
	}
}

// TestProcessSeqCancel: a cancelled context stops the reading and every
// line read is still handed over.
func TestProcessSeqCancel(t *testing.T) {
	f := mustCompile(t, Definition{FailRegex: []string{`^bad <HOST>$`}}, Options{Dates: noDates{}})
	ctx, cancel := context.WithCancel(context.Background())
	read, emitted := 0, 0
	lines := func(yield func(string) bool) {
		for i := 0; i < 1_000_000; i++ {
			if i == 3000 {
				cancel()
			}
			read++
			if !yield(fmt.Sprintf("bad 192.0.2.%d", i%250+1)) {
				return
			}
		}
	}
	err := f.ProcessSeq(ctx, lines, 2, func(_ string, r Result) {
		if len(r.Failures) != 1 {
			t.Errorf("no failure: %+v", r)
		}
		emitted++
	})
	if err != context.Canceled || emitted != read || read > 3000+chunkLines {
		t.Errorf("err %v, %d lines read, %d emitted", err, read, emitted)
	}
}

// mixedDef is a filter whose failregexes mix hits that need the
// multi-line id cache (F-MLFID) with hits that do not.
func mixedDef() Definition {
	return Definition{Name: "mixed", UseDNS: "yes", FailRegex: []string{
		`^\s*conn <F-MLFID>\d+</F-MLFID>: fail user <F-USER>\S+</F-USER> from <HOST>$`,
		`^\s*conn \d+: fail user \S+ from <HOST>$`,
		`^\s*conn <F-MLFID>\d+</F-MLFID>: <F-NOFAIL>hello</F-NOFAIL> from <HOST>$`,
		`^\s*conn <F-MLFID>\d+</F-MLFID>: <F-MLFFORGET><F-MLFGAINED>accepted</F-MLFGAINED></F-MLFFORGET> user <F-USER>\S+</F-USER>$`,
		`^\s*conn <F-MLFID>\d+</F-MLFID>: <F-NOFAIL><F-MLFFORGET>closed</F-MLFFORGET></F-NOFAIL>$`,
		`^\s*conn \d+: (?:fail|bad) user <F-ID>\S+</F-ID>`,
	}, IgnoreRegex: []string{`user ignored\b`}}
}

// TestProcessSeqRandom: lines made by damaging the mixed filter's sample
// lines at random (fixed seed), repeated to fill two batches or not, in
// random option sets: ProcessSeq on workers gives Process's results.
func TestProcessSeqRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 27))
	seeds := []string{
		"Nov 27 10:00:00 conn 1: fail user root from 192.0.2.1\nconn 1: accepted user root\nNov 27 10:00:01 conn 2: hello from 198.51.100.7\nconn 2: fail user bob from host.example\n",
		"conn 5: bad user x\nconn 5: fail user ignored from 192.0.2.9\nconn 5: closed\n\xff\xfe conn 6: fail user \xc3\xa9 from ::1",
	}
	for it := range 120 {
		b := []byte(seeds[r.IntN(len(seeds))])
		switch r.IntN(3) {
		case 0:
			b = b[:r.IntN(len(b)+1)]
		case 1:
			for range 1 + r.IntN(20) {
				b[r.IntN(len(b))] = byte(r.IntN(256))
			}
		case 2:
			b = b[r.IntN(len(b)):]
		}
		lines := strings.Split(string(b), "\n")
		for len(lines) <= chunkLines && r.IntN(4) > 0 {
			lines = append(lines, lines...)
		}
		all := r.IntN(2) == 0
		opts := Options{Now: fixedNow, CheckAllRegex: all, KeepPending: all, Diagnostics: r.IntN(2) == 0}
		if r.IntN(3) == 0 {
			opts.FindTime = time.Hour
		}
		t.Run(fmt.Sprint(it), func(t *testing.T) { sameAsProcess(t, mixedDef(), opts, lines, 2) })
	}
}

// TestProcessSeqMixed: failregexes with and without <F-MLFID> on the same
// lines, an ignoreregex and host names to resolve, so that workers defer
// some hits, finish others after them and see ignoreregex matches after a
// deferred hit; the ordered replay must give Process's results in every
// mode.
func TestProcessSeqMixed(t *testing.T) {
	def := mixedDef()
	var lines []string
	words := []string{"fail user root from 192.0.2.%d", "fail user ignored from 192.0.2.%d", "hello from 198.51.100.%d",
		"accepted user u%d", "closed", "fail user bob from host%d.example", "bad user x%d", "noise %d"}
	for i := 0; i < 5000; i++ {
		w := words[(i*7+i/13)%len(words)]
		if strings.Contains(w, "%d") {
			w = fmt.Sprintf(w, i%9)
		}
		lines = append(lines, fmt.Sprintf("Nov 27 10:%02d:%02d conn %d: %s", i/60%60, i%60, i%11, w))
	}
	resolve := func(h string) []netip.Addr { // in order only: no lock
		return []netip.Addr{netip.MustParseAddr("203.0.113.1"), netip.AddrFrom4([4]byte{203, 0, 113, byte(len(h))})}
	}
	for _, o := range []struct {
		name string
		opts Options
	}{
		{"daemon", Options{Now: fixedNow, FindTime: time.Hour}},
		{"regex", Options{Now: fixedNow, Diagnostics: true, CheckAllRegex: true, KeepPending: true}},
		{"resolve", Options{Now: fixedNow, Resolve: resolve}},
		{"resolve-all", Options{Now: fixedNow, Resolve: resolve, CheckAllRegex: true}},
	} {
		t.Run(o.name, func(t *testing.T) { sameAsProcess(t, def, o.opts, lines, 3) })
	}
}

// TestProcessSeqTurns: the workers take turns at reading and dating the
// lines (stage 1). For line counts around the chunk size and more workers
// than chunks, the results are Process's, in order, and the sequence is
// never ranged over by two goroutines at once.
func TestProcessSeqTurns(t *testing.T) {
	def := mixedDef()
	words := []string{"Nov 27 10:00:%02d conn %d: fail user root from 192.0.2.9", "conn %[2]d: closed", "noise %[1]d %[2]d"}
	for _, n := range []int{0, 1, chunkLines - 1, chunkLines, chunkLines + 1, 5*chunkLines + 3} {
		var lines []string
		for i := range n {
			lines = append(lines, fmt.Sprintf(words[i%len(words)], i%60, i/7))
		}
		for _, workers := range []int{2, 3, 8} {
			t.Run(fmt.Sprintf("%d/%d", n, workers), func(t *testing.T) {
				sameAsProcess(t, def, Options{Now: fixedNow}, lines, workers)
				f := mustCompile(t, def, Options{Now: fixedNow})
				var inside, most atomic.Int32
				seq := func(yield func(string) bool) {
					for _, l := range lines {
						most.Store(max(most.Load(), inside.Add(1)))
						ok := yield(l)
						inside.Add(-1)
						if !ok {
							return
						}
					}
				}
				emitted := 0
				if err := f.ProcessSeq(context.Background(), seq, workers, func(string, Result) { emitted++ }); err != nil {
					t.Fatal(err)
				}
				if emitted != n || most.Load() > 1 {
					t.Errorf("%d of %d lines emitted; %d goroutines at once in the sequence", emitted, n, most.Load())
				}
			})
		}
	}
}

// TestProcessSeqTurnsEmit: ProcessSeqTurns calls emit from the workers,
// one call at a time and in the order of the lines, and reads no more
// than its bound of chunks ahead of what it has emitted, also when emit
// is slow; a cancelled context still has every line read handed over.
func TestProcessSeqTurnsEmit(t *testing.T) {
	f := mustCompile(t, Definition{FailRegex: []string{`^bad <HOST>$`}}, Options{Dates: noDates{}})
	for _, workers := range []int{2, 3} {
		for _, cancelAt := range []int{-1, 7 * chunkLines} {
			t.Run(fmt.Sprintf("%d/%d", workers, cancelAt), func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var read atomic.Int64
				n := 40 * chunkLines
				lines := func(yield func(string) bool) {
					for i := range n {
						if i == cancelAt {
							cancel()
						}
						read.Add(1)
						if !yield(fmt.Sprintf("bad 192.0.2.%d", i%250+1)) {
							return
						}
					}
				}
				var inside atomic.Int32
				emitted, ahead := 0, int64(0)
				err := f.ProcessSeqTurns(ctx, lines, workers, func(l string, r Result) {
					if inside.Add(1) != 1 {
						t.Error("emit called by two goroutines at once")
					}
					if want := fmt.Sprintf("bad 192.0.2.%d", emitted%250+1); l != want || len(r.Failures) != 1 {
						t.Errorf("line %d: %q %+v, want %q", emitted, l, r, want)
					}
					emitted++
					ahead = max(ahead, read.Load()-int64(emitted))
					if emitted%(3*chunkLines) == 0 {
						time.Sleep(2 * time.Millisecond) // let the readers run ahead
					}
					inside.Add(-1)
				})
				if cancelAt < 0 && (err != nil || emitted != n) || cancelAt >= 0 && (err != context.Canceled || int64(emitted) != read.Load()) {
					t.Errorf("err %v, %d lines read, %d emitted", err, read.Load(), emitted)
				}
				if bound := int64((4*workers + 1) * chunkLines); ahead > bound {
					t.Errorf("read %d lines ahead of emit, bound %d", ahead, bound)
				}
			})
		}
	}
}

// TestDeferredHitAllocs: in counting mode a hit deferred to the ordered
// stage that gives no failure (sshd's Accepted line, F-MLFGAINED, which
// mergeFailure marks nofail) allocates nothing, on the worker or in the
// ordered stage: no room for a failure that does not come and no copy of
// its groups to add nofail. A chunk's done channel is the one
// allocation left.
func TestDeferredHitAllocs(t *testing.T) {
	f := mustCompile(t, f2bDefinition(t, "sshd", nil), Options{Counting: true, Now: fixedNow})
	line := "Nov 27 10:00:00 host sshd[123]: Accepted password for root from 192.0.2.1 port 22 ssh2"
	sh := f.shadow()
	free := &chunkStack{}
	got := 0
	run := func() {
		c := newChunk(free)
		for range 16 {
			f.addLine(c, line)
		}
		sh.workChunk(c)
		f.emitChunk(c, func(_ string, r Result) {
			if r.PrefMatched && r.Failures == nil {
				got++
			}
		}, free)
	}
	run()
	if got != 16 {
		t.Fatalf("%d of 16 lines matched the prefregex without a failure", got)
	}
	if n := testing.AllocsPerRun(20, run); n > 1 {
		t.Errorf("%.1f allocations a chunk of 16 deferred hits, want 1", n)
	}
}

// TestTurnsFailureStorage: in ProcessSeqTurns' chunks (reuse set) the
// failure of a deferred hit is kept in the line's record, so in counting
// mode a chunk of failure lines allocates nothing but the chunk's done
// channel; in ProcessSeq's each failure has storage of its own, which
// the daemon keeps.
func TestTurnsFailureStorage(t *testing.T) {
	f := mustCompile(t, f2bDefinition(t, "sshd", nil), Options{Counting: true, Now: fixedNow})
	line := "Nov 27 10:00:00 host sshd[123]: Failed password for root from 192.0.2.1 port 22 ssh2"
	sh := f.shadow()
	free := &chunkStack{}
	for _, reuse := range []bool{true, false} {
		got := 0
		run := func() {
			c := newChunk(free)
			c.reuse = reuse
			for range 16 {
				f.addLine(c, line)
			}
			sh.workChunk(c)
			f.emitChunk(c, func(_ string, r Result) {
				if len(r.Failures) == 1 && r.Failures[0].ID == "192.0.2.1" {
					got++
				}
			}, free)
		}
		run()
		if got != 16 {
			t.Fatalf("reuse %v: %d of 16 lines gave their failure", reuse, got)
		}
		n := testing.AllocsPerRun(20, run)
		if reuse && n > 1 || !reuse && n < 16 {
			t.Errorf("reuse %v: %.1f allocations a chunk of 16 failure lines", reuse, n)
		}
	}
}

// TestTakeTurn: takeTurn returns holding the token, whether it was free,
// came while spinning, or came after the spins ran out and it parked.
func TestTakeTurn(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spins int
		delay time.Duration // before the token is given; -1: given at once
	}{
		{"free", 4000, -1},
		{"while spinning", 1 << 30, 5 * time.Millisecond},
		{"after parking", 3, 20 * time.Millisecond},
		{"no spins", 0, 5 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			turn := make(chan struct{}, 1)
			var given atomic.Bool
			if tc.delay < 0 {
				turn <- struct{}{}
				given.Store(true)
			} else {
				go func() {
					time.Sleep(tc.delay)
					given.Store(true)
					turn <- struct{}{}
				}()
			}
			takeTurn(turn, tc.spins)
			if !given.Load() {
				t.Fatal("takeTurn returned before the turn was given")
			}
			if len(turn) != 0 {
				t.Fatal("takeTurn returned without taking the turn")
			}
		})
	}
}
