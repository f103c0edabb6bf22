package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"warden/internal/fail2bantest"
)

// f2bSummary is the part of a fail2ban-regex summary that must agree
// between fail2ban-regex and warden regex.
type f2bSummary struct {
	lines     string            // "N lines, N ignored, N matched, N missed"
	prefregex string            // "N total"
	fail      map[string]string // "#" -> hits
	ignore    map[string]string
	dates     map[string]string // template name -> hits
}

var (
	summaryLinesRE = regexp.MustCompile(`(?m)^Lines: (.*)$`)
	summaryPrefRE  = regexp.MustCompile(`(?m)^Prefregex: (\d+) total$`)
	summaryHitRE   = regexp.MustCompile(`^\|\s+(\d+)\) \[(\d+)\] `)
	summaryDateRE  = regexp.MustCompile(`^\|  \[(\d+)\] (.*)$`)
)

// parseSummary reads the figures out of a fail2ban-regex style summary.
func parseSummary(out string) (f2bSummary, error) {
	s := f2bSummary{fail: map[string]string{}, ignore: map[string]string{}, dates: map[string]string{}}
	m := summaryLinesRE.FindStringSubmatch(out)
	if m == nil {
		return s, fmt.Errorf("no Lines: in output:\n%s", out)
	}
	s.lines = m[1]
	if m := summaryPrefRE.FindStringSubmatch(out); m != nil {
		s.prefregex = m[1]
	}
	section := ""
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(l, "Failregex:"):
			section = "fail"
		case strings.HasPrefix(l, "Ignoreregex:"):
			section = "ignore"
		case strings.HasPrefix(l, "Date template hits:"):
			section = "dates"
		case strings.HasPrefix(l, "Lines:"):
			section = ""
		}
		switch section {
		case "fail", "ignore":
			if m := summaryHitRE.FindStringSubmatch(l); m != nil {
				if section == "fail" {
					s.fail[m[1]] = m[2]
				} else {
					s.ignore[m[1]] = m[2]
				}
			}
		case "dates":
			if m := summaryDateRE.FindStringSubmatch(l); m != nil {
				s.dates[m[2]] = m[1]
			}
		}
	}
	return s, nil
}

func diffMaps(what string, got, want map[string]string) []string {
	var d []string
	for k, v := range want {
		if got[k] != v {
			d = append(d, fmt.Sprintf("%s %q: warden %q, fail2ban %q", what, k, got[k], v))
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			d = append(d, fmt.Sprintf("%s %q: warden %q, fail2ban has none", what, k, v))
		}
	}
	return d
}

// TestRegexAgainstFail2ban runs fail2ban-regex and warden regex on the same
// logs and filters and compares the summaries figure by figure, and the
// failure ids of -o id line by line.
func TestRegexAgainstFail2ban(t *testing.T) {
	f2b, err := exec.LookPath("fail2ban-regex")
	if err != nil {
		t.Skip("fail2ban-regex not installed")
	}
	samples := fail2bantest.Samples(t)
	conf, _ := filepath.Abs("testdata/regex/conf")
	tests := []struct {
		name    string
		args    []string
		verbose bool // also compare -v's list of failures per regex
	}{
		// sshd relies on fail2ban-regex's check-all and pending modes:
		// no-failure lines counted as ignored, several regexes per line
		{"sshd", []string{samples + "/sshd", "sshd"}, true},
		{"sshd-aggressive", []string{samples + "/sshd", "sshd[mode=aggressive]"}, false},
		{"sshd-no-check-all", []string{"--no-check-all", samples + "/sshd", "sshd"}, false},
		{"postfix-aggressive", []string{samples + "/postfix", "postfix[mode=aggressive]"}, false},
		{"dovecot", []string{samples + "/dovecot", "dovecot"}, false},
		{"sendmail-reject", []string{samples + "/sendmail-reject", "sendmail-reject[mode=aggressive]"}, false},
		{"nginx-http-auth", []string{samples + "/nginx-http-auth", "nginx-http-auth[mode=aggressive]"}, false},
		{"apache-auth", []string{samples + "/apache-auth", "apache-auth"}, false},
		{"demo", []string{"-c", conf, "testdata/regex/logs/demo.log", "demo[mode=aggressive]"}, false},
		{"multiline", []string{"-c", conf, "testdata/regex/logs/multi.log", "multi"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// -r: raw hosts, so neither side asks DNS about names in samples.
			args := append([]string{"-r"}, tt.args...)
			want, err := exec.Command(f2b, args...).CombinedOutput()
			if err != nil {
				t.Fatalf("fail2ban-regex %v: %v\n%s", args, err, want)
			}
			code, got, errOut := runCLI(t, append([]string{"regex"}, args...)...)
			if code != 0 {
				t.Fatalf("warden regex exit %d: %s%s", code, got, errOut)
			}
			ws, err := parseSummary(string(want))
			if err != nil {
				t.Fatal(err)
			}
			gs, err := parseSummary(got)
			if err != nil {
				t.Fatal(err)
			}
			var diffs []string
			if gs.lines != ws.lines {
				diffs = append(diffs, fmt.Sprintf("Lines: warden %q, fail2ban %q", gs.lines, ws.lines))
			}
			if gs.prefregex != ws.prefregex {
				diffs = append(diffs, fmt.Sprintf("Prefregex: warden %q, fail2ban %q", gs.prefregex, ws.prefregex))
			}
			diffs = append(diffs, diffMaps("failregex", gs.fail, ws.fail)...)
			diffs = append(diffs, diffMaps("ignoreregex", gs.ignore, ws.ignore)...)
			diffs = append(diffs, diffMaps("date template", gs.dates, ws.dates)...)

			wantIDs, err := exec.Command(f2b, append([]string{"-o", "id"}, args...)...).Output()
			if err != nil {
				t.Fatalf("fail2ban-regex -o id: %v", err)
			}
			_, gotIDs, _ := runCLI(t, append([]string{"regex", "-o", "id"}, args...)...)
			if gotIDs != string(wantIDs) {
				diffs = append(diffs, fmt.Sprintf("-o id differs:\nwarden:\n%s\nfail2ban:\n%s", gotIDs, wantIDs))
			}
			if tt.verbose {
				// -v lists every failure under its regex: id and time
				want, _ := exec.Command(f2b, append([]string{"-v"}, args...)...).Output()
				_, got, _ := runCLI(t, append([]string{"regex", "-v"}, args...)...)
				if w, g := failregexSection(string(want)), failregexSection(got); w != g {
					diffs = append(diffs, fmt.Sprintf("-v failregex section differs:\nwarden:\n%s\nfail2ban:\n%s", g, w))
				}
			}
			for _, d := range diffs {
				t.Error(d)
			}
		})
	}
}

// failregexSection is the "Failregex:" block of a summary.
func failregexSection(out string) string {
	i := strings.Index(out, "\nFailregex:")
	if i < 0 {
		return ""
	}
	out = out[i:]
	if j := strings.Index(out, "\nIgnoreregex:"); j >= 0 {
		out = out[:j]
	}
	return out
}
