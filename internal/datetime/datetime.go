// Package datetime finds and parses the timestamp in a log line the way
// fail2ban's date detector does: its default template set, datepattern with
// strptime directives and anchors, EPOCH/TAI64N/ISO8601, year-less stamps.
package datetime

import (
	"errors"
	"time"
)

// Options configure a Detector.
type Options struct {
	// Pattern is the jail's datepattern option ("" = fail2ban's default
	// templates). It may hold several patterns, one per line.
	Pattern string
	// Location is the logtimezone (nil = time.Local).
	Location *time.Location
	// Now is the clock used for year-less stamps and {NONE}; nil = time.Now.
	Now func() time.Time
}

// Match is a date found in a line.
type Match struct {
	Time time.Time
	// Start and End delimit the date text in the line (the part fail2ban
	// removes before it applies failregex).
	Start, End int
	// Template names the template that matched, as fail2ban-regex prints it.
	Template string
}

// Detector finds dates in lines. It is not safe for concurrent use: like
// fail2ban's, it reorders its templates by hits.
type Detector struct {
	opts Options
}

// ErrNotImplemented is returned while the detector is under construction.
var ErrNotImplemented = errors.New("datetime: not implemented")

// New compiles a Detector.
func New(opts Options) (*Detector, error) {
	return nil, ErrNotImplemented
}

// Find returns the first date in line.
func (d *Detector) Find(line string) (Match, bool) {
	return Match{}, false
}

// NoDate reports whether the pattern is {NONE}: lines carry no date and get
// the current time.
func (d *Detector) NoDate() bool { return false }
