package server

import (
	"context"
	"time"

	"warden/internal/filter"
	"warden/internal/jail"
	"warden/internal/source"
	"warden/internal/store"
)

// catchUpIdle is how long a jail's source may stay silent before the jail
// counts as caught up with its logs and goes into operation.
const catchUpIdle = 300 * time.Millisecond

// newSource builds a jail's log source with its positions in st; opened
// hears of the files it has positioned itself in.
func (s *Server) newSource(j *jailRun, st *store.Store, opened *startWatch) (source.Source, error) {
	if j.journal {
		return source.NewJournal(source.JournalOptions{
			Match:   j.match,
			Cursors: cursors{st: st, jail: j.name},
			Logger:  j.log,
		})
	}
	return source.NewFile(source.FileOptions{
		Files:     j.files,
		Mode:      j.mode,
		Positions: positions{st: st, jail: j.name, opened: opened},
		Logger:    j.log,
	})
}

// runJail runs one jail: its source feeds lines through the filter and the
// failure tracker, and tickets go to the ban manager on mgrCtx (which stays
// alive until every jail has drained). A failing source is logged and
// restarted after a growing pause; it never ends the daemon or another jail.
func (s *Server) runJail(ctx context.Context, j *jailRun, st *store.Store, mgrCtx context.Context, opened *startWatch) error {
	src, err := s.newSource(j, st, opened)
	if err != nil {
		j.log.Error("log source not usable; jail idle", "err", err)
		<-ctx.Done()
		return nil
	}
	// lines is owned by this function: the source goroutine below is its
	// only sender and closes it once the source's Run has returned.
	lines := make(chan source.Line, 256)
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
	inOp := false
	for {
		var line source.Line
		var ok bool
		if inOp {
			line, ok = <-lines
		} else {
			select {
			case line, ok = <-lines:
				if !idle.Stop() {
					<-idle.C
				}
				idle.Reset(catchUpIdle)
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
		s.handleLine(j, line, mgrCtx)
	}
}

// handleLine runs one line through the jail's filter and tracker and hands
// any ticket to the ban manager.
func (s *Server) handleLine(j *jailRun, line source.Line, mgrCtx context.Context) {
	var res filter.Result
	if !line.Time.IsZero() {
		res = j.flt.ProcessDated(line.Text, line.Time.Format("2006-01-02 15:04:05")+" ", line.Time)
	} else {
		res = j.flt.Process(line.Text)
	}
	for _, f := range res.Failures {
		if f.Unresolved {
			j.log.Debug("host name not resolved; failure skipped", "host", f.Host)
			continue
		}
		t, banNow := j.tracker.AddFailure(mgrCtx, jail.Failure{
			Host:   f.Host,
			Addr:   f.Addr,
			Prefix: f.Prefix,
			ID:     f.ID,
			Time:   f.Time,
			Fields: f.Fields,
			Lines:  f.Lines,
			NoFail: f.NoFail,
		})
		if !banNow {
			continue
		}
		if !t.Prefix.IsValid() {
			j.log.Warn("ticket without an address; not banned", "id", t.ID)
			continue
		}
		if err := s.mgr.Submit(mgrCtx, j.name, t); err != nil {
			j.log.Error("ban request failed", "prefix", t.Prefix, "err", err)
		}
	}
}
