package main

// This file holds what `warden regex` needs from the filter, datetime and
// defaults packages beyond their current exported API, each with the best
// answer computable here. Swap a body for the package call once it exists.

import (
	"fmt"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"time"

	"warden/internal/filter"
)

// ignoreIndex is the index of the ignoreregex that matched a line, or -1.
// The filter's Result only says that one matched, so with several
// ignoreregexes the hit goes to the first.
// TODO(filter): Result.IgnoreRegex index.
func ignoreIndex(_ *filter.Filter, res filter.Result) int {
	if !res.Ignored {
		return -1
	}
	return 0
}

// prefMatched reports whether the filter's prefregex matched the line.
// Without that signal from the filter, a line that produced a failure (or
// was ignored) is taken to have passed the prefregex.
// TODO(filter): Result.PrefMatched.
func prefMatched(_ *filter.Filter, res filter.Result) bool {
	return len(res.Failures) > 0
}

// prefRegexText is the prefregex as fail2ban-regex prints it (with its
// <F-*> tags already turned into groups); here the text as configured.
// TODO(filter): the translated prefregex.
func prefRegexText(_ *filter.Filter, pref string) string { return pref }

// explain prints, for --explain, each regex of the definition with what
// the filter package can tell about how it runs it.
// TODO(filter): per-regex translation and engine (Go regexp or regexp2).
func (r *regexRun) explain() error {
	def := r.setup.def
	if _, err := filter.Compile(def, filter.Options{}); err != nil {
		return err
	}
	w := r.stdout
	fmt.Fprintln(w, "Explain")
	fmt.Fprintln(w, "=======")
	show := func(kind string, i int, re string) {
		fmt.Fprintf(w, "%s %d: %s\n", kind, i, re)
		fmt.Fprintln(w, "    translation: not reported by the filter package yet")
	}
	if def.PrefRegex != "" {
		show("prefregex", 0, def.PrefRegex)
	}
	for i, re := range def.FailRegex {
		show("failregex", i+1, re)
	}
	for i, re := range def.IgnoreRegex {
		show("ignoreregex", i+1, re)
	}
	fmt.Fprintln(w)
	return nil
}

// embeddedConfig is warden's embedded configuration tree, nil until the
// defaults package provides one.
// TODO(defaults): defaults.FS().
func embeddedConfig() fs.FS { return nil }

// dateDirectiveNames are the names fail2ban-regex shows for strptime
// directives in a date pattern.
var dateDirectiveNames = map[string]string{
	"a": "DAY", "A": "DAYNAME", "b": "MON", "B": "MONTH", "d": "Day",
	"H": "24hour", "I": "12hour", "j": "Yearday", "m": "Month",
	"M": "Minute", "p": "AMPM", "S": "Second", "U": "Yearweek",
	"w": "Weekday", "W": "Yearweek", "y": "Year2", "Y": "Year", "%": "%",
	"z": "Zone offset", "f": "Microseconds", "Z": "Zone name",
}

var dateDirectiveRE = regexp.MustCompile(`%(Ex[A-Za-z]|[A-Za-z%])`)

// datePatternName describes a datepattern the way fail2ban-regex's
// "Use datepattern" line does.
// TODO(datetime): take the name from the detector.
func datePatternName(p string) string {
	switch strings.TrimSpace(p) {
	case "{^LN-BEG}", "":
		return "Default Detectors"
	case "{NONE}":
		return "^"
	case "EPOCH", "{^LN-BEG}EPOCH":
		return "Epoch"
	case "TAI64N", "{^LN-BEG}TAI64N":
		return "TAI64N"
	case "ISO8601":
		return "ISO8601"
	}
	return dateDirectiveRE.ReplaceAllStringFunc(p, func(d string) string {
		k := d[1:]
		if n, ok := dateDirectiveNames[k]; ok {
			return n
		}
		if strings.HasPrefix(k, "Ex") {
			if n, ok := dateDirectiveNames[k[2:]]; ok {
				return "Ex" + n
			}
		}
		return d
	})
}

var tzOffsetRE = regexp.MustCompile(`^(?i:UTC|GMT)?([+-])(\d\d):?(\d\d)$`)

// parseTimeZone reads --timezone as fail2ban's logtimezone: UTC, a fixed
// offset ("+0200", "UTC-05:00"), or a zone name from the tz database.
func parseTimeZone(s string) (*time.Location, error) {
	switch strings.ToUpper(s) {
	case "UTC", "GMT", "Z":
		return time.UTC, nil
	case "LOCAL":
		return time.Local, nil
	}
	if m := tzOffsetRE.FindStringSubmatch(s); m != nil {
		h, _ := strconv.Atoi(m[2])
		mi, _ := strconv.Atoi(m[3])
		off := h*3600 + mi*60
		if m[1] == "-" {
			off = -off
		}
		return time.FixedZone(s, off), nil
	}
	loc, err := time.LoadLocation(s)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", s, err)
	}
	return loc, nil
}
