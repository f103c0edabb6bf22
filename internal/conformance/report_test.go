package conformance

import (
	"fmt"
	"sort"
	"strings"
)

// tally counts the checked lines of one filter (or one options set).
type tally struct {
	lines, passed, excused int
}

// rate is the pass rate with excused lines left out of the count.
func (t tally) rate() float64 {
	n := t.lines - t.excused
	if n == 0 {
		return 1
	}
	return float64(t.passed) / float64(n)
}

func (t *tally) add(res lineResult) {
	t.lines++
	switch {
	case res.ok:
		t.passed++
	case res.gap != nil:
		t.excused++
	}
}

type setRow struct {
	source, filter, set string
	tally
}

// report gathers the outcome of every sample run.
type report struct {
	rows     []setRow
	filters  map[[2]string]*tally // (source, filter)
	totals   map[string]*tally    // by source
	sources  []string
	failures []string
	passedOK map[string]bool // "source/filter/file:line" of passing lines
}

func (rep *report) add(r *sampleRun) {
	if rep.filters == nil {
		rep.filters = map[[2]string]*tally{}
		rep.totals = map[string]*tally{}
		rep.passedOK = map[string]bool{}
	}
	if rep.totals[r.source] == nil {
		rep.totals[r.source] = &tally{}
		rep.sources = append(rep.sources, r.source)
	}
	fk := [2]string{r.source, r.name}
	if rep.filters[fk] == nil {
		rep.filters[fk] = &tally{}
	}
	sets := map[string]*setRow{}
	var order []string
	for _, res := range r.results {
		row := sets[res.set]
		if row == nil {
			row = &setRow{source: r.source, filter: r.name, set: res.set}
			sets[res.set] = row
			order = append(order, res.set)
		}
		row.add(res)
		rep.filters[fk].add(res)
		rep.totals[r.source].add(res)
		where := fmt.Sprintf("%s:%d", res.file, res.line)
		if res.ok {
			rep.passedOK[r.source+"/"+r.name+"/"+where] = true
			continue
		}
		tag := "FAIL"
		if res.gap != nil {
			tag = "known gap (docs/KNOWN-GAPS.md:" + fmt.Sprint(res.gap.Pos) + ")"
		}
		set := res.set
		if set == "" {
			set = "{}"
		}
		rep.failures = append(rep.failures, fmt.Sprintf("%s %s/%s %s %s: %s", tag, r.source, r.name, set, where, res.detail))
	}
	if len(order) == 0 {
		rep.rows = append(rep.rows, setRow{source: r.source, filter: r.name})
	}
	for _, s := range order {
		rep.rows = append(rep.rows, *sets[s])
	}
}

// format renders the per-filter table and the totals.
func (rep *report) format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-9s %-24s %-44s %6s %6s %7s %7s\n", "source", "filter", "options set", "lines", "passed", "excused", "rate")
	for _, r := range rep.rows {
		set := r.set
		if set == "" {
			set = "{}"
		}
		fmt.Fprintf(&b, "%-9s %-24s %-44s %6d %6d %7d %6.1f%%\n", r.source, r.filter, set, r.lines, r.passed, r.excused, 100*r.rate())
	}
	b.WriteString("\n")
	for _, s := range rep.sources {
		t := rep.totals[s]
		fmt.Fprintf(&b, "TOTAL %-9s lines %d, passed %d, known gaps %d, failed %d: %.2f%% (threshold %.0f%%)\n",
			s, t.lines, t.passed, t.excused, t.lines-t.passed-t.excused, 100*t.rate(), 100*minTotal)
	}
	return b.String()
}

// verdict returns one message per threshold the run misses.
func (rep *report) verdict() []string {
	var msgs []string
	keys := make([][2]string, 0, len(rep.filters))
	for k := range rep.filters {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i][0]+"/"+keys[i][1] < keys[j][0]+"/"+keys[j][1]
	})
	for _, k := range keys {
		t := rep.filters[k]
		if isCritical(k[1]) && t.passed+t.excused < t.lines {
			msgs = append(msgs, fmt.Sprintf("%s/%s: %d of %d sample lines fail (critical filter, must be 100%%)",
				k[0], k[1], t.lines-t.passed-t.excused, t.lines))
		}
	}
	for _, s := range rep.sources {
		if t := rep.totals[s]; t.rate() < minTotal {
			msgs = append(msgs, fmt.Sprintf("%s: total pass rate %.2f%% is below %.0f%%", s, 100*t.rate(), 100*minTotal))
		}
	}
	return msgs
}

// stale lists known gaps whose lines pass in every source that ran them.
func (rep *report) stale(gaps Gaps) []string {
	var out []string
	for _, g := range gaps {
		file := g.File
		name := g.Filter
		if i := strings.IndexByte(name, '/'); i >= 0 {
			name = name[i+1:]
		}
		if file == "" {
			file = name
		}
		still := false
		seen := false
		for _, s := range rep.sources {
			if g.Filter != name && g.Filter != s+"/"+name {
				continue
			}
			if _, ran := rep.filters[[2]string{s, name}]; !ran {
				continue
			}
			seen = true
			if !rep.passedOK[fmt.Sprintf("%s/%s/%s:%d", s, name, file, g.Line)] {
				still = true
			}
		}
		if seen && !still {
			out = append(out, fmt.Sprintf("docs/KNOWN-GAPS.md:%d %s %s:%d", g.Pos, g.Filter, file, g.Line))
		}
	}
	return out
}
