// Package config reads fail2ban's configuration dialect (jail.conf,
// jail.local, jail.d/, filter.d/, action.d/, [INCLUDES], %(x)s and <tag>
// interpolation) into an immutable, typed Config. It does no I/O beyond
// reading the tree.
//
// The semantics are fail2ban 1.0's client, checked against
// fail2ban-client -d by the tests:
//
//   - Files parse like Python's ConfigParser as fail2ban sets it up: '#'
//     and ';' comment lines, ';' after blank space as inline comment (never
//     '#'), indented continuation lines joined with "\n", option names
//     lower-cased, a section or option given twice in one file rejected.
//   - A name X is read as X.conf, X.d/*.conf, X.local, X.d/*.local; each
//     file brings its [INCLUDES] before/after files (relative to its own
//     directory) and their .local companions. A later file's value replaces
//     an earlier one; the replaced value stays reachable as %(known/x)s.
//   - %(x)s looks in the section, then [DEFAULT]; %(sec/x)s, %(default/x)s
//     and %(__name__)s work as in fail2ban; nesting deeper than 10 is an
//     error (this is how reference loops show).
//   - Filters and actions resolve <tag>s over [Definition], [Init] and the
//     jail's name[k=v] arguments, recursively (<mdre-<mode>>); tags with
//     no value (<HOST>, <ip>, <F-USER>) stay for the filter and action
//     code, as do parameters with conditional variants (x?family=inet6).
//
// Where warden is stricter than fail2ban: a missing included .conf file
// and an include cycle are errors (fail2ban skips them); a jail that does
// not resolve makes Load fail (fail2ban drops the jail and goes on); a
// non-numeric maxretry or maxlines is an error, not a warning. Where it
// follows fail2ban 1.1: "name?family=inet6 = value" options, conditional
// action commands, skip_if_nologs/systemd_if_nologs.
package config

import (
	"errors"
	"fmt"
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
	Server   Server
	Jails    []*Jail // enabled jails (all of them with Options.ForceEnable), in file order
	Warnings []Warning
	// Files lists every file read for jail.* in reading order.
	Files []string
}

// Jail returns the jail called name, or nil.
func (c *Config) Jail(name string) *Jail {
	for _, j := range c.Jails {
		if j.Name == name {
			return j
		}
	}
	return nil
}

// Server holds fail2ban.conf's [Definition] (and [Thread]) settings.
type Server struct {
	LogLevel     string
	LogTarget    string
	SyslogSocket string
	Socket       string
	PidFile      string
	AllowIPv6    string
	DBFile       string
	DBMaxMatches int // 0 when not set
	DBPurgeAge   time.Duration
	StackSize    int // 0 when not set
	// Options holds every [Definition] option, interpolated.
	Options map[string]string
	// Sections holds the other sections of fail2ban.conf and its .local
	// files (warden's own, such as [mail] and [webhook:NAME]; fail2ban
	// ignores them), by section name, each option interpolated and with the
	// place it was set.
	Sections map[string]map[string]Setting
}

// Setting is one option value and where it was set.
type Setting struct {
	Value string
	Pos   Pos
}

// Jail is one resolved jail section.
type Jail struct {
	Name    string
	Pos     Pos
	Enabled bool
	// Options holds every option of the jail, interpolated, by lower-case name.
	Options  map[string]string
	Filter   *Filter // nil when the jail sets no filter
	Actions  []*Action
	LogPath  []string  // globs kept as text, head/tail markers split off
	LogFiles []LogFile // LogPath with the markers
	Backend  string
	MaxRetry int
	FindTime time.Duration
	BanTime  time.Duration // negative = for ever
	// IgnoreIP lists ignoreip's words (addresses, networks, host names,
	// "file:/path" references) as written.
	IgnoreIP   []string
	IgnoreSelf bool
	MaxMatches int // 5 when not set, as fail2ban's failure manager
	UseDNS     string
	// BanTimeIncrement and friends are the bantime.* options.
	BanTimeIncrement bool
	BanTimeMaxTime   time.Duration // 0 when not set
	BanTimeRndTime   time.Duration // 0 when not set
	OverallJails     bool
	// SkipIfNoLogs and SystemdIfNoLogs are fail2ban 1.1's skip_if_nologs
	// and systemd_if_nologs.
	SkipIfNoLogs, SystemdIfNoLogs bool
}

// LogFile is one logpath line.
type LogFile struct {
	Path string // glob as written
	Tail bool   // "tail" marker: start reading at the end
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
	JournalMatch []string // one entry per line; each line is space-separated FIELD=value words
	// Options holds the filter's [Definition]/[Init] values after interpolation.
	Options map[string]string
}

// Action is a resolved action.d definition with the jail's parameters.
type Action struct {
	Name string // the action's name in the jail (actname)
	File string
	// Python is set for action.d/*.py actions, which have no Commands.
	Python bool
	// Params are the [Init] values merged with the jail's name[k=v] arguments.
	Params map[string]string
	// Commands holds actionstart, actionban, ... as written, static tags
	// resolved, runtime tags (<ip>, <failures>, ...) left in place.
	Commands map[string]string
	// NoRestored, StartOnDemand and RepairOnUnban are the boolean
	// options norestored, actionstart_on_demand and actionrepair_on_unban.
	NoRestored, StartOnDemand, RepairOnUnban bool
	// Options holds every resolved [Definition]/[Init] value.
	Options map[string]string
}

// Options tell Load where to look.
type Options struct {
	// Jail restricts loading to one jail ("" = all).
	Jail string
	// ForceEnable resolves every jail as if it were enabled.
	ForceEnable bool
	// Root is the directory fsys stands for ("/etc/fail2ban" when empty);
	// it is the value of %(fail2ban_confpath)s and lets absolute include
	// paths inside the tree resolve.
	Root string
	// Version is the value of %(fail2ban_version)s ("1.0.2" when empty).
	Version string
	// Glob finds the log files a logpath names, for skip_if_nologs and
	// systemd_if_nologs (filepath.Glob when nil).
	Glob func(pattern string) ([]string, error)
}

// Errors a loaded tree can fail with; each comes wrapped with file:line.
var (
	ErrNotUTF8        = errors.New("file is not valid UTF-8")
	ErrDuplicate      = errors.New("is given twice")
	ErrBadHeader      = errors.New("unterminated section header")
	ErrNoSection      = errors.New("option before any [section] header")
	ErrSyntax         = errors.New("expected 'name = value'")
	ErrMissingInclude = errors.New("included file not found")
	ErrIncludeCycle   = errors.New("include cycle")
	ErrInterpolation  = errors.New("interpolation")
	ErrTagLoop        = errors.New("recursive tag definitions")
	ErrBadTime        = errors.New("bad time value")
	ErrBadValue       = errors.New("bad value")
	ErrNoJailConf     = errors.New("no jail.conf")
	ErrUnknownJail    = errors.New("unknown jail")
	ErrMissingFilter  = errors.New("filter not found")
	ErrMissingAction  = errors.New("action not found")
	ErrBadSpec        = errors.New("bad name[options] syntax")
)
