package config

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
	"time"

	"warden/internal/fail2bantest"
)

type pyAnswer struct {
	Sections map[string]map[string]string `json:"sections"`
	Seconds  *float64                     `json:"seconds"`
	Error    string                       `json:"error"`
}

// pyRef asks fail2ban's own Python code (testdata/pyref.py) for answers.
func pyRef(t *testing.T, reqs []map[string]string) []pyAnswer {
	t.Helper()
	py := fail2bantest.Python(t)
	in, _ := json.Marshal(reqs)
	cmd := exec.Command(py, "testdata/pyref.py")
	cmd.Stdin = bytes.NewReader(in)
	cmd.Dir = "."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pyref: %v", err)
	}
	var ans []pyAnswer
	if err := json.Unmarshal(out, &ans); err != nil {
		t.Fatal(err)
	}
	if len(ans) != len(reqs) {
		t.Fatalf("%d answers for %d requests", len(ans), len(reqs))
	}
	return ans
}

// iniCorpus are INI sources whose parse and %(x)s interpolation must match
// fail2ban's parser exactly.
var iniCorpus = []string{
	"[a]\nx = 1\ny = %(x)s%(x)s\n",
	"[DEFAULT]\nd = D\n[a]\nx = %(d)s/%(__name__)s\n[b]\nd = B\nx = %(d)s\n",
	"[a]\nx = 100%%\ny = %(x)s!\n",
	"[a]\nx = %(missing)s\n",
	"[a]\nx = %(y)s\ny = %(x)s\n",
	"[a]\nx = 50%\n",
	"[a]\nx = %(y\n",
	"[a]\nX = %(Y)s\nY = upper\n",
	"[a]\nx = v\n[b]\ny = %(a/x)s and %(default/z)s\n[DEFAULT]\nz = Z\n",
	"[b]\ny = %(nosuch/x)s\n",
	"[a]\nl = one\n  two ; c\n  three\nm = %(l)s\n",
	"[a]\nx = 1\n [b]\ny=2\n",
	"[a]\nk:v=w\n",
	"[a]\nx = a;b ;c\n",
	"[a]\n\tx = 1\n\t  y\n",
	"[a]\nx = %(__name__)s\n[Init?family=inet6]\nx = %(__name__)s\n",
	"[a]\nx = %(d1)s\nd1 = %(d2)s\nd2 = %(d3)s\nd3 = %(d4)s\nd4 = %(d5)s\nd5 = %(d6)s\nd6 = %(d7)s\nd7 = %(d8)s\nd8 = %(d9)s\nd9 = %(d10)s\nd10 = %(d11)s\nd11 = end\n",
	"[a]\nx = %(d1)s\nd1 = %(d2)s\nd2 = %(d3)s\nd3 = %(d4)s\nd4 = %(d5)s\nd5 = %(d6)s\nd6 = %(d7)s\nd7 = %(d8)s\nd8 = %(d9)s\nd9 = end\n",
	"[a]\nx = %(a/Y)s\ny = 1\n",
	"[a]\nx = %(A/y)s\ny = 1\n",
	"[a]\nx = %()s\n",
	"[a]\nx = %(y)d\ny = 1\n",
	"[a]\nx = 1\nx = 2\n",
	"x = 1\n",
	"[a\n",
	"[a]\nnovalue\n",
	"[a]\n[a]\n",
	"\n\n[a]\n  \n\tx=\t1\t\n",
}

func TestINIMatchesFail2ban(t *testing.T) {
	var reqs []map[string]string
	for _, src := range iniCorpus {
		reqs = append(reqs, map[string]string{"kind": "ini", "src": src})
	}
	ans := pyRef(t, reqs)
	for i, src := range iniCorpus {
		want := ans[i]
		f, err := parseINI("t.conf", []byte(src))
		if (err != nil) != (want.Error != "") {
			t.Errorf("%q: error %v, fail2ban %q", src, err, want.Error)
			continue
		}
		if err != nil {
			continue
		}
		st := &store{defaults: f.Defaults, sections: map[string]*section{}}
		for _, s := range f.Sections {
			st.sections[s.Name] = s
		}
		for sec, opts := range want.Sections {
			for k, wv := range opts {
				if sec != defaultSection && !st.sections[sec].has(k) && !st.defaults.has(k) {
					t.Errorf("%q: [%s] %s missing", src, sec, k)
					continue
				}
				got, _, err := st.get(sec, k, nil)
				if strings.HasPrefix(wv, "ERROR:") {
					if err == nil {
						t.Errorf("%q: [%s] %s = %q, fail2ban fails with %s", src, sec, k, got, wv)
					}
					continue
				}
				if err != nil || got != wv {
					t.Errorf("%q: [%s] %s = %q (%v), fail2ban %q", src, sec, k, got, err, wv)
				}
			}
		}
	}
}

// timeCases are time values with what fail2ban makes of them (seconds;
// NaN-free; err when it rejects them).
var timeCases = []struct {
	in   string
	secs float64
	err  bool
}{
	{"600", 600, false}, {"10m", 600, false}, {"1h30m", 5400, false}, {"1d12h", 129600, false},
	{"1mo", 2629800, false}, {"1y", 31557600, false}, {"-1", -1, false}, {"1w", 604800, false},
	{"1 hour 30 min", 5400, false}, {"1year-6mo", 15778800, false}, {"1hour+30min", 5400, false},
	{"1.5h", 5400, false}, {"2*3m", 360, false}, {"1 2", 3, false}, {"1m 30s", 90, false},
	{"5 minutes", 300, false}, {"1 day 2 hours", 93600, false}, {"1dd", 86400, false},
	{"30 sec", 30, false}, {"10 m", 600, false}, {"1h-30m", 1800, false}, {"(1+2)*3m", 540, false},
	{" 5m ", 300, false}, {"1mon", 2629800, false}, {"1d1h1m1s", 90061, false}, {"1M", 60, false},
	{"1H", 3600, false}, {"2weeks", 1209600, false}, {"3 days", 259200, false}, {"1 2 3", 0, true},
	{"1e3", 0, true}, {"0x10", 0, true}, {"abc", 0, true}, {"", 0, true}, {"1ms", 0, true},
	{"010", 0, true}, {"00", 0, false}, {"1/0", 0, true}, {"5m)", 0, true}, {"((5m)", 0, true},
	{"-5m", -300, false}, {"--1", 1, false}, {"2**3", 8, false}, {"-2**2", -4, false},
	{"7//2", 3, false}, {"7%4m", 180, false}, {"1.", 1, false}, {".5m", 30, false}, {"1h 30", 3630, false},
	{"1 hours30min", 5400, false}, {"4 ss", 4, false}, {"1 yy", 31557600, false},
}

func TestParseTime(t *testing.T) {
	for _, tc := range timeCases {
		got, err := ParseTime(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("ParseTime(%q) = %v, want error", tc.in, got)
			}
			continue
		}
		want := time.Duration(tc.secs * float64(time.Second))
		if err != nil || got != want {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, want)
		}
	}
}

func TestParseTimeMatchesFail2ban(t *testing.T) {
	var reqs []map[string]string
	for _, tc := range timeCases {
		reqs = append(reqs, map[string]string{"kind": "time", "v": tc.in})
	}
	ans := pyRef(t, reqs)
	for i, tc := range timeCases {
		got, err := ParseTime(tc.in)
		w := ans[i]
		if w.Error != "" || w.Seconds == nil {
			if err == nil {
				t.Errorf("%q: got %v, fail2ban fails (%s)", tc.in, got, w.Error)
			}
			continue
		}
		want := time.Duration(*w.Seconds * float64(time.Second))
		if err != nil || got != want {
			t.Errorf("%q: got %v (%v), fail2ban %v", tc.in, got, err, want)
		}
	}
}

func FuzzParseTime(f *testing.F) {
	for _, tc := range timeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseTime(s)
		if err == nil && d != 0 && strings.TrimSpace(s) == "" {
			t.Fatalf("%q parsed to %v", s, d)
		}
	})
}
