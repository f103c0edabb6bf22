package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/internal/control"
)

// clientFake is a one-jail daemon for CLI tests; it records the commands
// that reached it.
type clientFake struct {
	mu    sync.Mutex
	calls []string
	bans  []control.Target
}

var _ control.Handler = (*clientFake)(nil)

func (f *clientFake) record(s string) {
	f.mu.Lock()
	f.calls = append(f.calls, s)
	f.mu.Unlock()
}

func (f *clientFake) jail(name string) error {
	if name != "sshd" {
		return fmt.Errorf("%w %q", control.ErrUnknownJail, name)
	}
	return nil
}

func (f *clientFake) Ping(context.Context) error { f.record("ping"); return nil }
func (f *clientFake) Version(context.Context) (string, error) {
	f.record("version")
	return "9.9.9", nil
}
func (f *clientFake) Status(context.Context) (control.ServerStatus, error) {
	f.record("status")
	return control.ServerStatus{Jails: []string{"sshd"}}, nil
}
func (f *clientFake) JailStatus(_ context.Context, j string, fl control.Flavor) (control.JailStatus, error) {
	f.record("jailstatus " + j + " " + string(fl))
	if err := f.jail(j); err != nil {
		return control.JailStatus{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return control.JailStatus{Jail: j, CurrentlyFailed: 1, TotalFailed: 40, Files: []string{"/var/log/auth.log"},
		CurrentlyBanned: len(f.bans), TotalBanned: 12, BannedIPs: slices.Clone(f.bans)}, nil
}
func (f *clientFake) Stats(context.Context) ([]control.JailStats, error) {
	f.record("stats")
	return []control.JailStats{{Jail: "sshd", Backend: "auto", TotalBanned: 12}}, nil
}
func (f *clientFake) Banned(_ context.Context, ips []netip.Prefix) ([]control.JailBans, error) {
	f.record("banned")
	return []control.JailBans{{Jail: "sshd", IPs: f.bans}}, nil
}
func (f *clientFake) BanIP(_ context.Context, j string, ips []netip.Prefix) (int, error) {
	f.record("banip " + j)
	if err := f.jail(j); err != nil {
		return 0, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.bans = append(f.bans, control.Targets(ips)...)
	return len(ips), nil
}
func (f *clientFake) UnbanIP(_ context.Context, j string, ips []netip.Prefix, _ bool) (int, error) {
	f.record("unbanip " + j)
	return 0, f.jail(j)
}
func (f *clientFake) Unban(_ context.Context, ips []netip.Prefix, all bool) (int, error) {
	f.record(fmt.Sprint("unban ", control.Targets(ips), all))
	return len(ips), nil
}
func (f *clientFake) Get(_ context.Context, j, opt string, _ []string) (any, error) {
	f.record("get " + j + " " + opt)
	if err := f.jail(j); err != nil {
		return nil, err
	}
	if opt != "bantime" {
		return nil, fmt.Errorf("%w %q", control.ErrUnknownOption, opt)
	}
	return 600, nil
}
func (f *clientFake) Set(_ context.Context, j, opt string, v []string) (any, error) {
	f.record("set " + j + " " + opt + " " + strings.Join(v, " "))
	return v[0], f.jail(j)
}
func (f *clientFake) Reload(_ context.Context, o control.ReloadOptions) error {
	f.record(fmt.Sprintf("reload %+v", o))
	return nil
}
func (f *clientFake) Start(_ context.Context, j string) error {
	f.record("start " + j)
	return f.jail(j)
}
func (f *clientFake) Stop(_ context.Context, j string) error { f.record("stop " + j); return nil }
func (f *clientFake) FlushLogs(context.Context) (string, error) {
	f.record("flushlogs")
	return "flushed", nil
}

func startClientFake(t *testing.T) (string, *clientFake) {
	t.Helper()
	dir, err := os.MkdirTemp("", "wcli")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "w.sock")
	ln, err := control.Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	f := &clientFake{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = control.Serve(ctx, ln, f, control.ServeOptions{}); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return path, f
}

// runClientCLI runs the binary's entry point in-process.
func runClientCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	dir := t.TempDir()
	out, _ := os.Create(filepath.Join(dir, "out"))
	errf, _ := os.Create(filepath.Join(dir, "err"))
	defer out.Close()
	defer errf.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code = run(ctx, args, os.Stdin, out, errf)
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	return code, string(o), string(e)
}

func TestClientCommands(t *testing.T) {
	sock, f := startClientFake(t)
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   string // exact, without the final newline
		stderr   string // substring
		reaching string // the call the fake must have seen last ("" = none)
	}{
		{name: "ping", args: []string{"fail2ban-client", "-s", sock, "ping"}, stdout: "Server replied: pong", reaching: "ping"},
		{name: "version", args: []string{"warden", "client", "--socket=" + sock, "version"}, stdout: "9.9.9", reaching: "version"},
		{name: "banip", args: []string{"fail2ban-client", "-s" + sock, "set", "sshd", "banip", "192.0.2.5"}, stdout: "1", reaching: "banip sshd"},
		{name: "status jail", args: []string{"fail2ban-client", "-s", sock, "status", "sshd"},
			stdout:   "Status for the jail: sshd\n|- Filter\n|  |- Currently failed:\t1\n|  |- Total failed:\t40\n|  `- File list:\t/var/log/auth.log\n`- Actions\n   |- Currently banned:\t1\n   |- Total banned:\t12\n   `- Banned IP list:\t192.0.2.5",
			reaching: "jailstatus sshd basic"},
		{name: "unban all", args: []string{"fail2ban-client", "-s", sock, "unban", "--all"}, stdout: "0", reaching: "unban [] true"},
		{name: "get bantime", args: []string{"fail2ban-client", "-vq", "-s", sock, "get", "sshd", "bantime"}, stdout: "600", reaching: "get sshd bantime"},
		{name: "set bantime", args: []string{"fail2ban-client", "-s", sock, "set", "sshd", "bantime", "1h"}, stdout: "1h", reaching: "set sshd bantime 1h"},
		{name: "reload restart", args: []string{"fail2ban-client", "-s", sock, "restart", "--unban", "sshd"}, stdout: "OK",
			reaching: "reload {Jail:sshd Restart:true Unban:true IfExists:false}"},
		{name: "stop jail", args: []string{"fail2ban-client", "-s", sock, "stop", "sshd"}, stdout: "Jail stopped", reaching: "stop sshd"},
		{name: "flushlogs", args: []string{"fail2ban-client", "-s", sock, "flushlogs"}, stdout: "logs: flushed", reaching: "flushlogs"},
		{name: "unknown jail compat", args: []string{"fail2ban-client", "-s", sock, "status", "nope"}, code: 255,
			stdout: "Sorry but the jail 'nope' does not exist", stderr: "NOK", reaching: "jailstatus nope basic"},
		{name: "unknown jail native", args: []string{"warden", "client", "-s", sock, "start", "nope"}, code: 255,
			stderr: "Sorry but the jail 'nope' does not exist", reaching: "start nope"},
		{name: "unknown option", args: []string{"warden", "client", "-s", sock, "get", "sshd", "maxlines"}, code: 255,
			stderr: `unknown option "maxlines"`, reaching: "get sshd maxlines"},
		{name: "bad address", args: []string{"fail2ban-client", "-s", sock, "set", "sshd", "banip", "192.0.2.500"}, code: 255,
			stderr: `invalid IP address "192.0.2.500"`},
		{name: "bad time", args: []string{"fail2ban-client", "-s", sock, "set", "sshd", "findtime", "soon"}, code: 255,
			stderr: "invalid arguments"},
		{name: "unknown command", args: []string{"fail2ban-client", "-s", sock, "add", "jail2", "auto"}, code: 255,
			stderr: `unknown command "add"`},
		{name: "start server", args: []string{"fail2ban-client", "-s", sock, "start"}, code: 255,
			stderr: "Server already running", reaching: "ping"},
		{name: "unsupported option", args: []string{"fail2ban-client", "-d"}, code: 255,
			stderr: "option -d of fail2ban-client is not supported by fail2ban-client: to see the configuration, run `warden config check`"},
		{name: "unknown option flag", args: []string{"warden", "client", "--frob", "ping"}, code: 255, stderr: "unknown option --frob"},
		{name: "no socket", args: []string{"fail2ban-client", "-s", filepath.Join(t.TempDir(), "none.sock"), "ping"}, code: 255,
			stderr: "Failed to access socket path: "},
		{name: "short version", args: []string{"fail2ban-client", "-V"}, stdout: version},
		{name: "long version", args: []string{"fail2ban-client", "--version"}, stdout: "warden v" + version},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.mu.Lock()
			f.calls = nil
			f.mu.Unlock()
			code, stdout, stderr := runClientCLI(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if tt.stdout != "" || tt.code == 0 {
				if got := strings.TrimSuffix(stdout, "\n"); got != tt.stdout {
					t.Errorf("stdout\n got %q\nwant %q", got, tt.stdout)
				}
			}
			if !strings.Contains(stderr, tt.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tt.stderr)
			}
			f.mu.Lock()
			calls := f.calls
			f.mu.Unlock()
			switch {
			case tt.reaching == "" && len(calls) > 0:
				t.Errorf("the daemon was called (%q) although the client should have refused", calls)
			case tt.reaching != "" && (len(calls) == 0 || calls[len(calls)-1] != tt.reaching):
				t.Errorf("daemon calls %q, want last %q", calls, tt.reaching)
			}
		})
	}
}

// TestClientStatusForMonitoring checks the status output with the
// expressions monitoring plugins use on fail2ban-client, and --json.
func TestClientStatusForMonitoring(t *testing.T) {
	sock, _ := startClientFake(t)
	if code, _, stderr := runClientCLI(t, "fail2ban-client", "-s", sock, "set", "sshd", "banip", "198.51.100.7", "2001:db8::7"); code != 0 {
		t.Fatal(stderr)
	}
	_, out, _ := runClientCLI(t, "fail2ban-client", "-s", sock, "status", "sshd")
	for re, want := range map[string]string{
		`Currently banned:\s+(\d+)`:  "2",
		`Total banned:\s+(\d+)`:      "12",
		`Currently failed:\s+(\d+)`:  "1",
		`Total failed:\s+(\d+)`:      "40",
		`Banned IP list:\s+([^\n]+)`: "198.51.100.7 2001:db8::7",
	} {
		m := regexp.MustCompile(re).FindStringSubmatch(out)
		if m == nil || m[1] != want {
			t.Errorf("%s on %q: %q, want %q", re, out, m, want)
		}
	}
	_, out, _ = runClientCLI(t, "fail2ban-client", "-s", sock, "status")
	if m := regexp.MustCompile(`Jail list:\s+(.*)`).FindStringSubmatch(out); m == nil || m[1] != "sshd" {
		t.Errorf("Jail list in %q: %q", out, m)
	}

	code, out, _ := runClientCLI(t, "warden", "client", "-s", sock, "--json", "status", "sshd")
	var js control.JailStatus
	if code != 0 || json.Unmarshal([]byte(out), &js) != nil || js.CurrentlyBanned != 2 || js.TotalFailed != 40 {
		t.Errorf("--json status: code %d, %q -> %+v", code, out, js)
	}
	code, out, _ = runClientCLI(t, "warden", "client", "-s", sock, "--json", "status", "nope")
	var e struct {
		OK    bool           `json:"ok"`
		Error *control.Error `json:"error"`
	}
	if code != 255 || json.Unmarshal([]byte(out), &e) != nil || e.OK || e.Error == nil || e.Error.Code != control.CodeUnknownJail {
		t.Errorf("--json error: code %d, %q", code, out)
	}
}

// TestStr2Sec compares with what fail2ban-client --str2sec prints.
func TestStr2Sec(t *testing.T) {
	for in, want := range map[string]string{
		"1h": "3600", "1.5h": "5400.0", "1mo": "2629800.0", "600": "600", "-1": "-1",
		"1d 2h": "93600", "0.5": "0.5", "1y": "31557600.0", "10m": "600",
	} {
		code, out, stderr := runClientCLI(t, "fail2ban-client", "--str2sec", in)
		if code != 0 || strings.TrimSpace(out) != want {
			t.Errorf("--str2sec %q = %q (code %d, %s), want %q", in, out, code, stderr, want)
		}
	}
	if code, _, stderr := runClientCLI(t, "fail2ban-client", "--str2sec", "junk"); code != 255 || stderr == "" {
		t.Errorf("--str2sec junk: code %d, stderr %q", code, stderr)
	}
}

func TestClientHelp(t *testing.T) {
	code, out, _ := runClientCLI(t, "fail2ban-client", "-h")
	if code != 0 || !strings.HasPrefix(out, "Usage: fail2ban-client [OPTIONS] <COMMAND>") || !strings.Contains(out, "set <JAIL> banip") {
		t.Errorf("-h: code %d, %q", code, out)
	}
	if code, out, _ := runClientCLI(t, "warden", "client"); code != 255 || !strings.HasPrefix(out, "Usage: warden client") {
		t.Errorf("no command: code %d, %q", code, out)
	}
}
