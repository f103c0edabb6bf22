package filter

import (
	"context"
	"iter"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Parallel processing splits the work on a line in three stages:
//
//  1. in order, by the workers in turn (one at a time, each for a chunk
//     of lines it then searches itself): reading the lines and date
//     detection. The detector keeps state
//     (fail2ban's detector tries the template that matched last first, at
//     the same place, and moves templates that hit up its list, so which
//     template reads a line can depend on the lines before) and the date
//     of the last dated line carries over to undated ones.
//  2. any order, the workers: everything else findFailure does for the
//     line, on a worker's own copy of the filter (its "shadow"): literal
//     scan, prefregex, failregex and ignoreregex searches, groups, and the
//     Failures themselves. With maxlines 1 a line's buffer is the line
//     alone, so all of this depends on the line and its date only, except
//     two things: a hit with an <F-MLFID> group, whose failure is merged
//     into what earlier lines left in the multi-line id cache, and a host
//     name to resolve (Options.Resolve need not be safe for concurrent
//     use). For those the worker writes down the hit (a "step") instead
//     of its failure and goes on as if the hit had ended nothing.
//  3. in order, the caller's goroutine (ProcessSeq) or the workers one at
//     a time (ProcessSeqTurns, turns.go): a line without such a hit is done
//     and handed over as it is; for one with, the steps are replayed from
//     the first deferred hit on, each deferred hit through failureFrom
//     proper, stopping where findFailure would have stopped.
//
// Stage 3 only merges finished results, so the workers carry nearly all of
// the cost. Filters of more than one line (maxlines > 1) are not split:
// the buffer a line is searched in depends on the lines before it.

// stepKind says what one recorded step of findFailure's failregex loop was.
type stepKind uint8

const (
	stepDeferred stepKind = iota // a hit whose failure needs the ordered state
	stepDone                     // a hit turned into failures by the worker
	stepIgnored                  // an ignoreregex matched a hit's lines
)

// step is one event of the failregex loop after the first deferred hit.
// (With maxlines 1 and no --check-all a hit empties the buffer, so later
// steps come about with CheckAllRegex only; the replay does not count on
// that.)
type step struct {
	kind stepKind
	// errs are the regex time-outs counted since the step before
	errs int
	// stepDeferred: the hit, its groups merged with the prefregex's and
	// copied out of the worker's scratch space
	idx  int
	h    hit
	line [1]tupleLine // h.matched's storage
	gs   guess        // what the worker worked out ahead (guess.go)
	// stepDone: the failures are res.Failures[lo:hi]; stop is failureFrom's
	// answer
	lo, hi int
	stop   bool
	// stepIgnored: the ignoreregex
	ign int
}

// ahead is what a worker found out about one line beyond its Result.
type ahead struct {
	deferred bool // some hit waits for the ordered stage; steps are set
	// the result's state when the first hit was deferred
	baseIgnored bool
	baseIgnore  int
	baseN       int
	steps       []step
	errs        int // time-outs since the last step (all, if no step)
	// grewNil: deferHit gave a nil Failures room; finish gives back nil
	// when nothing came of it, as Process would
	grewNil bool
	// gbuf holds the deferred hits' groups (deferHit); like steps, its
	// storage stays with the line's place in a recycled chunk
	gbuf groupSet
	// fail, when set (ProcessSeqTurns), is the line's own storage for
	// the failure of its first deferred hit: emit is done with a result
	// before its record is filled again, so no room is allocated for it
	// (on sshd's summary of the 1M-line auth.log, 114,000 of them, 24
	// MB); failUsed says it was handed out
	fail     *[1]Failure
	failUsed bool
}

// deferHit notes, on a worker, a hit whose failure depends on state the
// ordered stage keeps; it reports whether it took the hit.
func (f *Filter) deferHit(idx int, h *hit, pre groupSet, res *Result) bool {
	a := f.ahead
	if a == nil {
		return false
	}
	if !h.groups.get("mlfid").ok && !pre.get("mlfid").ok && f.opts.Resolve == nil {
		return false
	}
	// the hit's groups merged with the prefregex's as failureFrom would
	// (it takes the merged set as it is when there are no prefregex
	// groups); they are the worker's scratch space, copied below
	g := h.groups
	if len(pre) > 0 {
		f.mergeGroups = mergeGroups(f.mergeGroups, pre, h)
		g = f.mergeGroups
	}
	var room *failRoom
	grow := false // the room below is made once the guess is known
	if !a.deferred {
		a.deferred = true
		a.baseIgnored, a.baseIgnore, a.baseN = res.Ignored, res.IgnoreRegex, len(res.Failures)
		// room for the failure the ordered stage will append (finish),
		// allocated here rather than there; with the hit's line when it
		// has one (newRoom)
		a.grewNil = res.Failures == nil
		switch {
		case a.grewNil && !f.opts.Counting && len(h.matched) == 1:
			room = f.newRoom(h, g.get("mlfid").ok)
			res.Failures = room.f[:0]
		case a.grewNil && a.fail != nil:
			res.Failures, a.failUsed = a.fail[:0:1], true
		default:
			grow = true
		}
	}
	s := a.nextStep()
	s.kind, s.idx, s.h = stepDeferred, idx, *h
	// copies of the worker's scratch space: the groups and its f.one.
	// The groups go into the line's own storage (kept with its chunk),
	// with a spare entry past them: mergeFailure sets nofail on a line
	// of F-MLFGAINED, which without it copied the groups (38,000 times
	// on the 1M-line auth.log, 20 MB; bench/README, regex round 15).
	// The guess is made from them before failureFrom's merge may change
	// them.
	start := len(a.gbuf)
	a.gbuf = append(a.gbuf, g...)
	a.gbuf = append(a.gbuf, gentry{})
	end := len(a.gbuf) - 1
	s.h.groups = a.gbuf[start:end:len(a.gbuf)]
	if len(h.matched) == 1 {
		s.line[0] = h.matched[0]
		s.h.matched = s.line[:]
	}
	// A hit with F-NOFAIL or F-MLFGAINED gives no failure without
	// CheckAllRegex (failureFrom returns once it is merged): its address
	// and fields would be worked out for nothing (on sshd's log with -o
	// ip, two hits in three)
	quiet := s.h.groups.get("nofail").truthy() || s.h.groups.get("mlfgained").truthy()
	s.gs = f.guessFor(&s.h, s.h.groups, room, quiet && !f.opts.CheckAllRegex)
	// The room only for a hit likely to give a failure (on sshd's log
	// with -o ip two hits in three give none, and each had 200 bytes for
	// nothing): any hit with CheckAllRegex (failures are made for
	// F-NOFAIL hits too, marked NoFail); else one without F-NOFAIL or
	// F-MLFGAINED that has a host of its own, or with KeepPending any
	// (a failure without a host stands for a pending one). A wrong guess
	// costs an append in the ordered stage, never a result.
	if grow && (f.opts.CheckAllRegex || (s.gs.addrOK || f.opts.KeepPending) && !quiet) {
		res.Failures = slices.Grow(res.Failures, 1)
	}
	f.stepErrs(s)
	return true
}

// noteStep records, on a worker after a deferred hit, a step the replay
// must go through in order.
func (f *Filter) noteStep(s step) {
	if a := f.ahead; a != nil && a.deferred {
		p := a.nextStep()
		*p = s
		f.stepErrs(p)
	}
}

// nextStep appends a zero step and returns it. The storage of a recycled
// chunk's steps is zero past their length (emitChunk clears it), so a
// step there is taken as it is rather than built (about 400 bytes) and
// copied in.
func (a *ahead) nextStep() *step {
	if len(a.steps) < cap(a.steps) {
		a.steps = a.steps[:len(a.steps)+1]
	} else {
		a.steps = append(a.steps, step{})
	}
	return &a.steps[len(a.steps)-1]
}

func (f *Filter) stepErrs(s *step) {
	s.errs = f.timeouts - f.ahead.errs
	f.ahead.errs = f.timeouts
}

// shadow returns a copy of f for a worker: the same compiled filter with
// its own scratch space and caches, and no state of its own that matters.
func (f *Filter) shadow() *Filter {
	s := *f
	s.pref = f.pref.clone()
	s.fail, s.ignore = nil, nil
	for _, p := range f.fail {
		s.fail = append(s.fail, p.clone())
	}
	for _, p := range f.ignore {
		s.ignore = append(s.ignore, p.clone())
	}
	s.found = newLitMask(len(f.found))
	s.lineBuf, s.buf, s.cbuf, s.lastText = nil, nil, nil, ""
	s.prefGroups, s.ignGroups, s.failGroups, s.mergeGroups = nil, nil, nil, nil
	s.curData, s.lastGuess = failData{}, nil
	s.dates = nil // dates are found in order, by f
	s.mlfid = nil // multi-line ids are merged in order, by f
	s.ahead, s.shadows, s.timeouts = nil, nil, 0
	return &s
}

// work does a line's findFailure on a worker (see stage 2).
func (f *Filter) work(l *aheadLine, reuse bool) {
	l.ahead = ahead{steps: l.ahead.steps[:0], gbuf: l.ahead.gbuf[:0]}
	if reuse {
		l.ahead.fail = &l.fail
	}
	if l.skip {
		return
	}
	f.ahead = &l.ahead
	// while the line is worked on, errs is the time-out count at the last
	// step (stepErrs moves it on); then the count since
	l.ahead.errs = f.timeouts
	f.findFailure(l.tl, l.date, l.noDate, &l.res)
	l.ahead.errs = f.timeouts - l.ahead.errs
	f.ahead = nil
}

// finish is stage 3 for one line: the worker's result, with the deferred
// hits merged in order.
func (f *Filter) finish(l *aheadLine) Result {
	res := f.replay(l)
	if l.ahead.grewNil && len(res.Failures) == 0 {
		res.Failures = nil
	}
	return res
}

// replay merges a line's deferred hits (finish).
func (f *Filter) replay(l *aheadLine) Result {
	res := l.res
	a := &l.ahead
	if !a.deferred {
		f.timeouts += a.errs
		return res
	}
	done := res.Failures
	res.Ignored, res.IgnoreRegex = a.baseIgnored, a.baseIgnore
	if len(done) > a.baseN {
		res.Failures = slices.Clip(done[:a.baseN]) // appends must not overwrite done
	}
	for i := range a.steps {
		s := &a.steps[i]
		f.timeouts += s.errs
		stop := false
		switch s.kind {
		case stepDeferred:
			stop = f.failureFrom(s.idx, &s.h, nil, l.date, &res, &s.gs)
		case stepDone:
			res.Failures = append(res.Failures, done[s.lo:s.hi]...)
			stop = s.stop
		case stepIgnored:
			res.Ignored, res.IgnoreRegex = true, s.ign
		}
		if stop && !f.opts.CheckAllRegex || s.kind == stepIgnored && !f.opts.CheckAllRegex {
			return res
		}
	}
	f.timeouts += a.errs
	return res
}

// aheadLine is one line on its way through the stages.
type aheadLine struct {
	line   string
	tl     tupleLine
	date   time.Time
	noDate bool
	skip   bool
	res    Result
	ahead  ahead
	fail   [1]Failure // see ahead.fail
}

// aheadChunk is the unit of work handed to a worker.
type aheadChunk struct {
	lines []aheadLine
	done  chan struct{} // closed by the worker when its lines are done
	seq   uint64        // its place in the order of reading (inOrder)
	reuse bool          // ProcessSeqTurns: a result's storage may be the record's (ahead.fail)
}

// chunkLines is the number of lines a worker takes at once. Each line's
// record is about 300 bytes that two goroutines write in turn (the worker
// that dates and searches it, then the ordered stage); at 256 lines a
// chunk stays within a core's cache (at 512 warden regex -j 2 used about
// 5% more CPU and up to 52 MB of RSS instead of 35-39 MB on the 1M-line
// auth.log; at 1024 no less CPU, bench/README regex round 14).
const chunkLines = 256

// ProcessSeq handles lines in order, as Process would one after the
// other, and hands each line and its result to emit, in order, on the
// calling goroutine. With workers > 1 and a filter of one line (maxlines
// 1), all but the stateful parts of the work run on that many goroutines,
// each with its own copy of the compiled regexes, while dates and
// multi-line ids are worked out in order: the results are those of
// Process. The sequence lines is ranged over through iter.Pull then, by
// the workers' goroutines one after the other, and Options.Now may be
// called in another order than by Process (dates are found for a few
// thousand lines before their failures are) and from two goroutines at
// once, so it must be safe for concurrent use (time.Now is).
// Options.Resolve is only called on the calling goroutine. A
// cancelled ctx stops the reading; the lines read so far are finished and
// ctx.Err() returned.
func (f *Filter) ProcessSeq(ctx context.Context, lines iter.Seq[string], workers int, emit func(line string, res Result)) error {
	return f.processSeq(ctx, lines, workers, false, emit)
}

// processSeq is ProcessSeq, with stage 3 on the workers (ProcessSeqTurns)
// when inTurn is set.
func (f *Filter) processSeq(ctx context.Context, lines iter.Seq[string], workers int, inTurn bool, emit func(line string, res Result)) error {
	if workers <= 1 || f.maxLines > 1 {
		n := 0
		for l := range lines {
			if n++; n&1023 == 0 && ctx.Err() != nil {
				return ctx.Err()
			}
			emit(l, f.Process(l))
		}
		return ctx.Err()
	}
	for len(f.shadows) < workers {
		f.shadows = append(f.shadows, f.shadow())
	}
	// Stage 1 has no goroutine of its own: the workers take turns at it.
	// The one holding the turn pulls a chunk's lines and dates them on
	// f, queues the chunk on ordered, passes the turn on and then
	// searches the chunk itself. So a line is read, dated and searched
	// on one core, where a reading goroutine had every line's text and
	// record go over to another core, the workers' searches waiting on
	// it (bench/README, regex round 14).
	free := &chunkStack{} // recycled chunks
	// chunks runs where the holder of the turn pulls it from (iter.Pull
	// switches to it on the caller's thread): one switch there and back
	// per chunk, not per line
	chunks := func(yield func(*aheadChunk) bool) {
		var c *aheadChunk
		for l := range lines {
			if c == nil {
				c = newChunk(free)
				c.reuse = inTurn
			}
			f.addLine(c, l)
			if len(c.lines) == chunkLines {
				if !yield(c) {
					return
				}
				c = nil
			}
		}
		if c != nil {
			yield(c)
		}
	}
	next, stop := iter.Pull(chunks)
	defer stop()
	// turn holds the token of stage 1 while no worker has it; eof, set
	// when lines ended or ctx was cancelled, is read and written only by
	// the holder
	turn := make(chan struct{}, 1)
	turn <- struct{}{}
	eof := false
	// ordered is written by the holder of the turn, so chunks go in in
	// the order of their lines; it is closed once every worker is done.
	// A few chunks per worker in flight: enough to keep them busy, few
	// enough to keep memory small.
	ordered := make(chan *aheadChunk, 2*workers)
	// with inTurn, stage 3 is the workers' too (turns.go): chunks are
	// numbered as they are read (read, owned by the holder of the turn)
	// and emitted in that order by whichever worker finishes the next one
	var ord *inOrder
	read := uint64(0)
	if inTurn {
		ord = newInOrder(f, emit, free, 4*workers)
	}
	var wg sync.WaitGroup
	for _, sh := range f.shadows[:workers] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				takeTurn(turn, turnSpins)
				var c *aheadChunk
				if ord == nil {
					if c = readChunk(ctx, next, &eof); c != nil {
						ordered <- c
					}
				} else {
					ord.room(read)
					if c = readChunk(ctx, next, &eof); c != nil {
						c.seq = read
						read++
					}
				}
				turn <- struct{}{}
				if c == nil {
					return
				}
				sh.workChunk(c)
				if ord != nil {
					ord.finished(c)
				}
			}
		}()
	}
	if ord != nil {
		wg.Wait()
		return ctx.Err()
	}
	go func() {
		wg.Wait()
		close(ordered)
	}()
	for c := range ordered { // stage 3
		<-c.done
		f.emitChunk(c, emit, free)
	}
	return ctx.Err()
}

// turnSpins bounds how many times takeTurn yields before it parks. The
// turn is mostly free when a worker wants it; when not, the other worker
// is reading a chunk (256 lines, tens of microseconds). Parked, the
// waiting goroutine's thread sleeps, and waking it on another vCPU took
// longer than the wait: warden regex -j 2 on the 1M-line auth.log parked
// about 350 times a run for waits of 12 us on average, and spent 8% more
// wall time than when it spins (bench/README, regex round 18). 4,000
// yields took 0.4-0.8 ms here, depending on the load.
const turnSpins = 4000

// takeTurn takes the reading turn from turn, yielding the processor up
// to spins times while another worker holds it, then parking.
func takeTurn(turn chan struct{}, spins int) {
	for range spins {
		select {
		case <-turn:
			return
		default:
		}
		runtime.Gosched()
	}
	<-turn
}

// readChunk is stage 1 for one chunk, by the worker holding the turn:
// the next chunk of lines, dated in order. It gives nil once the lines
// have ended or ctx was cancelled (eof).
func readChunk(ctx context.Context, next func() (*aheadChunk, bool), eof *bool) *aheadChunk {
	if *eof {
		return nil
	}
	if ctx.Err() != nil {
		*eof = true
		return nil
	}
	c, ok := next()
	if !ok {
		*eof = true
		return nil
	}
	return c
}

// chunkStack keeps emitted chunks for reuse, the last one given back
// first: its records were written last, so they are the likeliest to be
// in a cache still. (A channel gave back the oldest, whose records had
// gone cold: the reader's first write to each record missed, and
// splitDate, where it lands, took four times the samples it takes with
// one worker; bench/README, regex round 14.)
type chunkStack struct {
	mu     sync.Mutex
	chunks []*aheadChunk
}

// maxFreeChunks bounds the chunks kept for reuse.
const maxFreeChunks = 8

func (s *chunkStack) push(c *aheadChunk) {
	s.mu.Lock()
	if len(s.chunks) < maxFreeChunks {
		s.chunks = append(s.chunks, c)
	}
	s.mu.Unlock()
}

func (s *chunkStack) pop() *aheadChunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.chunks)
	if n == 0 {
		return nil
	}
	c := s.chunks[n-1]
	s.chunks[n-1] = nil
	s.chunks = s.chunks[:n-1]
	return c
}

// newChunk is a chunk to fill: a recycled one from free if there is one.
func newChunk(free *chunkStack) *aheadChunk {
	c := free.pop()
	if c != nil {
		c.lines = c.lines[:0]
	} else {
		c = &aheadChunk{lines: make([]aheadLine, 0, chunkLines)}
	}
	c.done = make(chan struct{})
	return c
}

// addLine is stage 1 for one line: it appends l to c with its date. The
// record is filled in place: a fresh chunk's are zero, and emitChunk left
// a recycled one's result zero and its step storage (ahead, which work
// resets) for reuse, so no 336-byte record is built and copied per line.
func (f *Filter) addLine(c *aheadChunk, l string) {
	c.lines = c.lines[:len(c.lines)+1]
	a := &c.lines[len(c.lines)-1]
	a.line = l
	a.tl, a.date, a.noDate, a.skip = f.splitDate(l, &a.res)
	if !a.skip {
		a.res.Time = a.date
	}
}

// emitChunk is stage 3 for a chunk whose lines are worked: each line's
// result, in order, to emit; then the chunk goes back to free.
func (f *Filter) emitChunk(c *aheadChunk, emit func(string, Result), free *chunkStack) {
	for i := range c.lines {
		a := &c.lines[i]
		emit(a.line, f.finish(a))
		// the chunk is recycled: let go of what emit got and of the
		// lines the steps point into
		a.res = Result{}
		clear(a.ahead.steps)
		clear(a.ahead.gbuf)
		if a.ahead.failUsed {
			a.fail[0] = Failure{}
		}
	}
	free.push(c)
}

// workChunk is stage 2 for a chunk, on the shadow f.
func (f *Filter) workChunk(c *aheadChunk) {
	for i := range c.lines {
		f.work(&c.lines[i], c.reuse)
	}
	close(c.done)
}
