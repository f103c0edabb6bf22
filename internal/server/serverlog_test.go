package server

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"warden/internal/control"
)

// TestServerLogEvents runs a server writing its log in fail2ban's layout
// and checks fail2ban's filter and observer lines there: "Ignore ... by
// ip" for an ignored address, "Found ADDR - TIME" for each failure with
// the failure's log time, "Increase Ban" when bantime.increment lengthens
// the second ban. A recidive jail reads the same log: fail2ban's filter
// (through warden, and through fail2ban-regex when installed) counts the
// Ban lines and none of the others.
func TestServerLogEvents(t *testing.T) {
	t.Parallel()
	recidive, err := os.ReadFile("/etc/fail2ban/filter.d/recidive.conf")
	if err != nil {
		t.Skipf("needs fail2ban's recidive filter: %v", err)
	}
	common, err := os.ReadFile("/etc/fail2ban/filter.d/common.conf")
	if err != nil {
		t.Skipf("needs fail2ban's common filter: %v", err)
	}
	dir := t.TempDir()
	logPath, serverLog := filepath.Join(dir, "app.log"), filepath.Join(dir, "server.log")
	files := map[string]string{
		"app.log":                "",
		"filter.d/app.conf":      "[Definition]\nfailregex = login failed from <HOST>$\n",
		"filter.d/recidive.conf": string(recidive),
		"filter.d/common.conf":   string(common),
		"action.d/record.conf":   "[Definition]\nactionban = echo ban <ip> >> " + filepath.Join(dir, "record") + "\n",
		"jail.conf": "[DEFAULT]\nbackend = auto\nignoreself = false\naction = record\n" +
			"[app]\nenabled = true\nfilter = app\nlogpath = " + logPath + "\nmaxretry = 2\nfindtime = 10m\n" +
			"bantime = 2\nbantime.increment = true\nignoreip = 10.0.0.9\n" +
			"[recidive]\nenabled = true\nfilter = recidive\nlogpath = " + serverLog + "\nmaxretry = 100\nfindtime = 1d\nbantime = 1w\n",
	}
	srvLog, logger := newTextLog(t, serverLog)
	cfg := loadTreeIn(t, dir, files)
	ctx, _ := startServer(t, Options{Config: cfg, DBPath: filepath.Join(dir, "w.db"), Socket: filepath.Join(dir, "w.sock"),
		Logger: logger}, nil)
	readLog, waitLog := srvLog.read, srvLog.wait
	// fail appends failure lines stamped now (to the second) and returns
	// the stamp, as fail2ban writes it in its Found lines.
	fail := func(addrs ...string) (time.Time, string) {
		t.Helper()
		now := time.Now().Truncate(time.Second)
		stamp := now.Format("2006-01-02 15:04:05")
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, a := range addrs {
			fmt.Fprintf(f, "%s login failed from %s\n", stamp, a)
		}
		return now, stamp
	}
	waitLog("server ready", 1)

	const ip = "192.0.2.7"
	fail("10.0.0.9")
	waitLog("INFO    [app] Ignore 10.0.0.9 by ip\n", 1)
	_, stamp := fail(ip, ip)
	waitLog("NOTICE  [app] Ban "+ip+"\n", 1)
	waitLog("INFO    [app] Found "+ip+" - "+stamp+"\n", 2)
	waitLog("NOTICE  [app] Unban "+ip+"\n", 1)
	at, stamp := fail(ip, ip)
	s := waitLog("NOTICE  [app] Ban "+ip+"\n", 2)
	waitLog("INFO    [app] Found "+ip+" - "+stamp+"\n", 2)
	// The second ban is 2 s × 2: 4 s from the ticket's (the line's) time.
	s = waitLog(fmt.Sprintf("NOTICE  [app] Increase Ban %s (2 # 4s -> %s)\n", ip, at.Add(4*time.Second).Format("2006-01-02 15:04:05")), 1)
	if strings.Contains(s, "[app] Found 10.0.0.9") {
		t.Errorf("an ignored address was found:\n%s", s)
	}
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if !lineShape.MatchString(l) {
			t.Errorf("line not in fail2ban's layout: %q", l)
		}
	}

	// recidive counts the two Ban lines; a Ban line written after all
	// the others shows when it has read them.
	fmt.Fprintf(srvLog.out, "%s fail2ban.actions        [1]: NOTICE  [other] Ban %s\n", time.Now().Format("2006-01-02 15:04:05,000"), ip)
	c, err := control.Dial(ctx, filepath.Join(dir, "w.sock"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := c.JailStatus(ctx, "recidive", "")
		if err != nil {
			t.Fatal(err)
		}
		if st.TotalFailed >= 3 {
			if st.TotalFailed != 3 {
				t.Errorf("recidive counted %d failures, want the 3 Ban lines; log:\n%s", st.TotalFailed, readLog())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recidive counted %d failures, want 3; log:\n%s", st.TotalFailed, readLog())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// fail2ban's own reading of the log, when it is installed.
	regex, err := exec.LookPath("fail2ban-regex")
	if err != nil {
		t.Log("fail2ban-regex not installed; skipping fail2ban's own reading")
		return
	}
	got, err := exec.CommandContext(ctx, regex, "-o", "msg", serverLog, "/etc/fail2ban/filter.d/recidive.conf").Output()
	if err != nil {
		t.Fatalf("fail2ban-regex: %v", err)
	}
	var want []string
	for l := range strings.Lines(readLog()) {
		if strings.Contains(l, "] Ban ") && !strings.Contains(l, "[recidive]") {
			want = append(want, strings.TrimSuffix(l, "\n"))
		}
	}
	matched := strings.Split(strings.TrimSpace(string(got)), "\n")
	slices.Sort(matched)
	slices.Sort(want)
	if !slices.Equal(matched, want) {
		t.Errorf("fail2ban's recidive filter matched:\n%s\nwant the Ban lines:\n%s", strings.Join(matched, "\n"), strings.Join(want, "\n"))
	}
}

// lineShape is fail2ban's log line: time, padded logger name, pid, level.
var lineShape = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} fail2ban\.[a-z]+ +\[\d+\]: (DEBUG|INFO|NOTICE|WARNING|ERROR) +\S`)

// TestServerLogReban runs a server whose jail's action has an actioncheck:
// once the action's state is lost (its flag file removed), the next heal
// round repairs it and reapplies the ban there, which the log tells in
// fail2ban's words, naming the one action.
func TestServerLogReban(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	logPath, serverLog, flag := filepath.Join(dir, "app.log"), filepath.Join(dir, "server.log"), filepath.Join(dir, "flag")
	files := map[string]string{
		"app.log":           "",
		"filter.d/app.conf": "[Definition]\nfailregex = login failed from <HOST>$\n",
		"action.d/chk.conf": "[Definition]\nactionstart = touch " + flag + "\nactioncheck = test -e " + flag +
			"\nactionrepair = touch " + flag + "\nactionban = echo ban <ip> >> " + filepath.Join(dir, "record") +
			"\nactionreban = echo reban <ip> >> " + filepath.Join(dir, "record") + "\n",
		"jail.conf": "[DEFAULT]\nbackend = auto\nignoreself = false\n" +
			"[app]\nenabled = true\nfilter = app\naction = chk\nlogpath = " + logPath + "\nmaxretry = 1\nbantime = 1h\n",
	}
	srvLog, logger := newTextLog(t, serverLog)
	cfg := loadTreeIn(t, dir, files)
	startServer(t, Options{Config: cfg, DBPath: filepath.Join(dir, "w.db"), Socket: filepath.Join(dir, "w.sock"),
		HealInterval: 100 * time.Millisecond, Logger: logger}, nil)
	waitFor := func(what string) string { t.Helper(); return srvLog.wait(what, 1) }
	waitFor("server ready")
	appendLines(t, logPath, "login failed from 192.0.2.7")
	waitFor("NOTICE  [app] Ban 192.0.2.7\n")
	// The first heal rounds find the action sane: no reban.
	time.Sleep(300 * time.Millisecond)
	if s := waitFor("Ban 192.0.2.7"); strings.Contains(s, "] Reban") {
		t.Fatalf("reban with the action sane:\n%s", s)
	}
	if err := os.Remove(flag); err != nil {
		t.Fatal(err)
	}
	s := waitFor("NOTICE  [app] Reban 192.0.2.7, action 'chk'\n")
	if n := strings.Count(s, "] Reban"); n != 1 {
		t.Errorf("%d Reban lines, want 1:\n%s", n, s)
	}
}
