package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestFail2banAgrees is the realism check: fail2ban's own filters, run by
// fail2ban-regex on a generated sample, must report exactly the failures the
// generator says it wrote: the same addresses, each the same number of
// times, for every filter and mode the kind lists.
func TestFail2banAgrees(t *testing.T) {
	if testing.Short() {
		t.Skip("runs fail2ban-regex")
	}
	bin, err := exec.LookPath("fail2ban-regex")
	if err != nil {
		t.Skip("fail2ban-regex not installed (Debian package fail2ban)")
	}
	for _, kind := range []string{"auth", "auth-rfc3339", "mail", "nginx", "apache"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), kind+".log")
			f, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			st, err := Generate(Config{Kind: kind, Lines: 2000, Attackers: 20, AttackRatio: 0.3, Seed: 11,
				Start: mustTime(t, defaultStart), Rate: 5}, f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.AttackLines == 0 {
				t.Fatal("sample has no attack lines; the check would prove nothing")
			}
			for _, fs := range st.Filters {
				got := fail2banCounts(t, bin, path, fs.Name)
				want := map[string]int{}
				for a, n := range fs.Addrs {
					want[a.String()] = n
				}
				if d := diffCounts(want, got); d != "" {
					t.Errorf("%s: generator and fail2ban-regex disagree (addr: want/got):\n%s", fs.Name, d)
				}
				if fs.Lines == 0 {
					t.Errorf("%s: no failures in the sample", fs.Name)
				}
			}
		})
	}
}

// fail2banCounts runs fail2ban-regex -o ip and counts its output per address.
func fail2banCounts(t *testing.T, bin, log, filter string) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-o", "ip", log, filter)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("fail2ban-regex %s: %v\n%s", filter, err, stderr.String())
	}
	got := map[string]int{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			got[s]++
		}
	}
	return got
}

func diffCounts(want, got map[string]int) string {
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	var lines []string
	for k := range keys {
		if want[k] != got[k] {
			lines = append(lines, fmt.Sprintf("  %s: %d/%d", k, want[k], got[k]))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
