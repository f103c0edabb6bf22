package action

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// echoAction writes <F-USER>, <matches>, <fid> and <ip-host> into files,
// one per quoting context, with real shell commands.
const echoAction = `[Definition]
actionban = printf '%%s\n' <F-USER> > <out>/plain
            printf '%%s\n' "<F-USER>" > <out>/double
            printf '%%s\n' '<F-USER>' > <out>/single
            printf '%%s\n' "[<F-USER>]" > <out>/double-around
            printf '%%s\n' 'u=<F-USER>.' > <out>/single-around
            printf '%%s\n' "$(printf '%%s' "<F-USER>")" > <out>/subst
            cat > <out>/heredoc <<EOF
            <F-USER>
            EOF
            cat > <out>/heredoc-quoted <<'EOF'
            <F-USER>
            EOF
            # a comment with <F-USER> in it
            printf '%%s\n' "<matches>" > <out>/matches
            printf '%%s\n' <fid> > <out>/fid
            printf '%%s\n' "<ip-host>" > <out>/host
            printf '%%s\n' <ip> > <out>/ip
[Init]
out = /nonexistent
`

// hostileValues are outside texts that try to break out of every context.
var hostileValues = []string{
	`'; touch PWN #`,
	`"; touch PWN #`,
	`$(touch PWN)`,
	"`touch PWN`",
	"x\ntouch PWN\n",
	"EOF\ntouch PWN\nEOF",
	`~!*?[a-z] {a,b} <c> |&;\ $HOME ${IFS} $((1+1))`,
	`\'"\"`,
	"\r\ttab\x00nul",
	`<ip> <F-USER> <br>`,
	"-n",
	"ünï©ødé ' $(touch PWN)",
}

func TestInjectionRealShell(t *testing.T) {
	for i, v := range hostileValues {
		t.Run(fmt.Sprint("value", i), func(t *testing.T) {
			dir := t.TempDir()
			pwn := filepath.Join(dir, "PWN")
			val := strings.ReplaceAll(v, "PWN", pwn)
			a, _ := newTest(t, echoAction, "[out="+dir+"]", Options{Runner: ShellRunner{}, Logger: testLogger(t)})
			tk := Ticket{
				Addr: netip.MustParseAddr("192.0.2.1"), ID: val,
				Fields:  map[string]string{"user": val},
				Matches: []string{"line one " + val, val},
				Host:    func(context.Context, netip.Addr) (string, error) { return val, nil },
			}
			if err := a.Ban(context.Background(), tk); err != nil {
				t.Fatalf("ban: %v", err)
			}
			if _, err := os.Stat(pwn); err == nil {
				t.Fatalf("value %d ran a command", i)
			}
			// The shell gets NUL-free values; \x00 arrives as U+FFFD.
			want := strings.ReplaceAll(val, "\x00", "\uFFFD")
			read := func(name string) string {
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				return strings.TrimSuffix(string(b), "\n")
			}
			for _, f := range []string{"plain", "double", "single", "subst", "heredoc", "fid", "host"} {
				if got := read(f); got != want && !(f == "subst" && got == strings.TrimRight(want, "\n")) {
					t.Errorf("%s: got %q, want %q", f, got, want)
				}
			}
			if got := read("double-around"); got != "["+want+"]" {
				t.Errorf("double-around: got %q", got)
			}
			if got := read("single-around"); got != "u="+want+"." {
				t.Errorf("single-around: got %q", got)
			}
			if got, w := read("matches"), "line one "+want+"\n"+want; got != w {
				t.Errorf("matches: got %q, want %q", got, w)
			}
			// A quoted here-document expands nothing: the reference
			// stays as text, the value is not run.
			quoted := "${f2bV_F_user}"
			if !needsVar(val) {
				quoted = val
			}
			if got := read("heredoc-quoted"); got != quoted {
				t.Errorf("heredoc-quoted: got %q", got)
			}
			if got := read("ip"); got != "192.0.2.1" {
				t.Errorf("ip: got %q", got)
			}
		})
	}
}

// TestPlainValuesWrittenAsIs: a value without shell characters goes into
// the script itself, as in fail2ban (so a blank splits it outside quotes).
func TestPlainValuesWrittenAsIs(t *testing.T) {
	a, rec := newTest(t, "[Definition]\nactionban = x <F-USER> \"<F-USER>\" <failures> <restored> <bancount> <ip-rev>\n", "", Options{})
	err := a.Ban(context.Background(), Ticket{Addr: netip.MustParseAddr("192.0.2.1"), Failures: 7, BanCount: 2, Restored: true,
		Fields: map[string]string{"user": "a b"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `x a b "a b" 7 1 2 1.2.0.192.`
	if got := rec.scripts(); len(got) != 1 || got[0] != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestAddressText(t *testing.T) {
	tests := []struct {
		tk      Ticket
		ip, rev string
		family  string
	}{
		{Ticket{Addr: mustAddr("192.0.2.1")}, "192.0.2.1", "1.2.0.192.", "inet4"},
		{Ticket{Prefix: netip.MustParsePrefix("192.0.2.5/24")}, "192.0.2.0/24", "0/24.2.0.192.", "inet4"},
		{Ticket{Prefix: netip.MustParsePrefix("192.0.2.5/32")}, "192.0.2.5", "5.2.0.192.", "inet4"},
		{Ticket{Addr: mustAddr("2001:db8::1")}, "2001:db8::1", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.", "inet6"},
		{Ticket{Prefix: netip.MustParsePrefix("2001:db8::1/64")}, "2001:db8::/64", "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.", "inet6"},
	}
	for _, tc := range tests {
		a, _ := TicketAddr(&tc.tk)
		v := &tagValues{t: &tc.tk, family: family(a)}
		ip, _ := v.value("ip")
		rev, _ := v.value("ip-rev")
		fam, _ := v.value("family")
		if ip != tc.ip || rev != tc.rev || fam != tc.family {
			t.Errorf("%v %v: got %q %q %q", tc.tk.Addr, tc.tk.Prefix, ip, rev, fam)
		}
	}
}

func TestBadAddressRefused(t *testing.T) {
	a, rec := newTest(t, "[Definition]\nactionban = x <ip>\nactionunban = y <ip>\n", "", Options{})
	for _, tk := range []Ticket{
		{},
		{Addr: netip.MustParseAddr("fe80::1%eth0;reboot")},
		{Prefix: netip.MustParsePrefix("::ffff:192.0.2.0/120")},
	} {
		if err := a.Ban(context.Background(), tk); err == nil {
			t.Errorf("ban %v: no error", tk.Addr)
		}
		if err := a.Unban(context.Background(), tk); err == nil {
			t.Errorf("unban %v: no error", tk.Addr)
		}
	}
	if len(rec.cmds) != 0 {
		t.Fatalf("commands ran: %q", rec.scripts())
	}
}
