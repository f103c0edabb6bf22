package control

import (
	"errors"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	host := func(s string) netip.Prefix { a := netip.MustParseAddr(s); return netip.PrefixFrom(a, a.BitLen()) }
	net := netip.MustParsePrefix
	tests := []struct {
		words []string
		want  Command
		err   error
	}{
		{words: []string{"ping"}, want: Command{Name: "ping"}},
		{words: []string{"ping", "1.5"}, want: Command{Name: "ping", Args: []string{"1.5"}}},
		{words: []string{"ping", "soon"}, err: ErrBadArgs},
		{words: []string{"version", "x"}, err: ErrBadArgs},
		{words: []string{"status", "sshd", "basic"}, want: Command{Name: "status", Jail: "sshd", Flavor: FlavorBasic}},
		{words: []string{"status", "--all"}, want: Command{Name: "status", All: true}},
		{words: []string{"status", "--firewall"}, want: Command{Name: "status", Firewall: true}},
		{words: []string{"status", "--firewall", "short"}, err: ErrBadArgs},
		{words: []string{"status", "sshd", "cymru"}, err: ErrNotSupported},
		{words: []string{"status", "a", "b", "c"}, err: ErrBadArgs},
		{words: []string{"status", "-x"}, err: ErrBadArgs},
		{words: []string{"statistics"}, want: Command{Name: "stats"}},
		{words: []string{"banned", "::ffff:192.0.2.1"}, want: Command{Name: "banned", IPs: []netip.Prefix{host("192.0.2.1")}}},
		{words: []string{"unban"}, err: ErrBadArgs},
		{words: []string{"banned", "::ffff:192.0.2.9/120"}, want: Command{Name: "banned", IPs: []netip.Prefix{net("192.0.2.0/24")}}},
		{words: []string{"set", "sshd", "unbanip", "2001:db8:1:2::5/64"},
			want: Command{Name: "unbanip", Jail: "sshd", IPs: []netip.Prefix{net("2001:db8:1:2::/64")}}},
		{words: []string{"set", "sshd", "banip", "192.0.2.0/24", "192.0.2.7"},
			want: Command{Name: "banip", Jail: "sshd", IPs: []netip.Prefix{net("192.0.2.0/24"), host("192.0.2.7")}}},
		{words: []string{"get", "sshd", "banned", "2001:db8:1:2::/64"},
			want: Command{Name: "get", Jail: "sshd", Option: "banned", Args: []string{"2001:db8:1:2::/64"}}},
		{words: []string{"unban", "::/0"}, err: ErrBadAddress},
		{words: []string{"unban", "2001:db8::/129"}, err: ErrBadAddress},
		{words: []string{"unban", "::ffff:0.0.0.0/64"}, err: ErrBadAddress},
		{words: []string{"unban", "fe80::1%eth0/64"}, err: ErrBadAddress},
		{words: []string{"unban", "--all"}, want: Command{Name: "unban", All: true}},
		{words: []string{"unban", "--all", "192.0.2.1"}, err: ErrBadAddress},
		{words: []string{"unban", "host.example"}, err: ErrBadAddress},
		{words: []string{"set", "sshd", "banip"}, err: ErrBadArgs},
		{words: []string{"set", "sshd", "unbanip", "--report-absent", "2001:db8::1"},
			want: Command{Name: "unbanip", Jail: "sshd", ReportAbsent: true, IPs: []netip.Prefix{host("2001:db8::1")}}},
		{words: []string{"set", "sshd", "bantime", "1h30m"}, want: Command{Name: "set", Jail: "sshd", Option: "bantime", Args: []string{"1h30m"}}},
		{words: []string{"set", "sshd", "bantime", "1 fortnight"}, err: ErrBadArgs},
		{words: []string{"set", "sshd", "bantime.increment", "true"}, want: Command{Name: "set", Jail: "sshd", Option: "bantime.increment", Args: []string{"true"}}},
		{words: []string{"set", "sshd", "bantime.factor", "x"}, err: ErrBadArgs},
		{words: []string{"set", "sshd", "maxretry", "3", "4"}, err: ErrBadArgs},
		{words: []string{"set", "sshd", "addignoreip", "10.0.0.0/8", "mail.example.org"},
			want: Command{Name: "set", Jail: "sshd", Option: "addignoreip", Args: []string{"10.0.0.0/8", "mail.example.org"}}},
		{words: []string{"set", "sshd", "addignoreip", "10.0.0.0/33"}, err: ErrBadAddress},
		{words: []string{"set", "sshd", "addignoreip", "1.2.3.4.5"}, err: ErrBadAddress},
		{words: []string{"set", "sshd", "addignoreip", "bad host!"}, err: ErrBadAddress},
		{words: []string{"set", "sshd", "attempt", "nonsense"}, err: ErrBadAddress},
		{words: []string{"set", "sshd", "frob", "1"}, err: ErrUnknownOption},
		{words: []string{"set", "loglevel", "DEBUG"}, want: Command{Name: "set", Option: "loglevel", Args: []string{"DEBUG"}}},
		{words: []string{"set", "dbpurgeage", "1d"}, want: Command{Name: "set", Option: "dbpurgeage", Args: []string{"1d"}}},
		{words: []string{"get", "sshd"}, err: ErrBadArgs},
		{words: []string{"get", "dbfile"}, want: Command{Name: "get", Option: "dbfile"}},
		{words: []string{"get", "sshd", "banip", "--with-time"}, want: Command{Name: "get", Jail: "sshd", Option: "banip", Args: []string{"--with-time"}}},
		{words: []string{"get", "sshd", "banned", "x"}, err: ErrBadAddress},
		{words: []string{"get", "sshd", "maxretry", "extra"}, err: ErrBadArgs},
		{words: []string{"reload"}, want: Command{Name: "reload"}},
		{words: []string{"reload", "--unban", "--all"}, want: Command{Name: "reload", All: true, Reload: ReloadOptions{Unban: true}}},
		{words: []string{"reload", "sshd", "extra"}, err: ErrBadArgs},
		{words: []string{"restart"}, err: ErrNotSupported},
		{words: []string{"restart", "sshd"}, want: Command{Name: "reload", Reload: ReloadOptions{Jail: "sshd", Restart: true}}},
		{words: []string{"restart", "--all"}, err: ErrBadArgs},
		{words: []string{"start"}, err: ErrBadArgs},
		{words: []string{"stop"}, want: Command{Name: "stop"}},
		{words: []string{"stop", "a b"}, err: ErrBadArgs},
		{words: []string{"echo", "x"}, err: ErrUnknownCommand},
		{words: nil, err: ErrBadArgs},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.words)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("%q: err = %v, want %v", tt.words, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.words, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.words, got, tt.want)
		}
		again, err := ParseCommand(got.Words())
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Errorf("%q: Words() = %q parses to %+v, %v", tt.words, got.Words(), again, err)
		}
	}
}

func TestErrorMessagesNameTheProblem(t *testing.T) {
	for _, tt := range []struct {
		words []string
		want  string
	}{
		{[]string{"set", "sshd", "banip", "300.1.1.1"}, `invalid IP address "300.1.1.1"`},
		{[]string{"set", "sshd", "maxretry", "lots"}, `set sshd maxretry: invalid arguments: "lots" is not an integer`},
		{[]string{"get", "sshd", "colour"}, `unknown option "colour" for get (known: `},
		{[]string{"reload", "a", "b"}, `unexpected argument(s) for reload: ["b"]`},
	} {
		_, err := ParseCommand(tt.words)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want it to contain %q", tt.words, err, tt.want)
		}
	}
}
