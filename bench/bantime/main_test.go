package main

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestFailures(t *testing.T) {
	for _, tc := range []struct {
		base     string
		k, fails int
		next     string
	}{
		{"100.64.0.1", 3, 6, "100.64.0.4"},
		{"100.64.0.254", 3, 2, "100.64.1.1"},
		{"198.18.0.1", 1, 1, "198.18.0.2"},
	} {
		var buf bytes.Buffer
		next, err := failures(&buf, netip.MustParseAddr(tc.base), tc.k, tc.fails)
		if err != nil {
			t.Fatal(err)
		}
		if next.String() != tc.next {
			t.Errorf("%s k=%d: next %s, want %s", tc.base, tc.k, next, tc.next)
		}
		lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
		if len(lines) != tc.k*tc.fails {
			t.Fatalf("%s: %d lines, want %d", tc.base, len(lines), tc.k*tc.fails)
		}
		// Every line is one fail2ban's sshd filter reports, stamped now, and
		// each address has exactly fails lines in a row.
		re := regexp.MustCompile(`^(\w{3} [ \d]\d \d\d:\d\d:\d\d) bench sshd\[\d+\]: Failed password for invalid user admin from (\S+) port \d+ ssh2$`)
		a := netip.MustParseAddr(tc.base)
		for i, l := range lines {
			m := re.FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("line %d: %q", i, l)
			}
			if m[2] != a.String() {
				t.Fatalf("line %d: address %s, want %s", i, m[2], a)
			}
			if (i+1)%tc.fails == 0 {
				a = a.Next()
			}
			stamp, err := time.ParseInLocation(time.Stamp, m[1], time.Local)
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			stamp = stamp.AddDate(now.Year(), 0, 0)
			if d := now.Sub(stamp); d < -time.Minute || d > time.Minute {
				t.Errorf("line %d: stamp %s is not now", i, m[1])
			}
		}
	}
}

func TestSummary(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = 100 - i // 100..1, unsorted
	}
	for _, tc := range []struct {
		lat  []time.Duration
		want string
	}{
		{nil, "n=0"},
		{ms(7), "n=1 median_ms=7.0 p99_ms=7.0 max_ms=7.0"},
		{ms(5, 1, 3), "n=3 median_ms=3.0 p99_ms=5.0 max_ms=5.0"},
		{ms(hundred...), "n=100 median_ms=51.0 p99_ms=99.0 max_ms=100.0"},
	} {
		if got := summary(tc.lat); got != tc.want {
			t.Errorf("summary: %q, want %q", got, tc.want)
		}
	}
}

// TestCount reads a set's elements inside a namespace of its own, as the
// flood and wait subcommands poll them; a prefix in an interval set counts
// once.
func TestCount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for a network namespace")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("needs nft (apt-get install nftables)")
	}
	ns := fmt.Sprintf("bantime-test-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	ruleset := `table inet t {
	set hosts { type ipv4_addr; elements = { 192.0.2.1, 192.0.2.2, 192.0.2.3 } }
	set nets { type ipv4_addr; flags interval; elements = { 198.51.100.0/24, 203.0.113.7 } }
	set empty { type ipv4_addr; }
}`
	cmd := exec.Command("ip", "netns", "exec", ns, "nft", "-f", "-")
	cmd.Stdin = strings.NewReader(ruleset)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nft -f: %v: %s", err, out)
	}
	for _, tt := range []struct {
		set  string
		want int
	}{
		{"inet t hosts", 3},
		{"inet t nets", 2},
		{"inet t empty", 0},
		{"inet t missing", 0},
		{"ip t hosts", 0}, // another family's table
	} {
		if _, got := readKeys(ns, tt.set); got != tt.want {
			t.Errorf("readKeys(%q) = %d elements, want %d", tt.set, got, tt.want)
		}
	}
}
