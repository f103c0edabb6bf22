package main

import (
	"bytes"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

func testConfig(t testing.TB, kind string) Config {
	return Config{Kind: kind, Lines: 5000, Attackers: 30, AttackRatio: 0.2, Seed: 42,
		Start: mustTime(t, defaultStart), Rate: 20, Host: "srv01"}
}

func generate(t testing.TB, cfg Config) (string, Stats) {
	t.Helper()
	var b bytes.Buffer
	st, err := Generate(cfg, &b)
	if err != nil {
		t.Fatal(err)
	}
	return b.String(), st
}

// stampREs match each kind's timestamp at the start of a line.
func stampREs() map[string]*regexp.Regexp {
	return map[string]*regexp.Regexp{
		"auth":         regexp.MustCompile(`^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d \d\d:\d\d:\d\d srv01 \S+: `),
		"auth-rfc3339": regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d srv01 \S+: `),
		"mail":         regexp.MustCompile(`^[A-Z][a-z]{2} [ 123]\d \d\d:\d\d:\d\d srv01 (postfix/\S+\[\d+\]|dovecot): `),
		"nginx":        regexp.MustCompile(`^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \[(error|warn|crit|notice)\] \d+#\d+: `),
		"apache":       regexp.MustCompile(`^\[[A-Z][a-z]{2} [A-Z][a-z]{2} \d\d \d\d:\d\d:\d\d\.\d{6} \d{4}\] \[\w+:\w+\] \[pid \d+:tid \d+\] `),
	}
}

func TestShapeAndCounts(t *testing.T) {
	for kind, re := range stampREs() {
		t.Run(kind, func(t *testing.T) {
			cfg := testConfig(t, kind)
			out, st := generate(t, cfg)
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != cfg.Lines || st.Lines != cfg.Lines {
				t.Fatalf("got %d lines (stats say %d), want %d", len(lines), st.Lines, cfg.Lines)
			}
			for i, l := range lines {
				if !re.MatchString(l) {
					t.Fatalf("line %d has the wrong shape: %q", i+1, l)
				}
			}
			if st.AttackLines == 0 || st.AttackLines >= st.Lines {
				t.Errorf("attack lines = %d of %d", st.AttackLines, st.Lines)
			}
			if st.Attackers == 0 || st.Attackers > cfg.Attackers {
				t.Errorf("attackers = %d, want 1..%d", st.Attackers, cfg.Attackers)
			}
			// every address a filter should report appears in the log text
			for _, f := range st.Filters {
				for a := range f.Addrs {
					if !strings.Contains(out, a.String()) {
						t.Errorf("%s: address %s not in the output", f.Name, a)
					}
				}
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	for kind := range stampREs() {
		cfg := testConfig(t, kind)
		a, sa := generate(t, cfg)
		b, sb := generate(t, cfg)
		if a != b || sa.AttackLines != sb.AttackLines {
			t.Errorf("%s: two runs with seed %d differ", kind, cfg.Seed)
		}
		cfg.Seed++
		if c, _ := generate(t, cfg); c == a {
			t.Errorf("%s: seeds %d and %d give the same log", kind, cfg.Seed-1, cfg.Seed)
		}
	}
}

// TestGolden pins the exact bytes of a short log of each kind, so a change of output
// for a given seed is a deliberate one (refresh with -update).
func TestGolden(t *testing.T) {
	for _, kind := range []string{"auth", "mail", "nginx", "apache"} {
		cfg := testConfig(t, kind)
		cfg.Lines = 60
		out, _ := generate(t, cfg)
		path := filepath.Join("testdata", kind+".golden")
		if *update {
			if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if out != string(want) {
			t.Errorf("%s: output differs from %s (run go test -update if intended)", kind, path)
		}
	}
}

func TestAttackRatio(t *testing.T) {
	for _, kind := range []string{"auth", "mail", "nginx", "apache"} {
		for _, ratio := range []float64{0, 0.02, 0.1, 0.5, 0.9, 1} {
			cfg := testConfig(t, kind)
			cfg.Lines, cfg.AttackRatio = 20000, ratio
			_, st := generate(t, cfg)
			share := float64(st.SessionLines) / float64(st.Lines)
			if d := share - ratio; d < -0.03 || d > 0.03 {
				t.Errorf("%s ratio %v: attack-session share %.3f", kind, ratio, share)
			}
			if st.AttackLines > st.SessionLines || (ratio > 0) != (st.AttackLines > 0) {
				t.Errorf("%s ratio %v: %d attack lines, %d attack-session lines", kind, ratio, st.AttackLines, st.SessionLines)
			}
		}
	}
}

func TestAttackers(t *testing.T) {
	cfg := testConfig(t, "auth")
	cfg.Lines, cfg.Attackers, cfg.AttackRatio = 50000, 40, 0.3
	_, st := generate(t, cfg)
	f, _ := st.Filter("sshd[mode=aggressive]")
	v6 := 0
	for a := range f.Addrs {
		if a.Is6() {
			v6++
		}
		if !a.IsGlobalUnicast() || a.IsPrivate() {
			t.Errorf("attacker %s is not a public address", a)
		}
	}
	if len(f.Addrs) != 40 {
		t.Errorf("distinct attackers = %d, want all 40 with enough lines", len(f.Addrs))
	}
	if v6 == 0 || v6 > 10 {
		t.Errorf("IPv6 attackers = %d, want a few", v6)
	}
	cfg.Attackers = 0
	if _, st := generate(t, cfg); st.AttackLines != 0 || st.Attackers != 0 {
		t.Errorf("with no attackers: %d attack lines from %d addresses", st.AttackLines, st.Attackers)
	}
}

func TestTimeAdvances(t *testing.T) {
	cfg := testConfig(t, "auth-rfc3339")
	cfg.Rate = 10
	out, _ := generate(t, cfg)
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	var prev time.Time
	for i, l := range lines {
		ts, err := time.Parse("2006-01-02T15:04:05.000000-07:00", l[:strings.IndexByte(l, ' ')])
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if ts.Before(prev) {
			t.Fatalf("line %d goes back in time: %v < %v", i+1, ts, prev)
		}
		prev = ts
	}
	// 5000 lines at 10/s span about 500 s of log time
	if span := prev.Sub(cfg.Start); span < 400*time.Second || span > 600*time.Second {
		t.Errorf("log spans %v, want about 500s", span)
	}
}

func TestRunFlags(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		code     int
		errMatch string
	}{
		{"file", []string{"-kind", "mail", "-lines", "300", "-o", filepath.Join(dir, "m.log")}, 0, "kind=mail seed=1 lines=300 "},
		{"bad kind", []string{"-kind", "ftp"}, 2, `unknown kind "ftp"`},
		{"bad ratio", []string{"-attack-ratio", "1.5"}, 2, "attack-ratio"},
		{"bad start", []string{"-start", "yesterday"}, 2, "-start"},
		{"bad rate", []string{"-rate", "0"}, 2, "rate"},
		{"extra arg", []string{"x"}, 2, "unexpected argument"},
		{"bad dir", []string{"-lines", "1", "-o", filepath.Join(dir, "no", "such")}, 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			code := run(tt.args, io.Discard, &stderr)
			if code != tt.code || !strings.Contains(stderr.String(), tt.errMatch) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), tt.code, tt.errMatch)
			}
		})
	}
	data, err := os.ReadFile(filepath.Join(dir, "m.log"))
	if err != nil || bytes.Count(data, []byte("\n")) != 300 {
		t.Errorf("-o file: %d lines, err %v", bytes.Count(data, []byte("\n")), err)
	}
}

// FuzzGenerate checks the generator's invariants for arbitrary settings:
// exactly the requested number of lines, one per newline, no line without a
// stamp, and every expected failure from a valid address.
func FuzzGenerate(f *testing.F) {
	f.Add("auth", uint64(1), 50, 3, 0.5)
	f.Add("mail", uint64(2), 10, 1, 1.0)
	f.Add("nginx", uint64(3), 0, 0, 0.0)
	f.Add("apache", uint64(4), 7, 100, 0.01)
	f.Add("auth-rfc3339", uint64(5), 1, 2, 0.9)
	f.Fuzz(func(t *testing.T, kind string, seed uint64, lines, attackers int, ratio float64) {
		if lines > 3000 || attackers > 500 {
			t.Skip()
		}
		cfg := Config{Kind: kind, Lines: lines, Attackers: attackers, AttackRatio: ratio, Seed: seed,
			Start: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Rate: 3}
		var b bytes.Buffer
		st, err := Generate(cfg, &b)
		if err != nil {
			return // rejected settings are fine; they must not panic
		}
		if got := bytes.Count(b.Bytes(), []byte("\n")); got != lines || st.Lines != lines {
			t.Fatalf("%d newlines, %d counted, want %d", got, st.Lines, lines)
		}
		re := stampREs()[kind]
		for _, l := range strings.SplitAfter(b.String(), "\n") {
			if l != "" && !re.MatchString(l) {
				t.Fatalf("bad line %q", l)
			}
		}
		for _, fs := range st.Filters {
			for a := range fs.Addrs {
				if !a.IsValid() || a == (netip.Addr{}) {
					t.Fatalf("%s: failure without an address", fs.Name)
				}
			}
		}
	})
}
