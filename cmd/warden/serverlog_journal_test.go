package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"warden/internal/config"
	"warden/internal/logfmt"
)

// TestServerLogJournal runs the server's logger with stderr on a real
// journald stream (systemd-cat; JOURNAL_STREAM names it, as systemd does
// for a service): journald takes each line's "<N>" as its PRIORITY, the
// ban lines are at PRIORITY=5 without a time stamp, and recidive's
// journalmatch (PRIORITY=5) finds the Ban and not the Restore Ban.
func TestServerLogJournal(t *testing.T) {
	testJournald(t)
	if _, err := exec.LookPath("systemd-cat"); err != nil {
		t.Skip("systemd-cat not installed (Debian package systemd)")
	}
	// The identifier of warden.service's lines; the helper's pid (that of
	// systemd-cat, which execs it) and a jail name of this run tell its
	// entries apart from earlier runs'.
	const ident = "warden"
	jail := fmt.Sprintf("j%d", time.Now().UnixNano()%1e12)
	envFile := filepath.Join(t.TempDir(), "env")
	cmd := exec.Command("systemd-cat", "-t", ident, "--", os.Args[0], "-test.run=^TestServerLogJournalHelper$")
	cmd.Env = append(os.Environ(), "WARDEN_LOG_HELPER="+envFile, "WARDEN_LOG_JAIL="+jail)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("systemd-cat: %v\n%s", err, out)
	}
	match := fmt.Sprintf("SYSLOG_IDENTIFIER=%s _PID=%d", ident, cmd.Process.Pid)
	stream, err := os.ReadFile(envFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(stream) == 0 {
		t.Fatal("the helper did not run with JOURNAL_STREAM")
	}
	// The four lines of this run, once all are in.
	type entry struct{ Message, Priority string }
	var got []entry
	deadline := time.Now().Add(5 * time.Second)
	for {
		out, err := exec.Command("journalctl", append([]string{"--system", "-q", "-o", "json"}, strings.Fields(match)...)...).Output()
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var e struct {
				Message  any    `json:"MESSAGE"`
				Priority string `json:"PRIORITY"`
			}
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatal(err)
			}
			if m, _ := e.Message.(string); strings.Contains(m, jail) {
				got = append(got, entry{m, e.Priority})
			}
		}
		if len(got) >= 4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	want := []struct{ re, prio string }{
		{`^fail2ban\.server {9}\[\d+\]: INFO    server ready jails=1 run=` + jail + `$`, "6"},
		{`^fail2ban\.actions {8}\[\d+\]: NOTICE  \[` + jail + `\] Restore Ban 192\.0\.2\.9$`, "5"},
		{`^fail2ban\.actions {8}\[\d+\]: NOTICE  \[` + jail + `\] Ban 192\.0\.2\.1$`, "5"},
		{`^fail2ban\.server {9}\[\d+\]: WARNING ban refused jail=` + jail + `$`, "4"},
	}
	if len(got) != len(want) {
		t.Fatalf("journal entries %q, want %d", got, len(want))
	}
	for i, w := range want {
		if !regexp.MustCompile(w.re).MatchString(got[i].Message) || got[i].Priority != w.prio {
			t.Errorf("entry %d: %q PRIORITY=%s, want %s PRIORITY=%s", i, got[i].Message, got[i].Priority, w.re, w.prio)
		}
	}
	// recidive's journal source: the embedded filter on this run's
	// entries at recidive's PRIORITY=5 (the words of -m are ANDed, as in
	// fail2ban-regex).
	code, out, errOut := runCLI(t, "regex", "-c", "../../internal/defaults/tree", "-o", "<ip> <msg>",
		"-m", fmt.Sprintf("_PID=%d PRIORITY=5", cmd.Process.Pid), "systemd-journal", "recidive")
	var found []string
	for l := range strings.Lines(out) {
		if strings.Contains(l, "["+jail+"]") {
			found = append(found, l)
		}
	}
	if code != 0 || len(found) != 1 || !strings.HasPrefix(found[0], "192.0.2.1 ") || !strings.HasSuffix(found[0], "] Ban 192.0.2.1\n") {
		t.Errorf("warden regex on the journal: code %d, stderr %q, found %q, want the Ban only", code, errOut, found)
	}
}

// TestServerLogJournalHelper is the process TestServerLogJournal runs
// under systemd-cat; it does nothing in an ordinary run.
func TestServerLogJournalHelper(t *testing.T) {
	envFile := os.Getenv("WARDEN_LOG_HELPER")
	if envFile == "" {
		t.Skip("helper process of TestServerLogJournal")
	}
	// systemd sets JOURNAL_STREAM for a service whose stderr is the
	// journal; systemd-cat does so only from systemd 246: name the stream
	// as systemd would when it did not.
	if os.Getenv("JOURNAL_STREAM") == "" {
		var st syscall.Stat_t
		if err := syscall.Fstat(2, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFSOCK {
			t.Fatalf("stderr is not systemd-cat's stream socket: %v", err)
		}
		t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	}
	if err := os.WriteFile(envFile, []byte(os.Getenv("JOURNAL_STREAM")), 0o600); err != nil {
		t.Fatal(err)
	}
	log, flush, err := serverLogger(os.Stderr, "text", config.Server{LogLevel: "INFO", LogTarget: "STDERR"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	jail := os.Getenv("WARDEN_LOG_JAIL")
	log.Info("server ready", "jails", 1, "run", jail)
	log.Log(ctx, logfmt.LevelNotice, logfmt.MsgRestoreBan, "jail", jail, "prefix", "192.0.2.9/32")
	log.Log(ctx, logfmt.LevelNotice, logfmt.MsgBan, "jail", jail, "prefix", "192.0.2.1/32")
	log.Warn("ban refused", "jail", jail)
	_ = flush.Flush()
}
