// Package config reads fail2ban's configuration dialect (jail.conf,
// jail.local, jail.d/, filter.d/, action.d/, [INCLUDES], %(x)s and <tag>
// interpolation) into an immutable, typed Config. It does no I/O beyond
// reading the tree.
package config

import (
	"errors"
	"fmt"
	"io/fs"
	"time"
)

// Pos is a place in a configuration file.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Warning is a problem that does not stop the configuration from loading,
// such as an unknown option.
type Warning struct {
	Pos Pos
	Msg string
}

func (w Warning) String() string { return w.Pos.String() + ": " + w.Msg }

// Config is a whole loaded tree.
type Config struct {
	Root     string // where it was read from, for messages
	Jails    []*Jail
	Warnings []Warning
}

// Jail is one resolved jail section.
type Jail struct {
	Name    string
	Pos     Pos
	Enabled bool
	// Options holds every option of the jail, interpolated, by lower-case name.
	Options  map[string]string
	Filter   *Filter
	Actions  []*Action
	LogPath  []string
	Backend  string
	MaxRetry int
	FindTime time.Duration
	BanTime  time.Duration // negative = for ever
}

// Filter is a resolved filter.d definition for a jail.
type Filter struct {
	Name         string
	File         string
	PrefRegex    string
	FailRegex    []string
	IgnoreRegex  []string
	MaxLines     int
	DatePattern  string
	JournalMatch []string
	// Options holds the filter's [Definition]/[Init] values after interpolation.
	Options map[string]string
}

// Action is a resolved action.d definition with the jail's parameters.
type Action struct {
	Name string
	File string
	// Params are the [Init] values merged with the jail's name[k=v] arguments.
	Params map[string]string
	// Commands holds actionstart, actionban, ... as written, static tags
	// resolved, runtime tags (<ip>, <failures>, ...) left in place.
	Commands map[string]string
}

// Options tell Load where to look.
type Options struct {
	// Jail restricts loading to one jail ("" = all).
	Jail string
}

// ErrNotImplemented is returned while the loader is under construction.
var ErrNotImplemented = errors.New("config: not implemented")

// Load reads the tree in fsys (rooted at a fail2ban configuration directory).
func Load(fsys fs.FS, opts Options) (*Config, error) {
	return nil, ErrNotImplemented
}

// LoadFilter resolves a filter the way fail2ban-regex does: spec is a
// filter.d name with optional parameters ("sshd[mode=aggressive]") or a path.
func LoadFilter(fsys fs.FS, spec string) (*Filter, error) {
	return nil, ErrNotImplemented
}

// ParseTime parses a fail2ban time value ("600", "10m", "1h30m", "1d12h",
// "1mo", "-1").
func ParseTime(s string) (time.Duration, error) {
	return 0, ErrNotImplemented
}
