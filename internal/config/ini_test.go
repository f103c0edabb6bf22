package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseINI(t *testing.T) {
	type kv = map[string]string
	tests := []struct {
		name string
		src  string
		want map[string]kv // section -> options; "DEFAULT" for defaults
	}{
		{"equals and colon", "[a]\nx = 1\nY: 2\n", map[string]kv{"a": {"x": "1", "y": "2"}}},
		{"first separator wins", "[a]\nk: v = w\nl = m:n\n", map[string]kv{"a": {"k": "v = w", "l": "m:n"}}},
		{"continuation", "[a]\nx = one\n    two\n\tthree\ny = 2\n", map[string]kv{"a": {"x": "one\ntwo\nthree", "y": "2"}}},
		{"blank line inside value kept", "[a]\nx = one\n\n  two\n\n\n", map[string]kv{"a": {"x": "one\n\ntwo"}}},
		{"comment lines skipped inside value", "[a]\nx = one\n  # c\n  ; d\n  two\n", map[string]kv{"a": {"x": "one\ntwo"}}},
		{"inline semicolon after space", "[a]\nx = v ; note\ny = v;not\nz = v\t;tab\n", map[string]kv{"a": {"x": "v", "y": "v;not", "z": "v"}}},
		{"hash is not inline", "[a]\nx = v # kept\n", map[string]kv{"a": {"x": "v # kept"}}},
		{"empty value", "[a]\nx =\ny = \n", map[string]kv{"a": {"x": "", "y": ""}}},
		{"empty first line then continuation", "[a]\nx =\n  l1\n  l2\n", map[string]kv{"a": {"x": "\nl1\nl2"}}},
		{"defaults", "[DEFAULT]\nd = 1\n[a]\nx = %(d)s\n", map[string]kv{"DEFAULT": {"d": "1"}, "a": {"x": "%(d)s"}}},
		{"section names keep case", "[Definition]\nA = 1\n", map[string]kv{"Definition": {"a": "1"}}},
		{"header runs to last bracket", "[a]b]\nx = 1\n", map[string]kv{"a]b": {"x": "1"}}},
		{"indented option after header", "[a]\n  x = 1\n  y = 2\n", map[string]kv{"a": {"x": "1", "y": "2"}}},
		{"crlf", "[a]\r\nx = 1\r\n  2\r\n", map[string]kv{"a": {"x": "1\n2"}}},
		{"bom", "\ufeff[a]\nx = 1\n", map[string]kv{"a": {"x": "1"}}},
		{"continuation looks like header", "[a]\nx = 1\n  [b]\n", map[string]kv{"a": {"x": "1\n[b]"}}},
		{"conditional option", "[Init]\nblocktype?family=inet6 = DROP6\nx?family=inet: y\nplain = a=b\n",
			map[string]kv{"Init": {"blocktype?family=inet6": "DROP6", "x?family=inet": "y", "plain": "a=b"}}},
		{"comment only file", "# nothing\n; here\n", map[string]kv{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := parseINI("t.conf", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]kv{}
			add := func(s *section) {
				m := kv{}
				for _, k := range s.Keys() {
					v, _ := s.get(k)
					m[k] = v.Text
				}
				if len(m) > 0 || s.Name != defaultSection {
					got[s.Name] = m
				}
			}
			add(f.Defaults)
			for _, s := range f.Sections {
				add(s)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestParseINIPositions(t *testing.T) {
	f, err := parseINI("j.local", []byte("# c\n[s]\n\nx = 1\n  2\ny = 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := f.section("s")
	for k, line := range map[string]int{"x": 4, "y": 6} {
		if v, _ := s.get(k); v.Pos.Line != line || v.Pos.File != "j.local" {
			t.Errorf("%s at %v, want line %d", k, v.Pos, line)
		}
	}
	if s.Pos.Line != 2 {
		t.Errorf("section at %v", s.Pos)
	}
}

func TestParseINIErrors(t *testing.T) {
	tests := []struct {
		name, src string
		err       error
		at        string
	}{
		{"no header", "x = 1\n", ErrNoSection, "f.conf:1:"},
		{"unterminated header", "[a]\nx = 1\n[b\n", ErrBadHeader, "f.conf:3:"},
		{"unterminated first header", "[a\nx = 1\n", ErrBadHeader, "f.conf:1:"},
		{"no separator", "[a]\njust words\n", ErrSyntax, "f.conf:2:"},
		{"empty name", "[a]\n= 1\n", ErrSyntax, "f.conf:2:"},
		{"duplicate option", "[a]\nx = 1\nX = 2\n", ErrDuplicate, "f.conf:3:"},
		{"duplicate section", "[a]\n[b]\n[a]\n", ErrDuplicate, "f.conf:3:"},
		{"not utf8", "[a]\nx = \xff\n", ErrNotUTF8, "f.conf:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseINI("f.conf", []byte(tc.src))
			if !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
			if !strings.HasPrefix(err.Error(), tc.at) {
				t.Errorf("error %q does not start with %q", err, tc.at)
			}
		})
	}
}

func FuzzParseINI(f *testing.F) {
	for _, s := range []string{
		"[a]\nx = 1\n  2\n", "[DEFAULT]\na=%(b)s\n[x]\nb: c ; d\n", "[a\n", "x\n", "\ufeff[a]\r\nk=v\r",
		"[INCLUDES]\nbefore = common.conf\n[Definition]\nfailregex = ^<HOST>$\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		ini, err := parseINI("fuzz.conf", []byte(src))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.conf") {
				t.Fatalf("error without file name: %v", err)
			}
			return
		}
		for _, s := range append(ini.Sections, ini.Defaults) {
			for _, k := range s.Keys() {
				v, _ := s.get(k)
				if k != strings.ToLower(k) || strings.TrimSpace(k) != k || k == "" {
					t.Fatalf("bad key %q", k)
				}
				if v.Pos.Line < 1 {
					t.Fatalf("no line for %q", k)
				}
				// Interpolating any value must not panic.
				st := &store{defaults: ini.Defaults, sections: map[string]*section{s.Name: s}}
				_, _, _ = st.get(s.Name, k, nil)
			}
		}
	})
}
