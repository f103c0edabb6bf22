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
	"container/heap"
	"context"
	"encoding/binary"
	"log/slog"
	"math"
	"net/netip"
	"sync"
	"time"
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
	byID        map[string]*entry
	expiry      expiryHeap
	stats       Stats
	calls       int64 // AddFailure calls (Fail2banPurge)
	nextPurge   int64 // unix ns (Fail2banPurge)
	noEvidence  bool  // see KeepEvidence
}

// entry is the state of one failure id: fail2ban's FailTicket reduced to
// what the decision needs. The decayed retry count replaces a ring of
// failure times: fail2ban does not keep a sliding window.
//
// Under a flood there is one per attacker (a banned address's later
// failures still count, as in fail2ban), so it is kept to 96 bytes: the
// matched lines and fields, which only tickets read, are behind a pointer
// that stays nil while the jail keeps no evidence (KeepEvidence).
type entry struct {
	id       string
	first    int64 // start of the rate window, unix ns (log time)
	last     int64 // latest failure, unix ns (log time)
	retry    float64
	addr     netip.Addr
	ev       *evidence
	failures int32
	idx      int32 // position in the expiry heap
	noFail   bool  // only F-NOFAIL matches so far
}

// evidence is what a ticket carries beyond the counts: the newest
// MaxMatches matched lines, and the named groups of the first failure.
type evidence struct {
	matches []string
	fields  fieldList
}

func (e *entry) matches() []string {
	if e.ev == nil {
		return nil
	}
	return e.ev.matches
}

func (e *entry) fields() fieldList {
	if e.ev == nil {
		return ""
	}
	return e.ev.fields
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
		byID:        make(map[string]*entry),
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
// the server turns it off while no action of any jail could (native
// firewall backends only), which saves most of an entry's memory under a
// flood. Entries already tracked keep what they have; the counts and ban
// decisions are the same either way.
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
	byAddr := addr.IsValid() && (id == "" || id == f.Host || id == addr.String() || id == f.Addr.String())
	if byAddr {
		// The canonical text, IPv4-mapped addresses as IPv4: fail2ban's
		// IPAddr does the same to its ids.
		id = addr.String()
		if j.cfg.CountByPrefix {
			id = j.banPrefix(addr, f.Prefix).String()
		}
	}

	ignored, ignoreErr := false, error(nil)
	j.mu.Lock()
	ign := j.cfg.Ignore // Retune may replace it
	j.mu.Unlock()
	if ign != nil && checkIgnore && !f.NoFail {
		ignored, ignoreErr = ign.Contains(ctx, Query{Addr: addr, ID: id, Fields: f.Fields, Jail: j.cfg.Name})
		switch {
		case ignoreErr != nil:
			j.log.Warn("ignore check failed", "id", id, "err", ignoreErr)
		case ignored:
			j.log.Debug("ignored", "id", id)
		}
	}

	j.mu.Lock()
	defer j.mu.Unlock()
	now := j.cfg.Clock()
	var tk Ticket
	banned := false
	switch {
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
			tk, banned = j.add(id, addr, t, f, count)
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
	return tk, banned
}

// service is fail2ban's Filter.performSvc: a purge at most every 5 s.
func (j *Jail) service(now int64) {
	if now >= j.nextPurge {
		j.nextPurge = now + int64(5*time.Second)
		j.purge(now)
	}
}

func (j *Jail) add(id string, addr netip.Addr, t int64, f Failure, count int) (Ticket, bool) {
	e := j.byID[id]
	if f.NoFail {
		j.stats.NoFail++
		if e == nil {
			e = j.insert(id, addr, t, f.Fields)
			e.noFail = true
		} else if e.noFail && t > e.last {
			e.last = t
			heap.Fix(&j.expiry, int(e.idx))
		}
		j.keepMatches(e, f.Lines)
		return Ticket{}, false
	}
	j.stats.Failures++
	switch {
	case e == nil:
		e = j.insert(id, addr, t, f.Fields)
		e.retry, e.failures = float64(count), 1
	case e.noFail:
		e.noFail = false
		e.first, e.retry, e.failures = t, float64(count), 1
		e.addr = addr
		j.setFields(e, f.Fields)
		if t != e.last {
			e.last = t
			heap.Fix(&j.expiry, int(e.idx))
		}
	default:
		if t > e.last {
			// fail2ban's FailTicket.adjustTime: once failures span
			// more than findtime, scale the count to the rate seen
			// over the whole span and slide the window start.
			if e.first < t-j.findTime {
				span := float64(t-e.first) / 1e9
				e.retry = math.RoundToEven(e.retry / span * (float64(j.findTime) / 1e9))
				e.first = t - j.findTime
			}
			e.last = t
			heap.Fix(&j.expiry, int(e.idx))
		}
		e.retry += float64(count)
		e.failures++
	}
	j.keepMatches(e, f.Lines)
	if e.retry < float64(j.cfg.MaxRetry) && j.cfg.BadHistory != nil {
		if h, ok := j.cfg.BadHistory(id); ok && h.Count > 0 && (h.Last.IsZero() || t > h.Last.UnixNano()) {
			e.retry += RetryBoost(h.Count, j.cfg.MaxRetry)
		}
	}
	if e.retry < float64(j.cfg.MaxRetry) {
		return Ticket{}, false
	}
	j.remove(e)
	j.stats.Bans++
	tk := Ticket{
		ID:       id,
		Addr:     e.addr,
		Time:     time.Unix(0, e.last),
		Failures: int(e.failures),
		Retry:    int(e.retry),
		Matches:  e.matches(),
		Fields:   e.fields().toMap(),
	}
	if e.addr.IsValid() {
		tk.Prefix = j.banPrefix(e.addr, f.Prefix)
	}
	j.log.Debug("ban", "id", id, "failures", tk.Failures)
	return tk, true
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

// keepMatches appends lines, keeping the newest MaxMatches.
func (j *Jail) keepMatches(e *entry, lines []string) {
	max := j.cfg.MaxMatches
	if max <= 0 || len(lines) == 0 || j.noEvidence {
		return
	}
	if e.ev == nil {
		e.ev = &evidence{}
	}
	ev := e.ev
	ev.matches = append(ev.matches, lines...)
	if over := len(ev.matches) - max; over > 0 {
		// Copy down rather than reslice so the array does not grow
		// for ever under a steady stream.
		n := copy(ev.matches, ev.matches[over:])
		clear(ev.matches[n:])
		ev.matches = ev.matches[:n]
	}
}

// setFields replaces e's fields with those of a failure, unless the jail
// keeps no evidence.
func (j *Jail) setFields(e *entry, m map[string]string) {
	switch {
	case j.noEvidence || len(m) == 0 && e.ev == nil:
	case e.ev == nil:
		e.ev = &evidence{fields: compactFields(m)}
	default:
		e.ev.fields = compactFields(m)
	}
}

func (j *Jail) insert(id string, addr netip.Addr, t int64, fields map[string]string) *entry {
	for len(j.byID) >= j.cfg.MaxEntries && len(j.expiry) > 0 {
		j.remove(j.expiry[0])
		j.stats.Evicted++
	}
	e := &entry{id: id, addr: addr, first: t, last: t}
	j.setFields(e, fields)
	j.byID[id] = e
	heap.Push(&j.expiry, e)
	return e
}

func (j *Jail) remove(e *entry) {
	heap.Remove(&j.expiry, int(e.idx))
	delete(j.byID, e.id)
}

// purge drops ids whose latest failure is findtime or more before now
// (fail2ban's FailManager.cleanup).
func (j *Jail) purge(now int64) {
	limit := now - j.findTime
	for len(j.expiry) > 0 && j.expiry[0].last <= limit {
		j.remove(j.expiry[0])
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
	if e := j.byID[id]; e != nil {
		j.remove(e)
	}
	j.mu.Unlock()
}

// Failures returns the current retry count of an id (0 when unknown).
func (j *Jail) Failures(id string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	if e := j.byID[id]; e != nil && !e.noFail {
		return int(e.retry)
	}
	return 0
}

// Stats returns the jail's counters.
func (j *Jail) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.stats
	s.Tracked = len(j.byID)
	return s
}

// expiryHeap orders entries by their latest failure, oldest first.
type expiryHeap []*entry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(a, b int) bool { return h[a].last < h[b].last }
func (h expiryHeap) Swap(a, b int) {
	h[a], h[b] = h[b], h[a]
	h[a].idx = int32(a)
	h[b].idx = int32(b)
}
func (h *expiryHeap) Push(x any) {
	e := x.(*entry)
	e.idx = int32(len(*h))
	*h = append(*h, e)
}
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.idx = -1
	return e
}
