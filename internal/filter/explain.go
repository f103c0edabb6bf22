package filter

// RegexInfo describes how one configured regex is run (for
// `warden regex --explain`).
type RegexInfo struct {
	Kind   string // "prefregex", "failregex" or "ignoreregex"
	Index  int    // position in its list, from 0
	Source string // as configured
	// Expanded is the Python-dialect regex after tag expansion (what
	// fail2ban compiles and fail2ban-regex prints).
	Expanded string
	// Engine is EngineGo or EngineRegexp2 (for lines that are pure ASCII;
	// Reasons says when other lines need regexp2).
	Engine  string
	Reasons []string
	// Go is the Go expression: the matcher itself with EngineGo, a
	// superset pre-check with EngineRegexp2 ("" if there is none).
	Go string
	// Literals are strings of which each group needs one present before
	// any regex runs ("a|b" lists alternatives).
	Literals []string
}

// Explain reports, for each regex of the filter, which engine runs it and
// why.
func (f *Filter) Explain() []RegexInfo {
	var out []RegexInfo
	add := func(kind string, i int, p *pattern) {
		eng, why := p.engine()
		info := RegexInfo{Kind: kind, Index: i, Source: p.source, Expanded: p.expanded, Engine: eng, Reasons: why}
		if p.ascii.re != nil {
			info.Go = p.ascii.re.String()
		}
		for _, req := range p.reqs {
			s := ""
			for j, lit := range req {
				if j > 0 {
					s += "|"
				}
				s += string(lit)
			}
			info.Literals = append(info.Literals, s)
		}
		out = append(out, info)
	}
	if f.pref != nil {
		add("prefregex", 0, f.pref)
	}
	for i, p := range f.fail {
		add("failregex", i, p)
	}
	for i, p := range f.ignore {
		add("ignoreregex", i, p)
	}
	return out
}

// PrefRegex returns the prefregex after tag expansion, as fail2ban-regex
// prints it ("" when the filter has none).
func (f *Filter) PrefRegex() string {
	if f.pref == nil {
		return ""
	}
	return f.pref.expanded
}
