package main

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"warden/internal/filter"
)

// pprintList prints fail2ban-regex's boxed list: an optional "|- header"
// line, one "|  item" per entry and a closing "`-". Nothing for no entries.
func (r *regexRun) pprintList(items []string, header string) {
	if len(items) == 0 {
		return
	}
	var b strings.Builder
	if header != "" {
		b.WriteString("|- " + header + "\n")
	}
	b.WriteString("|  " + strings.Join(items, "\n|  ") + "\n`-\n")
	fmt.Fprint(r.stdout, b.String())
}

func (r *regexRun) printStats() {
	w := r.stdout
	st := &r.stats
	def := r.setup.def
	fmt.Fprint(w, "\nResults\n=======\n")
	if def.PrefRegex != "" {
		fmt.Fprintf(w, "\nPrefregex: %d total\n", st.prefHits)
		r.pprintList([]string{r.flt.PrefRegex()}, "")
	}
	r.printRegexes("Failregex", def.FailRegex, st.failHits, st.failIPs)
	r.printRegexes("Ignoreregex", def.IgnoreRegex, st.ignoreHits, nil)

	if r.logSrc != "journal" { // journal entries carry their time: no detector
		fmt.Fprint(w, "\nDate template hits:\n")
		var tl []string
		for _, t := range r.dates.Templates() {
			if t.Hits > 0 || r.o.verbose > 0 {
				tl = append(tl, fmt.Sprintf("[%d] %s", t.Hits, t.Name))
			}
		}
		r.pprintList(tl, "[# of hits] date format")
	}

	fmt.Fprintf(w, "\nLines: %d lines, %d ignored, %d matched, %d missed\n", st.tested, st.ignored, st.matched, st.missed)
	fmt.Fprintf(w, "[processed in %.2f sec]\n", st.elapsed.Seconds())
	if (st.binary > 0 || st.truncated > 0) && !r.o.compat {
		fmt.Fprintf(w, "[%d lines with invalid UTF-8, %d lines longer than %d MiB cut]\n", st.binary, st.truncated, maxLineBytes>>20)
	}
	if st.timeouts > 0 && !r.o.compat {
		fmt.Fprintf(w, "[%d regex matches abandoned at the match time-out, counted as no match]\n", st.timeouts)
	}
	fmt.Fprintln(w)
	if r.o.printAllMatched {
		r.printLines("matched", st.matched, st.matchedLines, r.o.printAllMatched)
	}
	if !r.o.printNoIgnored {
		r.printLines("ignored", st.ignored, st.ignoredLines, r.o.printAllIgnored)
	}
	if !r.o.printNoMissed {
		r.printLines("missed", st.missed, st.missedLines, r.o.printAllMissed)
	}
}

func (r *regexRun) printRegexes(title string, regexes []string, hits []int, ips [][]failureInfo) {
	total := 0
	var out []string
	for i, re := range regexes {
		total += hits[i]
		if hits[i] > 0 || r.o.verbose > 0 {
			out = append(out, fmt.Sprintf("%2d) [%d] %s", i+1, hits[i], re))
		}
		if r.o.verbose > 0 && ips != nil {
			for _, f := range ips[i] {
				multi := ""
				if f.multi {
					multi = " (multiple regex matched)"
				}
				out = append(out, fmt.Sprintf("    %s  %s%s", f.id, f.t.In(r.loc()).Format("Mon Jan 02 15:04:05 2006"), multi))
			}
		}
	}
	fmt.Fprintf(r.stdout, "\n%s: %d total\n", title, total)
	r.pprintList(out, " #) [# of hits] regular expression")
}

func (r *regexRun) printLines(kind string, count int, lines []string, all bool) {
	if count == 0 {
		return
	}
	header := strings.ToUpper(kind[:1]) + kind[1:] + " line(s):"
	if count < r.printLimit() || all {
		trimmed := make([]string, len(lines))
		for i, l := range lines {
			trimmed[i] = strings.TrimRightFunc(l, isPySpace)
		}
		r.pprintList(trimmed, header)
		return
	}
	fmt.Fprintf(r.stdout, "%s too many to print.  Use --print-all-%s to print all %d lines\n", header, kind, count)
}

func isPySpace(c rune) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '\v', '\f':
		return true
	}
	return false
}

// regexJSON is the --json summary.
type regexJSON struct {
	Filter struct {
		Kind        string   `json:"kind"`
		Name        string   `json:"name,omitempty"`
		MaxLines    int      `json:"maxlines,omitempty"`
		DatePattern string   `json:"datepattern,omitempty"`
		Journal     []string `json:"journalmatch,omitempty"`
	} `json:"filter"`
	Log struct {
		Kind string `json:"kind"`
		Path string `json:"path,omitempty"`
	} `json:"log"`
	PrefRegex   *regexCount    `json:"prefregex,omitempty"`
	FailRegex   []regexCount   `json:"failregex"`
	IgnoreRegex []regexCount   `json:"ignoreregex"`
	Dates       []templateJSON `json:"date_templates"`
	Lines       struct {
		Total     int `json:"total"`
		Ignored   int `json:"ignored"`
		Matched   int `json:"matched"`
		Missed    int `json:"missed"`
		Binary    int `json:"invalid_utf8"`
		Truncated int `json:"truncated"`
	} `json:"lines"`
	// Timeouts counts backtracking matches abandoned at the match
	// time-out (after a retry), each counted as no match.
	Timeouts     int      `json:"timeouts"`
	Seconds      float64  `json:"seconds"`
	MatchedLines []string `json:"matched_lines,omitempty"`
	MissedLines  []string `json:"missed_lines,omitempty"`
	IgnoredLines []string `json:"ignored_lines,omitempty"`
}

type regexCount struct {
	Index int    `json:"index"`
	Regex string `json:"regex"`
	Hits  int    `json:"hits"`
}

type templateJSON struct {
	Name string `json:"name"`
	Hits int    `json:"hits"`
}

func (r *regexRun) printJSON() error {
	var j regexJSON
	st, def := &r.stats, r.setup.def
	j.Filter.Kind, j.Filter.Name = r.setup.kind, r.setup.name
	j.Filter.MaxLines, j.Filter.DatePattern, j.Filter.Journal = def.MaxLines, def.DatePattern, r.setup.journalMatch
	j.Log.Kind = r.logSrc
	if r.logSrc == "file" {
		j.Log.Path = r.log
	}
	if def.PrefRegex != "" {
		j.PrefRegex = &regexCount{Index: 0, Regex: def.PrefRegex, Hits: st.prefHits}
	}
	j.FailRegex = make([]regexCount, len(def.FailRegex))
	for i, re := range def.FailRegex {
		j.FailRegex[i] = regexCount{i + 1, re, st.failHits[i]}
	}
	j.IgnoreRegex = make([]regexCount, len(def.IgnoreRegex))
	for i, re := range def.IgnoreRegex {
		j.IgnoreRegex[i] = regexCount{i + 1, re, st.ignoreHits[i]}
	}
	j.Dates = []templateJSON{}
	for _, t := range r.dates.Templates() {
		if t.Hits > 0 {
			j.Dates = append(j.Dates, templateJSON{t.Name, t.Hits})
		}
	}
	j.Lines.Total, j.Lines.Ignored, j.Lines.Matched, j.Lines.Missed = st.tested, st.ignored, st.matched, st.missed
	j.Lines.Binary, j.Lines.Truncated = st.binary, st.truncated
	j.Timeouts = st.timeouts
	j.Seconds = st.elapsed.Seconds()
	j.MatchedLines, j.MissedLines, j.IgnoredLines = st.matchedLines, st.missedLines, st.ignoredLines
	if !r.o.printAllMissed {
		j.MissedLines = nil
	}
	if !r.o.printAllIgnored {
		j.IgnoredLines = nil
	}
	enc := json.NewEncoder(r.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(j)
}

// printOut prints the --out value of the line's first failure (fail2ban-regex
// stops at the first failregex in this mode and skips ignored lines).
func (r *regexRun) printOut(res filter.Result) {
	if res.Ignored || len(res.Failures) == 0 || res.Failures[0].NoFail || pendingFailure(res.Failures[0]) {
		return
	}
	if r.o.out == "ip" {
		// the most used form, and the bench's: no strings made and no
		// format parsed for each failure (formatOut would give the same)
		r.outBuf = appendOutIP(r.outBuf[:0], res.Failures[0])
		r.stdout.Write(r.outBuf)
		return
	}
	o := outOpts{compat: r.o.compat, zoned: r.o.timezone != ""}
	if r.outLoc == nil {
		r.outLoc = r.loc()
	}
	for _, s := range formatOut(r.o.out, res.Failures[0], r.outLoc, o) {
		fmt.Fprintln(r.stdout, s)
	}
}

func (r *regexRun) loc() *time.Location {
	loc, err := r.location()
	if err != nil {
		return time.Local
	}
	return loc
}

// appendOutIP appends what -o ip prints for a failure, the line with its
// '\n', as outToken's "ip" gives it.
func appendOutIP(b []byte, f filter.Failure) []byte {
	if v, ok := f.Fields["ip"]; ok {
		b = append(b, v...)
	} else if f.Addr.IsValid() {
		b = f.Addr.AppendTo(b)
	} else {
		b = append(b, f.ID...)
	}
	return append(b, '\n')
}

// pendingFailure is a multi-line failure that has no address or id yet.
func pendingFailure(f filter.Failure) bool { return f.ID == "" && f.Host == "" }

// outOpts tune --out formatting.
type outOpts struct {
	compat bool // exactly as fail2ban-regex (no warden extensions)
	zoned  bool // times were read in an explicit zone (--timezone)
}

var outListRE = regexp.MustCompile(`^\[\s*([^\[\]]*?)\s*\]$`)

// formatOut renders one failure for -o/--out. Tokens: id and fid (the
// failure id), ip (the address), msg (the matched lines, one per output
// line), row (id, time and fields as a Python-style row), time (epoch
// seconds), date (local date and time), any captured field by name (user
// or F-USER), a list of those ("[time, ip, user]"), or a template with
// <tag>s.
func formatOut(format string, f filter.Failure, loc *time.Location, o outOpts) []string {
	switch format {
	case "msg":
		return append([]string(nil), f.Lines...)
	case "row":
		return []string{fmt.Sprintf("[%s,\t%s,\t%s],", pyRepr(f.ID), pyTime(f.Time, o.zoned), pyDict(f.Fields, f.Users))}
	}
	if m := outListRE.FindStringSubmatch(format); m != nil {
		var vals []string
		for _, tok := range strings.Split(m[1], ",") {
			tok = strings.TrimSpace(tok)
			v, ok := outToken(tok, f, loc, o)
			switch {
			case !ok:
				vals = append(vals, "None")
			case tok == "time":
				vals = append(vals, v) // a number
			default:
				vals = append(vals, pyRepr(v))
			}
		}
		return []string{"[" + strings.Join(vals, ", ") + "]"}
	}
	if !strings.Contains(format, "<") {
		if o.compat && strings.HasPrefix(format, "F-") {
			// fail2ban-regex looks the word up as is: never found.
			return []string{"None"}
		}
		v, ok := outToken(format, f, loc, o)
		if !ok {
			return []string{"None"}
		}
		return []string{v}
	}
	return expandOutTemplate(format, f, loc, o)
}

// outToken is the value of one --out token for a failure.
func outToken(tok string, f filter.Failure, loc *time.Location, o outOpts) (string, bool) {
	switch tok {
	case "id", "fid":
		return f.ID, true
	case "ip":
		if v, ok := f.Fields["ip"]; ok {
			return v, true
		}
		if f.Addr.IsValid() {
			return f.Addr.String(), true
		}
		return f.ID, true
	case "host":
		return f.Host, true
	case "time":
		return pyTime(f.Time, o.zoned), true
	case "date":
		return f.Time.In(loc).Format(time.DateTime), true
	case "msg", "matches":
		return strings.Join(f.Lines, "\n"), true
	case "failures", "attempts":
		return strconv.Itoa(len(f.Lines)), true
	}
	name := strings.ToLower(strings.TrimPrefix(tok, "F-"))
	v, ok := f.Fields[name]
	return v, ok
}

var outTagRE = regexp.MustCompile(`<([A-Za-z][\w-]*)>`)

// expandOutTemplate replaces the <tag>s of a template. A <msg> of a failure
// made of several lines gives one output line per matched line.
func expandOutTemplate(format string, f filter.Failure, loc *time.Location, o outOpts) []string {
	multi := len(f.Lines) > 1 && (strings.Contains(format, "<msg>") || strings.Contains(format, "<matches>"))
	const msgMark = "\x00msg\x00"
	out := outTagRE.ReplaceAllStringFunc(format, func(tag string) string {
		name := tag[1 : len(tag)-1]
		if multi && (name == "msg" || name == "matches") {
			return msgMark
		}
		v, ok := outToken(name, f, loc, o)
		if !ok {
			if strings.HasPrefix(name, "F-") {
				return "" // a field the failure did not capture
			}
			return tag
		}
		if name != "msg" && name != "matches" {
			v = strings.ReplaceAll(v, "\x00", `\x00`)
		}
		return v
	})
	if !multi {
		return []string{out}
	}
	lines := make([]string, len(f.Lines))
	for i, l := range f.Lines {
		lines[i] = strings.ReplaceAll(out, msgMark, l)
	}
	return lines
}

// outNeeds says what formatOut reads of a failure for format: lines is
// false when it reads neither Lines nor Users, and fields then lists the
// Fields keys it may look up. Without lines, the filter can skip building
// the rest (filter.Options.Counting with CountingFields).
func outNeeds(format string, compat bool) (lines bool, fields []string) {
	token := func(tok string) bool {
		switch tok {
		case "msg", "matches", "failures", "attempts":
			return true
		case "id", "fid", "host", "time", "date":
			return false
		}
		name := strings.ToLower(strings.TrimPrefix(tok, "F-"))
		if !slices.Contains(fields, name) {
			fields = append(fields, name)
		}
		return false
	}
	switch {
	case format == "msg" || format == "row":
		return true, nil
	case outListRE.MatchString(format):
		m := outListRE.FindStringSubmatch(format)
		for _, tok := range strings.Split(m[1], ",") {
			if token(strings.TrimSpace(tok)) {
				return true, nil
			}
		}
	case !strings.Contains(format, "<"):
		if compat && strings.HasPrefix(format, "F-") {
			return false, nil
		}
		if token(format) {
			return true, nil
		}
	default:
		for _, m := range outTagRE.FindAllStringSubmatch(format, -1) {
			if token(m[1]) {
				return true, nil
			}
		}
	}
	return false, fields
}

// pyTime prints epoch seconds as fail2ban-regex does: a whole number when
// the time was read in an explicit zone (fail2ban converts those with
// calendar.timegm, an int; warden knows it for --timezone, not for a zone
// written in the line), else a Python float ("1700000000.0").
func pyTime(t time.Time, zoned bool) string {
	if t.IsZero() {
		return "None"
	}
	if zoned && t.Nanosecond() == 0 {
		return strconv.FormatInt(t.Unix(), 10)
	}
	s := strconv.FormatFloat(float64(t.UnixMicro())/1e6, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// pyDict prints captured fields like Python prints a dict of strings (keys
// sorted, since the capture order is not known here), with the users of a
// multi-line failure as a set.
func pyDict(m map[string]string, users []string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != "matches" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = pyRepr(k) + ": " + pyRepr(m[k])
	}
	if len(users) > 0 {
		us := make([]string, len(users))
		for i, u := range users {
			us[i] = pyRepr(u)
		}
		parts = append(parts, "'users': {"+strings.Join(us, ", ")+"}")
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
