package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"

	"warden/internal/firewall/firewalld/fwdtest"
)

func TestParseKs(t *testing.T) {
	tests := []struct {
		args []string
		want []int
		ok   bool
	}{
		{nil, []int{10000, 100000}, true},
		{[]string{"-k", "5, 7"}, []int{5, 7}, true},
		{[]string{"-k", "0"}, nil, false},
		{[]string{"-k", "x"}, nil, false},
		{[]string{"-k", "2000000"}, nil, false},
	}
	for _, tc := range tests {
		got, err := parseKs(tc.args)
		if (err == nil) != tc.ok || len(got) != len(tc.want) {
			t.Errorf("parseKs(%q) = %v, %v", tc.args, got, err)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("parseKs(%q) = %v, want %v", tc.args, got, tc.want)
			}
		}
	}
}

// TestRun runs the whole benchmark on a small K against a real firewalld;
// the bench runs inside firewalld's namespace, so this runs the built
// command there.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts firewalld")
	}
	in := fwdtest.Start(t)
	bin := t.TempDir() + "/firewalldbench"
	if out, err := goBuild(bin); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := in.Command(t.Context(), bin, "-k", "300").CombinedOutput()
	if err != nil {
		t.Fatalf("firewalldbench: %v\n%s", err, out)
	}
	line := regexp.MustCompile(`^backend=firewalld k=300 apply_s=[0-9.]+ list_s=[0-9.]+ restore_s=[0-9.]+ heal_s=[0-9.]+\n$`)
	if !line.Match(out) {
		t.Errorf("output %q", out)
	}
	if sets := in.Run(t, "ipset", "list", "-n"); bytes.Contains([]byte(sets), []byte("wfd")) {
		t.Errorf("sets left: %s", sets)
	}
	_ = os.Remove(bin)
}

// goBuild compiles this command to bin.
func goBuild(bin string) ([]byte, error) {
	return exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin,
		"warden/bench/firewall-vs-fail2ban/firewalldbench").CombinedOutput()
}
