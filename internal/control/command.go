package control

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"

	"warden/internal/config"
)

// Command is a parsed, validated control command. Name is one of ping,
// version, status, stats, banned, banip, unbanip, unban, get, set,
// reload, start, stop, flushlogs; the other fields are filled as the
// command needs them.
type Command struct {
	Name string
	// Jail is the jail addressed, "" for the daemon itself.
	Jail string
	// Option is the option of get and set.
	Option string
	// Args are the remaining words: option values for set, extra words for
	// get, the timeout of ping.
	Args []string
	// IPs are the addresses and networks of banned, banip, unbanip and
	// unban; a single address is a /32 or /128 (see ParseTarget).
	IPs []netip.Prefix
	// All is "--all" of status and unban.
	All bool
	// Firewall is "status --firewall": each firewall backend's bans in
	// place against those that should be.
	Firewall bool
	// Flavor is the status flavor of "status JAIL FLAVOR" or
	// "status --all FLAVOR"; empty means basic.
	Flavor Flavor
	// Reload holds the words of reload.
	Reload ReloadOptions
	// ReportAbsent is "--report-absent" of unbanip.
	ReportAbsent bool
}

// valueKind says how an option's value words are checked.
type valueKind int

const (
	kindAny   valueKind = iota
	kindInt             // a decimal integer
	kindTime            // a fail2ban time value (config.ParseTime)
	kindBool            // true/false, yes/no, on/off, 1/0
	kindFloat           // a decimal number
	kindHost            // an address, a CIDR network or a host name
	kindAddr            // an IP address or network (ParseTarget)
)

// arity gives the number of value words an option takes and their kind;
// max < 0 means no upper bound.
type arity struct {
	min, max int
	kind     valueKind
}

// jailSetOptions are the "set JAIL OPTION VALUE..." options, as in
// fail2ban-client's protocol. banip and unbanip are parsed separately.
var jailSetOptions = map[string]arity{
	"idle":                 {1, 1, kindBool},
	"ignoreself":           {1, 1, kindBool},
	"addignoreip":          {1, -1, kindHost},
	"delignoreip":          {1, -1, kindHost},
	"ignorecommand":        {1, 1, kindAny},
	"ignorecache":          {1, 1, kindAny},
	"addlogpath":           {1, 2, kindAny},
	"dellogpath":           {1, 1, kindAny},
	"logencoding":          {1, 1, kindAny},
	"addjournalmatch":      {1, -1, kindAny},
	"deljournalmatch":      {1, -1, kindAny},
	"prefregex":            {1, 1, kindAny},
	"addfailregex":         {1, 1, kindAny},
	"delfailregex":         {1, 1, kindInt},
	"addignoreregex":       {1, 1, kindAny},
	"delignoreregex":       {1, 1, kindInt},
	"usedns":               {1, 1, kindAny},
	"findtime":             {1, 1, kindTime},
	"bantime":              {1, 1, kindTime},
	"datepattern":          {1, 1, kindAny},
	"logtimezone":          {1, 1, kindAny},
	"maxmatches":           {1, 1, kindInt},
	"maxretry":             {1, 1, kindInt},
	"maxlines":             {1, 1, kindInt},
	"attempt":              {1, -1, kindAny}, // IP then failure lines; checked below
	"bantime.increment":    {1, 1, kindBool},
	"bantime.factor":       {1, 1, kindFloat},
	"bantime.formula":      {1, 1, kindAny},
	"bantime.multipliers":  {1, -1, kindAny},
	"bantime.maxtime":      {1, 1, kindTime},
	"bantime.rndtime":      {1, 1, kindTime},
	"bantime.overalljails": {1, 1, kindBool},
	"addaction":            {1, 3, kindAny},
	"delaction":            {1, 1, kindAny},
	"action":               {2, -1, kindAny},
}

// jailGetOptions are the "get JAIL OPTION [WORD...]" options.
var jailGetOptions = map[string]arity{
	"banned":               {0, -1, kindAddr},
	"logpath":              {0, 0, kindAny},
	"logencoding":          {0, 0, kindAny},
	"journalmatch":         {0, 0, kindAny},
	"ignoreself":           {0, 0, kindAny},
	"ignoreip":             {0, 0, kindAny},
	"ignorecommand":        {0, 0, kindAny},
	"ignorecache":          {0, 0, kindAny},
	"prefregex":            {0, 0, kindAny},
	"failregex":            {0, 0, kindAny},
	"ignoreregex":          {0, 0, kindAny},
	"usedns":               {0, 0, kindAny},
	"findtime":             {0, 0, kindAny},
	"bantime":              {0, 0, kindAny},
	"datepattern":          {0, 0, kindAny},
	"logtimezone":          {0, 0, kindAny},
	"maxmatches":           {0, 0, kindAny},
	"maxretry":             {0, 0, kindAny},
	"maxlines":             {0, 0, kindAny},
	"banip":                {0, 1, kindAny},
	"bantime.increment":    {0, 0, kindAny},
	"bantime.factor":       {0, 0, kindAny},
	"bantime.formula":      {0, 0, kindAny},
	"bantime.multipliers":  {0, 0, kindAny},
	"bantime.maxtime":      {0, 0, kindAny},
	"bantime.rndtime":      {0, 0, kindAny},
	"bantime.overalljails": {0, 0, kindAny},
	"actions":              {0, 0, kindAny},
	"action":               {2, 2, kindAny},
	"actionproperties":     {1, 1, kindAny},
	"actionmethods":        {1, 1, kindAny},
}

// serverOptions are the daemon-wide options of "get OPTION" and
// "set OPTION VALUE"; the arity is that of set.
var serverOptions = map[string]arity{
	"loglevel":     {1, 1, kindAny},
	"logtarget":    {1, 1, kindAny},
	"syslogsocket": {1, 1, kindAny},
	"dbfile":       {1, 1, kindAny},
	"dbmaxmatches": {1, 1, kindInt},
	"dbpurgeage":   {1, 1, kindTime},
}

// ParseCommand checks fail2ban-client words and returns the command they
// name. Accepted forms:
//
//	ping [TIMEOUT]
//	version
//	status [JAIL [FLAVOR]] | status --all [FLAVOR]
//	stats | statistics
//	banned [IP...]
//	unban --all | unban IP...
//	set JAIL banip IP... | set JAIL unbanip [--report-absent] IP...
//	set JAIL OPTION VALUE... | set OPTION VALUE
//	get JAIL OPTION [WORD...] | get OPTION
//	reload [--restart] [--unban] [--if-exists] [--all|JAIL]
//	restart [--unban] [--if-exists] JAIL
//	start JAIL | stop [JAIL]
//	flushlogs
//
// where each IP may also be a network in CIDR form (2001:db8:1:2::/64),
// as prefix bans are listed (see ParseTarget).
//
// Errors wrap ErrUnknownCommand, ErrBadArgs, ErrBadAddress or
// ErrUnknownOption.
func ParseCommand(words []string) (Command, error) {
	if len(words) == 0 {
		return Command{}, fmt.Errorf("%w: no command given", ErrBadArgs)
	}
	name, rest := words[0], words[1:]
	c := Command{Name: name}
	var err error
	switch name {
	case "ping":
		err = wantArgs(name, rest, 0, 1)
		if err == nil && len(rest) == 1 {
			if _, perr := strconv.ParseFloat(rest[0], 64); perr != nil {
				err = fmt.Errorf("%w: ping timeout %q is not a number", ErrBadArgs, rest[0])
			}
			c.Args = rest
		}
	case "version", "flushlogs":
		err = wantArgs(name, rest, 0, 0)
	case "stats", "statistics":
		c.Name = "stats"
		err = wantArgs(name, rest, 0, 0)
	case "status":
		err = parseStatus(&c, rest)
	case "banned":
		c.IPs, err = parseTargets(rest)
	case "unban":
		switch {
		case len(rest) == 0:
			err = fmt.Errorf("%w: unban needs IP addresses or --all", ErrBadArgs)
		case len(rest) == 1 && rest[0] == "--all":
			c.All = true
		default:
			c.IPs, err = parseTargets(rest)
		}
	case "set":
		err = parseSet(&c, rest)
	case "get":
		err = parseGet(&c, rest)
	case "reload":
		err = parseReload(&c, rest)
	case "restart":
		if len(rest) == 0 {
			err = fmt.Errorf("%w: restarting the daemon is its service manager's job (systemctl restart warden); restart JAIL restarts a jail", ErrNotSupported)
			break
		}
		c.Name = "reload"
		err = parseReload(&c, append([]string{"--restart"}, rest...))
		if err == nil && c.Reload.Jail == "" {
			err = fmt.Errorf("%w: restart needs a jail name", ErrBadArgs)
		}
	case "start":
		err = wantArgs(name, rest, 1, 1)
		if err != nil && len(rest) == 0 {
			err = fmt.Errorf("%w: start needs a jail name (the daemon itself is started by its service manager)", ErrBadArgs)
		}
		if err == nil {
			c.Jail, err = jailName(rest[0])
		}
	case "stop":
		err = wantArgs(name, rest, 0, 1)
		if err == nil && len(rest) == 1 {
			c.Jail, err = jailName(rest[0])
		}
	default:
		return Command{}, fmt.Errorf("%w %q", ErrUnknownCommand, name)
	}
	if err != nil {
		return Command{}, err
	}
	return c, nil
}

func wantArgs(name string, rest []string, min, max int) error {
	if len(rest) < min || (max >= 0 && len(rest) > max) {
		switch {
		case max == 0:
			return fmt.Errorf("%w: %s takes no arguments, got %q", ErrBadArgs, name, rest)
		case min == max:
			return fmt.Errorf("%w: %s takes %d argument(s), got %d", ErrBadArgs, name, min, len(rest))
		case max < 0:
			return fmt.Errorf("%w: %s takes at least %d argument(s), got %d", ErrBadArgs, name, min, len(rest))
		default:
			return fmt.Errorf("%w: %s takes %d to %d arguments, got %d", ErrBadArgs, name, min, max, len(rest))
		}
	}
	return nil
}

// jailName rejects words that cannot be a jail: empty, option-like, or
// with blanks or control characters.
func jailName(s string) (string, error) {
	if s == "" || strings.HasPrefix(s, "-") || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return "", fmt.Errorf("%w: %q is not a valid jail name", ErrBadArgs, s)
	}
	return s, nil
}

func parseStatus(c *Command, rest []string) error {
	if err := wantArgs("status", rest, 0, 2); err != nil {
		return err
	}
	if len(rest) == 0 {
		return nil
	}
	if rest[0] == "--firewall" {
		if len(rest) > 1 {
			return fmt.Errorf("%w: status --firewall takes no other word", ErrBadArgs)
		}
		c.Firewall = true
		return nil
	}
	if rest[0] == "--all" {
		c.All = true
	} else {
		j, err := jailName(rest[0])
		if err != nil {
			return err
		}
		c.Jail = j
	}
	if len(rest) == 2 {
		switch f := Flavor(rest[1]); f {
		case FlavorBasic, FlavorShort:
			c.Flavor = f
		default:
			return fmt.Errorf("%w: status flavor %q (supported: basic, short)", ErrNotSupported, rest[1])
		}
	}
	return nil
}

// ParseAddr parses one IP address as the control protocol accepts it:
// IPv4 or IPv6 without a zone; IPv4-mapped IPv6 addresses become IPv4.
func ParseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("%w %q", ErrBadAddress, s)
	}
	if a.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("%w %q: zones are not allowed", ErrBadAddress, s)
	}
	return a.Unmap(), nil
}

func parseTargets(words []string) ([]netip.Prefix, error) {
	if len(words) == 0 {
		return nil, nil
	}
	out := make([]netip.Prefix, 0, len(words))
	for _, w := range words {
		a, err := ParseTarget(w)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func parseSet(c *Command, rest []string) error {
	if len(rest) == 2 {
		if ar, ok := serverOptions[rest[0]]; ok {
			c.Option, c.Args = rest[0], rest[1:]
			return checkValues("set "+rest[0], rest[1:], ar)
		}
	}
	if len(rest) < 2 {
		return fmt.Errorf("%w: set takes JAIL OPTION VALUE... or OPTION VALUE", ErrBadArgs)
	}
	jail, err := jailName(rest[0])
	if err != nil {
		return err
	}
	c.Jail, c.Option = jail, rest[1]
	vals := rest[2:]
	switch c.Option {
	case "banip":
		c.Name = "banip"
		c.Option = ""
		if len(vals) == 0 {
			return fmt.Errorf("%w: set %s banip needs at least one IP address", ErrBadArgs, jail)
		}
		c.IPs, err = parseTargets(vals)
		return err
	case "unbanip":
		c.Name = "unbanip"
		c.Option = ""
		if len(vals) > 0 && vals[0] == "--report-absent" {
			c.ReportAbsent = true
			vals = vals[1:]
		}
		if len(vals) == 0 {
			return fmt.Errorf("%w: set %s unbanip needs at least one IP address", ErrBadArgs, jail)
		}
		c.IPs, err = parseTargets(vals)
		return err
	}
	ar, ok := jailSetOptions[c.Option]
	if !ok {
		return fmt.Errorf("%w %q for set (known: %s)", ErrUnknownOption, c.Option, optionList(jailSetOptions, "banip", "unbanip"))
	}
	c.Args = vals
	if c.Option == "attempt" && len(vals) > 0 {
		if _, err := ParseAddr(vals[0]); err != nil {
			return fmt.Errorf("set %s attempt: %w", jail, err)
		}
	}
	return checkValues("set "+jail+" "+c.Option, vals, ar)
}

func parseGet(c *Command, rest []string) error {
	if len(rest) == 1 {
		if _, ok := serverOptions[rest[0]]; ok {
			c.Option = rest[0]
			return nil
		}
	}
	if len(rest) < 2 {
		return fmt.Errorf("%w: get takes JAIL OPTION or OPTION", ErrBadArgs)
	}
	jail, err := jailName(rest[0])
	if err != nil {
		return err
	}
	c.Jail, c.Option, c.Args = jail, rest[1], rest[2:]
	ar, ok := jailGetOptions[c.Option]
	if !ok {
		return fmt.Errorf("%w %q for get (known: %s)", ErrUnknownOption, c.Option, optionList(jailGetOptions))
	}
	return checkValues("get "+jail+" "+c.Option, c.Args, ar)
}

func optionList(m map[string]arity, extra ...string) string {
	names := append([]string(nil), extra...)
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// checkValues applies an option's arity and value kind.
func checkValues(what string, vals []string, ar arity) error {
	if err := wantArgs(what, vals, ar.min, ar.max); err != nil {
		return err
	}
	for _, v := range vals {
		if err := checkValue(v, ar.kind); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

func checkValue(v string, k valueKind) error {
	switch k {
	case kindInt:
		if _, err := strconv.Atoi(strings.TrimSpace(v)); err != nil {
			return fmt.Errorf("%w: %q is not an integer", ErrBadArgs, v)
		}
	case kindFloat:
		if _, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err != nil {
			return fmt.Errorf("%w: %q is not a number", ErrBadArgs, v)
		}
	case kindTime:
		if _, err := config.ParseTime(v); err != nil {
			return fmt.Errorf("%w: %w", ErrBadArgs, err)
		}
	case kindBool:
		switch strings.ToLower(v) {
		case "true", "false", "yes", "no", "on", "off", "1", "0":
		default:
			return fmt.Errorf("%w: %q is not a boolean (true/false, yes/no, on/off)", ErrBadArgs, v)
		}
	case kindAddr:
		_, err := ParseTarget(v)
		return err
	case kindHost:
		return checkHost(v)
	}
	return nil
}

// checkHost accepts what an ignoreip entry may be: an address, a CIDR
// network, or a DNS name. Anything made only of digits, dots, colons and
// slashes must parse as an address or network.
func checkHost(v string) error {
	if _, err := ParseAddr(v); err == nil {
		return nil
	}
	if _, err := netip.ParsePrefix(v); err == nil {
		return nil
	}
	if strings.ContainsAny(v, ":/") || strings.Trim(v, "0123456789.") == "" {
		return fmt.Errorf("%w %q (not an address or CIDR network)", ErrBadAddress, v)
	}
	for _, label := range strings.Split(strings.TrimSuffix(v, "."), ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") ||
			strings.Trim(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			return fmt.Errorf("%w %q (not an address, network or host name)", ErrBadAddress, v)
		}
	}
	return nil
}

func parseReload(c *Command, rest []string) error {
	for len(rest) > 0 {
		switch rest[0] {
		case "--restart":
			c.Reload.Restart = true
		case "--unban":
			c.Reload.Unban = true
		case "--if-exists":
			c.Reload.IfExists = true
		default:
			if len(rest) > 1 {
				return fmt.Errorf("%w: unexpected argument(s) for reload: %q", ErrBadArgs, rest[1:])
			}
			if rest[0] == "--all" {
				c.All = true
				return nil
			}
			j, err := jailName(rest[0])
			if err != nil {
				return err
			}
			c.Reload.Jail = j
			return nil
		}
		rest = rest[1:]
	}
	return nil
}

// Words renders c back into the words ParseCommand accepts; for every
// valid command, ParseCommand(c.Words()) gives c back.
func (c Command) Words() []string {
	w := []string{c.Name}
	switch c.Name {
	case "ping":
		w = append(w, c.Args...)
	case "status":
		if c.Firewall {
			w = append(w, "--firewall")
		} else if c.All {
			w = append(w, "--all")
		} else if c.Jail != "" {
			w = append(w, c.Jail)
		}
		if c.Flavor != "" {
			w = append(w, string(c.Flavor))
		}
	case "banned":
		w = appendAddrs(w, c.IPs)
	case "unban":
		if c.All {
			w = append(w, "--all")
		}
		w = appendAddrs(w, c.IPs)
	case "banip":
		w = appendAddrs([]string{"set", c.Jail, "banip"}, c.IPs)
	case "unbanip":
		w = []string{"set", c.Jail, "unbanip"}
		if c.ReportAbsent {
			w = append(w, "--report-absent")
		}
		w = appendAddrs(w, c.IPs)
	case "get", "set":
		if c.Jail != "" {
			w = append(w, c.Jail)
		}
		w = append(w, c.Option)
		w = append(w, c.Args...)
	case "reload":
		r := c.Reload
		for _, f := range []struct {
			on   bool
			word string
		}{{r.Restart, "--restart"}, {r.Unban, "--unban"}, {r.IfExists, "--if-exists"}} {
			if f.on {
				w = append(w, f.word)
			}
		}
		if c.All {
			w = append(w, "--all")
		} else if r.Jail != "" {
			w = append(w, r.Jail)
		}
	case "start", "stop":
		if c.Jail != "" {
			w = append(w, c.Jail)
		}
	}
	return w
}

func appendAddrs(w []string, ips []netip.Prefix) []string {
	for _, p := range ips {
		w = append(w, targetWord(p))
	}
	return w
}
