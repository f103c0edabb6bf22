package notify

import (
	"bufio"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fakeSendmail writes a sendmail stand-in that records its arguments (one a
// line) and stdin into dir, exiting with code.
func fakeSendmail(t *testing.T, dir string, code int) string {
	t.Helper()
	p := filepath.Join(dir, "sendmail")
	script := "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done >> " + filepath.Join(dir, "argv") +
		"\ncat >> " + filepath.Join(dir, "stdin") + "\necho refused >&2\nexit " + string(rune('0'+code)) + "\n"
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSendmail(t *testing.T) {
	dir := t.TempDir()
	s := &Sendmail{Path: fakeSendmail(t, dir, 0)}
	msg := []byte("Subject: x\n\nbody $(id) `id`\n")
	if err := s.Deliver(context.Background(), "fail2ban@example.com", []string{"root", "a@example.net"}, msg); err != nil {
		t.Fatal(err)
	}
	argv, _ := os.ReadFile(filepath.Join(dir, "argv"))
	if got, want := string(argv), "-i\n-f\nfail2ban@example.com\n--\nroot\na@example.net\n"; got != want {
		t.Errorf("argv %q, want %q", got, want)
	}
	in, _ := os.ReadFile(filepath.Join(dir, "stdin"))
	if string(in) != string(msg) {
		t.Errorf("stdin %q", in)
	}
	if err := s.Deliver(context.Background(), "fail2ban", []string{"-oQ/tmp/x"}, msg); err == nil {
		t.Error("option-like recipient accepted")
	}

	bad := &Sendmail{Path: fakeSendmail(t, t.TempDir(), 75)}
	err := bad.Deliver(context.Background(), "fail2ban", []string{"root"}, msg)
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("failing sendmail: %v", err)
	}
}

// smtpSink is a minimal SMTP server for one session: it records the
// envelope and data, offering AUTH PLAIN (no TLS; loopback only).
type smtpSink struct {
	ln             net.Listener
	from, to, data chan string
	auth           chan string
	rejectRcpt     bool
}

func newSMTPSink(t *testing.T) *smtpSink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpSink{ln: ln, from: make(chan string, 8), to: make(chan string, 8), data: make(chan string, 8), auth: make(chan string, 8)}
	t.Cleanup(func() { ln.Close() })
	go s.serve()
	return s
}

func (s *smtpSink) serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		go s.session(c)
	}
}

func (s *smtpSink) session(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	r := bufio.NewReader(c)
	say := func(l string) { _, _ = c.Write([]byte(l + "\r\n")) }
	say("220 sink ESMTP")
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		cmd := strings.ToUpper(line)
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			say("250-sink")
			say("250 AUTH PLAIN")
		case strings.HasPrefix(cmd, "AUTH PLAIN"):
			s.auth <- strings.TrimSpace(line[len("AUTH PLAIN"):])
			say("235 ok")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			s.from <- line[len("MAIL FROM:"):]
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			if s.rejectRcpt {
				say("550 no such user")
				continue
			}
			s.to <- line[len("RCPT TO:"):]
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.data <- b.String()
			say("250 queued")
		case cmd == "QUIT":
			say("221 bye")
			return
		default:
			say("250 ok")
		}
	}
}

func TestSMTP(t *testing.T) {
	sink := newSMTPSink(t)
	d := &SMTP{Addr: sink.ln.Addr().String(), Username: "u", Password: "p", Timeout: 5 * time.Second}
	msg := "Subject: x\n\n.hidden dot line\nend\n"
	if err := d.Deliver(context.Background(), "fail2ban@example.com", []string{"root@example.com"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	if got := <-sink.auth; got != "AHUAcA==" { // "\0u\0p"
		t.Errorf("AUTH PLAIN %q", got)
	}
	if got := <-sink.from; !strings.Contains(got, "<fail2ban@example.com>") {
		t.Errorf("MAIL FROM %q", got)
	}
	if got := <-sink.to; !strings.Contains(got, "<root@example.com>") {
		t.Errorf("RCPT TO %q", got)
	}
	if got := <-sink.data; got != "Subject: x\r\n\r\n..hidden dot line\r\nend\r\n" {
		t.Errorf("DATA %q", got)
	}

	req := &SMTP{Addr: sink.ln.Addr().String(), TLS: TLSRequired, Timeout: 5 * time.Second}
	if err := req.Deliver(context.Background(), "a", []string{"b"}, []byte(msg)); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("required TLS without STARTTLS: %v", err)
	}

	bare := &SMTP{Addr: sink.ln.Addr().String(), Domain: "gate.example.org", Timeout: 5 * time.Second}
	if err := bare.Deliver(context.Background(), "fail2ban", []string{"root"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	<-sink.from
	if got := <-sink.to; got != "<root@gate.example.org>" {
		t.Errorf("bare recipient sent as %q", got)
	}
	<-sink.data

	sink2 := newSMTPSink(t)
	sink2.rejectRcpt = true
	rej := &SMTP{Addr: sink2.ln.Addr().String(), Timeout: 5 * time.Second}
	if err := rej.Deliver(context.Background(), "a", []string{"nobody"}, []byte(msg)); err == nil || !strings.Contains(err.Error(), "550") {
		t.Errorf("rejected recipient: %v", err)
	}
}
