package conformance

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Gap is one sample line warden is known to get wrong, with the reason.
type Gap struct {
	// Filter is the filter name, optionally prefixed by the filter source
	// ("defaults/sshd" applies to the embedded filter only; "sshd" to all).
	Filter string
	// File is the sample log holding the line ("" = the filter's own log).
	File  string
	Line  int
	Cause string
	// Pos is where the entry is written, for messages.
	Pos int
}

// Gaps is the known-gaps list, looked up by filter source, filter and line.
type Gaps []Gap

// Find returns the entry excusing line ln of file for filter name read from
// source, if any.
func (g Gaps) Find(source, name, file string, ln int) (Gap, bool) {
	for _, e := range g {
		if e.Line != ln {
			continue
		}
		if e.Filter != name && e.Filter != source+"/"+name {
			continue
		}
		f := e.File
		if f == "" {
			f = name
		}
		if f == file {
			return e, true
		}
	}
	return Gap{}, false
}

// ParseGaps reads the markdown table of docs/KNOWN-GAPS.md: every table row
// "| filter | line | cause |" after the header row. line is "N" (a line of
// the filter's own sample log) or "file:N".
func ParseGaps(r io.Reader, name string) (Gaps, error) {
	var gaps Gaps
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		s := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(s, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(s, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) != 3 {
			return nil, fmt.Errorf("%s:%d: want 3 cells (filter | line | cause), got %d", name, n, len(cells))
		}
		if cells[0] == "filter" || strings.HasPrefix(cells[0], "--") || strings.HasPrefix(cells[0], ":-") {
			continue // header and separator rows
		}
		g := Gap{Filter: strings.Trim(cells[0], "`"), Cause: cells[2], Pos: n}
		ln := strings.Trim(cells[1], "`")
		if i := strings.LastIndexByte(ln, ':'); i >= 0 {
			g.File, ln = ln[:i], ln[i+1:]
		}
		v, err := strconv.Atoi(ln)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%s:%d: bad line number %q", name, n, cells[1])
		}
		g.Line = v
		if g.Filter == "" || g.Cause == "" {
			return nil, fmt.Errorf("%s:%d: filter and cause must not be empty", name, n)
		}
		gaps = append(gaps, g)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return gaps, nil
}
