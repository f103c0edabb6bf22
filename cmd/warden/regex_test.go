package main

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files of the regex tests")

// runCLI drives the CLI in-process and returns the exit code, stdout and
// stderr.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	errf, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errf.Close()
	code := run(context.Background(), append([]string{"warden"}, args...), os.Stdin, out, errf)
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	return code, string(o), string(e)
}

var elapsedRE = regexp.MustCompile(`\[processed in \d+\.\d\d sec\]|"seconds": [0-9.e-]+`)

// normalize removes what differs between runs (the elapsed time).
func normalize(s string) string {
	return elapsedRE.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "[") {
			return "[processed in X sec]"
		}
		return `"seconds": 0`
	})
}

func TestRegexGolden(t *testing.T) {
	const (
		conf  = "testdata/regex/conf"
		demo  = "testdata/regex/logs/demo.log"
		multi = "testdata/regex/logs/multi.log"
		crlf  = "testdata/regex/logs/crlf.log"
	)
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"literal", []string{demo, `^\s*\S+ demod\[\d+\]: login failed for \S+ from <HOST>`}, 0},
		{"literal-ignore", []string{demo, `from <HOST>`, `for (?:carol|bob) `}, 0},
		{"filter", []string{"-c", conf, demo, "demo"}, 0},
		{"filter-options", []string{"-c", conf, demo, "demo[mode=aggressive]"}, 0},
		{"filter-path", []string{demo, conf + "/filter.d/demo.conf"}, 0},
		{"jail", []string{"-c", conf, demo, "demo-strict"}, 0},
		{"multiline", []string{"-c", conf, multi, "multi"}, 0},
		{"multiline-all", []string{"-c", conf, "--print-all-matched", multi, "multi"}, 0},
		{"crlf-binary", []string{"-c", conf, crlf, "demo"}, 0},
		{"single-line", []string{"-c", conf, "2024-01-02 03:04:05 host1 demod[100]: login failed for alice from 192.0.2.1", "demo"}, 0},
		{"print-options", []string{"-c", conf, "--print-all-matched", "--print-no-missed", "--print-all-ignored", demo, "demo[mode=aggressive]"}, 0},
		{"verbose", []string{"-c", conf, "-v", "--timezone", "UTC", demo, "demo"}, 0},
		{"maxlines-flag", []string{"-c", conf, "-L", "2", demo, "demo"}, 0},
		{"datepattern-flag", []string{"-c", conf, "-d", "^%Y-%m-%d %H:%M:%S", demo, "demo"}, 0},
		{"out-ip", []string{"-c", conf, "-o", "ip", demo, "demo"}, 0},
		{"out-id", []string{"-c", conf, "-o", "id", demo, "demo"}, 0},
		{"out-msg", []string{"-c", conf, "-o", "msg", demo, "demo"}, 0},
		{"out-row", []string{"-c", conf, "--TZ", "UTC", "-o", "row", demo, "demo"}, 0},
		{"out-user", []string{"-c", conf, "-o", "user", demo, "demo"}, 0},
		{"out-field", []string{"-c", conf, "-o", "F-USER", demo, "demo"}, 0},
		{"out-list", []string{"-c", conf, "--timezone", "UTC", "-o", "[time, date, ip, user]", demo, "demo"}, 0},
		{"out-template", []string{"-c", conf, "--timezone", "UTC", "-o", "<time> <ip> <F-USER> <nosuch>: <msg>", demo, "demo"}, 0},
		{"out-multiline-msg", []string{"-c", conf, "-o", "<ip>: <msg>", multi, "multi"}, 0},
		{"json", []string{"-c", conf, "--json", "--print-all-missed", demo, "demo[mode=aggressive]"}, 0},
		{"usage-one-arg", []string{demo}, 255},
		{"usage-exclusive", []string{"--print-no-missed", "--print-all-missed", demo, "x <HOST>"}, 255},
		{"journal", []string{"systemd-journal[bogus=1]", "x <HOST>"}, 255},
		{"missing-filter", []string{"-c", conf, demo, "nosuch[mode=x]"}, 255},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, append([]string{"regex"}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			got := normalize(out)
			if errOut != "" {
				got += "--- stderr ---\n" + errOut
			}
			golden := filepath.Join("testdata", "regex", "golden", tt.name+".out")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("output differs from %s:\n--- got ---\n%s\n--- want ---\n%s", golden, got, want)
			}
		})
	}
}

// TestRegexCompatName checks that a fail2ban-regex argv[0] runs the regex
// command.
func TestRegexCompatName(t *testing.T) {
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	code := run(context.Background(), []string{"/usr/bin/fail2ban-regex", "-o", "ip",
		"2024-01-02 03:04:05 login failed from 192.0.2.77", "failed from <HOST>"}, os.Stdin, out, os.Stderr)
	b, _ := os.ReadFile(out.Name())
	if code != 0 || string(b) != "192.0.2.77\n" {
		t.Fatalf("exit %d, output %q", code, b)
	}
}

// TestRegexExplain checks --explain reports every regex of the filter with
// its engine (the exact translations belong to the filter package's tests).
func TestRegexExplain(t *testing.T) {
	code, out, errOut := runCLI(t, "regex", "-c", "testdata/regex/conf", "--explain", "testdata/regex/logs/demo.log", "demo[mode=aggressive]")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"prefregex 1: ^\\s*\\S+ demod\\[\\d+\\]: <F-CONTENT>.+</F-CONTENT>$\n    expanded: ^\\s*\\S+ demod\\[\\d+\\]: (?P<content>.+)$\n    engine:   ",
		"failregex 1: ^login failed for <F-USER>",
		"failregex 3: ^<F-NOFAIL>probe</F-NOFAIL> from <HOST>$\n    expanded: ^(?P<nofail>probe) from ",
		"ignoreregex 1: ^login failed for \\S+ from 10\\.\n    engine:   ",
		"Lines: 9 lines, 2 ignored, 5 matched, 2 missed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("--explain output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "    engine:   "); n != 5 {
		t.Errorf("%d engine lines, want 5 (1 prefregex, 3 failregex, 1 ignoreregex)", n)
	}
}

// TestRegexJobs: the number of filter workers changes nothing in the
// output (the golden files are made with the default, defaultJobs).
func TestRegexJobs(t *testing.T) {
	const (
		conf  = "testdata/regex/conf"
		demo  = "testdata/regex/logs/demo.log"
		multi = "testdata/regex/logs/multi.log"
	)
	for _, tt := range []struct {
		golden string
		args   []string
	}{
		{"filter-options", []string{"-c", conf, demo, "demo[mode=aggressive]"}},
		{"verbose", []string{"-c", conf, "-v", "--timezone", "UTC", demo, "demo"}},
		{"out-msg", []string{"-c", conf, "-o", "msg", demo, "demo"}},
		{"multiline-all", []string{"-c", conf, "--print-all-matched", multi, "multi"}},
		{"json", []string{"-c", conf, "--json", "--print-all-missed", demo, "demo[mode=aggressive]"}},
	} {
		want, err := os.ReadFile(filepath.Join("testdata", "regex", "golden", tt.golden+".out"))
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range []string{"1", "3"} {
			_, out, errOut := runCLI(t, append([]string{"regex", "-j", j}, tt.args...)...)
			got := normalize(out)
			if errOut != "" {
				got += "--- stderr ---\n" + errOut
			}
			if got != string(want) {
				t.Errorf("%s with -j %s differs from its golden file:\n%s", tt.golden, j, got)
			}
		}
	}
}
