// Package filter compiles fail2ban filter definitions (failregex,
// ignoreregex, prefregex with <HOST>, <F-*> and friends) into matchers and
// applies them to log lines, including multi-line buffering, as fail2ban's
// Filter.processLine/findFailure do.
//
// Regexes are written in Python's re dialect (3.11). Each is translated to
// Go's regexp (linear time) whenever its meaning allows; only regexes that
// need backtracking (look-around, back-references, conditionals, atomic
// groups, possessive quantifiers, repeat counts above 1000, or a '$' that
// more pattern follows) run on github.com/dlclark/regexp2, bounded by
// Options.MatchTimeout, after a relaxed Go pre-check; a regex whose only
// such features are conditionals on earlier groups and (?!word) look-aheads
// of two common forms (sshd's "Failed ..." failregexes) is rewritten into
// exact Go regexes for pure-ASCII lines (uncond.go). Explain reports the
// engine of each regex and why.
//
// Decisions worth knowing:
//   - Lines are matched as bytes, without decoding. A byte that is not
//     valid UTF-8 matches like U+FFFD, as after fail2ban's decoding with
//     errors='replace'; captured groups keep the original bytes. (Python
//     replaces a truncated multi-byte sequence by one U+FFFD where Go sees
//     one per byte: only counted repeats such as .{3} can tell.)
//   - Python's \d, \w, \s are Unicode-aware; they are written out as
//     explicit classes. Each regex has an ASCII variant (used when the
//     buffer is pure ASCII: exact and fast) and a Unicode variant, built on
//     first use.
//   - Python's '$' (end, or before a final newline) runs in Go as "\n?\z"
//     when nothing consuming follows it; groups and matched lines are the
//     same, only the overall match may include the final newline.
//   - Every regex's required literals are checked in one pass before any
//     regex runs (at each literal's rarest byte, anchor.go; Aho-Corasick
//     when a literal has no rare byte); a line no failregex can match
//     costs that pass only and allocates nothing.
//   - On ASCII buffers a lazily built DFA (dfa.go) answers "does it match"
//     before any search with captures, so groups are only worked out for
//     real hits; it also counts prefregex hits for Options.Diagnostics.
//   - The automaton pre-check is skipped for a regex where it keeps saying
//     yes (the literal checks already chose the lines); it is asked again
//     for one search in 64.
//   - ProcessSeq does each line's whole work on workers, batches of lines
//     at a time, and keeps only what is stateful in order (dates,
//     multi-line ids): its results are those of Process.
//   - Not implemented: fail2ban's tuple_ groups; \N{name} escapes.
package filter

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"time"

	"warden/internal/datetime"
)

// Definition is a filter as the configuration gives it: fully interpolated
// (%(x)s and <known> tags resolved), regex tags such as <HOST> still in place.
type Definition struct {
	Name        string
	PrefRegex   string
	FailRegex   []string
	IgnoreRegex []string
	MaxLines    int
	DatePattern string
	// UseDNS is yes, warn, no or raw (fail2ban's usedns).
	UseDNS string
}

// DateFinder finds the timestamp in a line; *datetime.Detector is one.
type DateFinder interface {
	Find(line string) (datetime.Match, bool)
}

// Options are runtime settings for a compiled Filter.
type Options struct {
	Location *time.Location // logtimezone
	Now      func() time.Time
	// Dates overrides the date detector built from Definition.DatePattern.
	Dates DateFinder
	// FindTime > 0 turns on fail2ban's daemon time checks (checkFindTime):
	// in operation, dates more than a minute off are replaced by now; while
	// Restoring, lines older than FindTime are skipped. 0 behaves like
	// fail2ban-regex.
	FindTime  time.Duration
	Restoring bool
	// MatchTimeout bounds one backtracking match (default 100ms of wall
	// time); a match that overruns it is tried once more with 20 times
	// the budget before it counts as a time-out (see Timeouts).
	MatchTimeout time.Duration
	// CheckAllRegex tries every failregex on a line rather than stopping
	// at the first match, and KeepPending reports multi-line failures that
	// have no id yet (as a Failure with empty ID and Host): fail2ban-regex's
	// defaults, off in the daemon.
	CheckAllRegex bool
	KeepPending   bool
	// Diagnostics always runs the prefregex, so Result.PrefMatched is
	// exact (for fail2ban-regex style statistics); slightly slower.
	Diagnostics bool
	// Counting leaves Failure.Fields, Lines and Users nil: for callers
	// that only count failures and their ids (warden regex's summary).
	Counting bool
	// CountingFields are the named groups Failure.Fields still holds with
	// Counting (only those that matched; nil when none did): a caller
	// that prints one field, as warden regex -o ip reads "ip", gets it
	// without the rest.
	CountingFields []string
	// SharedLines: the lines given to Process are parts of larger buffers
	// (warden regex reads a log in blocks), which the caller may write
	// again once a line's result is out (Process returned, or ProcessSeq
	// handed it to emit) and it keeps nothing of it. Failures and their
	// fields share text with the lines (a caller copies what it keeps);
	// with SharedLines the text the filter keeps across lines (its
	// multi-line id cache, the last date's text) is copied, so that it
	// neither keeps those buffers alive nor changes when they are reused.
	// A filter of more than one line (maxlines > 1) keeps the lines of
	// its buffer: their storage must not be reused.
	SharedLines bool
	// Resolve turns a host name into addresses when UseDNS is yes or warn.
	// When nil, names are returned unresolved (Failure.Unresolved).
	Resolve func(host string) []netip.Addr
}

// Failure is one failure found in the log.
type Failure struct {
	Host string     // the host text as matched (address or name)
	Addr netip.Addr // the address, if Host is one (IPv4-mapped IPv6 unmapped)
	// Prefix is set when a <CIDR>/<SUBNET> gave a prefix length.
	Prefix netip.Prefix
	// ID is what fail2ban counts and bans (its ticket id): the <F-ID> text
	// when there is one and it differs from the host, else the address in
	// canonical form ("192.0.2.0/24" with a prefix), else the raw text.
	// Empty only for a pending multi-line failure (Options.KeepPending).
	ID   string
	Time time.Time
	// Fields are the named groups that took part: "user", "alt_user",
	// "content", ... Read-only: failures with the same groups may share
	// one map (those of one multi-line id <F-MLFID> mostly do).
	Fields map[string]string
	Lines  []string // the line(s) that made up the failure
	Regex  int      // index into Definition.FailRegex
	NoFail bool
	// Users are all users seen for a multi-line failure id (F-MLFID).
	Users []string
	// Unresolved: Host is a name that still needs DNS (no Resolve hook).
	Unresolved bool
}

// Result is what one line produced.
type Result struct {
	Time    time.Time
	HasDate bool
	Date    datetime.Match
	Ignored bool // matched an ignoreregex
	// IgnoreRegex is the index of the ignoreregex that matched (when
	// Ignored).
	IgnoreRegex int
	// PrefMatched: the prefregex matched. Without Options.Diagnostics a
	// line no failregex can match skips the prefregex and reports false.
	PrefMatched bool
	Failures    []Failure
}

// Errors returned by Compile.
var (
	ErrBadRegex  = errors.New("filter: bad regex")
	ErrNoFailID  = errors.New("filter: no failure-id group")
	ErrNoRegexes = errors.New("filter: no failregex")
)

// tupleLine is a line split around its date text. whole, when set, is
// pre+date+post as one string (the line they were cut from), so the
// matched lines of a failure need no new string.
type tupleLine struct{ pre, date, post, whole string }

func (t tupleLine) full() string {
	if t.whole != "" {
		return t.whole
	}
	return t.pre + t.date + t.post
}

// Filter is a compiled filter. It holds multi-line state and is not safe for
// concurrent use.
type Filter struct {
	def      Definition
	opts     Options
	dates    DateFinder
	noDate   bool
	pref     *pattern
	fail     []*pattern
	ignore   []*pattern
	maxLines int
	rawHost  bool

	lineBuf []tupleLine
	one     [1]tupleLine
	content [1]tupleLine // the buffer replaced by prefregex content
	buf     []byte       // scratch: the buffer the regexes see
	cbuf    []byte       // scratch: prefregex content
	// the date carried over to undated lines. ProcessSeq's reading
	// goroutine writes it for nearly every line while its ordered stage
	// uses the fields around it (timeouts, mlfid), so it has cache lines
	// of its own: sharing one had each line's write pull the line away
	// from the other core (bench/README, regex round 14)
	_        [64]byte
	lastText string
	lastDate time.Time
	_        [64]byte
	mlfid    *mlfidCache
	timeouts int
	lits     litSet  // required literals of all regexes
	found    litMask // scratch: literals present in the current buffer
	// failGate: every failregex requires one of its literals (nil when
	// some failregex requires none); a buffer with none of them can
	// match no failregex
	failGate litMask
	// failBy: with one word of literals and at most 64 failregexes, for
	// each literal the failregexes whose first and whose second
	// requirement it meets (every failregex for a requirement it lacks);
	// failAlways: the failregexes with none (nil: not used; see failPass)
	failBy     [][2]uint64
	failAlways uint64
	// scratch for groups nothing keeps: the prefregex's (failureFrom
	// copies them) and the ignoreregexes' (only a match counts)
	prefGroups, ignGroups groupSet
	// scratch for a failregex hit's groups and their merge with the
	// prefregex's (failureFrom); what keeps them copies them
	failGroups, mergeGroups groupSet
	// scratch for failureFrom's failure data (mergeFailure copies what
	// it keeps)
	curData failData
	// the host addrFailure parsed last
	lastAddr addrMemo
	// lastGuess: the Fields map guessFor made last (on a worker)
	lastGuess map[string]string

	// ahead, set on a worker's copy while it works on a line, collects
	// the hits only the ordered stage can turn into failures (parallel.go)
	ahead   *ahead
	shadows []*Filter // the workers' copies, made on first use
}

// Compile builds a Filter from a Definition.
func Compile(def Definition, opts Options) (*Filter, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MatchTimeout <= 0 {
		opts.MatchTimeout = 100 * time.Millisecond
	}
	f := &Filter{def: def, opts: opts, maxLines: def.MaxLines, rawHost: def.UseDNS == "raw"}
	if f.maxLines <= 0 {
		f.maxLines = 1
	}
	multi := f.maxLines > 1
	pats := compilePatterns(def, multi, opts.MatchTimeout)
	if def.PrefRegex != "" {
		c := pats[0]
		pats = pats[1:]
		if c.err != nil {
			return nil, fmt.Errorf("%w: prefregex: %w", ErrBadRegex, c.err)
		}
		f.pref = c.p
		if v := f.pref.ascii; v.bt == nil && v.re != nil {
			v.split = newContentSplit(f.pref.asciiExpr)
		}
	}
	for i, r := range def.FailRegex {
		p, err := pats[i].p, pats[i].err
		if err != nil {
			return nil, fmt.Errorf("%w: failregex[%d] %q: %w", ErrBadRegex, i, r, err)
		}
		if !hasFailID(p) && (f.pref == nil || !hasFailID(f.pref)) {
			return nil, fmt.Errorf("%w: failregex[%d] %q has none of <HOST>, <ADDR>, <F-ID>, <F-MLFID>", ErrNoFailID, i, r)
		}
		f.fail = append(f.fail, p)
	}
	pats = pats[len(def.FailRegex):]
	for i, r := range def.IgnoreRegex {
		p, err := pats[i].p, pats[i].err
		if err != nil {
			return nil, fmt.Errorf("%w: ignoreregex[%d] %q: %w", ErrBadRegex, i, r, err)
		}
		f.ignore = append(f.ignore, p)
	}
	f.setupLiterals()
	f.dates = opts.Dates
	if f.dates == nil {
		d, err := datetime.New(datetime.Options{Pattern: def.DatePattern, Location: opts.Location, Now: opts.Now})
		switch {
		case errors.Is(err, datetime.ErrNotImplemented):
			// date detection not available yet: every line is undated
		case err != nil:
			return nil, fmt.Errorf("filter %s: datepattern: %w", def.Name, err)
		default:
			f.dates = d
			f.noDate = d.NoDate()
		}
	}
	f.mlfid = newMLFIDCache(100, 5*time.Minute)
	return f, nil
}

// setupLiterals builds one automaton for the literals every regex needs.
func (f *Filter) setupLiterals() {
	all := append([]*pattern{}, f.fail...)
	all = append(all, f.ignore...)
	if f.pref != nil {
		all = append(all, f.pref)
	}
	ids := make([][][]int, len(all))
	for i, p := range all {
		p.id = i
		ids[i] = p.register(&f.lits)
	}
	f.lits.build()
	for i, p := range all {
		p.reqMasks = nil
		for _, r := range ids[i] {
			p.reqMasks = append(p.reqMasks, f.lits.mask(r))
		}
	}
	f.found = newLitMask((len(f.lits.lits) + 63) / 64)
	f.failBy, f.failAlways = nil, 0
	// failBy holds two requirements a failregex: one with more leaves it unused
	moreThanTwo := func(p *pattern) bool { return len(p.reqMasks) > 2 }
	if len(f.found) == 1 && len(f.fail) <= 64 && !slices.ContainsFunc(f.fail, moreThanTwo) {
		f.failBy = make([][2]uint64, 64)
		for i, p := range f.fail {
			r := [2]uint64{^uint64(0), ^uint64(0)}
			for k, m := range p.reqMasks {
				r[k] = m[0]
			}
			if len(p.reqMasks) == 0 {
				f.failAlways |= 1 << i
			}
			for b := range 64 {
				for k := range 2 {
					if r[k]>>b&1 != 0 {
						f.failBy[b][k] |= 1 << i
					}
				}
			}
		}
	}
	f.failGate = newLitMask(len(f.found))
	for _, p := range f.fail {
		if len(p.reqMasks) == 0 {
			f.failGate = nil
			break
		}
		for w, m := range p.reqMasks[0] {
			f.failGate[w] |= m
		}
	}
}

// failPass returns the failregexes whose literal requirements the
// literals found (w, one word) meet: both of the two (or fewer) each has.
// A failregex meets a requirement when some literal found is in it, so
// the answer is built from the few literals found rather than by going
// through every failregex.
func (f *Filter) failPass(w uint64) uint64 {
	var first, second uint64
	for m := w; m != 0; m &= m - 1 {
		by := &f.failBy[bits.TrailingZeros64(m)]
		first |= by[0]
		second |= by[1]
	}
	return f.failAlways | first&second
}

func hasFailID(p *pattern) bool {
	for _, g := range []string{"fid", "ip4", "ip6", "dns", "mlfid"} {
		if p.has(g) {
			return true
		}
	}
	return false
}

// Timeouts counts backtracking matches abandoned at MatchTimeout, after
// their retry (each counted as no match).
func (f *Filter) Timeouts() int { return f.timeouts }

// Process handles one log line (without its line terminator).
func (f *Filter) Process(line string) Result {
	var res Result
	tl, date, noDate, skip := f.splitDate(line, &res)
	if skip {
		return res
	}
	res.Time = date
	f.findFailure(tl, date, noDate, &res)
	return res
}

// ProcessDated handles a message whose time is already known (from the
// systemd journal, say), as fail2ban's processLine with a date does: no
// date is searched for; dateText is shown before the message in the
// failure's lines (fail2ban uses the formatted time plus a space).
func (f *Filter) ProcessDated(msg, dateText string, t time.Time) Result {
	res := Result{Time: t, HasDate: true}
	tl := tupleLine{pre: "", date: dateText, post: msg}
	f.lastText, f.lastDate = dateText, t
	date := t
	if f.opts.FindTime > 0 {
		now := f.opts.Now()
		if !f.opts.Restoring {
			if secs := int64(date.Sub(now) / time.Second); secs > 60 || secs < -60 {
				date = now
				f.lastDate = date
			}
		} else if date.Before(now.Add(-f.opts.FindTime)) {
			return res
		}
	}
	res.Time = date
	f.findFailure(tl, date, false, &res)
	return res
}

// keepDateText remembers the date text of the last dated line, which
// later undated lines are shown with. With SharedLines the line's storage
// may be written again once its result is out, so the filter keeps a
// copy, made only when the text changes (log lines mostly repeat the
// stamp of the line before).
func (f *Filter) keepDateText(s string) {
	if f.opts.SharedLines {
		if s == f.lastText {
			return
		}
		s = strings.Clone(s)
	}
	f.lastText = s
}

// splitDate finds the date in line, as fail2ban's processLine does, and
// splits the line around it. skip reports an entry too old to matter.
func (f *Filter) splitDate(line string, res *Result) (tl tupleLine, date time.Time, noDate, skip bool) {
	var now time.Time // read lazily: the clock is not free
	clock := func() time.Time {
		if now.IsZero() {
			now = f.opts.Now()
		}
		return now
	}
	recent := func() bool { return !f.lastDate.IsZero() && f.lastDate.After(clock().Add(-time.Minute)) }
	var m datetime.Match
	found := false
	if f.noDate {
		found = true
	} else if f.dates != nil {
		m, found = f.dates.Find(line)
		found = found && m.Start >= 0 && m.End >= m.Start && m.End <= len(line)
	}
	if found {
		tl = tupleLine{line[:m.Start], line[m.Start:m.End], line[m.End:], line}
		switch {
		case m.End > m.Start:
			// a date text that is no valid date (Feb 30, {NONE}) comes
			// with a zero time: fail2ban keeps its last date then
			date = m.Time
			if !date.IsZero() {
				res.HasDate, res.Date = true, m
				f.keepDateText(tl.date)
				f.lastDate = date
			}
		case recent():
			tl = tupleLine{pre: "", date: f.lastText, post: line}
			date = f.lastDate
		default:
			date = clock()
		}
	} else {
		tl = tupleLine{post: line, whole: line}
	}
	if date.IsZero() {
		noDate = true
		if recent() {
			tl = tupleLine{pre: "", date: f.lastText, post: line}
			date = f.lastDate
		} else if f.opts.FindTime > 0 && !f.opts.Restoring {
			date = clock()
		}
	}
	if f.opts.FindTime > 0 && !date.IsZero() {
		if !f.opts.Restoring {
			// fail2ban compares whole seconds, truncated toward zero
			if secs := int64(date.Sub(clock()) / time.Second); secs > 60 || secs < -60 {
				date = clock()
				f.lastDate = date
			}
		} else if date.Before(clock().Add(-f.opts.FindTime)) {
			return tl, date, noDate, true
		}
	}
	return tl, date, noDate, false
}
