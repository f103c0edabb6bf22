package filter

import (
	"context"
	"iter"
	"sync"
	"time"
)

// Parallel processing splits the work on a line in three stages:
//
//  1. in order, one goroutine: date detection (the detector keeps
//     statistics and the date of the last dated line carries over);
//  2. any order, the workers: the regex searches for the line, done ahead
//     on a worker's own copy of the filter (its "shadow", which runs
//     findFailure with recording set and stops where the outcome would
//     depend on multi-line state) and kept in a memo;
//  3. in order, the caller's goroutine: findFailure proper, which takes
//     each search from the memo when the memo has it for the very same
//     pattern and subject, and otherwise searches itself.
//
// Stage 3 makes every decision exactly as Process does; the memo only
// saves it the searching, so the results are the same by construction
// (a memo entry is used only for an identical subject). Only filters of
// one line (maxlines 1) are split: with more, the buffer a line is
// searched in depends on the lines before it.

// memo is what a worker found out about one line.
type memo struct {
	buf   string  // the buffer findFailure searched
	found litMask // the literals present in buf
	// final: findFailure ended on its fast path, where nothing depends on
	// state: res is the whole answer and errs the time-outs on the way
	final   bool
	res     Result
	errs    int
	entries []memoEntry
}

// memoEntry is one search: find (loc, nil when no match) or, when exists
// is set, matches (matched).
type memoEntry struct {
	id      int
	exists  bool
	inBuf   bool // the subject is memo.buf
	subject string
	loc     []int
	matched bool
	err     error
}

func (m *memo) lookup(id int, exists bool, subject []byte) *memoEntry {
	for i := range m.entries {
		e := &m.entries[i]
		if e.id == id && e.exists == exists && (e.inBuf && m.buf == string(subject) || !e.inBuf && e.subject == string(subject)) {
			return e
		}
	}
	return nil
}

// subject returns how a memo entry names a search's subject: inBuf when
// it is the line's buffer (kept once, in memo.buf), else as a string.
func (f *Filter) subject(buf []byte) (s string, inBuf bool) {
	if string(buf) == string(f.buf) {
		return "", true
	}
	m := f.recording
	if n := len(m.entries); n > 0 && m.entries[n-1].subject == string(buf) {
		return m.entries[n-1].subject, false
	}
	return string(buf), false
}

// find is p.find for the current line, from the memo when it can be.
func (f *Filter) find(p *pattern, buf []byte, ascii bool) ([]int, error) {
	if !p.passes(f.found) {
		return nil, nil // as p.find would say, without a look at the memo
	}
	if f.memo != nil {
		if e := f.memo.lookup(p.id, false, buf); e != nil {
			return e.loc, e.err
		}
	}
	loc, err := p.find(buf, ascii, f.found)
	if f.recording != nil {
		subj, inBuf := f.subject(buf)
		f.recording.entries = append(f.recording.entries, memoEntry{id: p.id, subject: subj, inBuf: inBuf, loc: loc, err: err})
	}
	return loc, err
}

// matches is p.matches for the current line, from the memo when it can be.
func (f *Filter) matches(p *pattern, buf []byte, ascii bool) (bool, error) {
	if !p.passes(f.found) {
		return false, nil
	}
	if f.memo != nil {
		if e := f.memo.lookup(p.id, true, buf); e != nil {
			return e.matched, e.err
		}
	}
	m, err := p.matches(buf, ascii, f.found)
	if f.recording != nil {
		subj, inBuf := f.subject(buf)
		f.recording.entries = append(f.recording.entries, memoEntry{id: p.id, exists: true, subject: subj, inBuf: inBuf, matched: m, err: err})
	}
	return m, err
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
	s.found = make(litMask, len(f.found))
	s.lineBuf, s.buf, s.cbuf, s.lastText, s.lastDate = nil, nil, nil, "", time.Time{}
	s.prefGroups, s.ignGroups = nil, nil
	s.dates = nil // dates are found in order, by f
	s.mlfid = newMLFIDCache(1, time.Minute)
	s.memo, s.recording, s.shadows, s.timeouts = nil, nil, nil, 0
	return &s
}

// searchAhead fills m with the searches findFailure would do for tl.
func (f *Filter) searchAhead(tl tupleLine, date time.Time, noDate bool, m *memo) {
	m.entries, m.final = m.entries[:0], false
	f.recording = m
	f.lineBuf = nil
	var res Result
	t0 := f.timeouts
	f.findFailure(tl, date, noDate, &res)
	m.errs = f.timeouts - t0
	f.recording = nil
	m.buf = ""
	if !m.final { // the ordered stage will look things up
		m.buf = string(f.buf)
	}
}

// settled notes, when searching ahead, that findFailure's answer for the
// line is complete in res (only the fast path, which keeps no state).
func (f *Filter) settled(res *Result) {
	if m := f.recording; m != nil && f.maxLines == 1 {
		m.final = true
		m.res.Ignored, m.res.IgnoreRegex, m.res.PrefMatched = res.Ignored, res.IgnoreRegex, res.PrefMatched
	}
}

// aheadLine is one line on its way through the stages.
type aheadLine struct {
	line   string
	tl     tupleLine
	date   time.Time
	noDate bool
	skip   bool
	res    Result
	memo   memo
}

// aheadChunk is the unit of work handed to a worker.
type aheadChunk struct {
	lines []aheadLine
	done  chan struct{} // closed by the worker when the memos are filled
}

const chunkLines = 256

// ProcessSeq handles lines in order, as Process would one after the
// other, and hands each line and its result to emit, in order, on the
// calling goroutine. With workers > 1 and a filter of one line (maxlines
// 1), the regex searches run ahead on that many goroutines, each with its
// own copy of the compiled regexes, while dates, multi-line state and
// failures are worked out in order: the results are those of Process. The
// sequence lines is ranged over on another goroutine then, and Options.Now
// may be called in another order than by Process (dates are found for a
// few hundred lines before their failures are) and from two goroutines at
// once, so it must be safe for concurrent use (time.Now is). A cancelled ctx stops the
// reading; the lines read so far are finished and ctx.Err() returned.
func (f *Filter) ProcessSeq(ctx context.Context, lines iter.Seq[string], workers int, emit func(line string, res Result)) error {
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
	// ordered and work are closed by the reader; chunks go to ordered
	// first, so the consumer always waits on the oldest one.
	// a few chunks per worker in flight: enough to keep them busy, few
	// enough to keep memory small
	ordered := make(chan *aheadChunk, 2*workers)
	work := make(chan *aheadChunk, 2*workers)
	free := make(chan *aheadChunk, 4*workers) // recycled chunks
	var wg sync.WaitGroup
	for _, sh := range f.shadows[:workers] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range work {
				for i := range c.lines {
					if l := &c.lines[i]; !l.skip {
						sh.searchAhead(l.tl, l.date, l.noDate, &l.memo)
					}
				}
				close(c.done)
			}
		}()
	}
	wg.Add(1)
	go func() { // the reader: stage 1
		defer wg.Done()
		defer close(work)
		defer close(ordered)
		var c *aheadChunk
		send := func() {
			ordered <- c
			work <- c
			c = nil
		}
		for l := range lines {
			if c == nil {
				select {
				case c = <-free:
					c.lines = c.lines[:0]
				default:
					c = &aheadChunk{lines: make([]aheadLine, 0, chunkLines)}
				}
				c.done = make(chan struct{})
			}
			// reuse the memory of the memo a recycled chunk had here
			old := c.lines[:cap(c.lines)][len(c.lines)].memo
			c.lines = append(c.lines, aheadLine{line: l, memo: memo{entries: old.entries[:0], found: old.found[:0]}})
			a := &c.lines[len(c.lines)-1]
			a.tl, a.date, a.noDate, a.skip = f.splitDate(l, &a.res)
			if len(c.lines) == chunkLines {
				send()
				if ctx.Err() != nil {
					return
				}
			}
		}
		if c != nil && len(c.lines) > 0 {
			send()
		}
	}()
	for c := range ordered { // stage 3
		<-c.done
		for i := range c.lines {
			a := &c.lines[i]
			res := a.res
			switch {
			case a.skip:
			case a.memo.final:
				// what findFailure would do on its fast path
				res.Time = a.date
				res.Ignored, res.IgnoreRegex, res.PrefMatched = a.memo.res.Ignored, a.memo.res.IgnoreRegex, a.memo.res.PrefMatched
				f.timeouts += a.memo.errs
				f.one[0] = a.tl
				f.lineBuf = f.one[:]
			default:
				res.Time = a.date
				f.memo = &a.memo
				f.findFailure(a.tl, a.date, a.noDate, &res)
				f.memo = nil
			}
			emit(a.line, res)
		}
		select {
		case free <- c:
		default:
		}
	}
	wg.Wait()
	return ctx.Err()
}
