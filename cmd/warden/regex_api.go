package main

// This file holds the glue between `warden regex` and the filter,
// datetime and defaults packages.

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"warden/internal/datetime"
	"warden/internal/defaults"
)

// explain prints, for --explain, each regex of the filter: its expansion,
// the engine that runs it and why, and the Go pre-check.
func (r *regexRun) explain() {
	w := r.stdout
	fmt.Fprint(w, "Explain\n=======\n")
	for _, info := range r.flt.Explain() {
		fmt.Fprintf(w, "\n%s %d: %s\n", info.Kind, info.Index+1, info.Source)
		if info.Expanded != info.Source {
			fmt.Fprintf(w, "    expanded: %s\n", info.Expanded)
		}
		fmt.Fprintf(w, "    engine:   %s\n", info.Engine)
		for _, why := range info.Reasons {
			fmt.Fprintf(w, "      because %s\n", why)
		}
		if info.Go != "" {
			fmt.Fprintf(w, "    go:       %s\n", info.Go)
		}
		if len(info.Literals) > 0 {
			q := make([]string, len(info.Literals))
			for i, l := range info.Literals {
				q[i] = strconv.Quote(l)
			}
			fmt.Fprintf(w, "    needs:    %s\n", strings.Join(q, " and "))
		}
	}
	fmt.Fprintln(w)
}

// dnsResolver resolves host names for <HOST> matches (usedns yes or warn),
// caching answers for the run as fail2ban does.
type dnsResolver struct {
	ctx   context.Context
	cache map[string][]netip.Addr
}

// maxDNSCache bounds the cache; past it names are looked up every time.
const maxDNSCache = 10000

func (d *dnsResolver) resolve(host string) []netip.Addr {
	if a, ok := d.cache[host]; ok {
		return a
	}
	ctx, cancel := context.WithTimeout(d.ctx, 5*time.Second)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		addrs = nil
	}
	if len(d.cache) < maxDNSCache {
		d.cache[strings.Clone(host)] = addrs // host may be part of a recycled read block
	}
	return addrs
}

// embeddedConfig is warden's embedded configuration tree.
func embeddedConfig() fs.FS { return defaults.FS() }

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
// "Use datepattern" line does: the name of its single template, or
// "Default Detectors" for the default set.
func datePatternName(p string) string {
	if strings.TrimSpace(p) == "{^LN-BEG}" || strings.TrimSpace(p) == "" {
		return "Default Detectors"
	}
	if d, err := datetime.New(datetime.Options{Pattern: p}); err == nil {
		if ts := d.Templates(); len(ts) == 1 {
			return ts[0].Name
		}
	}
	return directivesName(p)
}

// directivesName names the strptime directives of a pattern (the fallback
// when the detector does not compile it to a single template).
func directivesName(p string) string {
	switch strings.TrimSpace(p) {
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

// parseTimeZone reads --timezone as fail2ban's logtimezone.
func parseTimeZone(s string) (*time.Location, error) {
	loc, err := datetime.ParseZone(s)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: %w", s, err)
	}
	return loc, nil
}
