package server

import (
	"context"
	"fmt"
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

// TestBatchParallelSameAsSequential: a flood handled in large batches (the
// regex searches spread over goroutines by filter.ProcessSeq) gives the
// jail the same counts and the manager the same bans as the same lines
// handled one at a time.
func TestBatchParallelSameAsSequential(t *testing.T) {
	if filterWorkers() < 2 {
		t.Skip("one CPU: the parallel path is not taken")
	}
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
	run := func(batch int, streamed bool) (jail.Stats, ban.Stats) {
		s, j, mgr := pipelineFixture(t)
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
	seqJ, seqB := run(1, false)
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
		parJ, parB := run(tc.batch, tc.streamed)
		if seqJ != parJ || seqB != parB {
			t.Errorf("%s: jail %+v, bans %+v; one by one: jail %+v, bans %+v", tc.name, parJ, parB, seqJ, seqB)
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
