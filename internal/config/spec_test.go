package config

import (
	"errors"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in     string
		name   string
		params map[string]string
		err    bool
	}{
		{"sshd", "sshd", map[string]string{}, false},
		{"sshd[mode=aggressive]", "sshd", map[string]string{"mode": "aggressive"}, false},
		{`sshd[mode=aggressive, port="a,b"]`, "sshd", map[string]string{"mode": "aggressive", "port": "a,b"}, false},
		{`a[x='q]x', y= spaced ]`, "a", map[string]string{"x": "q]x", "y": "spaced"}, false},
		{`a[x=1][y=2]`, "a", map[string]string{"x": "1", "y": "2"}, false},
		{`a[x=1] [y=2]`, "a", map[string]string{"x": "1", "y": "2"}, false},
		{`a[x=1,]`, "a", map[string]string{"x": "1"}, false},
		{`a[]`, "a", map[string]string{}, false},
		{"a[x=\"multi\nline\"]", "a", map[string]string{"x": "multi\nline"}, false},
		{`a[name=%(__name__)s, k.v-w=1]`, "a", map[string]string{"name": "%(__name__)s", "k.v-w": "1"}, false},
		{`a[x="1" y=2]`, "", nil, true},
		{`a[=1]`, "", nil, true},
		{`a[x=1`, "", nil, true},
		{`[x=1]`, "", nil, true},
		{`a[x=1] b`, "", nil, true},
		{``, "", nil, true},
	}
	for _, tc := range tests {
		name, params, err := parseSpec(tc.in)
		if tc.err {
			if err == nil || !errors.Is(err, ErrBadSpec) {
				t.Errorf("parseSpec(%q) = %q %v, want ErrBadSpec", tc.in, name, err)
			}
			continue
		}
		if err != nil || name != tc.name || !reflect.DeepEqual(params.toMap(), tc.params) {
			t.Errorf("parseSpec(%q) = %q %q %v; want %q %q", tc.in, name, params.toMap(), err, tc.name, tc.params)
		}
	}
}

func TestParseSpecExported(t *testing.T) {
	tests := []struct {
		in   string
		name string
		opts [][2]string
		err  bool
	}{
		{" sshd ", "sshd", nil, false},
		{`j[b=2, a="x, y"][c='3']`, "j", [][2]string{{"b", "2"}, {"a", "x, y"}, {"c", "3"}}, false},
		{`j[a=1, b=2, a=3]`, "j", [][2]string{{"a", "3"}, {"b", "2"}}, false},
		{`j[a=1`, "", nil, true},
	}
	for _, tc := range tests {
		name, opts, err := ParseSpec(tc.in)
		if tc.err != (err != nil) || (err != nil && !errors.Is(err, ErrBadSpec)) {
			t.Errorf("ParseSpec(%q): error %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if name != tc.name || !reflect.DeepEqual(opts, tc.opts) {
			t.Errorf("ParseSpec(%q) = %q %q, want %q %q", tc.in, name, opts, tc.name, tc.opts)
		}
	}
}

func TestSplitSpecs(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a", []string{"a"}},
		{"a b\n c", []string{"a", "b", "c"}},
		{"a[x=1, y=\"p q\"]\n  b[port=\"80,443\"]", []string{`a[x=1, y="p q"]`, `b[port="80,443"]`}},
		{"a [x=1]\nb", []string{"a [x=1]", "b"}},
		{"a[x=1]\n[y=2] b", []string{"a[x=1]\n[y=2]", "b"}},
		{"a[x=\"]\"] b", []string{`a[x="]"]`, "b"}},
		{"a[x=1 b", []string{"a[x=1", "b"}},
		{"  \n ", nil},
	}
	for _, tc := range tests {
		if got := splitSpecs(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitSpecs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSubstituteTags(t *testing.T) {
	mk := func(kv ...string) *omap {
		o := newOmap()
		for i := 0; i < len(kv); i += 2 {
			o.Set(kv[i], kv[i+1])
		}
		return o
	}
	tests := []struct {
		name   string
		in     *omap
		ignore []string
		want   map[string]string
		err    bool
	}{
		{"simple", mk("a", "3", "b", "<a>_3"), nil, map[string]string{"a": "3", "b": "3_3"}, false},
		{"nested name", mk("mode", "x", "re-x", "X!", "f", "<re-<mode>>"), nil, map[string]string{"mode": "x", "re-x": "X!", "f": "X!"}, false},
		{"unknown left", mk("f", "<HOST> <F-USER>.*</F-USER> <ip>"), nil, map[string]string{"f": "<HOST> <F-USER>.*</F-USER> <ip>"}, false},
		{"ignored", mk("bantime", "1", "cmd", "x <bantime>"), []string{"bantime"}, map[string]string{"bantime": "1", "cmd": "x <bantime>"}, false},
		{"chain", mk("a", "<b>", "b", "<c>", "c", "end"), nil, map[string]string{"a": "end", "b": "end", "c": "end"}, false},
		{"self", mk("a", "x<a>"), nil, nil, true},
		{"mutual", mk("a", "<b>", "b", "<a>"), nil, nil, true},
		{"space is no tag", mk("a", "1", "f", "< a> <a >"), nil, map[string]string{"a": "1", "f": "< a> <a >"}, false},
	}
	for _, tc := range tests {
		ign := map[string]bool{}
		for _, n := range tc.ignore {
			ign[n] = true
		}
		got, err := substituteTags(tc.in, ign, "", nil)
		if tc.err {
			if !errors.Is(err, ErrTagLoop) {
				t.Errorf("%s: err %v, want ErrTagLoop", tc.name, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got.toMap(), tc.want) {
			t.Errorf("%s: got %q %v, want %q", tc.name, got.toMap(), err, tc.want)
		}
	}
}

func TestLoadFilter(t *testing.T) {
	fsys := fstest.MapFS{
		"filter.d/common.conf": {Data: []byte("[DEFAULT]\n__pre = ^pre\n")},
		"filter.d/x.conf": {Data: []byte("[INCLUDES]\nbefore = common.conf\n[Definition]\n" +
			"failregex = %(__pre)s <re-<mode>>\nre-normal = n <HOST>\nre-aggressive = a <HOST>\n" +
			"journalmatch = _COMM=x\nmaxlines = 2\n[Init]\nmode = normal\n")},
		"filter.d/x.local": {Data: []byte("[Definition]\nignoreregex = ^ok$\n")},
	}
	tests := []struct {
		spec, fail string
	}{
		{"x", "^pre n <HOST>"},
		{"x[mode=aggressive]", "^pre a <HOST>"},
		{"x.conf", "^pre n <HOST>"},
		{"filter.d/x.conf[mode=aggressive]", "^pre a <HOST>"},
	}
	for _, tc := range tests {
		f, err := LoadFilter(fsys, tc.spec)
		if err != nil {
			t.Fatalf("%s: %v", tc.spec, err)
		}
		if !reflect.DeepEqual(f.FailRegex, []string{tc.fail}) || f.MaxLines != 2 ||
			!reflect.DeepEqual(f.IgnoreRegex, []string{"^ok$"}) || f.Options["logtype"] != "file" {
			t.Errorf("%s: %+v", tc.spec, f)
		}
	}
	if _, err := LoadFilter(fsys, "nosuch"); !errors.Is(err, ErrMissingFilter) {
		t.Errorf("missing filter: %v", err)
	}
	f, err := LoadFilterBackend(fsys, "x", "systemd")
	if err != nil || f.Options["logtype"] != "journal" {
		t.Errorf("systemd backend: %v %v", err, f)
	}
}

// TestRealSSHDFilter checks LoadFilter on the installed sshd filter in
// aggressive mode against the regexes fail2ban's jail resolution gave.
func TestRealSSHDAggressive(t *testing.T) {
	needRealTree(t)
	t.Parallel()
	dir := copyTree(t, map[string]string{"jail.local": "[sshd]\nenabled = true\nmode = aggressive\n"})
	jails, _ := fail2banDump(t, dir)
	want := jails["sshd"]
	if want == nil || len(want.FailRegex) == 0 {
		t.Fatal("fail2ban resolved no sshd jail")
	}
	f, err := LoadFilter(os.DirFS(dir), "sshd[mode=aggressive]")
	if err != nil {
		t.Fatal(err)
	}
	if f.PrefRegex != want.PrefRegex || !reflect.DeepEqual(f.FailRegex, want.FailRegex) {
		t.Errorf("sshd[mode=aggressive]:\n got %q %q\nwant %q %q", f.PrefRegex, f.FailRegex, want.PrefRegex, want.FailRegex)
	}
	if !strings.Contains(strings.Join(f.FailRegex, "\n"), "banner exchange") {
		t.Error("aggressive mode lacks the ddos regexes")
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"sshd[mode=aggressive]", `a[p="a,b", q='c]']`, "a[x=1][y=2]", "a[x", "[", "a[x=1] b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, params, err := parseSpec(s)
		if err == nil && (name == "" || params == nil) {
			t.Fatalf("%q: empty result without error", s)
		}
		for _, e := range splitSpecs(s) {
			if strings.TrimSpace(e) == "" {
				t.Fatalf("%q: empty entry", s)
			}
		}
	})
}

// FuzzLoad loads a tree whose jail.local is the fuzz input: whatever it
// says, Load must return a Config or an error, never panic or hang.
func FuzzLoad(f *testing.F) {
	for _, s := range []string{
		"[j]\nenabled = true\nfilter = f[a=1]\naction = a[x=<y>]\n",
		"[DEFAULT]\nenabled = true\nbantime = 1h 3m\n[j]\nfailregex = %(known/failregex)s\n  x\n",
		"[INCLUDES]\nbefore = jail.local\n[j]\nenabled=1\n",
		"[j]\nenabled = yes\nfilter = f[mode=<mode>]\nmode = <mode>\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, local string) {
		fsys := fstest.MapFS{
			"jail.conf":       {Data: []byte("[DEFAULT]\nfilter = f\naction = a\n[j]\nport = 1\n")},
			"jail.local":      {Data: []byte(local)},
			"filter.d/f.conf": {Data: []byte("[Definition]\nfailregex = ^<x-<a>> <HOST>$\n  %(known/x)s\nx-1 = one\n[Init]\na = 1\n")},
			"action.d/a.conf": {Data: []byte("[Definition]\nactionban = ban <ip> <x> <name>\n[Init]\nx = 2\n")},
		}
		cfg, err := Load(fsys, Options{})
		if err == nil && cfg == nil {
			t.Fatal("nil config without error")
		}
	})
}

func TestSubstituteTagsBounded(t *testing.T) {
	o := newOmap()
	o.Set("f", "<t0>")
	for i := 0; i < 24; i++ {
		o.Set(fmtTag(i), "<"+fmtTag(i+1)+"><"+fmtTag(i+1)+">")
	}
	o.Set(fmtTag(24), strings.Repeat("x", 100))
	if _, err := substituteTags(o, nil, "", nil); !errors.Is(err, ErrTagLoop) {
		t.Fatalf("doubling definitions: %v", err)
	}
}

func fmtTag(i int) string { return "t" + strconv.Itoa(i) }
