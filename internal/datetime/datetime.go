// Package datetime finds and parses the timestamp in a log line the way
// fail2ban's date detector does: its default template set, datepattern with
// strptime directives and anchors, EPOCH/TAI64N/ISO8601, year-less stamps.
//
// Templates are compiled to fail2ban's own regexes (Python dialect) and run
// by a small backtracking engine with Python's match order (engine.go);
// regexp2 takes the rare patterns it cannot parse. Hand-written matchers
// take the common syslog, ISO 8601 and Apache stamps (fast.go), and the
// template choice follows fail2ban's DateDetector.matchTime (detect.go).
// The differential tests run fail2ban itself on the same lines.
package datetime

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Options configure a Detector.
type Options struct {
	// Pattern is the jail's datepattern option ("" = fail2ban's default
	// templates). It may hold several patterns, one per line.
	Pattern string
	// Location is the logtimezone (nil = time.Local). Stamps without a zone
	// are read in it. Like fail2ban's logtimezone it also makes year-less
	// stamps compare against the local clock in UTC terms.
	Location *time.Location
	// Now is the clock used for year-less stamps and {NONE}; nil = time.Now.
	Now func() time.Time
}

// Match is a date found in a line.
//
// Find reports ok=true whenever a template matched, and then Start:End is
// the text fail2ban cuts out of the line. Time is zero when that text is
// empty (datepattern {NONE} or an optional pattern: the caller uses the
// last known date or now) or does not form a valid date (Feb 30, 25:00,
// an unknown zone: fail2ban logs "failed to parse timeText" and treats
// the line as undated, without remembering it as the last date).
type Match struct {
	Time time.Time
	// Start and End delimit the date text in the line (the part fail2ban
	// removes before it applies failregex).
	Start, End int
	// Template names the template that matched, as fail2ban-regex prints it.
	Template string
}

// TemplateStat is one template of a detector with its hit count, in the
// detector's current order (for fail2ban-regex's summary; the other
// fields are what its --VD option prints).
type TemplateStat struct {
	Name string
	Hits int
	// Weight is the current sort weight (hits * BaseWeight / distance),
	// BaseWeight 100 for the line-anchored copies of default templates.
	Weight, BaseWeight float64
	Pattern            string // the datepattern source, "" for EPOCH/TAI64N
	Regex              string // the final regex, in Python's dialect
}

// Detector finds dates in lines. It is not safe for concurrent use: like
// fail2ban's, it reorders its templates by hits.
type Detector struct {
	opts     Options
	loc      *time.Location
	fixedLoc bool
	now      func() time.Time
	b        builder
	noDate   bool

	list  []*entry
	names map[string]bool

	// fail2ban's memory of the last match: its start and end and the
	// characters around them, the template index and the first unused slot.
	lastPos      int
	lastBefore   rune
	lastAt       rune
	lastEnd      int
	lastEndIn    rune
	lastEndAfter rune
	lastIdx      int
	firstUnused  int

	foundCaps []int // snapshot of a reserved candidate's groups

	// the clock's local wall time (naive seconds) and date, per second
	nowSec, nowWall           int64
	nowYear, nowMonth, nowDay int
	nowValid                  bool
	zc                        zoneCache // offsets of loc
	conv                      convMemo  // the last conversion (convert)
	stamp                     stampMemo // the last line's stamp (Find)
	noStampMemo               bool      // tests: never use stamp
	viaFast                   bool      // searchLimit's last hit came from a fast matcher
}

// entry is a template with its per-detector statistics.
type entry struct {
	t        *template
	hits     int
	lastUsed float64
	distance int
}

func (e *entry) weight() float64 {
	d := e.distance
	if d < 1 {
		d = 1
	}
	return float64(e.hits) * e.t.weight / float64(d)
}

// ErrNotImplemented was returned while the detector was under construction.
//
// Deprecated: New no longer returns it.
var ErrNotImplemented = errors.New("datetime: not implemented")

const (
	unset       = 0x7fffffff
	noRune rune = -1
)

// New compiles a Detector.
func New(opts Options) (*Detector, error) {
	d := &Detector{
		opts:    opts,
		loc:     opts.Location,
		now:     opts.Now,
		names:   map[string]bool{},
		lastPos: 1, lastBefore: noRune, lastAt: noRune,
		lastEnd: unset, lastEndIn: noRune, lastEndAfter: noRune,
		lastIdx: unset,
	}
	if d.loc == nil {
		d.loc = time.Local
	} else {
		d.fixedLoc = true
	}
	d.zc.loc = d.loc
	if d.now == nil {
		d.now = time.Now
	}
	d.b.ymax = d.now().Year() + 3
	d.b.dirs = directives(d.b.ymax)
	var lines []string
	for _, l := range strings.Split(opts.Pattern, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	for i, l := range lines {
		if err := d.appendPattern(l); err != nil {
			return nil, fmt.Errorf("datepattern line %d: %w", i+1, err)
		}
	}
	if len(d.list) == 0 {
		if err := d.addDefaults(nil, ""); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func (d *Detector) add(t *template, ignoreDup bool) error {
	if d.names[t.name] {
		if ignoreDup {
			return nil
		}
		return fmt.Errorf("%w: there is already a template with name %q", ErrBadPattern, t.name)
	}
	d.names[t.name] = true
	d.list = append(d.list, &entry{t: t, distance: unset})
	if n := 2 * t.ncap(); n > len(d.foundCaps) {
		d.foundCaps = make([]int, n)
	}
	return nil
}

func (t *template) ncap() int {
	if t.m != nil {
		return t.m.prog.ncap
	}
	return 0
}

// appendPattern adds one datepattern line.
func (d *Detector) appendPattern(p string) error {
	key := patternKey(p)
	switch {
	case key == "{^LN-BEG}" || key == "{DEFAULT}":
		var filter func(*template) bool
		if key == "{^LN-BEG}" {
			filter = func(t *template) bool { return t.flags&flagLineBegin != 0 }
		}
		return d.addDefaults(filter, "")
	case strings.Contains(key, "{DATE}") && datePrematch.MatchString(p):
		return d.addDefaults(nil, p)
	case key == "{NONE}":
		t, err := newPatternTemplate("{UNB}^", d.b.dirs)
		if err != nil {
			return err
		}
		d.noDate = true
		return d.add(t, false)
	case key == "ISO8601":
		// Not a fail2ban keyword (fail2ban would read it literally):
		// ISO 8601 / RFC 3339 stamps with an optional fraction and zone.
		t, err := newPatternTemplate(`%Y-%m-%d[T ]%H:%M:%S(?:\.%f)?(?:%z)?`, d.b.dirs)
		if err != nil {
			return err
		}
		t.name = "ISO8601"
		return d.add(t, false)
	}
	t, err := d.b.fromString(p, key)
	if err != nil {
		return err
	}
	// fail2ban shares template objects process-wide; a datepattern equal
	// to one of the line-anchored default templates gets that object, and
	// with it the weight 100 the default set gave it.
	if d.b.isAnchoredDefault(t.name) {
		t.weight = 100
	}
	return d.add(t, false)
}

// addDefaults appends the default templates (all, or those filter keeps);
// with pre, the plain defaults are embedded at {DATE} in pre.
func (d *Detector) addDefaults(filter func(*template) bool, pre string) error {
	ignoreDup := len(d.list) > 0
	var list []*template
	var err error
	if pre == "" {
		list, err = d.b.defaults()
	} else {
		list, err = d.b.baseDefaults()
	}
	if err != nil {
		return err
	}
	for _, t := range list {
		if filter != nil && !filter(t) {
			continue
		}
		if pre != "" {
			wrap := func(s string) string { return replaceDate(pre, unboundPattern(s)) }
			if t, err = d.b.anchored(t, wrap); err != nil {
				return err
			}
		}
		if err := d.add(t, ignoreDup); err != nil {
			return err
		}
	}
	return nil
}

// NoDate reports whether the pattern is {NONE}: lines carry no date and get
// the current time.
func (d *Detector) NoDate() bool { return d.noDate }

// Templates lists the templates in their current order with their hits.
func (d *Detector) Templates() []TemplateStat {
	out := make([]TemplateStat, len(d.list))
	for i, e := range d.list {
		out[i] = TemplateStat{Name: e.t.name, Hits: e.hits, Weight: e.weight(), BaseWeight: e.t.weight,
			Pattern: e.t.pattern, Regex: e.t.regex}
	}
	return out
}

// Find returns the first date in line.
func (d *Detector) Find(line string) (Match, bool) {
	if !d.noStampMemo && d.stamp.same(line) {
		d.repeat(line)
		return d.stamp.m, true
	}
	d.stamp.valid = false
	e, gs, ge, now, ok := d.matchTime(line)
	if !ok {
		return Match{}, false
	}
	m := Match{Start: gs, End: ge, Template: e.t.name}
	if gs < 0 || ge <= gs {
		if gs < 0 {
			m.Start, m.End = 0, 0
		}
		d.stamp.valid = false
		return m, true
	}
	switch e.t.kind {
	case kindEpoch:
		m.Time, _ = convertEpoch(e.t, line)
		d.stamp.valid = false
	case kindTAI64N:
		m.Time, _ = convertTAI64N(e.t, line)
		d.stamp.valid = false
	default:
		m.Time, _ = d.convert(e.t, line, now)
		d.stamp.stampTime(m, now)
	}
	return m, true
}
