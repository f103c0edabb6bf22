package server

import (
	"context"
	"time"

	"warden/internal/ban"
	"warden/internal/filter"
	"warden/internal/source"
	"warden/internal/store"
)

// catchUpIdle is how long a jail's source may stay silent before the jail
// counts as caught up with its logs and goes into operation.
const catchUpIdle = 300 * time.Millisecond

// maxBatch caps the lines a jail handles before it acknowledges them to its
// source (which lets their position be saved). A large batch streams from
// the source's channel into the filter (see feed), so the cap costs no
// memory; it only bounds how far a saved position may lag.
const maxBatch = 16384

// journalBatch caps the lines of a journal jail's batch (handled one by
// one, then acknowledged together).
const journalBatch = 1024

// linesQueued is the capacity of a jail's line channel: room for a few
// read chunks of the file source, so that a flood's batch rarely finds it
// empty while the source is still reading.
const linesQueued = 1024

// newSource builds a jail's log source with its positions in st; opened
// hears of the files it has positioned itself in. Positions are saved
// through acks and the ban manager (see positions).
func (s *Server) newSource(j *jailRun, st *store.Store, mgr *ban.Manager, acks *source.Acks, opened *startWatch) (source.Source, error) {
	if j.journal {
		return source.NewJournal(source.JournalOptions{
			Match:   j.match,
			Cursors: cursors{st: st, jail: j.name, mgr: mgr},
			Acks:    acks,
			Logger:  j.log,
		})
	}
	return source.NewFile(source.FileOptions{
		Files:     j.files,
		Mode:      j.mode,
		Positions: positions{st: st, jail: j.name, mgr: mgr, opened: opened},
		Acks:      acks,
		Logger:    j.log,
	})
}

// runJail runs one jail: its source feeds lines through the filter and the
// failure tracker, and tickets go to the ban manager on mgrCtx (which stays
// alive until every jail has drained). A failing source is logged and
// restarted after a growing pause; it never ends the daemon or another jail.
//
// Lines are taken in batches (what the source has queued, up to maxBatch);
// once a batch is handled and its tickets are with the ban manager, the
// batch is acknowledged to the source, whose position then reaches the
// database after those tickets' bans (Manager.Checkpoint): a saved
// position means every line before it was handled.
func (s *Server) runJail(ctx context.Context, j *jailRun, st *store.Store, mgrCtx context.Context, opened *startWatch) error {
	mgr := s.mgr
	acks := source.NewAcks()
	src, err := s.newSource(j, st, mgr, acks, opened)
	if err != nil {
		j.log.Error("log source not usable; jail idle", "err", err)
		<-ctx.Done()
		return nil
	}
	// lines is owned by this function: the source goroutine below is its
	// only sender and closes it once the source's Run has returned.
	lines := make(chan source.Line, linesQueued)
	go func() {
		defer close(lines)
		wait := time.Second
		for {
			err := src.Run(ctx, lines)
			if ctx.Err() != nil {
				return
			}
			j.log.Error("log source failed; restarting", "err", err, "in", wait)
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, time.Minute)
		}
	}()

	// Until the backlog is read, lines older than findtime are dropped;
	// afterwards stamps far from now are taken as now (fail2ban's rule).
	j.tracker.SetInOperation(false)
	idle := time.NewTimer(catchUpIdle)
	defer idle.Stop()
	resetIdle := func() {
		if !idle.Stop() {
			select {
			case <-idle.C:
			default:
			}
		}
		idle.Reset(catchUpIdle)
	}
	inOp := false
	fd := newFeed(lines)
	batch := make([]source.Line, 0, parallelMin)
	for {
		var line source.Line
		var ok bool
		if inOp {
			line, ok = <-lines
		} else {
			select {
			case line, ok = <-lines:
				resetIdle()
			case <-idle.C:
				inOp = true
				j.tracker.SetInOperation(true)
				j.log.Debug("caught up with the logs")
				continue
			}
		}
		if !ok {
			return nil
		}
		// What is queued now, up to parallelMin lines: a few lines are
		// handled one by one; more start a batch that the feed extends
		// with the lines queued while it runs. Journal lines are always
		// handled one by one, up to journalBatch of them.
		batch = append(batch[:0], line)
		fd.start(maxBatch - 1)
		take := parallelMin
		if j.journal {
			take = journalBatch
		}
		for len(batch) < take {
			l, ok := fd.poll()
			if !ok {
				break
			}
			batch = append(batch, l)
		}
		more := fd
		if len(batch) < parallelMin || j.journal {
			more = nil
		}
		s.handleBatch(j, mgr, batch, more, mgrCtx)
		clear(batch) // let the texts go
		if err := acks.Done(mgrCtx, 1+fd.extra); err != nil {
			j.log.Warn("saving log position", "err", err)
		}
		if fd.closed {
			return nil
		}
		if !inOp {
			// A long batch is not silence.
			resetIdle()
		}
	}
}

// parallelMin is the least batch of file lines that streams through
// filter.ProcessSeq (its regex searches spread over Server.workers
// goroutines when there are several); smaller batches, and journal lines,
// go through the filter one by one.
const parallelMin = 256

// handleBatch runs a batch of lines through the jail's filter, in order,
// and hands each line's failures to handleFailures; with more set, the lines more
// takes from the source follow the batch. A large batch of file lines (a
// backlog or a flood) goes through ProcessSeq, whose results are
// Process's, line by line. The batch's tickets reach the ban manager
// before handleBatch returns (see tickets), so before the batch is
// acknowledged.
func (s *Server) handleBatch(j *jailRun, mgr *ban.Manager, batch []source.Line, more *feed, mgrCtx context.Context) {
	out := tickets{j: j, mgr: mgr, ctx: mgrCtx}
	defer out.flush()
	large := len(batch) >= parallelMin && fileLines(batch)
	if !j.evidence {
		// Only the database reads the lines: the bans of a flood (or a
		// backlog) are stored without them, which at 100,000 addresses
		// saves 1.3 s and 40 MB; lines that come one by one, as an
		// attack's do on a quiet server, keep them.
		j.tracker.KeepEvidence(!large)
	}
	if large {
		// Lines share a reading of the clock, clockEvery at a time; the
		// batch is over when the tracker's stage is (deferred below).
		clk := j.clock
		defer clk.done()
		n := 0
		line := func(text string, yield func(string) bool) bool {
			if n%clockEvery == 0 {
				clk.tick()
			}
			n++
			return yield(text)
		}
		texts := func(yield func(string) bool) {
			for _, l := range batch {
				if !line(l.Text, yield) {
					return
				}
			}
			if more == nil {
				return
			}
			for {
				l, ok := more.next()
				if !ok || !line(l.Text, yield) {
					return
				}
			}
		}
		// The failures go to the jail's tracker on a goroutine of their
		// own (trackStage), beside the filter's.
		st := startTrack(j, &out)
		defer st.finish()
		// A background context: a batch taken is always finished.
		_ = j.flt.ProcessSeq(context.Background(), texts, s.workers, func(_ string, res filter.Result) {
			st.add(res.Failures)
		})
		return
	}
	for _, line := range batch {
		var res filter.Result
		if !line.Time.IsZero() {
			res = j.flt.ProcessDated(line.Text, line.Time.Format("2006-01-02 15:04:05")+" ", line.Time)
		} else {
			res = j.flt.Process(line.Text)
		}
		handleFailures(j, res.Failures, &out)
		out.due()
	}
}

// filterWorkers is how many goroutines search a large batch on procs
// cores: all but one, which the jail's tracker, the source, the ban
// manager and its database writer need under a flood; at least one, at
// most four. On two cores a flood's searches on two goroutines cost about
// a fifth more CPU a line than on one (the filter's BenchmarkFlood) while
// the rest of the flood waits for the second core; see bench/README.md,
// "Flood, round 8".
func filterWorkers(procs int) int { return min(max(procs-1, 1), 4) }

// fileLines reports whether every line came from a file (journal lines
// carry their own time and go through ProcessDated).
func fileLines(batch []source.Line) bool {
	for _, l := range batch {
		if !l.Time.IsZero() {
			return false
		}
	}
	return true
}
