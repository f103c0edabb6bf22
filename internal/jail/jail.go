// Package jail tracks the failures one jail's filter finds and decides when
// an address (or failure id) is to be banned, with fail2ban's exact time
// semantics: a per-id retry count that decays by rate once failures span
// more than findtime, log time rather than wall time, maxretry, maxmatches,
// ignoreip/ignoreself/ignorecommand, and the bantime.increment rules.
//
// A Jail is a plain data structure driven by its caller: no goroutines, an
// injected clock, and I/O only behind the small interfaces of IgnoreList.
package jail

import (
	"context"
	"encoding/binary"
	"log/slog"
	"math"
	"net/netip"
	"strings"
	"sync"
	"time"

	"warden/internal/logfmt"
)

// Defaults used when a Config field is zero.
const (
	DefaultMaxRetry   = 5
	DefaultFindTime   = 10 * time.Minute
	DefaultMaxEntries = 1 << 18
)

// Config configures a Jail. Zero values take the defaults above; the config
// package supplies the jail.conf values.
type Config struct {
	Name     string
	MaxRetry int           // maxretry
	FindTime time.Duration // findtime
	// MaxMatches is maxmatches: how many matched lines a ticket keeps
	// (the newest). Zero keeps none, as in fail2ban; jail.conf's default
	// is the value of maxretry.
	MaxMatches int
	// Ignore is the ignoreip/ignoreself/ignorecommand list; nil ignores
	// nothing.
	Ignore *IgnoreList
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// BanPrefix4 and BanPrefix6 widen a ban to the covering prefix of
	// that length (0: the single address). Beyond fail2ban.
	BanPrefix4, BanPrefix6 int
	// CountByPrefix counts failures per covering prefix instead of per
	// address (only for failures whose id is their address).
	CountByPrefix bool
	// MaxEntries caps the ids tracked at once; at the cap the entry
	// seen least recently (by log time) is evicted and counted.
	MaxEntries int
	// BadHistory, when set, looks up earlier bans of an id. Set it only
	// with bantime.increment: fail2ban's observer then counts a failure of
	// a known offender as more than one (see RetryBoost).
	BadHistory func(id string) (History, bool)
	// Fail2banPurge forgets expired ids on fail2ban's schedule instead
	// of before every failure: at most once per 5 s of clock, looked at
	// after a ban and after every 100th call (fail2ban counts log lines,
	// the jail sees failures, ignored ones included). An id that expired but
	// was not purged yet then goes through the rate adjustment rather
	// than starting afresh, as in fail2ban. For differential tests and
	// replays that must match fail2ban to the line.
	Fail2banPurge bool
	Logger        *slog.Logger
}

// Failure is one failure a filter found; the server fills it from a
// filter.Failure field by field (the jail does not import the filter, so
// it can be driven by replays and tests alone).
type Failure struct {
	Host   string       // the host as matched
	Addr   netip.Addr   // the address, when Host is one
	Prefix netip.Prefix // set when the filter matched a <CIDR>/<SUBNET>
	ID     string       // fail2ban's fid: <F-ID>, else the host
	Time   time.Time    // log time; zero means now
	Fields map[string]string
	Lines  []string
	NoFail bool // F-NOFAIL: collect the lines, count nothing
}

// Ticket is a ban decision: the id reached maxretry.
type Ticket struct {
	ID     string
	Addr   netip.Addr   // invalid when the id is not an address
	Prefix netip.Prefix // what to ban: Addr widened by BanPrefix4/6
	// Time is the ticket time: the latest failure time (log time).
	Time     time.Time
	Failures int // failures seen (fail2ban's "failures" / attempts)
	Retry    int // the decayed count that reached maxretry
	Matches  []string
	Fields   map[string]string // named groups of the first failure
}

// Stats are a jail's counters since New.
type Stats struct {
	Failures     int64 // failures counted (not ignored, not obsolete)
	NoFail       int64 // F-NOFAIL matches collected
	Ignored      int64 // dropped by the ignore list
	IgnoreErrors int64 // ignore checks that failed (treated as not ignored)
	Obsolete     int64 // older than findtime while not in operation
	Clamped      int64 // stamps replaced by now (future, or odd in operation)
	Bans         int64 // tickets issued
	Expired      int64 // ids dropped after findtime without failures
	Evicted      int64 // ids dropped at the MaxEntries cap
	Tracked      int   // ids tracked now
}

// Jail is one jail's failure tracker. Its methods are safe for concurrent
// use; the ignore checks run outside the lock.
type Jail struct {
	cfg      Config
	findTime int64 // nanoseconds
	log      *slog.Logger

	mu          sync.Mutex
	inOperation bool
	t           *tracker
	stats       Stats
	calls       int64 // AddFailure calls (Fail2banPurge)
	nextPurge   int64 // unix ns (Fail2banPurge)
	noEvidence  bool  // see KeepEvidence
}

// evidence is what a ticket carries beyond the counts: the newest
// MaxMatches matched lines, and the named groups of the first failure.
type evidence struct {
	matches []string
	fields  fieldList
}

func (ev *evidence) lines() []string {
	if ev == nil {
		return nil
	}
	return ev.matches
}

func (ev *evidence) named() fieldList {
	if ev == nil {
		return ""
	}
	return ev.fields
}

// fieldList is a failure's named groups packed in one string, each name
// and value preceded by its length (a uvarint): one small allocation
// instead of the map the filter hands over (about 300 bytes) or a slice of
// pairs, and no reference to the filter's larger strings. Entries are many
// under a flood. Ticket turns it back into a map.
type fieldList string

func compactFields(m map[string]string) fieldList {
	if len(m) == 0 {
		return ""
	}
	n := 0
	for k, v := range m {
		n += len(k) + len(v) + 2*binary.MaxVarintLen32
	}
	b := make([]byte, 0, n)
	for k, v := range m {
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	return fieldList(b)
}

func (l fieldList) toMap() map[string]string {
	if l == "" {
		return nil
	}
	m := make(map[string]string)
	rest := string(l)
	next := func() string {
		n, w := binary.Uvarint([]byte(rest[:min(len(rest), binary.MaxVarintLen64)]))
		if w <= 0 || uint64(len(rest)-w) < n {
			rest = ""
			return ""
		}
		s := rest[w : w+int(n)]
		rest = rest[w+int(n):]
		return s
	}
	for rest != "" {
		k := next()
		m[k] = next()
	}
	return m
}

// New returns a jail; it starts in operation (see SetInOperation).
func New(cfg Config) *Jail {
	if cfg.MaxRetry <= 0 {
		cfg.MaxRetry = DefaultMaxRetry
	}
	if cfg.FindTime <= 0 {
		cfg.FindTime = DefaultFindTime
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	lg := cfg.Logger
	if lg == nil {
		lg = slog.New(slog.DiscardHandler)
	}
	return &Jail{
		cfg:         cfg,
		findTime:    int64(cfg.FindTime),
		log:         lg.With("jail", cfg.Name),
		inOperation: true,
		t:           newTracker(),
	}
}

// Name returns the jail's name.
func (j *Jail) Name() string { return j.cfg.Name }

// MaxRetry returns the effective maxretry.
func (j *Jail) MaxRetry() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.cfg.MaxRetry
}

// SetInOperation switches between reading old log lines at start-up
// (false: lines older than findtime are dropped) and following the log
// live (true: a stamp more than a minute away from now is taken as now,
// fail2ban's latency/time-zone rule).
func (j *Jail) SetInOperation(on bool) {
	j.mu.Lock()
	j.inOperation = on
	j.mu.Unlock()
}

// KeepEvidence says whether tickets carry the failures' matched lines and
// fields (the default). Only actions and the database's history read them;
// while no action of any jail could (native firewall backends only), the
// server turns it off for a flood's large batches, which saves most of an
// entry's memory then. Entries already tracked keep what they have; the
// counts and ban decisions are the same either way.
func (j *Jail) KeepEvidence(on bool) {
	j.mu.Lock()
	j.noEvidence = !on
	j.mu.Unlock()
}

// AddFailure records one failure and returns a ticket when its id reached
// maxretry; the id's failures are then forgotten, as fail2ban does.
func (j *Jail) AddFailure(ctx context.Context, f Failure) (Ticket, bool) {
	return j.addFailure(ctx, f, 1, true)
}

// AddAttempt is fail2ban's "set <jail> attempt": an operator reports a
// failure of f.Addr (at f.Time, zero: now) worth len(f.Lines) failures, at
// least one. Like fail2ban it skips the ignore list.
func (j *Jail) AddAttempt(ctx context.Context, f Failure) (Ticket, bool) {
	f.NoFail = false
	return j.addFailure(ctx, f, max(1, len(f.Lines)), false)
}

func (j *Jail) addFailure(ctx context.Context, f Failure, count int, checkIgnore bool) (Ticket, bool) {
	addr := f.Addr.Unmap()
	id := f.ID
	if id == "" {
		id = f.Host
	}
	byAddr := addr.IsValid() && (id == "" || id == f.Host || isText(id, addr) || isText(id, f.Addr))
	idIsAddr := false // id is addr's canonical text
	if byAddr {
		// The canonical text, IPv4-mapped addresses as IPv4: fail2ban's
		// IPAddr does the same to its ids. A host matched as that text
		// already (nearly every line) is kept rather than formatted
		// again: the tracker finds it by address, and a ticket copies it.
		if !isText(id, addr) {
			id = addr.String()
		}
		idIsAddr = true
		if j.cfg.CountByPrefix {
			id, idIsAddr = j.banPrefix(addr, f.Prefix).String(), false
		}
	}

	ignored, ignoreErr := false, error(nil)
	j.mu.Lock()
	ign := j.cfg.Ignore // Retune may replace it
	// A start-up line older than findtime is dropped before the ignore
	// check, as fail2ban does: no "Ignore" line, no ignorecommand run.
	obsolete := !j.inOperation && !f.Time.IsZero() && f.Time.Before(j.cfg.Clock().Add(-j.cfg.FindTime))
	j.mu.Unlock()
	if ign != nil && checkIgnore && !f.NoFail && !obsolete {
		var by string
		by, ignored, ignoreErr = ign.Check(ctx, Query{Addr: addr, ID: id, Fields: f.Fields, Jail: j.cfg.Name})
		switch {
		case ignoreErr != nil:
			j.log.Warn("ignore check failed", "id", id, "err", ignoreErr)
		case ignored && by != "":
			j.logEvent(ctx, j.cfg.Clock(), logfmt.MsgIgnore, slog.String("id", id), slog.String("by", by))
		}
	}

	j.mu.Lock()
	now := j.cfg.Clock()
	var tk Ticket
	banned := false
	var at int64 // the counted failure's time (log time, stamped)
	counted := false
	switch {
	case obsolete: // even if a Retune lengthened findtime since
		j.stats.Obsolete++
	case ignored:
		j.stats.Ignored++
	default:
		if ignoreErr != nil {
			j.stats.IgnoreErrors++
		}
		if t, ok := j.stamp(f.Time, now); ok {
			if !j.cfg.Fail2banPurge {
				j.purge(now.UnixNano())
			}
			tk, banned = j.add(id, addr, idIsAddr, t, f, count)
			at, counted = t, !f.NoFail
		}
	}
	if j.cfg.Fail2banPurge {
		if banned {
			j.service(now.UnixNano())
		}
		if j.calls++; j.calls%100 == 0 {
			j.service(now.UnixNano())
		}
	}
	j.mu.Unlock()
	if counted {
		// fail2ban's "[jail] Found ID - TIME" for each failure it counts
		// ("Attempt" for an operator's), written before the ban's line.
		msg := logfmt.MsgFound
		if !checkIgnore {
			msg = logfmt.MsgAttempt
		}
		j.logEvent(ctx, now, msg, slog.String("id", id), slog.Time("failed", time.Unix(0, at)))
	}
	return tk, banned
}

// service is fail2ban's Filter.performSvc: a purge at most every 5 s.
func (j *Jail) service(now int64) {
	if now >= j.nextPurge {
		j.nextPurge = now + int64(5*time.Second)
		j.purge(now)
	}
}

func (j *Jail) add(id string, addr netip.Addr, idIsAddr bool, t int64, f Failure, count int) (Ticket, bool) {
	tr := j.t
	var known netip.Addr
	if idIsAddr {
		known = addr
	}
	s, found := tr.find(id, known)
	if f.NoFail {
		j.stats.NoFail++
		if !found {
			s = j.insert(id, addr, idIsAddr, t, f.Fields)
			tr.at(s).flags |= recNoFail
		} else if r := tr.at(s); r.flags&recNoFail != 0 && t > r.last {
			r.last = t
			tr.heap.Fix(s)
		}
		j.keepMatches(s, f.Lines)
		return Ticket{}, false
	}
	j.stats.Failures++
	switch {
	case !found:
		s = j.insert(id, addr, idIsAddr, t, f.Fields)
		r := tr.at(s)
		r.retry, r.failures = count32(int64(count)), 1
	case tr.at(s).flags&recNoFail != 0:
		r := tr.at(s)
		r.flags &^= recNoFail
		r.first, r.retry, r.failures = t, count32(int64(count)), 1
		tr.setAddr(s, addr)
		j.setFields(s, f.Fields)
		if t != r.last {
			r.last = t
			tr.heap.Fix(s)
		}
	default:
		r := tr.at(s)
		if t > r.last {
			// fail2ban's FailTicket.adjustTime: once failures span
			// more than findtime, scale the count to the rate seen
			// over the whole span and slide the window start.
			if r.first < t-j.findTime {
				span := float64(t-r.first) / 1e9
				r.retry = int32(math.RoundToEven(float64(r.retry) / span * (float64(j.findTime) / 1e9)))
				r.first = t - j.findTime
			}
			r.last = t
			tr.heap.Fix(s)
		}
		r.retry = count32(int64(r.retry) + int64(count))
		r.failures++
	}
	j.keepMatches(s, f.Lines)
	r := tr.at(s)
	if int(r.retry) < j.cfg.MaxRetry && j.cfg.BadHistory != nil {
		if h, ok := j.cfg.BadHistory(id); ok && h.Count > 0 && (h.Last.IsZero() || t > h.Last.UnixNano()) {
			r.retry = count32(int64(r.retry) + int64(RetryBoost(h.Count, j.cfg.MaxRetry)))
		}
	}
	if int(r.retry) < j.cfg.MaxRetry {
		return Ticket{}, false
	}
	ev := tr.ev[s]
	tk := Ticket{
		ID:       strings.Clone(id), // id may be a slice of its log line
		Addr:     tr.addr(s),
		Time:     time.Unix(0, r.last),
		Failures: int(r.failures),
		Retry:    int(r.retry),
		Matches:  ev.lines(),
		Fields:   ev.named().toMap(),
	}
	tr.remove(s)
	j.stats.Bans++
	if tk.Addr.IsValid() {
		tk.Prefix = j.banPrefix(tk.Addr, f.Prefix)
	}
	if j.log.Enabled(context.Background(), slog.LevelDebug) {
		j.log.Debug("ban", "id", id, "failures", tk.Failures)
	}
	return tk, true
}

// isText reports whether s is a's text (String), without formatting it
// on the heap.
func isText(s string, a netip.Addr) bool {
	var buf [64]byte
	return string(a.AppendTo(buf[:0])) == s
}

// stamp applies fail2ban's time rules to a failure's log time. It returns
// false for a line to drop.
func (j *Jail) stamp(t, now time.Time) (int64, bool) {
	if t.IsZero() {
		return now.UnixNano(), true
	}
	if j.inOperation {
		// fail2ban truncates the difference to whole seconds and
		// tolerates up to 60 of them.
		if d := t.Sub(now) / time.Second; d > 60 || d < -60 {
			j.stats.Clamped++
			return now.UnixNano(), true
		}
	} else if t.Before(now.Add(-j.cfg.FindTime)) {
		j.stats.Obsolete++
		return 0, false
	}
	if t.After(now) {
		j.stats.Clamped++
		return now.UnixNano(), true
	}
	return t.UnixNano(), true
}

func (j *Jail) banPrefix(a netip.Addr, given netip.Prefix) netip.Prefix {
	bits := a.BitLen()
	want := j.cfg.BanPrefix6
	if a.Is4() {
		want = j.cfg.BanPrefix4
	}
	if want > 0 && want < bits {
		bits = want
	}
	if given.IsValid() && given.Addr().Unmap().Is4() == a.Is4() && given.Bits() < bits {
		bits = given.Bits()
	}
	p, _ := a.Prefix(bits)
	return p
}

// keepMatches appends lines to record s's, keeping the newest MaxMatches.
func (j *Jail) keepMatches(s int32, lines []string) {
	max := j.cfg.MaxMatches
	if max <= 0 || len(lines) == 0 || j.noEvidence {
		return
	}
	ev := j.t.ev[s]
	if ev == nil {
		ev = &evidence{}
		j.t.ev[s] = ev
	}
	ev.matches = append(ev.matches, lines...)
	if over := len(ev.matches) - max; over > 0 {
		// Copy down rather than reslice so the array does not grow
		// for ever under a steady stream.
		n := copy(ev.matches, ev.matches[over:])
		clear(ev.matches[n:])
		ev.matches = ev.matches[:n]
	}
}

// setFields replaces record s's fields with those of a failure, unless the
// jail keeps no evidence.
func (j *Jail) setFields(s int32, m map[string]string) {
	ev := j.t.ev[s]
	switch {
	case j.noEvidence || len(m) == 0 && ev == nil:
	case ev == nil:
		j.t.ev[s] = &evidence{fields: compactFields(m)}
	default:
		ev.fields = compactFields(m)
	}
}

// insert adds a record for id, first evicting the ids seen least recently
// while the jail is at MaxEntries.
func (j *Jail) insert(id string, addr netip.Addr, idIsAddr bool, t int64, fields map[string]string) int32 {
	for j.t.n >= j.cfg.MaxEntries {
		old, ok := j.t.heap.Top()
		if !ok {
			break
		}
		j.t.remove(old)
		j.stats.Evicted++
	}
	s := j.t.insert(id, addr, idIsAddr)
	r := j.t.at(s)
	r.first, r.last = t, t
	j.setFields(s, fields)
	j.t.heap.Push(s)
	return s
}

// purge drops ids whose latest failure is findtime or more before now
// (fail2ban's FailManager.cleanup).
func (j *Jail) purge(now int64) {
	limit := now - j.findTime
	for {
		s, ok := j.t.heap.Top()
		if !ok || j.t.at(s).last > limit {
			return
		}
		j.t.remove(s)
		j.stats.Expired++
	}
}

// Purge drops expired ids now; AddFailure also does it on every call.
func (j *Jail) Purge() {
	j.mu.Lock()
	j.purge(j.cfg.Clock().UnixNano())
	j.mu.Unlock()
}

// Forget drops the failures of one id (fail2ban's delFailure).
func (j *Jail) Forget(id string) {
	j.mu.Lock()
	if s, ok := j.t.find(id, netip.Addr{}); ok {
		j.t.remove(s)
	}
	j.mu.Unlock()
}

// Failures returns the current retry count of an id (0 when unknown).
func (j *Jail) Failures(id string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	if s, ok := j.t.find(id, netip.Addr{}); ok && j.t.at(s).flags&recNoFail == 0 {
		return int(j.t.at(s).retry)
	}
	return 0
}

// Stats returns the jail's counters.
func (j *Jail) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.stats
	s.Tracked = j.t.n
	return s
}
