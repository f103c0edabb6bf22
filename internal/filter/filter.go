// Package filter compiles fail2ban filter definitions (failregex,
// ignoreregex, prefregex with <HOST>, <F-*> and friends) into matchers and
// applies them to log lines, including multi-line buffering.
package filter

import (
	"errors"
	"net/netip"
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

// Options are runtime settings for a compiled Filter.
type Options struct {
	Location *time.Location // logtimezone
	Now      func() time.Time
}

// Failure is one failure found in the log.
type Failure struct {
	Host   string     // the host text as matched (address or name)
	Addr   netip.Addr // the address, if Host is one
	ID     string     // fail2ban's fid: <F-ID>, else the host
	Time   time.Time
	Fields map[string]string // named groups: "user", "alt_user", "content", ...
	Lines  []string          // the line(s) that made up the failure
	Regex  int               // index into Definition.FailRegex
	NoFail bool
}

// Result is what one line produced.
type Result struct {
	Time     time.Time
	HasDate  bool
	Date     datetime.Match
	Ignored  bool // matched an ignoreregex
	Failures []Failure
}

// Filter is a compiled filter. It holds multi-line state and is not safe for
// concurrent use.
type Filter struct{}

// ErrNotImplemented is returned while the filter is under construction.
var ErrNotImplemented = errors.New("filter: not implemented")

// Compile builds a Filter from a Definition.
func Compile(def Definition, opts Options) (*Filter, error) {
	return nil, ErrNotImplemented
}

// Process handles one log line (without its line terminator).
func (f *Filter) Process(line string) Result { return Result{} }
