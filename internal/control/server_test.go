package control

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// startServer serves h on a fresh socket and returns its path; the server
// is stopped, and checked to have stopped cleanly, when the test ends.
func startServer(t testing.TB, h Handler, opts ServeOptions) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "wctl")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "run", "warden.sock")
	ln, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, opts) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve returned %v after cancel", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after cancel")
		}
		if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket file left behind after shutdown: %v", err)
		}
	})
	return path
}

func dial(t testing.TB, path string) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestCommandsRoundTrip sends every command's words through a real socket
// and checks both the printed answer and the handler's resulting state.
func TestCommandsRoundTrip(t *testing.T) {
	tests := []struct {
		words []string
		want  string
		check func(t *testing.T, f *fakeHandler)
	}{
		{words: []string{"ping"}, want: "Server replied: pong"},
		{words: []string{"ping", "0.5"}, want: "Server replied: pong"},
		{words: []string{"version"}, want: "0.1.0-test"},
		{words: []string{"status"}, want: "Status\n|- Number of jail:\t2\n`- Jail list:\tnginx, sshd"},
		{words: []string{"status", "sshd"}, want: "Status for the jail: sshd\n|- Filter\n|  |- Currently failed:\t2\n|  |- Total failed:\t17\n|  `- File list:\t/var/log/auth.log /var/log/secure\n`- Actions\n   |- Currently banned:\t2\n   |- Total banned:\t5\n   `- Banned IP list:\t192.0.2.7 2001:db8::1"},
		{words: []string{"status", "sshd", "short"}, want: "Status for the jail: sshd\n|- Filter\n|  |- Currently failed:\t2\n|  |- Total failed:\t17\n|  `- File list:\t/var/log/auth.log /var/log/secure\n`- Actions\n   |- Currently banned:\t2\n   `- Total banned:\t5"},
		{words: []string{"status", "nginx"}, want: "Status for the jail: nginx\n|- Filter\n|  |- Currently failed:\t0\n|  |- Total failed:\t3\n|  `- Journal matches:\t_SYSTEMD_UNIT=nginx.service _COMM=nginx\n`- Actions\n   |- Currently banned:\t0\n   |- Total banned:\t0\n   `- Banned IP list:\t"},
		{words: []string{"status", "--all", "short"}, want: "Status\n|- Number of jail:\t2\n`- Jail list:\tnginx, sshd\n\nStatus for the jail: nginx\n|- Filter\n|  |- Currently failed:\t0\n|  |- Total failed:\t3\n|  `- Journal matches:\t_SYSTEMD_UNIT=nginx.service _COMM=nginx\n`- Actions\n   |- Currently banned:\t0\n   `- Total banned:\t0\n\nStatus for the jail: sshd\n|- Filter\n|  |- Currently failed:\t2\n|  |- Total failed:\t17\n|  `- File list:\t/var/log/auth.log /var/log/secure\n`- Actions\n   |- Currently banned:\t2\n   `- Total banned:\t5"},
		{words: []string{"stats"}, want: "Jail   Backend  Failed  Total failed  Banned  Total banned\nnginx  systemd       0             3       0             0\nsshd   auto          2            17       2             5"},
		{words: []string{"banned"}, want: "[{'nginx': []}, {'sshd': ['192.0.2.7', '2001:db8::1']}]"},
		{words: []string{"banned", "192.0.2.7", "198.51.100.1"}, want: "[['sshd'], []]"},
		{words: []string{"set", "sshd", "banip", "198.51.100.1", "192.0.2.7"}, want: "1",
			check: func(t *testing.T, f *fakeHandler) {
				if !slices.Contains(f.jails["sshd"].bans, target("198.51.100.1")) {
					t.Error("banip did not reach the handler")
				}
			}},
		{words: []string{"set", "sshd", "unbanip", "192.0.2.7", "203.0.113.9"}, want: "1",
			check: func(t *testing.T, f *fakeHandler) {
				if slices.Contains(f.jails["sshd"].bans, target("192.0.2.7")) {
					t.Error("unbanip did not reach the handler")
				}
			}},
		{words: []string{"unban", "2001:db8::1"}, want: "1"},
		{words: []string{"unban", "--all"}, want: "1",
			check: func(t *testing.T, f *fakeHandler) {
				if n := len(f.jails["sshd"].bans); n != 0 {
					t.Errorf("unban --all left %d bans", n)
				}
			}},
		{words: []string{"get", "sshd", "maxretry"}, want: "5"},
		{words: []string{"set", "sshd", "maxretry", "7"}, want: "7",
			check: func(t *testing.T, f *fakeHandler) {
				if got := f.jails["sshd"].opts["maxretry"]; got != "7" {
					t.Errorf("maxretry = %q, want 7", got)
				}
			}},
		{words: []string{"set", "sshd", "bantime", "3600"}, want: "3600"},
		{words: []string{"set", "sshd", "addignoreip", "10.0.0.0/8"}, want: "These IP addresses/networks are ignored:\n|- 127.0.0.1/8\n`- 10.0.0.0/8"},
		{words: []string{"set", "sshd", "delignoreip", "127.0.0.1/8"}, want: "These IP addresses/networks are ignored:\n`- 10.0.0.0/8"},
		{words: []string{"set", "sshd", "delignoreip", "10.0.0.0/8"}, want: "No IP address/network is ignored"},
		{words: []string{"get", "sshd", "logpath"}, want: "Current monitored log file(s):\n|- /var/log/auth.log\n`- /var/log/secure"},
		{words: []string{"get", "nginx", "journalmatch"}, want: "Current match filter:\n_SYSTEMD_UNIT=nginx.service _COMM=nginx"},
		{words: []string{"get", "sshd", "failregex"}, want: "The following regular expression are defined:\n|- [0]: ^Failed password for .* from <HOST>\n`- [1]: ^Invalid user .* from <HOST>"},
		{words: []string{"get", "sshd", "actions"}, want: "The jail sshd has the following actions:\nnftables, mail"},
		{words: []string{"set", "sshd", "banip", "192.0.2.1", "192.0.2.2"}, want: "2"},
		{words: []string{"get", "sshd", "banip", ","}, want: "192.0.2.1,192.0.2.2"},
		{words: []string{"get", "sshd", "banned", "192.0.2.1"}, want: "1"},
		{words: []string{"get", "sshd", "banned", "192.0.2.1", "192.0.2.99"}, want: "[1, 0]"},
		{words: []string{"get", "loglevel"}, want: "Current logging level is 'INFO'"},
		{words: []string{"set", "loglevel", "DEBUG"}, want: "Current logging level is 'DEBUG'"},
		{words: []string{"get", "logtarget"}, want: "Current logging target is:\n`- /var/log/warden.log"},
		{words: []string{"get", "dbfile"}, want: "Database currently disabled"},
		{words: []string{"reload"}, want: "OK"},
		{words: []string{"reload", "--restart", "--unban", "sshd"}, want: "OK",
			check: func(t *testing.T, f *fakeHandler) {
				want := ReloadOptions{Jail: "sshd", Restart: true, Unban: true}
				if got := f.reloads[len(f.reloads)-1]; got != want {
					t.Errorf("reload options = %+v, want %+v", got, want)
				}
			}},
		{words: []string{"restart", "--if-exists", "gone"}, want: "OK",
			check: func(t *testing.T, f *fakeHandler) {
				want := ReloadOptions{Jail: "gone", Restart: true, IfExists: true}
				if got := f.reloads[len(f.reloads)-1]; got != want {
					t.Errorf("restart options = %+v, want %+v", got, want)
				}
			}},
		{words: []string{"stop", "nginx"}, want: "Jail stopped",
			check: func(t *testing.T, f *fakeHandler) {
				if f.jails["nginx"].running {
					t.Error("nginx still running after stop")
				}
			}},
		{words: []string{"status"}, want: "Status\n|- Number of jail:\t1\n`- Jail list:\tsshd"},
		{words: []string{"start", "nginx"}, want: "Jail started"},
		{words: []string{"flushlogs"}, want: "logs: rolled over",
			check: func(t *testing.T, f *fakeHandler) {
				if f.flushed != 1 {
					t.Errorf("flushed %d times, want 1", f.flushed)
				}
			}},
		{words: []string{"stop"}, want: "Shutdown successful",
			check: func(t *testing.T, f *fakeHandler) {
				if !f.shutdown {
					t.Error("stop did not shut the fake down")
				}
			}},
	}
	f := newFakeHandler()
	path := startServer(t, f, ServeOptions{})
	c := dial(t, path)
	ctx := testCtx(t)
	// The cases run in order on one connection and build on each other.
	for _, tt := range tests {
		cmd, err := ParseCommand(tt.words)
		if err != nil {
			t.Fatalf("%q: %v", tt.words, err)
		}
		raw, err := c.Call(ctx, tt.words)
		if err != nil {
			t.Fatalf("%q: %v", tt.words, err)
		}
		got, err := Format(cmd, raw)
		if err != nil {
			t.Fatalf("%q: format: %v", tt.words, err)
		}
		if got != tt.want {
			t.Errorf("%q:\n got %q\nwant %q", tt.words, got, tt.want)
		}
		if tt.check != nil {
			f.mu.Lock()
			tt.check(t, f)
			f.mu.Unlock()
		}
	}
}

// TestTypedClient drives the typed Client methods against the fake.
func TestTypedClient(t *testing.T) {
	f := newFakeHandler()
	c := dial(t, startServer(t, f, ServeOptions{}))
	ctx := testCtx(t)
	a1, a2 := netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("2001:db8::5")

	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Version(ctx); err != nil || v != "0.1.0-test" {
		t.Fatalf("Version = %q, %v", v, err)
	}
	if n, err := c.BanIP(ctx, "sshd", a1, a2); err != nil || n != 2 {
		t.Fatalf("BanIP = %d, %v", n, err)
	}
	js, err := c.JailStatus(ctx, "sshd", "")
	if err != nil {
		t.Fatal(err)
	}
	if js.CurrentlyBanned != 4 || !slices.Contains(js.BannedIPs, AddrTarget(a2)) {
		t.Errorf("JailStatus after BanIP = %+v", js)
	}
	all, err := c.StatusAll(ctx, FlavorShort)
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Jails) != 2 || all.Jails[1].BannedIPs != nil {
		t.Errorf("StatusAll short = %+v", all)
	}
	bans, err := c.Banned(ctx, a1)
	if err != nil || len(bans) != 2 || !slices.Equal(bans[1].IPs, []Target{AddrTarget(a1)}) {
		t.Errorf("Banned(a1) = %+v, %v", bans, err)
	}
	if n, err := c.UnbanIP(ctx, "sshd", true, a1); err != nil || n != 1 {
		t.Errorf("UnbanIP = %d, %v", n, err)
	}
	if _, err := c.UnbanIP(ctx, "sshd", true, a1); !errors.Is(err, ErrBadArgs) {
		t.Errorf("UnbanIP of an absent address with reportAbsent: err = %v, want ErrBadArgs", err)
	}
	if n, err := c.Unban(ctx, a2); err != nil || n != 1 {
		t.Errorf("Unban = %d, %v", n, err)
	}
	v, err := c.Set(ctx, "sshd", "findtime", "1200")
	if err != nil || pyStr(v) != "1200" {
		t.Errorf("Set findtime = %v, %v", v, err)
	}
	if _, err := c.Get(ctx, "nope", "maxretry"); !errors.Is(err, ErrUnknownJail) {
		t.Errorf("Get on unknown jail: err = %v, want ErrUnknownJail", err)
	}
	st, err := c.Stats(ctx)
	if err != nil || len(st) != 2 || st[1].Jail != "sshd" || st[1].TotalBanned != 7 {
		t.Errorf("Stats = %+v, %v", st, err)
	}
	if err := c.Reload(ctx, ReloadOptions{Jail: "nginx", Unban: true}); err != nil {
		t.Fatal(err)
	}
	if err := c.Stop(ctx, "nginx"); err != nil {
		t.Fatal(err)
	}
	if s, err := c.Status(ctx); err != nil || !slices.Equal(s.Jails, []string{"sshd"}) {
		t.Errorf("Status after Stop = %+v, %v", s, err)
	}
	if err := c.Start(ctx, "nginx"); err != nil {
		t.Fatal(err)
	}
	if s, err := c.FlushLogs(ctx); err != nil || s != "rolled over" {
		t.Errorf("FlushLogs = %q, %v", s, err)
	}
	if n, err := c.UnbanAll(ctx); err != nil || n != 2 {
		t.Errorf("UnbanAll = %d, %v", n, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := f.reloads; len(got) != 1 || got[0] != (ReloadOptions{Jail: "nginx", Unban: true}) {
		t.Errorf("reloads = %+v", got)
	}
}

// TestHandlerErrors checks that each handler-side and parse-side failure
// reaches the client with its code, and that the connection stays usable.
func TestHandlerErrors(t *testing.T) {
	tests := []struct {
		words   []string
		want    error
		wantMsg string
	}{
		{[]string{"status", "nope"}, ErrUnknownJail, "Sorry but the jail 'nope' does not exist"},
		{[]string{"set", "nope", "banip", "192.0.2.1"}, ErrUnknownJail, "Sorry but the jail 'nope' does not exist"},
		{[]string{"reload", "nope"}, ErrUnknownJail, "Sorry but the jail 'nope' does not exist"},
		{[]string{"get", "sshd", "datepattern"}, ErrUnknownOption, `unknown option "datepattern" for jail sshd`},
		{[]string{"get", "sshd", "frobnicate"}, ErrUnknownOption, ""},
		{[]string{"set", "sshd", "banip", "192.0.2.300"}, ErrBadAddress, `invalid IP address "192.0.2.300"`},
		{[]string{"banned", "fe80::1%eth0"}, ErrBadAddress, ""},
		{[]string{"set", "sshd", "maxretry", "many"}, ErrBadArgs, ""},
		{[]string{"frobnicate"}, ErrUnknownCommand, `unknown command "frobnicate"`},
		{[]string{"status", "boom"}, ErrInternal, "internal server error: handler failed on status"},
	}
	c := dial(t, startServer(t, newFakeHandler(), ServeOptions{}))
	ctx := testCtx(t)
	for _, tt := range tests {
		_, err := c.Call(ctx, tt.words)
		if !errors.Is(err, tt.want) {
			t.Errorf("%q: err = %v, want %v", tt.words, err, tt.want)
			continue
		}
		var we *Error
		if !errors.As(err, &we) {
			t.Errorf("%q: err %T is not a server *Error", tt.words, err)
		}
		cmd, _ := ParseCommand(tt.words)
		if got := FormatError(cmd, err); tt.wantMsg != "" && got != tt.wantMsg {
			t.Errorf("%q: message %q, want %q", tt.words, got, tt.wantMsg)
		}
	}
	if err := c.Ping(ctx); err != nil {
		t.Errorf("connection unusable after errors: %v", err)
	}
}
