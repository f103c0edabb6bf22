package defaults

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFail2banSamples runs fail2ban's own sample checker (FilterSamplesRegex
// from the Debian fail2ban package) against the embedded filters: for every
// filter, each line of fail2ban's sample log annotated with "# failJSON:"
// must match or not as annotated, with the same host, time and user, under
// every filterOptions (modes, logtype) the log asks for, and every regex
// must be used by some sample.
func TestFail2banSamples(t *testing.T) {
	if testing.Short() {
		t.Skip("runs fail2ban's test suite")
	}
	bin, err := exec.LookPath("fail2ban-testcases")
	if err != nil {
		t.Skip("fail2ban-testcases is not installed (Debian package fail2ban)")
	}
	files, err := fs.Glob(FS(), "filter.d/*.conf")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		// fail2ban's checker skips the *common.conf include files too.
		if name := strings.TrimSuffix(path.Base(f), ".conf"); !strings.HasSuffix(name, "common") {
			names = append(names, strings.ToUpper(name))
		}
	}
	if len(names) < 11 {
		t.Fatalf("only %d filters in the tree", len(names))
	}

	dir := t.TempDir()
	if err := os.CopyFS(dir+"/tree", FS()); err != nil {
		t.Fatal(err)
	}
	alts := make([]string, len(names))
	for i, n := range names {
		alts[i] = regexp.QuoteMeta(n)
	}
	selector := `testSampleRegexs(?:` + strings.Join(alts, "|") + `) `
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-n", "-l", "critical", "--verbosity=2", selector)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "FAIL2BAN_CONFIG_DIR="+dir+"/tree")
	out, err := cmd.CombinedOutput()
	text := string(out)
	for _, n := range names {
		re := regexp.MustCompile(`(?m)^testSampleRegexs` + regexp.QuoteMeta(n) + ` \(.*\) \.\.\. (\w+)`)
		m := re.FindStringSubmatch(text)
		switch {
		case m == nil:
			t.Errorf("filter %s: fail2ban did not run its sample test", strings.ToLower(n))
		case m[1] != "ok":
			t.Errorf("filter %s: fail2ban's sample test says %s", strings.ToLower(n), m[1])
		}
	}
	if err != nil || t.Failed() {
		t.Fatalf("fail2ban-testcases: %v\n%s", err, tail(text, 80))
	}
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestFail2banReadsTree has fail2ban-client parse the whole tree with every
// jail switched on (and the mail actions added), the way fail2ban would
// start it: no errors, every jail started with its filter and actions.
func TestFail2banReadsTree(t *testing.T) {
	if testing.Short() {
		t.Skip("runs fail2ban-client")
	}
	bin, err := exec.LookPath("fail2ban-client")
	if err != nil {
		t.Skip("fail2ban-client is not installed (Debian package fail2ban)")
	}
	dir := t.TempDir()
	conf := dir + "/tree"
	if err := os.CopyFS(conf, FS()); err != nil {
		t.Fatal(err)
	}
	logf := dir + "/empty.log"
	if err := os.WriteFile(logf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	jails := jailNames(jailStack(t))
	var local strings.Builder
	local.WriteString("[DEFAULT]\nenabled = true\naction = %(action_mwl)s\n")
	for _, j := range jails {
		local.WriteString("[" + j + "]\nlogpath = " + logf + "\n")
	}
	if err := os.WriteFile(conf+"/jail.local", []byte(local.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "-c", conf, "-d").CombinedOutput()
	text := string(out)
	if err != nil {
		t.Fatalf("fail2ban-client -d: %v\n%s", err, tail(text, 40))
	}
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, " ERROR ") || strings.Contains(l, " WARNING ") {
			t.Errorf("fail2ban-client: %s", l)
		}
	}
	for _, j := range jails {
		for _, want := range []string{
			"['start', '" + j + "']",
			"['set', '" + j + "', 'addaction', 'auto",
			"['set', '" + j + "', 'addaction', 'sendmail-whois-lines']",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("[%s]: fail2ban-client output lacks %s", j, want)
			}
		}
		if !strings.Contains(text, "['set', '"+j+"', 'addfailregex'") && !strings.Contains(text, "['multi-set', '"+j+"', 'addfailregex'") {
			t.Errorf("[%s]: no failregex reached fail2ban", j)
		}
	}
}
