package notify

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/internal/action"
	"warden/internal/config"
	"warden/internal/notify/whois"
)

// box is a Deliverer that keeps every message, decoded, by subject.
type box struct {
	t    *testing.T
	mu   sync.Mutex
	msgs []string // "Subject\n\nbody"
}

func (b *box) Deliver(_ context.Context, from string, to []string, raw []byte) error {
	msg, body := parse(b.t, raw)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs = append(b.msgs, msg.Header.Get("Subject")+"\n\n"+body)
	return nil
}

func (b *box) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.msgs...)
}

func ticket(a string, failures int) action.Ticket {
	return action.Ticket{Addr: netip.MustParseAddr(a), Failures: failures, Time: t0, BanTime: time.Hour,
		Matches: []string{"m1 " + a, "m2 " + a}}
}

func TestActions(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "auth.log")
	lines := "Nov 27 sshd: fail from 192.0.2.1 port 22\nNov 27 sshd: fail from 192.0.2.10\nNov 27 sshd: fail from 192.0.2.1\n"
	if err := os.WriteFile(log, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	whois := func(_ context.Context, a netip.Addr) (*Whois, error) {
		return &Whois{Summary: whois.Summary{NetName: "EXAMPLE-NET", Country: "ZZ"}, Raw: "netname: EXAMPLE-NET\n"}, nil
	}
	for _, tc := range []struct {
		base     string
		restored bool
		want     []string // in the ban message
		not      []string
		mails    int // start, ban, stop
	}{
		{base: "sendmail", want: []string{"banned 192.0.2.1", "Failures:  5", "Ban time:  1h0m0s"}, not: []string{"whois"}, mails: 3},
		{base: "sendmail-whois", want: []string{"Network:       EXAMPLE-NET", "Country:       ZZ", "netname: EXAMPLE-NET"}, mails: 3},
		{base: "mail-whois-lines", want: []string{"Log lines with 192.0.2.1 (at most 1000)", "fail from 192.0.2.1 port 22", "  Nov 27 sshd: fail from 192.0.2.1\n"},
			not: []string{"192.0.2.10"}, mails: 3},
		{base: "sendmail-whois-ipmatches", want: []string{"Matches of 192.0.2.1 in every jail", "all-jails 192.0.2.1"}, mails: 3},
		{base: "sendmail-whois-ipjailmatches", want: []string{"Matches of 192.0.2.1 in jail SSH", "this-jail 192.0.2.1"}, mails: 3},
		{base: "sendmail-whois-matches", want: []string{"m1 192.0.2.1"}, mails: 3},
		{base: "sendmail-whois", restored: true, mails: 2},
	} {
		t.Run(tc.base, func(t *testing.T) {
			k, ok := KindOf(tc.base)
			if !ok {
				t.Fatalf("KindOf(%q) not native", tc.base)
			}
			b := &box{t: t}
			m := NewMailer(MailerConfig{Deliver: b})
			a := NewAction(ActionConfig{ActName: tc.base, Jail: "sshd", Title: "SSH", Kind: k, Composer: testComposer(),
				Mailer: m, Whois: whois, LogPaths: []string{filepath.Join(dir, "*.log")}, NoRestored: true})
			ctx := context.Background()
			if err := a.Start(ctx); err != nil {
				t.Fatal(err)
			}
			tk := ticket("192.0.2.1", 5)
			tk.Restored = tc.restored
			tk.IPMatches = func(context.Context) []string { return []string{"all-jails 192.0.2.1"} }
			tk.IPJailMatches = func(context.Context) []string { return []string{"this-jail 192.0.2.1"} }
			if err := a.Ban(ctx, tk); err != nil {
				t.Fatal(err)
			}
			if err := a.Stop(ctx); err != nil {
				t.Fatal(err)
			}
			got := b.all()
			if len(got) != tc.mails {
				t.Fatalf("%d mails: %q", len(got), got)
			}
			if !strings.HasPrefix(got[0], "[warden] SSH: started on gate.example.org") ||
				!strings.HasPrefix(got[len(got)-1], "[warden] SSH: stopped on gate.example.org") {
				t.Errorf("first/last mails %q / %q", got[0], got[len(got)-1])
			}
			if tc.mails < 3 {
				return
			}
			ban := got[1]
			for _, w := range tc.want {
				if !strings.Contains(ban, w) {
					t.Errorf("ban mail lacks %q:\n%s", w, ban)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(ban, w) {
					t.Errorf("ban mail has %q:\n%s", w, ban)
				}
			}
		})
	}
}

func TestBufferedAction(t *testing.T) {
	b := &box{t: t}
	m := NewMailer(MailerConfig{Deliver: b})
	k, _ := KindOf("sendmail-buffered")
	a := NewAction(ActionConfig{ActName: "sendmail-buffered", Jail: "sshd", Title: "sshd", Kind: k, Composer: testComposer(), Mailer: m, BufferLines: 2})
	ctx := context.Background()
	_ = a.Start(ctx)
	for _, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		_ = a.Ban(ctx, ticket(ip, 3))
	}
	_ = a.Stop(ctx)
	got := b.all()
	if len(got) != 4 {
		t.Fatalf("%d mails: %q", len(got), got)
	}
	if !strings.Contains(got[0], "sent 2 at a time") || !strings.Contains(got[1], "192.0.2.2 (3 failures)") ||
		!strings.Contains(got[2], "192.0.2.3 (3 failures)") || strings.Contains(got[2], "192.0.2.1") {
		t.Errorf("mails %q", got)
	}
}

// TestDigestMode: bans go to one digest flushed at stop; an alert rule
// mails its bans at once too; no start/stop mails.
func TestDigestMode(t *testing.T) {
	b := &box{t: t}
	c := testComposer()
	d := NewDigest(DigestConfig{Composer: c, Since: t0})
	m := NewMailer(MailerConfig{Deliver: b, Digest: d, DigestEvery: time.Hour})
	alerts, _ := ParseAlerts("jail:recidive")
	k, _ := KindOf("sendmail-whois")
	ssh := NewAction(ActionConfig{ActName: "m", Jail: "sshd", Title: "sshd", Kind: k, Composer: c, Mailer: m, Alerts: alerts})
	rec := NewAction(ActionConfig{ActName: "m", Jail: "recidive", Title: "recidive", Kind: k, Composer: c, Mailer: m, Alerts: alerts})
	ctx := context.Background()
	_ = ssh.Start(ctx)
	_ = rec.Start(ctx)
	for i := range 50 {
		_ = ssh.Ban(ctx, ticket(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).String(), 3))
	}
	_ = rec.Ban(ctx, ticket("203.0.113.9", 1))
	_ = ssh.Stop(ctx)
	_ = rec.Stop(ctx)
	got := b.all()
	if len(got) != 2 {
		t.Fatalf("%d mails: %q", len(got), got)
	}
	if !strings.HasPrefix(got[0], "[warden] recidive: banned 203.0.113.9") {
		t.Errorf("alert mail %q", got[0])
	}
	if !strings.HasPrefix(got[1], "[warden] digest: 51 bans") || !strings.Contains(got[1], "198.51.100.49") {
		t.Errorf("digest %q", got[1])
	}
}

func TestParseSettings(t *testing.T) {
	at := func(v string, line int) config.Setting {
		return config.Setting{Value: v, Pos: config.Pos{File: "fail2ban.local", Line: line}}
	}
	s, err := ParseSettings(map[string]config.Setting{
		"smtp": at("mail.example.org:587", 2), "username": at("u", 3), "password": at("p w", 4),
		"starttls": at("yes", 5), "digest": at("15m", 6), "alert": at("jail:sshd, failures:20", 7), "hostname": at("gate\r\nX: y", 8),
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Digest != 15*time.Minute || s.TLS != TLSRequired || len(s.Alerts) != 2 || s.Hostname != "gate X: y" || s.Password != "p w" {
		t.Errorf("settings %+v", s)
	}
	if d, ok := s.Deliverer().(*SMTP); !ok || d.Addr != "mail.example.org:587" || d.Username != "u" {
		t.Errorf("deliverer %#v", s.Deliverer())
	}
	def, err := ParseSettings(nil)
	if _, ok := def.Deliverer().(*Sendmail); err != nil || !ok || def.Digest != 0 || def.Attempts != 5 {
		t.Errorf("defaults %+v, %v", def, err)
	}
	for _, tc := range []struct {
		k, v, want string
	}{
		{"smtp", "mail.example.org", "fail2ban.local:9: [mail] smtp"},
		{"digest", "soon", "fail2ban.local:9: [mail] digest"},
		{"alert", "jail", "fail2ban.local:9: [mail] alert"},
		{"starttls", "maybe", "fail2ban.local:9: [mail] starttls"},
		{"queue", "-1", "fail2ban.local:9: [mail] queue"},
		{"colour", "red", "unknown option"},
		{"username", "u", "smtp is not"},
	} {
		_, err := ParseSettings(map[string]config.Setting{tc.k: at(tc.v, 9)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s = %s: %v, want %q", tc.k, tc.v, err, tc.want)
		}
	}
}

func TestHasWord(t *testing.T) {
	for _, tc := range []struct {
		s, w string
		want bool
	}{
		{"from 192.0.2.1 port", "192.0.2.1", true},
		{"from 192.0.2.10", "192.0.2.1", false},
		{"from 192.0.2.10 and 192.0.2.1", "192.0.2.1", true},
		{"x192.0.2.1", "192.0.2.1", false},
		{"[192.0.2.1]:22", "192.0.2.1", true},
		{"", "a", false},
	} {
		if got := hasWord(tc.s, tc.w); got != tc.want {
			t.Errorf("hasWord(%q, %q) = %v", tc.s, tc.w, got)
		}
	}
}

func FuzzParseSettings(f *testing.F) {
	f.Add("smtp", "mail.example.org:25", "digest", "15m")
	f.Add("alert", "jail:sshd,net:10.0.0.0/8", "dest", "root, a@b")
	f.Add("starttls", "maybe", "sender", "-oQ")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		sec := map[string]config.Setting{k1: {Value: v1}, k2: {Value: v2}}
		s, err := ParseSettings(sec)
		if err != nil {
			return
		}
		for _, a := range append(append([]string(nil), s.Dest...), s.Sender) {
			if a != "" && CheckAddress(a) != nil {
				t.Fatalf("accepted address %q", a)
			}
		}
		_ = s.Deliverer()
	})
}

func FuzzSplitAddresses(f *testing.F) {
	f.Add("root, admin@example.org")
	f.Add("-oQ/tmp x@y")
	f.Fuzz(func(t *testing.T, s string) {
		as, err := SplitAddresses(s)
		if err != nil {
			return
		}
		for _, a := range as {
			if strings.ContainsAny(a, " ,\r\n<>\"") || strings.HasPrefix(a, "-") {
				t.Fatalf("accepted %q", a)
			}
		}
	})
}
