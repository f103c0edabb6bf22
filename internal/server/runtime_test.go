package server

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/internal/config"
	"warden/internal/control"
)

// runtimeServer runs a server with one shell-action jail "app" on a log
// file (no root needed), with jailOpts added to its section, and returns a client, the log and the record the
// action writes.
func runtimeServer(t *testing.T, jailOpts string) (c *control.Client, logPath, record string) {
	t.Helper()
	dir := t.TempDir()
	record = filepath.Join(dir, "record")
	logPath = filepath.Join(dir, "app.log")
	files := map[string]string{
		"app.log":              "",
		"other.log":            "",
		"filter.d/app.conf":    "[Definition]\nfailregex = login failed from <HOST>$\n",
		"action.d/record.conf": "[Definition]\nactionban = echo ban <ip> >> " + record + "\n",
		"jail.conf": "[DEFAULT]\nbackend = polling\nignoreself = false\nmaxretry = 3\nfindtime = 10m\nbantime = 1h\naction = record\n" +
			"[app]\nenabled = true\nfilter = app\nlogpath = " + logPath + "\n" + jailOpts,
	}
	cfg := loadTreeIn(t, dir, files)
	ctx, _ := runServer(t, cfg, dir, nil)
	var err error
	c, err = control.Dial(ctx, filepath.Join(dir, "w.sock"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, logPath, record
}

// runServer runs a server on cfg with its database and socket in dir and
// waits for its READY=1; notify, if set, sees every state it reports
// first. stop cancels the run and returns Run's error; if the test does not
// call it, a cleanup does and fails the test on that error.
func runServer(t *testing.T, cfg *config.Config, dir string, notify func(string)) (ctx context.Context, stop func() error) {
	t.Helper()
	return startServer(t, Options{Config: cfg, DBPath: filepath.Join(dir, "w.db"), Socket: filepath.Join(dir, "w.sock")}, notify)
}

// startServer is runServer on opts, whose Notify it sets, and its Logger
// when nil (to one that discards).
func startServer(t *testing.T, opts Options, notify func(string)) (ctx context.Context, stop func() error) {
	t.Helper()
	ready := make(chan struct{})
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	opts.Notify = func(s string) error {
		if notify != nil {
			notify(s)
		}
		if s == "READY=1" {
			close(ready)
		}
		return nil
	}
	srv, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	var (
		once   sync.Once
		runErr error
	)
	halt := func() {
		cancel()
		runErr = <-done
	}
	stop = func() error {
		once.Do(halt)
		return runErr
	}
	t.Cleanup(func() {
		stopped := false // by this cleanup, so no one has seen runErr
		once.Do(func() { halt(); stopped = true })
		if stopped && runErr != nil {
			t.Errorf("Run: %v", runErr)
		}
	})
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("no READY=1 within 10 s")
	}
	return ctx, stop
}

func appendLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stamp := time.Now().Format("2006-01-02 15:04:05")
	for _, l := range lines {
		fmt.Fprintf(f, "%s %s\n", stamp, l)
	}
}

// TestSetGetRuntimeOptions sets every runtime option through the socket
// and checks the answer in fail2ban-client's layout, then reads it back
// with get.
func TestSetGetRuntimeOptions(t *testing.T) {
	c, logPath, _ := runtimeServer(t, "")
	other := filepath.Join(filepath.Dir(logPath), "other.log")
	ctx := context.Background()
	tests := []struct {
		set  []string // words after "set app"
		out  string   // printed answer of set (and of get of the same option)
		get  string   // option for get; "" = skip
		want error    // expected error
	}{
		{set: []string{"maxretry", "5"}, out: "5", get: "maxretry"},
		{set: []string{"findtime", "1h"}, out: "3600", get: "findtime"},
		{set: []string{"maxmatches", "2"}, out: "2", get: "maxmatches"},
		{set: []string{"maxlines", "2"}, out: "2", get: "maxlines"},
		{set: []string{"bantime", "2h"}, out: "7200", get: "bantime"},
		{set: []string{"bantime.increment", "true"}, out: "True", get: "bantime.increment"},
		{set: []string{"bantime.maxtime", "1d"}, out: "86400", get: "bantime.maxtime"},
		{set: []string{"bantime.factor", "2"}, out: "2", get: "bantime.factor"},
		{set: []string{"bantime.multipliers", "1", "2", "4"}, out: "1 2 4", get: "bantime.multipliers"},
		{set: []string{"usedns", "no"}, out: "no", get: "usedns"},
		{set: []string{"ignoreself", "true"}, out: "True", get: "ignoreself"},
		{set: []string{"addignoreip", "10.0.0.0/8", "192.0.2.5"}, out: "These IP addresses/networks are ignored:\n|- 10.0.0.0/8\n`- 192.0.2.5", get: "ignoreip"},
		{set: []string{"delignoreip", "10.0.0.0/8"}, out: "These IP addresses/networks are ignored:\n`- 192.0.2.5", get: "ignoreip"},
		{set: []string{"ignorecommand", "/bin/false"}, out: "/bin/false", get: "ignorecommand"},
		{set: []string{"addfailregex", "^bad user from <HOST>$"}, out: "The following regular expression are defined:\n|- [0]: login failed from <HOST>$\n`- [1]: ^bad user from <HOST>$", get: "failregex"},
		{set: []string{"delfailregex", "1"}, out: "The following regular expression are defined:\n`- [0]: login failed from <HOST>$", get: "failregex"},
		{set: []string{"addignoreregex", "trusted"}, out: "The following regular expression are defined:\n`- [0]: trusted", get: "ignoreregex"},
		{set: []string{"delignoreregex", "0"}, out: "No regular expression is defined", get: "ignoreregex"},
		{set: []string{"addlogpath", other, "tail"}, out: "Current monitored log file(s):\n|- " + logPath + "\n`- " + other, get: "logpath"},
		{set: []string{"dellogpath", other}, out: "Current monitored log file(s):\n`- " + logPath, get: "logpath"},
		{set: []string{"logtimezone", "UTC"}, out: "UTC", get: "logtimezone"},
		// Refused, with the jail left as it runs.
		{set: []string{"maxretry", "x"}, want: control.ErrBadArgs},
		{set: []string{"delfailregex", "7"}, want: control.ErrBadArgs},
		{set: []string{"addfailregex", "no host group ("}, want: control.ErrBadArgs},
		{set: []string{"usedns", "sometimes"}, want: control.ErrBadArgs},
		{set: []string{"dellogpath", "/nowhere"}, want: control.ErrBadArgs},
		{set: []string{"addjournalmatch", "_COMM=sshd"}, want: control.ErrBadArgs},
		{set: []string{"addaction", "record"}, want: control.ErrNotSupported},
		{set: []string{"idle", "on"}, want: control.ErrNotSupported},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.set, " "), func(t *testing.T) {
			words := append([]string{"set", "app"}, tt.set...)
			raw, err := c.Call(ctx, words)
			if tt.want != nil {
				if !isErr(err, tt.want) {
					t.Fatalf("err = %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := format(t, words, raw); got != tt.out {
				t.Errorf("set printed\n%s\nwant\n%s", got, tt.out)
			}
			gw := []string{"get", "app", tt.get}
			raw, err = c.Call(ctx, gw)
			if err != nil {
				t.Fatal(err)
			}
			if got := format(t, gw, raw); got != tt.out {
				t.Errorf("get printed\n%s\nwant\n%s", got, tt.out)
			}
		})
	}
	// The refused values changed nothing.
	if v, err := c.Get(ctx, "app", "maxretry"); err != nil || fmt.Sprint(v) != "5" {
		t.Errorf("maxretry after refused sets = %v, %v", v, err)
	}
}

func format(t *testing.T, words []string, raw []byte) string {
	t.Helper()
	cmd, err := control.ParseCommand(words)
	if err != nil {
		t.Fatal(err)
	}
	out, err := control.Format(cmd, raw)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSetKeepsCounts: a filter option and a failure-window option both
// keep the jail's failure counts (as fail2ban), and take effect on the
// lines read afterwards.
func TestSetKeepsCounts(t *testing.T) {
	c, logPath, record := runtimeServer(t, "")
	ctx := context.Background()
	failed := func() int {
		st, err := c.JailStatus(ctx, "app", control.FlavorBasic)
		if err != nil {
			t.Fatal(err)
		}
		return st.CurrentlyFailed
	}
	appendLines(t, logPath, "login failed from 192.0.2.1")
	waitUntil(t, "one failure counted", func() bool { return failed() == 1 })

	if _, err := c.Set(ctx, "app", "addfailregex", "^.* bad user from <HOST>$"); err != nil {
		t.Fatal(err)
	}
	if n := failed(); n != 1 {
		t.Errorf("after addfailregex: %d failing, want 1 (counts kept)", n)
	}
	appendLines(t, logPath, "bad user from 192.0.2.1", "bad user from 192.0.2.1")
	waitUntil(t, "the new regex bans 192.0.2.1 at the third failure", func() bool {
		b, _ := os.ReadFile(record)
		return strings.Contains(string(b), "ban 192.0.2.1\n")
	})

	appendLines(t, logPath, "login failed from 192.0.2.2")
	waitUntil(t, "192.0.2.2 counted", func() bool { return failed() == 1 })
	if v, err := c.Set(ctx, "app", "maxretry", "2"); err != nil || fmt.Sprint(v) != "2" {
		t.Fatalf("set maxretry 2 = %v, %v", v, err)
	}
	if n := failed(); n != 1 {
		t.Errorf("after maxretry: %d failing, want 1 (counts kept)", n)
	}
	// Its second failure reaches the new maxretry only if the first still
	// counts.
	appendLines(t, logPath, "login failed from 192.0.2.2")
	waitUntil(t, "maxretry 2 bans 192.0.2.2 at its second failure", func() bool {
		b, _ := os.ReadFile(record)
		return strings.Contains(string(b), "ban 192.0.2.2\n")
	})
	banned, err := c.Banned(ctx)
	if err != nil || len(banned) != 1 || len(banned[0].IPs) != 2 {
		t.Errorf("banned = %+v, %v; want 192.0.2.1 kept and 192.0.2.2", banned, err)
	}
}

// TestBanIPMany: one banip command with many addresses bans each once;
// repeating it bans none anew.
func TestBanIPMany(t *testing.T) {
	c, _, _ := runtimeServer(t, "")
	ctx := context.Background()
	var ips []netip.Addr
	for i := range 120 {
		ips = append(ips, netip.AddrFrom4([4]byte{198, 51, byte(100 + i/256), byte(i % 256)}))
	}
	ips = append(ips, ips[0]) // listed twice
	for round, want := range []int{120, 0} {
		n, err := c.BanIP(ctx, "app", ips...)
		if err != nil || n != want {
			t.Errorf("round %d: banip = %d, %v; want %d", round, n, err, want)
		}
	}
	st, err := c.JailStatus(ctx, "app", control.FlavorShort)
	if err != nil || st.CurrentlyBanned != 120 {
		t.Errorf("currently banned %d, %v; want 120", st.CurrentlyBanned, err)
	}
}
