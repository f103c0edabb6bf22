package main

import (
	"bytes"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"warden/internal/netnstest"
)

func TestParseFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		ks   []int
		ok   bool
	}{
		{[]string{"-backend", "ipset"}, []int{10000, 100000}, true},
		{[]string{"-backend", "nftables", "-k", "1, 20"}, []int{1, 20}, true},
		{[]string{"-backend", "firewalld"}, nil, false},
		{[]string{"-backend", "ipset", "-k", "0"}, nil, false},
		{[]string{"-backend", "ipset", "-k", "ten"}, nil, false},
	} {
		c, err := parseFlags(tc.args)
		if (err == nil) != tc.ok || tc.ok && !slices.Equal(c.ks, tc.ks) {
			t.Errorf("parseFlags(%q) = %+v, %v", tc.args, c, err)
		}
	}
}

// TestMeasure runs every step for both backends with a small K inside a
// fresh namespace, entered by this test's locked OS thread.
func TestMeasure(t *testing.T) {
	for _, tool := range []string{"ipset", "iptables-nft", "ip6tables-nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (Debian packages ipset, iptables)", tool)
		}
	}
	_, fd := netnstest.New(t, "warden-fwbench")
	runtime.LockOSThread() // the thread is dropped at the end, never reused
	if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
		t.Fatalf("setns: %v", err)
	}
	line := regexp.MustCompile(`^backend=\S+ k=300 apply_s=[0-9.]+ apply_cpu_s=[0-9.]+ list_s=[0-9.]+ restore_s=[0-9.]+ heal_s=[0-9.]+\n$`)
	for _, args := range [][]string{
		{"-backend", "nftables", "-k", "300"},
		{"-backend", "ipset", "-iptables", "iptables-nft", "-k", "300"},
	} {
		var out bytes.Buffer
		if err := run(args, &out); err != nil {
			t.Fatalf("run %q: %v", args, err)
		}
		if !line.Match(out.Bytes()) {
			t.Errorf("run %q printed %q", args, out.String())
		}
	}
}
