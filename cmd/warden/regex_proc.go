package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"
	"unsafe"

	"warden/internal/datetime"
	"warden/internal/filter"
)

// maxLineBytes bounds the memory one line may take; the rest of a longer
// line is read and dropped (the line is still tested and counted).
const maxLineBytes = 64 << 20

// regexRun is one `warden regex` invocation.
type regexRun struct {
	o           *regexOpts
	configGiven bool
	stdout      io.Writer
	progress    io.Writer // nil: no progress bar
	stderr      io.Writer // warnings in --out mode; nil: none
	ctx         context.Context

	setup  regexSetup
	flt    *filter.Filter
	dates  *datetime.Detector
	logSrc string // "file", "line" or "lines"
	log    string

	stats  regexStats
	outLoc *time.Location // the zone --out prints dates in, once known
	outBuf []byte         // -o ip's line, built for each failure

	// for tests: the read blocks' recycler (nil: processReader's own),
	// no recycling at all, the block size (0: lineBlockSize)
	recycler  *blockRecycler
	noRecycle bool
	blockSize int
}

// regexStats is everything the summary reports. Line texts are kept only
// as far as the summary prints them.
type regexStats struct {
	failHits   []int
	failIPs    [][]failureInfo // only with -v
	ignoreHits []int
	prefHits   int

	tested, matched, missed, ignored int
	binary, truncated                int
	timeouts                         int // regex matches abandoned (filter.Timeouts)

	matchedLines, missedLines, ignoredLines []string
	// recentMissed holds the last maxlines missed lines, so that a later
	// multi-line match can move them from missed to matched.
	recentMissed []string
	elapsed      time.Duration
}

type failureInfo struct {
	id    string
	t     time.Time
	multi bool
}

// header prints a "Use ..." line (nothing in --out or --json mode).
func (r *regexRun) header(format string, a ...any) {
	if r.o.out != "" || r.o.json {
		return
	}
	fmt.Fprintf(r.stdout, format+"\n", a...)
}

// printLimit is fail2ban-regex's cap on listed lines: -L if given, else 20.
func (r *regexRun) printLimit() int {
	if r.o.maxlines > 0 {
		return r.o.maxlines
	}
	return 20
}

func (r *regexRun) main(args []string) (int, error) {
	if r.ctx == nil {
		r.ctx = context.Background()
	}
	// one write per --out line was a system call per failure
	bw := bufio.NewWriterSize(r.stdout, 64<<10)
	defer bw.Flush()
	r.stdout = bw
	if !r.o.json && r.o.out == "" {
		fmt.Fprint(r.stdout, "\nRunning tests\n=============\n\n")
	}
	r.setup.def.UseDNS = "warn"
	if r.o.usedns != "" {
		r.setup.def.UseDNS = r.o.usedns
	}
	if r.o.raw {
		r.setup.def.UseDNS = "raw"
	}
	if r.o.maxlines > 0 {
		r.setMaxLines(r.o.maxlines)
	}
	if r.o.datepattern != "" {
		r.setDatePattern(r.o.datepattern)
	}
	logArg, regexArg := args[0], args[1]
	if err := r.readFailRegex(regexArg); err != nil {
		return 0, err
	}
	if len(args) == 3 {
		r.readIgnoreRegex(args[2])
	}
	if r.o.journal != "" {
		// One line, as fail2ban-regex takes it: its words are ANDed
		// (journalctl's rule for different fields), "+" separates
		// alternatives. (Lines of a filter's journalmatch are ORed.)
		r.setup.journalMatch = []string{r.o.journal}
	}
	loc, err := r.location()
	if err != nil {
		return 0, err
	}
	ctx, stop := context.WithCancel(r.ctx)
	defer stop()
	clock := newCoarseClock(ctx, 100*time.Millisecond)
	r.dates, err = datetime.New(datetime.Options{Pattern: r.setup.def.DatePattern, Location: loc, Now: clock.Now})
	if err != nil {
		return 0, fmt.Errorf("datepattern %q: %w", r.setup.def.DatePattern, err)
	}
	// fail2ban-regex's filter settings: the summary tries every failregex
	// and counts multi-line failures still waiting for their host; -o
	// reports what the daemon would find.
	// Diagnostics only for the summary's prefregex count: -o prints none
	// (on sshd's log it ran the prefregex on the 63% of lines no failregex
	// could match)
	fo := filter.Options{Location: loc, Dates: r.dates, Diagnostics: r.o.out == "", Now: clock.Now,
		CheckAllRegex: r.o.out == "" && !r.o.noCheckAll, KeepPending: r.o.out == "",
		// the summary counts failures; rebalance reads Lines when maxlines > 1
		Counting: r.o.out == "" && !r.o.json && r.setup.def.MaxLines <= 1,
		// lines are slices of 64 KB blocks (lineBlocks)
		SharedLines: true}
	if r.o.out != "" {
		// -o ip and the like read a field or two, not the lines: building
		// every failure's fields, lines and users cost 3-5% more CPU
		lines, fields := outNeeds(r.o.out, r.o.compat)
		fo.Counting, fo.CountingFields = !lines, fields
	}
	if u := r.setup.def.UseDNS; u == "yes" || u == "warn" {
		fo.Resolve = (&dnsResolver{ctx: r.ctx, cache: map[string][]netip.Addr{}}).resolve
	}
	r.flt, err = filter.Compile(r.setup.def, fo)
	if errors.Is(err, filter.ErrNoFailID) && r.setup.kind == "line" {
		// fail2ban-regex's wording for a literal regex without <HOST>
		return 0, f2bMessage("No failure-id group in " + pyRepr(r.setup.def.FailRegex[0]))
	}
	if err != nil {
		return 0, err
	}
	if r.o.explain && !r.o.json && r.o.out == "" {
		r.explain()
	}
	def := r.setup.def
	r.stats.failHits = make([]int, len(def.FailRegex))
	r.stats.failIPs = make([][]failureInfo, len(def.FailRegex))
	r.stats.ignoreHits = make([]int, len(def.IgnoreRegex))

	if !r.o.printAllMatched && !r.o.printAllMissed && !r.o.printAllIgnored {
		// Little stays live (the summary keeps a few lines), so the heap
		// may grow further between collections: fewer GC cycles. 200, not
		// 400: with -j 2 RSS stays under 40 MB (400 reached 55-60 MB).
		defer debug.SetGCPercent(debug.SetGCPercent(200))
		// What stays live is mostly the workers' automata (about 11 MB
		// with sshd's aggressive mode and -j 2), and at 200 the heap
		// grew to three times that (RSS 55-57 MB); a soft limit of 36 MiB
		// makes the collector run earlier as the heap nears it (RSS about
		// 45 MB, 15 -> 22 GC cycles on the 1M-line auth.log). An explicit
		// GOMEMLIMIT is left alone.
		if os.Getenv("GOMEMLIMIT") == "" {
			defer debug.SetMemoryLimit(debug.SetMemoryLimit(36 << 20))
		}
	}
	start := time.Now()
	if st, err := os.Stat(logArg); strings.HasPrefix(logArg, "systemd-journal") && (err != nil || !st.Mode().IsRegular()) {
		if err := r.processJournal(logArg); err != nil {
			return 0, err
		}
	} else if err == nil && st.Mode().IsRegular() {
		r.logSrc, r.log = "file", logArg
		r.header("Use         log file : %s", logArg)
		r.header("Use         encoding : %s", strings.ToUpper(r.o.encoding))
		r.header("")
		f, err := os.Open(logArg)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if err := r.processReader(f, st.Size()); err != nil {
			return 0, fmt.Errorf("%s: %w", logArg, err)
		}
	} else {
		r.log = logArg
		if r.setup.def.MaxLines <= 1 && !strings.Contains(logArg, "\n") {
			r.logSrc = "line"
			r.header("Use      single line : %s", shortstr(logArg, 53))
		} else {
			r.logSrc = "lines"
			lines := strings.Split(logArg, "\n")
			r.header("Use      multi line : %d line(s)", len(lines))
			for i, l := range lines {
				if i >= 5 {
					r.header("| ...")
					break
				}
				num := fmt.Sprint(i + 1)
				if len(num) > 2 {
					num = num[:2]
				}
				r.header("| %2s: %s", num, shortstr(l, 53))
			}
			r.header("`-")
		}
		r.header("")
		if err := r.processReader(strings.NewReader(logArg), 0); err != nil {
			return 0, err
		}
	}
	r.stats.elapsed = time.Since(start)
	r.stats.timeouts = r.flt.Timeouts()
	switch {
	case r.o.out != "":
		if r.stats.timeouts > 0 && r.stderr != nil {
			fmt.Fprintf(r.stderr, "warning: %d regex matches abandoned at the match time-out, counted as no match\n", r.stats.timeouts)
		}
		return 0, nil
	case r.o.json:
		return 0, r.printJSON()
	}
	r.printStats()
	return 0, nil
}

// f2bMessage is an error worded exactly as fail2ban-regex words it.
type f2bMessage string

func (m f2bMessage) Error() string { return string(m) }

// location is the --timezone (logtimezone) or the local zone.
func (r *regexRun) location() (*time.Location, error) {
	if r.o.timezone == "" {
		return time.Local, nil
	}
	return parseTimeZone(r.o.timezone)
}

// processReader streams lines from rd through the filter. size (0 when
// unknown) scales the progress bar. The filter's workers (-j) take turns
// at reading the lines and finding their dates, search them, and keep the
// statistics in order, one worker at a time (filter.ProcessSeqTurns;
// with one worker, all of it on this goroutine).
func (r *regexRun) processReader(rd io.Reader, size int64) error {
	cr := &countingReader{r: rd}
	lb := newLineBlocks(cr)
	// Blocks are read into again once their lines are done: record keeps
	// copies of what it keeps, and the filter (SharedLines) copies what it
	// keeps across lines, except for the buffer of a multi-line filter.
	rec := r.recycler
	if rec == nil {
		rec = newBlockRecycler()
	}
	if r.setup.def.MaxLines > 1 || r.noRecycle {
		rec = nil
	}
	lb.recycle = rec
	if r.blockSize > 0 {
		lb.size = r.blockSize
	}
	pb := newProgressBar(r.progress, size)
	defer pb.finish()
	// owned by the reading goroutine until ProcessSeqTurns returns
	var readErr error
	var binary, truncated int
	lines := func(yield func(string) bool) {
		for {
			raw, cut, err := lb.next(maxLineBytes)
			if len(raw) > 0 || err == nil {
				if cut {
					truncated++
				}
				line, ok := lineText(raw, &binary)
				if ok && rec != nil {
					rec.handed++
				}
				if ok && !yield(line) {
					return
				}
			}
			if err == io.EOF {
				return
			}
			if err != nil {
				readErr = err
				return
			}
		}
	}
	n := 0
	err := r.flt.ProcessSeqTurns(r.ctx, lines, r.jobs(), func(line string, res filter.Result) {
		if n++; n&1023 == 0 {
			pb.update(cr.n.Load(), r.stats.tested)
		}
		r.record(line, res)
		if rec != nil {
			rec.done(n)
		}
	})
	r.stats.binary += binary
	r.stats.truncated += truncated
	if err != nil {
		return err
	}
	return readErr
}

// jobs is the number of filter workers: -j, else defaultJobs.
func (r *regexRun) jobs() int {
	if r.o.jobs > 0 {
		return r.o.jobs
	}
	return defaultJobs(runtime.GOMAXPROCS(0))
}

// defaultJobs is the number of filter workers for cpus CPUs: one per
// CPU. Up to regex round 14 (bench/README) two CPUs got one worker: -j 2
// cost 40-60% more CPU and was level with -j 1 by the clock at best. With
// the ordered stage on the workers (filter.ProcessSeqTurns) and fewer
// allocations for deferred hits, -j 2 is ahead on two vCPUs in every row
// of round 15, also while another session kept the machine busy (sshd
// -o ip 0.66-0.81 against 0.81-0.83 s, aggressive 0.70-0.78 against
// 0.84-0.93 s on the 1M-line auth.log).
func defaultJobs(cpus int) int {
	return max(cpus, 1)
}

// readLine reads one '\n'-terminated line and returns it without the
// terminator, valid until the next call: a slice of br's buffer when the
// line fits in it, else collected in *buf (reused between calls). A line
// longer than limit bytes is cut, the rest skipped. err is io.EOF after
// the last line.
func readLine(br *bufio.Reader, buf *[]byte, limit int) (line []byte, truncated bool, err error) {
	b := (*buf)[:0]
	for {
		chunk, err := br.ReadSlice('\n')
		if len(b) == 0 && err != bufio.ErrBufferFull && len(chunk) <= limit {
			if err == nil || err == io.EOF {
				return bytes.TrimSuffix(chunk, []byte("\n")), false, err
			}
			return chunk, false, err
		}
		if len(b)+len(chunk) <= limit {
			b = append(b, chunk...)
		} else {
			if room := limit - len(b); room > 0 {
				b = append(b, chunk[:room]...)
			}
			truncated = true
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		*buf = b
		if err == nil || err == io.EOF {
			return bytes.TrimSuffix(b, []byte("\n")), truncated, err
		}
		return b, truncated, err
	}
}

// lineText turns a raw line into the text to test; ok is false for the
// lines fail2ban-regex skips (empty ones and comments). Lines with invalid
// UTF-8 are counted in *binary. raw must never be written again (a line
// of lineBlocks): the text is raw itself, not a copy.
func lineText(raw []byte, binary *int) (line string, ok bool) {
	for len(raw) > 0 && (raw[len(raw)-1] == '\n' || raw[len(raw)-1] == '\r') {
		raw = raw[:len(raw)-1] // bytes.TrimRight(raw, "\r\n"), without its cutset set-up
	}
	if len(raw) == 0 || raw[0] == '#' {
		return "", false
	}
	if utf8.Valid(raw) {
		return unsafe.String(unsafe.SliceData(raw), len(raw)), true
	}
	*binary++
	return replaceInvalid(raw), true
}

// record updates the statistics with a line's result (or prints the --out
// value).
func (r *regexRun) record(line string, res filter.Result) {
	if r.o.out != "" {
		r.printOut(res)
		return
	}
	st := &r.stats
	found := 0 // failures that are not F-NOFAIL so far
	ignored := res.Ignored
	if ignored && res.IgnoreRegex >= 0 && res.IgnoreRegex < len(st.ignoreHits) {
		st.ignoreHits[res.IgnoreRegex]++
	}
	for _, f := range res.Failures {
		if f.Regex >= 0 && f.Regex < len(st.failHits) {
			st.failHits[f.Regex]++
			if r.o.verbose > 0 {
				id := f.ID
				if id == "" {
					id = "None" // a pending multi-line failure, as Python prints it
				}
				// a copy: the line's storage is read into again (blockRecycler)
				st.failIPs[f.Regex] = append(st.failIPs[f.Regex], failureInfo{strings.Clone(id), f.Time, found > 1})
			}
		}
		if f.NoFail {
			ignored = true
		} else {
			found++
		}
	}
	if res.PrefMatched {
		st.prefHits++
	}
	if r.setup.def.MaxLines > 1 {
		r.rebalance(res, line)
	}
	// the lines kept are copies, made once: the line's storage is read
	// into again once record returns (blockRecycler)
	kept := ""
	keep := func() string {
		if kept == "" {
			kept = strings.Clone(line)
		}
		return kept
	}
	limit := r.printLimit()
	switch {
	case ignored:
		st.ignored++
		if !r.o.printNoIgnored && (r.o.printAllIgnored || st.ignored <= limit+1) {
			st.ignoredLines = append(st.ignoredLines, keep())
		}
	case found > 0:
		st.matched++
		if r.o.printAllMatched {
			st.matchedLines = append(st.matchedLines, keep())
		}
	default:
		st.missed++
		if !r.o.printNoMissed && (r.o.printAllMissed || st.missed <= limit+1) {
			st.missedLines = append(st.missedLines, keep())
		}
		if r.setup.def.MaxLines > 1 {
			st.recentMissed = append(st.recentMissed, keep())
			if len(st.recentMissed) > r.setup.def.MaxLines {
				st.recentMissed = st.recentMissed[1:]
			}
		}
	}
	st.tested++
}

// replaceInvalid decodes b as UTF-8 with one U+FFFD per invalid byte, as
// Python's "replace" error handler does for most input.
func replaceInvalid(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b) + 8)
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if r == utf8.RuneError && n <= 1 {
			sb.WriteRune(utf8.RuneError)
			b = b[1:]
			continue
		}
		sb.Write(b[:n])
		b = b[n:]
	}
	return sb.String()
}

// rebalance moves earlier lines that a multi-line failure consumed from
// the missed count to the matched count, as fail2ban-regex does when lines
// leave its buffer by matching.
func (r *regexRun) rebalance(res filter.Result, line string) {
	st := &r.stats
	for _, f := range res.Failures {
		for _, l := range f.Lines {
			if l == line {
				continue
			}
			i := indexOf(st.recentMissed, l)
			if i < 0 {
				continue
			}
			st.recentMissed = append(st.recentMissed[:i], st.recentMissed[i+1:]...)
			if j := indexOf(st.missedLines, l); j >= 0 {
				st.missedLines = append(st.missedLines[:j], st.missedLines[j+1:]...)
			}
			if r.o.printAllMatched {
				st.matchedLines = append(st.matchedLines, l)
			}
			st.matched++
			st.missed--
		}
	}
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// countingReader counts the bytes read; n may be read from another
// goroutine.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// progressBar draws "[####    ]  42%  123456 lines" on a terminal for
// files of progressMinSize bytes or more.
type progressBar struct {
	w        io.Writer
	size     int64
	last     time.Time
	drawn    bool
	interval time.Duration
}

const progressMinSize = 8 << 20

func newProgressBar(w io.Writer, size int64) *progressBar {
	if size < progressMinSize {
		w = nil
	}
	return &progressBar{w: w, size: size, interval: 200 * time.Millisecond}
}

func (p *progressBar) update(done int64, lines int) {
	if p.w == nil {
		return
	}
	now := time.Now()
	if now.Sub(p.last) < p.interval {
		return
	}
	p.last = now
	frac := float64(done) / float64(p.size)
	if frac > 1 {
		frac = 1
	}
	const width = 30
	n := int(frac * width)
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%% %d lines", strings.Repeat("#", n), strings.Repeat(" ", width-n), 100*frac, lines)
	p.drawn = true
}

func (p *progressBar) finish() {
	if p.w != nil && p.drawn {
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", 60))
	}
}
