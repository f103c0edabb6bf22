package conformance

import (
	"errors"
	"strings"
	"testing"
)

func TestParseDirective(t *testing.T) {
	tests := []struct {
		line    string
		kind    DirectiveKind
		payload string
	}{
		{`# failJSON: { "match": false }`, FailJSON, ` { "match": false }`},
		{`#failJSON:{"match":true}`, FailJSON, `{"match":true}`},
		{`## filterOptions: [{}]`, FilterOptions, ` [{}]`},
		{`# fileOptions: {"logtype": "journal"}`, FileOptions, ` {"logtype": "journal"}`},
		{`# addFILE: "sshd-journal"`, AddFile, ` "sshd-journal"`},
		{`# normal mode # filterOptions: {"mode": "normal"}`, NoDirective, ""},
		{`#  failJSON: {}`, NoDirective, ""}, // two spaces: not a directive
		{`Jan  1 00:00:00 host sshd[1]: x`, NoDirective, ""},
		{`# failJSON:`, NoDirective, ""},
	}
	for _, tt := range tests {
		k, p := ParseDirective(tt.line)
		if k != tt.kind || p != tt.payload {
			t.Errorf("ParseDirective(%q) = %v, %q; want %v, %q", tt.line, k, p, tt.kind, tt.payload)
		}
	}
}

func TestOptionSets(t *testing.T) {
	tests := []struct {
		in    string
		keys  []string
		specs []string
		err   error
	}{
		{`{"mode": "aggressive"}`, []string{`{"mode": "aggressive"}`}, []string{"sshd[mode=aggressive]"}, nil},
		{`[{}, {"mode": "ddos"}]`, []string{"", `{"mode": "ddos"}`}, []string{"sshd", "sshd[mode=ddos]"}, nil},
		{`[{"logtype": "journal", "test.prefix-line": "srv a[1]: "}]`,
			[]string{`{"logtype": "journal", "test.prefix-line": "srv a[1]: "}`},
			[]string{`sshd[logtype=journal, test.prefix-line="srv a[1]: "]`}, nil},
		{`{"b": "1", "a": "2"}`, []string{`{"b": "1", "a": "2"}`}, []string{"sshd[b=1, a=2]"}, nil},
		{`[1]`, nil, nil, ErrNotObject},
		{`"x"`, nil, nil, ErrNotObject},
	}
	for _, tt := range tests {
		sets, err := DecodeOptionSets(tt.in)
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: error %v, want %v", tt.in, err, tt.err)
			continue
		}
		if len(sets) != len(tt.keys) {
			t.Errorf("%s: %d sets, want %d", tt.in, len(sets), len(tt.keys))
			continue
		}
		for i, s := range sets {
			if got := s.Key(); got != tt.keys[i] {
				t.Errorf("%s: set %d key %s, want %s", tt.in, i, got, tt.keys[i])
			}
			if got := s.Spec("sshd"); got != tt.specs[i] {
				t.Errorf("%s: set %d spec %s, want %s", tt.in, i, got, tt.specs[i])
			}
		}
	}
}

func TestMergeAndFilterOnly(t *testing.T) {
	common, err := DecodeObject(`{"logtype": "journal", "test.condition": "name=='sshd'"}`)
	if err != nil {
		t.Fatal(err)
	}
	set, _ := DecodeObject(`{"mode": "extra", "logtype": "file"}`)
	m := common.Merge(set)
	if got, want := m.Key(), `{"logtype": "file", "test.condition": "name=='sshd'", "mode": "extra"}`; got != want {
		t.Errorf("merge: %s, want %s", got, want)
	}
	if got, want := m.FilterOnly().Key(), `{"logtype": "file", "mode": "extra"}`; got != want {
		t.Errorf("filter only: %s, want %s", got, want)
	}
	if common.Key() != `{"logtype": "journal", "test.condition": "name=='sshd'"}` {
		t.Errorf("merge changed its receiver: %s", common.Key())
	}
}

func TestEval(t *testing.T) {
	aggr, _ := DecodeObject(`{"mode": "aggressive"}`)
	tests := []struct {
		expr string
		env  Env
		want bool
		err  bool
	}{
		{"name == 'sshd'", Env{Name: "sshd"}, true, false},
		{"name=='sshd'", Env{Name: "sshd-journal"}, false, false},
		{"opts.get('mode') != 'aggressive'", Env{Opts: aggr}, false, false},
		{"opts.get('mode') == 'aggressive'", Env{Opts: aggr}, true, false},
		{"opts.get('mode') == 'aggressive'", Env{}, false, false},
		{"opts.get('mode') is None", Env{}, false, true},
		{"opts.get('mode', 'normal') == 'normal'", Env{}, true, false},
		{"not opts.get('mode')", Env{}, true, false},
		{"name == 'x' or (name == 'sshd' and opts.get('mode') == 'aggressive')", Env{Name: "sshd", Opts: aggr}, true, false},
		{"name == \"sshd\"", Env{Name: "sshd"}, true, false},
		{"name == 'sshd", Env{}, false, true},
		{"__import__('os')", Env{}, false, true},
		{"name = 'a'", Env{}, false, true},
	}
	for _, tt := range tests {
		got, err := Eval(tt.expr, tt.env)
		if (err != nil) != tt.err {
			t.Errorf("Eval(%q) error %v, want error %v", tt.expr, err, tt.err)
			continue
		}
		if err == nil && got != tt.want {
			t.Errorf("Eval(%q) = %v, want %v", tt.expr, got, tt.want)
		}
	}
}

func TestParseGaps(t *testing.T) {
	src := "# Known gaps\n\ntext | not a row\n| filter | line | cause |\n|---|---|---|\n" +
		"| sshd | 12 | date parsing |\n| defaults/sshd | `sshd-journal:65` | ip4 field |\n"
	g, err := ParseGaps(strings.NewReader(src), "gaps.md")
	if err != nil {
		t.Fatal(err)
	}
	if len(g) != 2 {
		t.Fatalf("got %d gaps, want 2: %+v", len(g), g)
	}
	if _, ok := g.Find("etc", "sshd", "sshd", 12); !ok {
		t.Error("sshd:12 not found")
	}
	if _, ok := g.Find("etc", "sshd", "sshd-journal", 65); ok {
		t.Error("defaults-only entry applied to etc")
	}
	if e, ok := g.Find("defaults", "sshd", "sshd-journal", 65); !ok || e.Pos != 7 {
		t.Errorf("defaults entry: %+v %v", e, ok)
	}
	for _, bad := range []string{"| a | b |\n", "| sshd | x | c |\n", "| sshd | 3 | |\n", "| sshd | 0 | c |\n"} {
		if _, err := ParseGaps(strings.NewReader(bad), "bad.md"); err == nil {
			t.Errorf("ParseGaps(%q): no error", bad)
		}
	}
}

func TestSplitLines(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a\nb\n", []string{"a", "b"}},
		{"a\r\nb", []string{"a\r", "b"}},
		{"\n\n", []string{"", ""}},
	}
	for _, tt := range tests {
		got := SplitLines([]byte(tt.in))
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("SplitLines(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzDecodeOptionSets(f *testing.F) {
	for _, s := range []string{`{}`, `[{}, {"mode": "a"}]`, `{"a": [1, {"b": null}]}`, `[`, `{"a":1}x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sets, err := DecodeOptionSets(s)
		if err != nil {
			return
		}
		for _, o := range sets {
			if len(o.Keys) != len(o.Vals) {
				t.Fatalf("keys %v and values %v disagree", o.Keys, o.Vals)
			}
			_ = o.Spec("x")
			_ = o.Key()
		}
	})
}

func FuzzEval(f *testing.F) {
	for _, s := range []string{"name == 'sshd'", "opts.get('mode') != 'aggressive'", "not (a", "'", "opts.get(", "((((name))))"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = Eval(s, Env{Name: "sshd"})
	})
}

func FuzzParseGaps(f *testing.F) {
	f.Add("| filter | line | cause |\n|--|--|--|\n| sshd | 3 | x |\n")
	f.Add("| a | b:c:4 | d |")
	f.Fuzz(func(t *testing.T, s string) {
		g, err := ParseGaps(strings.NewReader(s), "f")
		if err != nil {
			return
		}
		for _, e := range g {
			if e.Line <= 0 || e.Filter == "" || e.Cause == "" {
				t.Fatalf("invalid entry accepted: %+v", e)
			}
		}
	})
}
