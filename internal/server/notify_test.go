package server

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"warden/internal/action"
	"warden/internal/config"
	"warden/internal/control"
	"warden/internal/notify"
	"warden/internal/notify/whois/whoistest"
	"warden/internal/store"
)

// mailTree is a configuration directory reading fail2ban's installed
// action.d, filter.d and jail.conf, with our own jail.local and
// fail2ban.conf.
func mailTree(t *testing.T, jailLocal, f2bConf string) *config.Config {
	t.Helper()
	const etc = "/etc/fail2ban"
	if _, err := os.Stat(filepath.Join(etc, "action.d", "sendmail-whois.conf")); err != nil {
		t.Skip("fail2ban's configuration is not installed:", err)
	}
	dir := t.TempDir()
	for _, n := range []string{"action.d", "filter.d", "jail.conf", "paths-common.conf", "paths-debian.conf"} {
		if err := os.Symlink(filepath.Join(etc, n), filepath.Join(dir, n)); err != nil {
			t.Fatal(err)
		}
	}
	for n, text := range map[string]string{"jail.local": jailLocal, "fail2ban.conf": f2bConf} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(os.DirFS(dir), config.Options{Root: dir})
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestMailActions(t *testing.T) {
	dir := t.TempDir()
	sendmail := filepath.Join(dir, "sendmail")
	script := "#!/bin/sh\nprintf '%s\\n' \"$*\" >> " + dir + "/argv\ncat >> " + dir + "/mail\n"
	if err := os.WriteFile(sendmail, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := mailTree(t, `[DEFAULT]
logpath = /dev/null
backend = polling
whois = off
destemail = admin@example.org
sender = warden@example.org
[ssh]
enabled = true
filter = sshd
action = sendmail-whois[name=SSH, dest=root, sender=fail2ban@example.com]
[mwl]
enabled = true
filter = sshd
mta = mail
banaction = nftables-multiport
action = %(action_mwl)s
[buffered]
enabled = true
filter = sshd
action = sendmail-buffered[lines=2]
[plain]
enabled = true
filter = sshd
action = sendmail-geoip-lines
`, "[Definition]\nloglevel = INFO\n[mail]\nsendmail = "+sendmail+"\nhostname = gate.example.org\n")

	for _, shell := range []bool{false, true} {
		s, err := New(Options{Config: cfg, ShellActions: shell, ServicesPath: writeServices(t)})
		if err != nil {
			t.Fatal(err)
		}
		for jail, want := range map[string]string{"ssh": "sendmail-whois", "mwl": "mail-whois-lines", "buffered": "sendmail-buffered"} {
			var native []string
			for _, a := range s.byName[jail].actions {
				if _, ok := a.(*notify.Action); ok {
					native = append(native, a.Name())
				}
			}
			if shell && len(native) != 0 {
				t.Errorf("--shell-actions: jail %s has native mail actions %q", jail, native)
			}
			if !shell && (len(native) != 1 || !strings.HasPrefix(native[0], want)) {
				t.Errorf("jail %s: native mail actions %q, want %s", jail, native, want)
			}
		}
		if n := len(s.byName["plain"].actions); n != 1 {
			t.Errorf("jail plain: %d actions", n)
		}
		if shell {
			continue
		}
		ctx := context.Background()
		a := s.byName["ssh"].actions[0]
		mwl := s.byName["mwl"].actions[len(s.byName["mwl"].actions)-1]
		for _, x := range []interface{ Start(context.Context) error }{a, mwl} {
			if err := x.Start(ctx); err != nil {
				t.Fatal(err)
			}
		}
		tk := action.Ticket{Addr: netip.MustParseAddr("192.0.2.1"), Failures: 5, Time: time.Now()}
		if err := a.Ban(ctx, tk); err != nil {
			t.Fatal(err)
		}
		if err := mwl.Ban(ctx, tk); err != nil {
			t.Fatal(err)
		}
		for _, x := range []interface{ Stop(context.Context) error }{a, mwl} {
			if err := x.Stop(ctx); err != nil {
				t.Fatal(err)
			}
		}
		argv, _ := os.ReadFile(filepath.Join(dir, "argv"))
		mail, _ := os.ReadFile(filepath.Join(dir, "mail"))
		for _, w := range []string{"-i -f fail2ban@example.com -- root\n", "-i -f warden@example.org -- admin@example.org\n"} {
			if !strings.Contains(string(argv), w) {
				t.Errorf("no sendmail run %q in\n%s", w, argv)
			}
		}
		for _, w := range []string{"Subject: [warden] SSH: banned 192.0.2.1 on gate.example.org", "Subject: [warden] mwl: banned 192.0.2.1",
			"whois lookups are turned off", "Log lines with 192.0.2.1", "Subject: [warden] SSH: stopped on gate.example.org"} {
			if !strings.Contains(string(mail), w) {
				t.Errorf("mail lacks %q:\n%s", w, mail)
			}
		}
	}
}

func TestMailSettingsErrors(t *testing.T) {
	for _, tc := range []struct{ jail, f2b, want string }{
		{"action = sendmail[dest=\"root -oQ\"]", "", "not a usable mail address"},
		{"action = sendmail-whois-lines[grepmax=x]", "", "grepmax"},
		{"action = sendmail", "[mail]\n\ndigest = soon\n", "fail2ban.conf:4: [mail] digest"},
	} {
		cfg := mailTree(t, "[j]\nenabled = true\nfilter = sshd\nlogpath = /dev/null\nbackend = polling\n"+tc.jail+"\n",
			"[Definition]\n"+tc.f2b)
		_, err := New(Options{Config: cfg, ServicesPath: writeServices(t)})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q / %q: %v, want %q", tc.jail, tc.f2b, err, tc.want)
		}
	}
}

// TestMailSpool: mail that sendmail refuses is kept in the database and
// delivered by a later round once sendmail works again.
func TestMailSpool(t *testing.T) {
	dir := t.TempDir()
	sendmail := filepath.Join(dir, "sendmail")
	refuse := "#!/bin/sh\necho 'queue full' >&2\nexit 75\n"
	accept := "#!/bin/sh\ncat >> " + dir + "/mail\n"
	if err := os.WriteFile(sendmail, []byte(refuse), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := mailTree(t, "[ssh]\nenabled = true\nfilter = sshd\nlogpath = /dev/null\nbackend = polling\nwhois = off\n"+
		"action = sendmail[name=SSH, dest=root, sender=fail2ban@example.com]\n",
		"[Definition]\n[mail]\nsendmail = "+sendmail+"\nattempts = 1\nretry = 1\n")
	s, err := New(Options{Config: cfg, ServicesPath: writeServices(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "w.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s.opts.mail.attach(st)
	a := s.byName["ssh"].actions[0]
	_ = a.Start(ctx)
	_ = a.Ban(ctx, action.Ticket{Addr: netip.MustParseAddr("192.0.2.1"), Failures: 3})
	_ = a.Stop(ctx)
	if n, err := st.CountMails(ctx); err != nil || n != 3 {
		t.Fatalf("%d mails in the database (%v), want start, ban and stop", n, err)
	}
	ms := s.opts.mail.status(ctx)
	if ms == nil || ms.Stored != 3 || ms.Failed != 3 || ms.Sent != 0 || !strings.Contains(ms.LastError, "queue full") {
		t.Errorf("mail status %+v", ms)
	}
	if out := control.FormatServerStatus(control.ServerStatus{Jails: []string{"ssh"}, Mail: ms}); !strings.Contains(out, "`- Mail\n") ||
		!strings.Contains(out, "|- Stored for retry:\t3") {
		t.Errorf("status output:\n%s", out)
	}

	if err := os.WriteFile(sendmail, []byte(accept), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = a.Start(ctx) // the mailer runs again and retries the spool
	deadline := time.Now().Add(10 * time.Second)
	for n := 1; n > 0 && time.Now().Before(deadline); n, _ = st.CountMails(ctx) {
		time.Sleep(20 * time.Millisecond)
	}
	_ = a.Stop(ctx)
	mail, _ := os.ReadFile(filepath.Join(dir, "mail"))
	for _, w := range []string{"SSH: started", "SSH: banned 192.0.2.1", "SSH: stopped"} {
		if strings.Count(string(mail), "Subject: [warden] "+w) < 1 {
			t.Errorf("delivered mail lacks %q:\n%s", w, mail)
		}
	}
	if n, _ := st.CountMails(ctx); n != 0 {
		t.Errorf("%d mails still in the database", n)
	}
}

// TestWhoisShared: the mail and webhook actions of a server ask the same
// whois clients, so an address both report is looked up once, and so is
// another address of the network that answer gave.
func TestWhoisShared(t *testing.T) {
	ws := whoistest.Start(t, "inetnum: 198.51.100.0 - 198.51.100.255\nnetname: SHARED-NET\ncountry: ZZ\n")
	cfg := mailTree(t, "[ssh]\nenabled = true\nfilter = sshd\nlogpath = /dev/null\nbackend = polling\nwhois = "+ws.Addr()+"\n"+
		"action = sendmail-whois[name=SSH, dest=root, sender=fail2ban@example.com]\n",
		"[Definition]\n[mail]\nsendmail = /bin/true\n[webhook:hook]\nurl = http://127.0.0.1:9/\nretries = 0\n")
	s, err := New(Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.opts.closeWebhooks)
	hook := webhookActionOf(s.byName["ssh"].actions)
	if s.opts.mail == nil || hook == nil {
		t.Fatal("jail ssh lacks its mail or webhook action")
	}
	set := hook.hub.current()
	ctx := context.Background()
	mailWhois := s.opts.mail.lookup(ws.Addr())
	for i, a := range []string{"198.51.100.7", "198.51.100.7", "198.51.100.8"} {
		addr := netip.MustParseAddr(a)
		var got string
		if i%2 == 0 {
			w, err := mailWhois(ctx, addr)
			if err != nil {
				t.Fatal(err)
			}
			got = w.NetName
		} else {
			set.noteWhois(addr, ws.Addr())
			w, err := set.lookup(ctx, addr)
			if err != nil {
				t.Fatal(err)
			}
			got = w.NetName
		}
		if got != "SHARED-NET" {
			t.Errorf("lookup %d of %s: netname %q", i, a, got)
		}
	}
	if n := ws.Queries(); n != 1 {
		t.Errorf("the whois server was asked %d times, want once", n)
	}
}
