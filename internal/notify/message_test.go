package notify

import (
	"bytes"
	"errors"
	"flag"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"warden/internal/notify/whois"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

var t0 = time.Date(2026, 11, 27, 14, 30, 0, 0, time.UTC)

func testComposer() *Composer {
	return &Composer{Host: "gate.example.org", From: "fail2ban@example.com", FromName: "Fail2Ban",
		To: []string{"root"}, Now: func() time.Time { return t0 }}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", "golden", name+".eml")
	if *update {
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update to create)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\n%s", name, p, got)
	}
}

func render(t *testing.T, m *Message) []byte {
	t.Helper()
	m.ID = "golden-1@gate.example.org"
	b, err := m.Render()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parse reads a rendered message back as a mail reader would and returns
// its decoded body.
func parse(t *testing.T, raw []byte) (*mail.Message, string) {
	t.Helper()
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not a message: %v\n%s", err, raw)
	}
	var body bytes.Buffer
	switch cte := msg.Header.Get("Content-Transfer-Encoding"); cte {
	case "quoted-printable":
		if _, err := body.ReadFrom(quotedprintable.NewReader(msg.Body)); err != nil {
			t.Fatal(err)
		}
	case "7bit":
		_, _ = body.ReadFrom(msg.Body)
	default:
		t.Fatalf("Content-Transfer-Encoding %q", cte)
	}
	if !utf8.Valid(body.Bytes()) {
		t.Errorf("body is not UTF-8")
	}
	return msg, body.String()
}

func TestGolden(t *testing.T) {
	c := testComposer()
	whois := &Whois{Summary: whois.Summary{NetName: "EXAMPLE-NET", Country: "ZZ", Org: "Example Org", AS: "AS64500",
		Abuse: "abuse@example.net", CIDR: "192.0.2.0/24", Server: "whois.example.net:43"},
		Raw: "% recorded answer\ninetnum: 192.0.2.0 - 192.0.2.255\nnetname: EXAMPLE-NET\ncountry: ZZ\n"}
	es := []Entry{
		{Addr: netip.MustParseAddr("192.0.2.1"), Jail: "sshd", Failures: 5, Bans: 1, FirstSeen: t0, LastSeen: t0, Country: "ZZ", AS: "AS64500"},
		{Prefix: netip.MustParsePrefix("2001:db8::/64"), Jail: "recidive", Failures: 12, Bans: 3,
			FirstSeen: t0.Add(-10 * time.Minute), LastSeen: t0.Add(-time.Minute)},
	}
	cases := []struct {
		name string
		msg  *Message
	}{
		{"start", c.Start("SSH", "")},
		{"start-buffered", c.Start("SSH", "Bans are gathered and sent 5 at a time.")},
		{"stop", c.Stop("SSH")},
		{"ban", c.Ban(&Report{Name: "SSH", Addr: "192.0.2.1", Failures: 5, BanTime: 10 * time.Minute, Time: t0})},
		{"ban-whois", c.Ban(&Report{Name: "SSH", Addr: "192.0.2.1", Failures: 5, BanTime: -1, Time: t0, WantWhois: true, Whois: whois})},
		{"ban-whois-off", c.Ban(&Report{Name: "SSH", Addr: "192.0.2.1", Failures: 3, WantWhois: true, WhoisErr: ErrWhoisOff})},
		{"ban-lines", c.Ban(&Report{Name: "sshd", Addr: "192.0.2.1", Failures: 2, BanCount: 3, WantWhois: true, Whois: whois,
			LinesTitle: "Log lines with 192.0.2.1 (at most 1000)",
			Lines:      []string{"Nov 27 14:29:01 gate sshd[1]: Invalid user bob from 192.0.2.1", "Nov 27 14:29:05 gate sshd[1]: Invalid user José from 192.0.2.1"}})},
		{"summary", c.Summary("SSH", es)},
		{"digest", c.Digest(t0.Add(-15*time.Minute), t0, es)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			raw := render(t, tc.msg)
			golden(t, tc.name, raw)
			msg, _ := parse(t, raw)
			for _, h := range []string{"Date", "Message-Id", "From", "To", "Subject"} {
				if msg.Header.Get(h) == "" {
					t.Errorf("no %s header", h)
				}
			}
			if got := msg.Header.Get("Auto-Submitted"); got != "auto-generated" {
				t.Errorf("Auto-Submitted = %q", got)
			}
			if _, err := msg.Header.Date(); err != nil {
				t.Errorf("Date: %v", err)
			}
			from, err := msg.Header.AddressList("From")
			if err != nil || len(from) != 1 || from[0].Address != "fail2ban@example.com" || from[0].Name != "Fail2Ban" {
				t.Errorf("From = %v, %v", from, err)
			}
		})
	}
}

// TestInjection feeds header-breaking text through every untrusted field and
// checks that the headers stay the ones Render writes.
func TestInjection(t *testing.T) {
	evil := "x\r\nBcc: victim@example.net\r\n\r\nbody\n~! rm -rf /\x1b[31m"
	c := testComposer()
	c.FromName = "Fail2Ban\r\nCc: victim@example.net"
	msgs := []*Message{
		c.Ban(&Report{Name: evil, Addr: evil, Failures: 1, WantWhois: true,
			Whois:      &Whois{Summary: whois.Summary{NetName: evil, Country: evil, Org: evil}, Raw: evil + "\n\xff\xfe latin1 \xe9"},
			LinesTitle: "lines", Lines: []string{evil}}),
		c.Start(evil, evil),
		c.Digest(t0, t0, []Entry{{Addr: netip.MustParseAddr("192.0.2.9"), Jail: evil, Country: evil, AS: evil}}),
	}
	for i, m := range msgs {
		raw := render(t, m)
		msg, body := parse(t, raw)
		if len(msg.Header) != 9 {
			t.Errorf("message %d has %d headers, want 9: %v", i, len(msg.Header), msg.Header)
		}
		for _, h := range []string{"Bcc", "Cc"} {
			if v := msg.Header.Get(h); v != "" {
				t.Errorf("message %d: injected %s: %q", i, h, v)
			}
		}
		if to := msg.Header.Get("To"); to != "root" {
			t.Errorf("message %d: To = %q", i, to)
		}
		subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
		if err != nil || strings.ContainsAny(subj, "\r\n") {
			t.Errorf("message %d: subject %q, %v", i, subj, err)
		}
		if strings.ContainsAny(body, "\x1b\r") {
			t.Errorf("message %d: control characters in body: %q", i, body)
		}
	}
}

func TestCheckAddress(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"root", true}, {"fail2ban@example.com", true}, {"a.b+c@x.y", true},
		{"", false}, {"-oQ/tmp", false}, {"a b@x", false}, {"a@b@c", false}, {"root\n", false},
		{"<root>", false}, {"root,admin", false}, {"@x", false}, {"x@", false}, {"a\"b@x", false},
	} {
		err := CheckAddress(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("CheckAddress(%q) = %v", tc.in, err)
		}
		if err != nil && !errors.Is(err, ErrBadAddress) {
			t.Errorf("CheckAddress(%q) error %v is not ErrBadAddress", tc.in, err)
		}
	}
	got, err := SplitAddresses(" root, admin@example.com ops@example.com;")
	if err != nil || strings.Join(got, "|") != "root|admin@example.com|ops@example.com" {
		t.Errorf("SplitAddresses = %q, %v", got, err)
	}
	if _, err := SplitAddresses(" , "); err == nil {
		t.Error("SplitAddresses of nothing: no error")
	}
	m := &Message{From: "fail2ban", To: []string{"root", "-X/tmp/log"}}
	if _, err := m.Render(); !errors.Is(err, ErrBadAddress) {
		t.Errorf("Render with an option as recipient: %v", err)
	}
}

func TestLongLineIsQuotedPrintable(t *testing.T) {
	c := testComposer()
	line := strings.Repeat("a", 5000)
	raw := render(t, c.Ban(&Report{Name: "x", Addr: "192.0.2.1", LinesTitle: "l", Lines: []string{line}}))
	for l := range strings.SplitSeq(string(raw), "\n") {
		if len(l) > 998 {
			t.Fatalf("line of %d octets", len(l))
		}
	}
	if _, body := parse(t, raw); !strings.Contains(body, line) {
		t.Error("long line lost")
	}
}

func FuzzRender(f *testing.F) {
	f.Add("SSH", "x\r\nBcc: a@b", "192.0.2.1", "netname: X\n~!id")
	f.Add("jail\xff", "Jos\xe9", "::1", "\x00\x1b[2J")
	f.Fuzz(func(t *testing.T, name, sender, addr, raw string) {
		c := testComposer()
		c.FromName = sender
		m := c.Ban(&Report{Name: name, Addr: addr, WantWhois: true, Whois: &Whois{Summary: whois.Summary{NetName: raw}, Raw: raw},
			LinesTitle: name, Lines: []string{raw}})
		m.ID = name
		b, err := m.Render()
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("unreadable: %v", err)
		}
		if len(msg.Header) != 9 {
			t.Fatalf("%d headers: %v", len(msg.Header), msg.Header)
		}
		if msg.Header.Get("To") != "root" {
			t.Fatalf("To = %q", msg.Header.Get("To"))
		}
	})
}
