package server

import (
	"context"
	"time"

	"warden/internal/ban"
	"warden/internal/filter"
	"warden/internal/jail"
)

// handleFailures runs one line's failures through the jail's tracker and
// adds any ticket to out.
func handleFailures(j *jailRun, fs []filter.Failure, out *tickets) {
	for _, f := range fs {
		if f.Unresolved {
			j.log.Debug("host name not resolved; failure skipped", "host", f.Host)
			continue
		}
		t, banNow := j.tracker.AddFailure(out.ctx, jail.Failure{
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
		out.add(t)
	}
}

// tickets gathers the tickets of one batch of lines for the ban manager,
// which takes them several to a request (ban.Manager.SubmitAll): under a
// flood a request per ticket cost a hand-over between goroutines per ban.
// They are handed on at the end of the batch, when ticketsMax are waiting,
// or once the first has waited ticketsWait (due), so a lone ban never
// waits for more than its own batch.
type tickets struct {
	j     *jailRun
	mgr   *ban.Manager
	ctx   context.Context
	ts    []jail.Ticket
	first time.Time // when ts[0] was added
	calls int       // due calls, to look at the clock every ticketsCheck
}

const (
	ticketsMax   = 128
	ticketsWait  = 2 * time.Millisecond
	ticketsCheck = 64
)

// add adds t, handing the tickets on when ticketsMax are waiting. The
// manager keeps each slice handed to it, so each is new: room for a few
// tickets first (a lone ban), then for ticketsMax.
func (o *tickets) add(t jail.Ticket) {
	switch {
	case len(o.ts) == 0:
		o.first = time.Now()
		o.ts = make([]jail.Ticket, 0, 4)
	case len(o.ts) == cap(o.ts) && cap(o.ts) < ticketsMax:
		o.ts = append(make([]jail.Ticket, 0, ticketsMax), o.ts...)
	}
	o.ts = append(o.ts, t)
	if len(o.ts) >= ticketsMax {
		o.flush()
	}
}

// due hands the tickets on if the first has waited ticketsWait; called
// once a line, it looks at the clock every ticketsCheck calls.
func (o *tickets) due() {
	if len(o.ts) == 0 {
		return
	}
	if o.calls++; o.calls%ticketsCheck == 0 {
		o.dueNow()
	}
}

// dueNow hands the tickets on if the first has waited ticketsWait.
func (o *tickets) dueNow() {
	if len(o.ts) > 0 && time.Since(o.first) >= ticketsWait {
		o.flush()
	}
}

// flush hands the waiting tickets to the ban manager.
func (o *tickets) flush() {
	if len(o.ts) == 0 {
		return
	}
	ts := o.ts
	o.ts = nil
	if err := o.mgr.SubmitAll(o.ctx, o.j.name, ts); err != nil {
		o.j.log.Error("ban request failed", "bans", len(ts), "err", err)
	}
}

// trackStage runs a large batch's failures through the jail's tracker on
// a goroutine of its own, in line order, while the filter goes on with the
// next lines: on two cores the filter's goroutine is a flood's longest
// stage, and the tracker's work (about a fifth of it) can share the other
// core with the ban manager. The filter's goroutine gathers the failures
// of up to trackChunk lines (only lines with failures count) and sends
// them on; a chunk is also sent once its first line waited ticketsWait,
// looked at every ticketsCheck lines, so a ban is not held back by the
// lines after it.
type trackStage struct {
	j   *jailRun
	out *tickets // the stage goroutine's alone until finish

	cur   trackBuf
	lines int       // lines seen since cur's first
	first time.Time // when cur's first entry was added

	// chunks is owned by the filter's side (add, finish), which closes
	// it; free carries emptied chunks back; done is closed when the
	// stage goroutine has handled every chunk.
	chunks chan trackBuf
	free   chan trackBuf
	done   chan struct{}
}

// trackBuf is one chunk: each entry a line's failures.
type trackBuf [][]filter.Failure

const (
	trackChunk    = 256
	trackInFlight = 4 // chunks queued to the stage at most
)

// startTrack starts the stage for one batch; out receives its tickets.
func startTrack(j *jailRun, out *tickets) *trackStage {
	st := &trackStage{j: j, out: out,
		chunks: make(chan trackBuf, trackInFlight),
		free:   make(chan trackBuf, trackInFlight+1),
		done:   make(chan struct{}),
	}
	go st.run()
	return st
}

// add takes one line's failures (nil for most lines).
func (st *trackStage) add(fs []filter.Failure) {
	if len(st.cur) == 0 {
		if len(fs) == 0 {
			return
		}
		st.first, st.lines = time.Now(), 0
	}
	st.lines++
	if len(fs) > 0 {
		if st.cur == nil {
			select {
			case st.cur = <-st.free:
			default:
				st.cur = make(trackBuf, 0, trackChunk)
			}
		}
		st.cur = append(st.cur, fs)
	}
	if len(st.cur) >= trackChunk || st.lines%ticketsCheck == 0 && time.Since(st.first) >= ticketsWait {
		st.send()
	}
}

func (st *trackStage) send() {
	st.chunks <- st.cur
	st.cur = nil
}

// finish hands on the last failures and waits until the stage has
// handled them all; the tickets are then in out.
func (st *trackStage) finish() {
	if len(st.cur) > 0 {
		st.send()
	}
	close(st.chunks)
	<-st.done
}

// run is the stage goroutine: chunks in order through handleFailures,
// waiting tickets handed on once the first has waited ticketsWait.
func (st *trackStage) run() {
	defer close(st.done)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		var c trackBuf
		var ok bool
		if len(st.out.ts) == 0 {
			c, ok = <-st.chunks
		} else {
			select {
			case c, ok = <-st.chunks:
			default:
				// Nothing queued: hand the tickets on when due, or
				// sooner when the next chunk arrives.
				timer.Reset(max(0, ticketsWait-time.Since(st.out.first)))
				select {
				case c, ok = <-st.chunks:
				case <-timer.C:
					st.out.flush()
					continue
				}
				timer.Stop()
			}
		}
		if !ok {
			return
		}
		for _, fs := range c {
			handleFailures(st.j, fs, st.out)
		}
		st.out.dueNow()
		clear(c) // the failures are the jail's now
		select {
		case st.free <- c[:0]:
		default:
		}
	}
}
