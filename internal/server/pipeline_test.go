package server

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"warden/internal/ban"
	"warden/internal/config"
	"warden/internal/jail"
	"warden/internal/source"
	"warden/internal/store"
)

// TestBatchParallelSameAsSequential: a flood handled in large batches
// (streamed through filter.ProcessSeq, its regex searches on one goroutine
// or spread over two) gives the jail the same counts and the manager the
// same bans as the same lines handled one at a time.
func TestBatchParallelSameAsSequential(t *testing.T) {
	stamp := time.Now().Format(time.Stamp)
	var lines []source.Line
	for i := range 400 {
		ip := fmt.Sprintf("192.0.%d.%d", 2+i/200, 1+i%200)
		// 2 addresses in 5 are below maxretry; noise lines between.
		n := 3 + i%2
		if i%5 < 2 {
			n = 2
		}
		for k := range n {
			lines = append(lines,
				source.Line{Text: fmt.Sprintf("%s host sshd[%d]: Failed password for root from %s port %d ssh2", stamp, 1000+i, ip, 40000+k)},
				source.Line{Text: fmt.Sprintf("%s host sshd[%d]: Connection closed by %s port %d", stamp, 1000+i, ip, 40000+k)})
		}
	}
	// run hands the lines over in batches of batch lines; with streamed,
	// each batch's first parallelMin lines are the batch and the rest
	// reach it through a feed, as runJail does.
	run := func(batch int, streamed bool, workers int) (jail.Stats, ban.Stats) {
		s, j, mgr := pipelineFixture(t)
		s.workers = workers
		ctx := context.Background()
		for i := 0; i < len(lines); i += batch {
			b := lines[i:min(i+batch, len(lines))]
			var fd *feed
			if streamed && len(b) > parallelMin {
				ch := make(chan source.Line, len(b))
				for _, l := range b[parallelMin:] {
					ch <- l
				}
				fd = newFeed(ch)
				fd.start(len(b))
				b = b[:parallelMin]
			}
			s.handleBatch(j, mgr, b, fd, ctx)
			if fd != nil && fd.extra != batch-parallelMin && i+batch <= len(lines) {
				t.Fatalf("feed took %d lines, want %d", fd.extra, batch-parallelMin)
			}
		}
		if err := mgr.Sync(ctx); err != nil {
			t.Fatal(err)
		}
		ms, err := mgr.Stats("sshd")
		if err != nil {
			t.Fatal(err)
		}
		return j.tracker.Stats(), ms
	}
	seqJ, seqB := run(1, false, 1)
	if seqJ.Failures == 0 || seqB.Banned == 0 {
		t.Fatalf("sequential run found nothing: %+v %+v", seqJ, seqB)
	}
	for _, tc := range []struct {
		name     string
		batch    int
		streamed bool
	}{
		{"batches of 1024", 1024, false},
		{"one batch", len(lines), false},
		{"streamed batches of 1000", 1000, true},
		{"one streamed batch", len(lines), true},
	} {
		for _, workers := range []int{1, 2} {
			parJ, parB := run(tc.batch, tc.streamed, workers)
			if seqJ != parJ || seqB != parB {
				t.Errorf("%s, %d workers: jail %+v, bans %+v; one by one: jail %+v, bans %+v",
					tc.name, workers, parJ, parB, seqJ, seqB)
			}
		}
	}
}

// pipelineFixture compiles testConf's sshd jail (maxretry 3) and runs a ban
// manager without firewall backends on a fresh store.
func pipelineFixture(t *testing.T) (*Server, *jailRun, *ban.Manager) {
	t.Helper()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	if err := os.WriteFile(logPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	root := testConf(t, logPath)
	cfg, err := config.Load(os.DirFS(root), config.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Config: cfg, DBPath: filepath.Join(dir, "warden.db"), Notify: func(string) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	j := s.view().jails[0]
	st, err := store.Open(context.Background(), filepath.Join(dir, "warden.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := ban.New(ban.Config{Store: st, Jails: []ban.JailConfig{{Name: j.name, BanTime: j.banTime}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		st.Close()
	})
	<-mgr.Ready()
	return s, j, mgr
}

// TestFilterWorkers: all cores but one search a flood's lines, at least
// one and at most four.
func TestFilterWorkers(t *testing.T) {
	for _, tc := range []struct{ procs, want int }{{1, 1}, {2, 1}, {3, 2}, {4, 3}, {5, 4}, {64, 4}} {
		if got := filterWorkers(tc.procs); got != tc.want {
			t.Errorf("filterWorkers(%d) = %d, want %d", tc.procs, got, tc.want)
		}
	}
}

// TestTicketsNotHeldByLongBatch: a ticket found early in a long streamed
// batch reaches the ban manager while the batch still runs (ticketsWait),
// not at its end.
func TestTicketsNotHeldByLongBatch(t *testing.T) {
	stamp := time.Now().Format(time.Stamp)
	noise := func(i int) source.Line {
		return source.Line{Text: fmt.Sprintf("%s host sshd[%d]: Connection closed by 198.51.100.7 port %d", stamp, 1000+i, 40000+i)}
	}
	for _, workers := range []int{1, 2} {
		t.Run(fmt.Sprintf("workers=%d", workers), func(t *testing.T) {
			s, j, mgr := pipelineFixture(t)
			s.workers = workers
			var batch []source.Line
			for k := range 3 { // testConf's maxretry
				batch = append(batch, source.Line{Text: fmt.Sprintf(
					"%s host sshd[999]: Failed password for root from 192.0.2.77 port %d ssh2", stamp, 50000+k)})
			}
			for len(batch) < parallelMin {
				batch = append(batch, noise(len(batch)))
			}
			ch := make(chan source.Line, 16)
			fd := newFeed(ch)
			fd.linger, fd.span = time.Minute, time.Minute // the batch ends when ch is closed
			fd.start(maxBatch)
			handled := make(chan struct{})
			go func() {
				defer close(handled)
				s.handleBatch(j, mgr, batch, fd, context.Background())
			}()
			stop := make(chan struct{})
			fed := make(chan struct{})
			go func() { // noise until told to stop, then the batch's end
				defer close(fed)
				defer close(ch)
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case ch <- noise(parallelMin + i):
					}
					time.Sleep(200 * time.Microsecond)
				}
			}()
			p := netip.MustParsePrefix("192.0.2.77/32")
			deadline := time.Now().Add(10 * time.Second)
			for !mgr.IsBanned("sshd", p) && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			select {
			case <-handled:
				t.Fatal("the batch ended before the ban; the test proves nothing")
			default:
			}
			banned := mgr.IsBanned("sshd", p)
			close(stop)
			<-fed
			<-handled
			if !banned {
				t.Fatalf("%s not banned within 10 s while its batch ran", p)
			}
		})
	}
}
