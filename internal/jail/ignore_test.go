package jail

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

type fakeResolver struct {
	names map[string][]netip.Addr
	calls int
}

func (r *fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	r.calls++
	if as, ok := r.names[host]; ok {
		return as, nil
	}
	return nil, errors.New("no such host")
}

type fakeRunner struct {
	code  map[string]int // by the last argv element
	calls [][]string
}

func (r *fakeRunner) Run(_ context.Context, argv []string) (int, error) {
	r.calls = append(r.calls, argv)
	return r.code[argv[len(argv)-1]], nil
}

func q(a string) Query { return Query{Addr: netip.MustParseAddr(a), ID: a} }

func TestIgnoreEntries(t *testing.T) {
	res := &fakeResolver{names: map[string][]netip.Addr{
		"gw.example": {netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("2001:db8::9")},
	}}
	l, err := NewIgnoreList(IgnoreConfig{
		Entries:  []string{"127.0.0.1/8", "::1", "192.0.2.5", "198.51.100.0/255.255.255.128", "[2001:db8:1::]/48", "gw.example", "::ffff:100.64.0.1"},
		Resolver: res,
		Self:     true,
		SelfAddrs: func(context.Context) ([]netip.Addr, error) {
			return []netip.Addr{netip.MustParseAddr("10.9.9.9")}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want bool
	}{
		{"127.3.4.5", true}, {"128.0.0.1", false}, {"::1", true}, {"::2", false},
		{"192.0.2.5", true}, {"192.0.2.6", false},
		{"198.51.100.127", true}, {"198.51.100.128", false},
		{"2001:db8:1:ffff::1", true}, {"2001:db8:2::1", false},
		{"203.0.113.9", true}, {"2001:db8::9", true}, {"203.0.113.10", false},
		{"::ffff:192.0.2.5", true}, {"100.64.0.1", true}, {"10.9.9.9", true},
	}
	for _, tc := range tests {
		got, err := l.Contains(context.Background(), q(tc.addr))
		if err != nil || got != tc.want {
			t.Errorf("Contains(%s) = %v, %v; want %v", tc.addr, got, err, tc.want)
		}
	}
	if res.calls != 1 {
		t.Errorf("resolver called %d times, want 1 (cached)", res.calls)
	}
}

func TestIgnoreEntryErrors(t *testing.T) {
	for _, w := range []string{"192.0.2.1/33", "10.0.0.0/255.0.255.0", "bad name!", "1.2.3.4/x", "file:", "::1/255.0.0.0"} {
		if _, err := NewIgnoreList(IgnoreConfig{Entries: []string{w}}); err == nil {
			t.Errorf("entry %q accepted", w)
		}
	}
}

func TestIgnoreFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "trusted")
	write := func(s string, mod time.Time) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
	write("# office\n192.0.2.0/28, 198.51.100.1\n", base)
	clk := &fakeClock{now: base}
	l, err := NewIgnoreList(IgnoreConfig{Entries: []string{"file:" + path}, Clock: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	check := func(addr string, want bool) {
		t.Helper()
		if got, err := l.Contains(context.Background(), q(addr)); got != want || err != nil {
			t.Errorf("Contains(%s) = %v, %v; want %v", addr, got, err, want)
		}
	}
	check("192.0.2.15", true)
	check("198.51.100.1", true)
	check("203.0.113.1", false)
	write("203.0.113.1\n", base.Add(time.Minute))
	check("203.0.113.1", false) // not re-checked within a second
	clk.now = clk.now.Add(2 * time.Second)
	check("203.0.113.1", true)
	check("192.0.2.15", false)
	// A broken edit keeps the last good list and reports path:line.
	write("203.0.113.1\n1.2.3.4/40\n", base.Add(2*time.Minute))
	clk.now = clk.now.Add(2 * time.Second)
	check("203.0.113.1", true)
	got, err := l.Contains(context.Background(), q("192.0.2.200"))
	if got || err == nil || !strings.Contains(err.Error(), path+":2") {
		t.Errorf("after a bad edit: %v, %v", got, err)
	}
}

func TestParseCommand(t *testing.T) {
	qq := Query{Addr: netip.MustParseAddr("192.0.2.1"), ID: "192.0.2.1", Jail: "sshd",
		Fields: map[string]string{"user": "x'; rm -rf / #"}}
	tests := []struct {
		cmd   string
		shell bool
		argv  []string
	}{
		{"/usr/bin/check <ip>", false, []string{"/usr/bin/check", "192.0.2.1"}},
		{"check --jail=<name> '<ip>' \"<F-USER>\"", false, []string{"check", "--jail=sshd", "192.0.2.1", "x'; rm -rf / #"}},
		{`check a\ b '' <F-USER>`, false, []string{"check", "a b", "", "x'; rm -rf / #"}},
		{"check <ip> | grep -q yes", true, []string{"/bin/sh", "-c", "check 192.0.2.1 | grep -q yes"}},
		{"test -n <F-USER> && exit 1", true, []string{"/bin/sh", "-c", `test -n 'x'\''; rm -rf / #' && exit 1`}},
		{`echo "u=<F-USER>" >/dev/null`, true, []string{"/bin/sh", "-c", `echo "u=x'; rm -rf / #" >/dev/null`}},
		{"check <unknown>", false, []string{"check", "<unknown>"}},
	}
	for _, tc := range tests {
		c, err := ParseCommand(tc.cmd)
		if err != nil {
			t.Errorf("%q: %v", tc.cmd, err)
			continue
		}
		if c.Shell() != tc.shell || !slices.Equal(c.Argv(qq), tc.argv) {
			t.Errorf("%q: shell=%v argv=%q; want %v %q", tc.cmd, c.Shell(), c.Argv(qq), tc.shell, tc.argv)
		}
	}
	for _, bad := range []string{"", "  ", "check 'open"} {
		if _, err := ParseCommand(bad); !errors.Is(err, ErrCommand) {
			t.Errorf("ParseCommand(%q) = %v", bad, err)
		}
	}
}

// TestCommandRunsForReal runs commands through ExecRunner: exit codes, and
// a hostile value that must stay data in both modes.
func TestCommandRunsForReal(t *testing.T) {
	dir := t.TempDir()
	mark := filepath.Join(dir, "pwned")
	hostile := "$(touch " + mark + ")`touch " + mark + "`"
	qq := Query{Addr: netip.MustParseAddr("192.0.2.1"), Fields: map[string]string{"user": hostile}}
	tests := []struct {
		cmd     string
		want    bool
		wantErr bool
	}{
		{"/bin/true <F-USER>", true, false},
		{"/bin/false <ip>", false, false},
		{"/bin/sh -c 'exit 3' <ip>", false, true},
		{`test "<F-USER>" = x || exit 0`, true, false},
		{"test <F-USER> = x && exit 0 || exit 1", false, false},
		{"/nonexistent/cmd <ip>", false, true},
	}
	for _, tc := range tests {
		c, err := ParseCommand(tc.cmd)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.Check(context.Background(), ExecRunner{Timeout: 10 * time.Second}, qq)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("%q: %v, %v; want %v (error %v)", tc.cmd, got, err, tc.want, tc.wantErr)
		}
	}
	if _, err := os.Stat(mark); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a substituted value was executed by the shell")
	}
}

func TestIgnoreCommandAndCache(t *testing.T) {
	run := &fakeRunner{code: map[string]int{"192.0.2.1": 0, "192.0.2.2": 1, "192.0.2.3": 2, "192.0.2.4": 1}}
	clk := &fakeClock{now: base}
	l, err := NewIgnoreList(IgnoreConfig{
		Command: "/usr/bin/check <ip>", Runner: run, Clock: clk.Now,
		Cache: &IgnoreCacheConfig{Key: "<ip>", MaxCount: 2, MaxTime: time.Minute},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	steps := []struct {
		addr      string
		want      bool
		wantErr   bool
		wantCalls int
	}{
		{"192.0.2.1", true, false, 1},
		{"192.0.2.1", true, false, 1}, // cached
		{"192.0.2.2", false, false, 2},
		{"192.0.2.2", false, false, 2}, // cached
		{"192.0.2.3", false, true, 3},
		{"192.0.2.3", false, true, 4},  // errors are not cached
		{"192.0.2.4", false, false, 5}, // evicts 192.0.2.1 (FIFO, max 2)
		{"192.0.2.1", true, false, 6},
	}
	for i, s := range steps {
		got, err := l.Contains(ctx, q(s.addr))
		if got != s.want || (err != nil) != s.wantErr || len(run.calls) != s.wantCalls {
			t.Errorf("step %d %s: %v, %v, %d calls; want %v, error %v, %d calls", i, s.addr, got, err, len(run.calls), s.want, s.wantErr, s.wantCalls)
		}
	}
	clk.now = clk.now.Add(time.Minute)
	if _, _ = l.Contains(ctx, q("192.0.2.1")); len(run.calls) != 7 {
		t.Errorf("expired cache entry not re-checked: %d calls", len(run.calls))
	}
	// A failure id that is not an address reaches the command as <ip>.
	if _, _ = l.Contains(ctx, Query{ID: "user42"}); run.calls[len(run.calls)-1][1] != "user42" {
		t.Errorf("argv %q", run.calls[len(run.calls)-1])
	}
}

func FuzzParseIgnoreEntry(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "::1", "[2001:db8::]/32", "1.2.3.4/255.255.0.0", "host.example", "a/b", "::ffff:1.2.3.4/120"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, ok, err := ParseIgnoreEntry(s)
		if err != nil {
			if !errors.Is(err, ErrIgnoreEntry) {
				t.Fatalf("error %v is not ErrIgnoreEntry", err)
			}
			return
		}
		if ok && (!p.IsValid() || p.Masked() != p || p.Addr().Is4In6()) {
			t.Fatalf("%q parsed to %v", s, p)
		}
	})
}

func FuzzParseIgnoreFile(f *testing.F) {
	f.Add("# comment\n10.0.0.0/8, ::1\nhost.example\n")
	f.Add("1.2.3.4 5.6.7.8\r\n")
	f.Fuzz(func(t *testing.T, text string) {
		addrs, prefixes, _, err := ParseIgnoreFile("list", text)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "list:") {
				t.Fatalf("error without position: %v", err)
			}
			return
		}
		for a := range addrs {
			if !a.IsValid() || a.Is4In6() {
				t.Fatalf("bad address %v", a)
			}
		}
		for _, p := range prefixes {
			if p.Masked() != p {
				t.Fatalf("unmasked prefix %v", p)
			}
		}
	})
}

func FuzzParseCommand(f *testing.F) {
	f.Add("/usr/bin/check <ip>", "x y")
	f.Add(`a "<F-USER>" | b '<ip>'`, "$(id)")
	f.Add(`a\ b <fid>`, "'")
	f.Fuzz(func(t *testing.T, cmd, val string) {
		c, err := ParseCommand(cmd)
		if err != nil {
			return
		}
		qq := Query{ID: val, Fields: map[string]string{"user": val}}
		argv := c.Argv(qq)
		if len(argv) == 0 {
			t.Fatal("empty argv")
		}
		if c.Shell() {
			if len(argv) != 3 || argv[0] != "/bin/sh" {
				t.Fatalf("shell argv %q", argv)
			}
			return
		}
		// Direct mode: substitution never changes the number of words.
		if len(argv) != len(c.Argv(Query{})) {
			t.Fatalf("value %q split a word: %q", val, argv)
		}
	})
}

// TestIgnoreAgainstFail2ban checks address and prefix entries against
// fail2ban's Filter.addIgnoreIP / inIgnoreIPList (names need DNS: not here).
func TestIgnoreAgainstFail2ban(t *testing.T) {
	entries := []string{
		"127.0.0.1/8", "::1", "192.0.2.5", "198.51.100.0/255.255.255.128", "2001:db8:1::/48",
		"10.1.2.3/16", "203.0.113.7/32", "2001:db8:ff::1", "::ffff:100.64.0.1", "fe80::/10", "0.0.0.0/32",
	}
	addrs := []string{
		"127.3.4.5", "128.0.0.1", "::1", "::2", "192.0.2.5", "192.0.2.6", "198.51.100.127",
		"198.51.100.128", "2001:db8:1:ffff::1", "2001:db8:2::1", "10.1.255.255", "10.2.0.0",
		"203.0.113.7", "203.0.113.8", "2001:db8:ff::1", "2001:db8:ff::2", "100.64.0.1", "::ffff:192.0.2.5",
		"::ffff:10.1.0.1", "fe80::1", "febf::1", "fec0::1", "0.0.0.0",
	}
	type job struct {
		Mode    string   `json:"mode"`
		Entries []string `json:"entries"`
		Addrs   []string `json:"addrs"`
	}
	var want [][]bool
	runF2B(t, []job{{"ignore", entries, addrs}}, &want)
	l, err := NewIgnoreList(IgnoreConfig{Entries: entries})
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range addrs {
		got, err := l.Contains(context.Background(), q(a))
		if err != nil || got != want[0][i] {
			t.Errorf("Contains(%s) = %v, %v; fail2ban %v", a, got, err, want[0][i])
		}
	}
}
