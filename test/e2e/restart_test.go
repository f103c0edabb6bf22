package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"warden/internal/store"
)

// TestRestartKill9 is acceptance test 3 of issue 3: the server bans 10,000
// distinct addresses from one log, is killed with SIGKILL, and a new
// server, started while another batch of attackers was appended to the log,
// puts every ban back into the kernel set once, and reads the lines written
// while it was down exactly once: each new attacker is banned with exactly
// maxretry failures, and the jail counts exactly the new lines. A second
// kill, with the kernel table deleted as by a reboot, shows the bans come
// back from the database alone.
func TestRestartKill9(t *testing.T) {
	const (
		maxretry = 3
		first    = 10000 // addresses banned before the kill
		second   = 500   // addresses whose lines are written while it is down
		set      = "addr4-sshd"
	)
	if testing.Short() {
		t.Skip("10,000 bans: not in -short")
	}
	ns := newNetns(t)
	bin := buildWarden(t)
	dir := t.TempDir()
	logPath := emptyLog(t, dir)
	conf := sshdJailDir(t, dir, logPath, "backend = polling\n")
	addr := func(batch, i int) string { return fmt.Sprintf("10.%d.%d.%d", batch, i/250, i%250+1) }

	srv := launchWarden(t, bin, ns, conf, dir)
	appendFailures(t, logPath, 0, first, maxretry, addr)
	// Killed as soon as the status shows every line handled: the saved
	// position follows the handled lines (and their bans) within a
	// database write, with no save interval to wait for.
	waitLong(t, 25*time.Second, "every line is handled and every address banned", func() (bool, string) {
		st, err := srv.status("sshd")
		return err == nil && st.CurrentlyBanned == first && st.TotalFailed == first*maxretry, fmt.Sprintf("%+v %v", st, err)
	})
	srv.kill9()
	if _, n := setElements(t, ns, set); n != first {
		t.Fatalf("kernel set holds %d elements at the kill, want %d", n, first)
	}

	// While it is down: a new batch of attackers.
	appendFailures(t, logPath, 1, second, maxretry, addr)
	started := time.Now()
	srv = launchWarden(t, bin, ns, conf, dir)
	waitLong(t, 25*time.Second, "old and new bans are in the kernel set", func() (bool, string) {
		_, n := setElements(t, ns, set)
		return n == first+second, fmt.Sprintf("%d elements", n)
	})
	t.Logf("restart: %v from exec until %d elements in the set", time.Since(started).Round(time.Millisecond), first+second)
	waitLong(t, 10*time.Second, "the new lines are counted", func() (bool, string) {
		st, err := srv.status("sshd")
		return err == nil && st.TotalFailed >= second*maxretry, fmt.Sprintf("%+v %v", st, err)
	})
	// Nothing more may come: give a re-read a poll or two to show.
	time.Sleep(1500 * time.Millisecond)
	st, err := srv.status("sshd")
	if err != nil {
		t.Fatal(err)
	}
	if st.TotalFailed != second*maxretry || st.CurrentlyBanned != first+second || st.CurrentlyFailed != 0 {
		t.Errorf("status after restart: %+v; want total failed %d (only the lines written while down), %d banned, 0 failing",
			st, second*maxretry, first+second)
	}
	elems, n := setElements(t, ns, set)
	if n != first+second || len(elems) != n {
		t.Errorf("kernel set: %d elements, %d distinct; want %d", n, len(elems), first+second)
	}
	for b, count := range []int{first, second} {
		for i := range count {
			if elems[addr(b, i)] != 1 {
				t.Fatalf("kernel set holds %s %d times, want once", addr(b, i), elems[addr(b, i)])
			}
		}
	}

	// Once more, with the kernel's table gone as after a reboot: the bans
	// come back from the database alone.
	srv.kill9()
	if out, err := exec.Command("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "warden").CombinedOutput(); err != nil {
		t.Fatalf("nft delete table: %v: %s", err, out)
	}
	srv = launchWarden(t, bin, ns, conf, dir)
	waitLong(t, 15*time.Second, "the bans are restored into a new table", func() (bool, string) {
		elems, n := setElements(t, ns, set)
		return n == first+second && len(elems) == n, fmt.Sprintf("%d elements, %d distinct", n, len(elems))
	})
	if st, err := srv.status("sshd"); err != nil || st.CurrentlyBanned != first+second || st.TotalFailed != 0 {
		t.Errorf("status after the second restart: %+v, %v; want %d banned, no failures", st, err, first+second)
	}
	srv.stop()
	checkStoredBans(t, dir, map[int]int{0: first, 1: second}, maxretry, addr)
}

// appendFailures appends maxretry failure lines for each of count
// addresses of a batch, in rounds (every address once, then again), in
// one write.
func appendFailures(t *testing.T, logPath string, batch, count, maxretry int, addr func(batch, i int) string) {
	t.Helper()
	var b strings.Builder
	for r := range maxretry {
		for i := range count {
			b.WriteString(sshdFailure(addr(batch, i), r*count+i))
		}
	}
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

// checkStoredBans opens the stopped server's database and checks that its
// active bans in jail sshd are exactly the addresses of the batches
// (batch → count), each once, each with maxretry failures.
func checkStoredBans(t *testing.T, dir string, batches map[int]int, maxretry int, addr func(batch, i int) string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "warden.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	bans, err := st.ActiveBans(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[netip.Prefix]int{}
	for _, b := range bans {
		if b.Jail != "sshd" {
			t.Errorf("stored ban in jail %q: %+v", b.Jail, b)
			continue
		}
		seen[b.Prefix]++
		if b.Failures != maxretry {
			t.Errorf("stored ban of %s: %d failures, want %d", b.Prefix, b.Failures, maxretry)
		}
	}
	want := 0
	for b, count := range batches {
		want += count
		for i := range count {
			p := netip.PrefixFrom(netip.MustParseAddr(addr(b, i)), 32)
			if seen[p] != 1 {
				t.Fatalf("store holds %d active bans of %s, want 1", seen[p], p)
			}
		}
	}
	if len(bans) != want {
		t.Errorf("store holds %d active bans, want %d", len(bans), want)
	}
}
