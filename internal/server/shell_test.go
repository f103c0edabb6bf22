package server

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/internal/control"
)

// TestShellActions runs a jail whose action is a shell action (no firewall,
// no root): failures in the log lead to actionban, an operator's unban to
// actionunban. A second jail with a broken log source does not hold it up,
// and the handler answers the commands it does not support with an error.
func TestShellActions(t *testing.T) {
	dir := t.TempDir()
	record := filepath.Join(dir, "record")
	logPath := filepath.Join(dir, "app.log")
	cfg := loadTreeIn(t, dir, map[string]string{
		"app.log":           "",
		"filter.d/app.conf": "[Definition]\nfailregex = login failed from <HOST>$\n",
		"action.d/record.conf": "[Definition]\nactionstart = echo start >> " + record +
			"\nactionban = echo ban <ip> >> " + record + "\nactionunban = echo unban <ip> >> " + record +
			"\nactionstop = echo stop >> " + record + "\n",
		"jail.conf": fmt.Sprintf(`[DEFAULT]
backend = polling
ignoreself = false
maxretry = 2
findtime = 10m
bantime = 1h
action = record

[app]
enabled = true
filter = app
logpath = %s

[broken]
enabled = true
filter = app
logpath = %s/missing-dir/[
`, logPath, dir),
	})
	// states is written by the server's goroutine. runServer returns at
	// READY=1: lines appended before it may fall before a "tail" start; the
	// socket accepts connections (into its backlog) earlier than that.
	var (
		statesMu sync.Mutex
		states   []string
	)
	ctx, stop := runServer(t, cfg, dir, func(s string) {
		statesMu.Lock()
		defer statesMu.Unlock()
		states = append(states, s)
	})
	defer func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
		got, _ := os.ReadFile(record)
		if !strings.HasSuffix(string(got), "stop\n") {
			t.Errorf("actionstop did not run at shutdown; record:\n%s", got)
		}
		statesMu.Lock()
		defer statesMu.Unlock()
		if len(states) != 2 || states[0] != "READY=1" || states[1] != "STOPPING=1" {
			t.Errorf("notify states = %q", states)
		}
	}()
	var (
		c   *control.Client
		err error
	)
	waitUntil(t, "the socket answers", func() bool {
		c, err = control.Dial(ctx, filepath.Join(dir, "w.sock"))
		return err == nil
	})
	defer c.Close()

	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	stamp := time.Now().Format("2006-01-02 15:04:05")
	fmt.Fprintf(f, "%s login failed from 198.51.100.7\n%s login failed from 198.51.100.7\n", stamp, stamp)
	f.Close()
	waitUntil(t, "actionban ran", func() bool {
		b, _ := os.ReadFile(record)
		return strings.Contains(string(b), "ban 198.51.100.7\n")
	})

	bans, err := c.Banned(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bans) != 2 || bans[0].Jail != "app" || len(bans[0].IPs) != 1 || bans[0].IPs[0] != control.AddrTarget(netip.MustParseAddr("198.51.100.7")) {
		t.Errorf("banned = %+v", bans)
	}
	if v, err := c.Get(ctx, "app", "maxretry"); err != nil || fmt.Sprint(v) != "2" {
		t.Errorf("get app maxretry = %v, %v", v, err)
	}
	if _, err := c.Get(ctx, "nosuch", "maxretry"); !isErr(err, control.ErrUnknownJail) {
		t.Errorf("get on unknown jail: %v", err)
	}
	if err := c.Reload(ctx, control.ReloadOptions{}); !isErr(err, control.ErrNotSupported) {
		t.Errorf("reload: %v, want not supported", err)
	}
	if _, err := c.Set(ctx, "app", "idle", "on"); !isErr(err, control.ErrNotSupported) {
		t.Errorf("set idle: %v, want not supported", err)
	}
	if v, err := c.Set(ctx, "app", "bantime", "2h"); err != nil || fmt.Sprint(v) != "7200" {
		t.Errorf("set app bantime 2h = %v, %v", v, err)
	}
	if v, err := c.Get(ctx, "app", "bantime"); err != nil || fmt.Sprint(v) != "7200" {
		t.Errorf("get app bantime after set = %v, %v", v, err)
	}
	if _, err := c.Set(ctx, "app", "bantime", "soon"); !isErr(err, control.ErrBadArgs) {
		t.Errorf("set app bantime soon: %v, want invalid arguments", err)
	}
	if n, err := c.Unban(ctx, netip.MustParseAddr("198.51.100.7")); err != nil || n != 1 {
		t.Errorf("unban = %d, %v", n, err)
	}
	waitUntil(t, "actionunban ran", func() bool {
		b, _ := os.ReadFile(record)
		return strings.Contains(string(b), "unban 198.51.100.7\n")
	})
}

func isErr(err, target error) bool {
	return err != nil && strings.Contains(err.Error(), target.Error())
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}
