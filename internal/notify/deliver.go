package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"time"

	"github.com/wneessen/go-mail/smtp"
)

// Deliverer hands one rendered message to a mail system.
type Deliverer interface {
	Deliver(ctx context.Context, from string, to []string, msg []byte) error
}

// Sendmail delivers through a local sendmail-compatible binary, run as
// `PATH -i -f FROM -- TO...` with the message on stdin: no shell, and no
// recipient can be taken for an option.
type Sendmail struct {
	Path string // the binary; "" means "sendmail" on $PATH, then /usr/sbin/sendmail
	// Timeout bounds one run; 0 means one minute.
	Timeout time.Duration
}

var _ Deliverer = (*Sendmail)(nil)

func (s *Sendmail) path() string {
	if s.Path != "" {
		return s.Path
	}
	if p, err := exec.LookPath("sendmail"); err == nil {
		return p
	}
	return "/usr/sbin/sendmail"
}

// Deliver runs sendmail once.
func (s *Sendmail) Deliver(ctx context.Context, from string, to []string, msg []byte) error {
	if err := CheckAddress(from); err != nil {
		return err
	}
	args := []string{"-i", "-f", from, "--"}
	for _, a := range to {
		if err := CheckAddress(a); err != nil {
			return err
		}
		args = append(args, a)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.path(), args...)
	cmd.Stdin = bytes.NewReader(msg)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("sendmail %s: %w: %s", s.path(), err, clip(strings.TrimSpace(out.String())))
	}
	return nil
}

// TLSMode says how SMTP delivery uses STARTTLS.
type TLSMode int

const (
	// TLSOpportunistic uses STARTTLS when the server offers it.
	TLSOpportunistic TLSMode = iota
	// TLSRequired fails unless STARTTLS succeeds.
	TLSRequired
	// TLSOff never uses it.
	TLSOff
)

// ErrNoTLS reports a server without STARTTLS when TLS is required.
var ErrNoTLS = errors.New("smtp server does not offer STARTTLS")

// SMTP delivers to a mail server over SMTP, with STARTTLS and AUTH (PLAIN,
// or LOGIN when the server offers only that).
type SMTP struct {
	Addr string // host:port
	Helo string // our name in EHLO; "" means localhost
	// Domain qualifies bare recipients ("root" becomes root@Domain), as
	// SMTP servers want a domain; "" sends them as they are.
	Domain   string
	TLS      TLSMode
	Username string // AUTH when not empty
	Password string
	Timeout  time.Duration // for the whole exchange; 0 means one minute
	// TLSConfig, when set, replaces the default (server name from Addr).
	TLSConfig *tls.Config
}

var _ Deliverer = (*SMTP)(nil)

// Deliver sends one message in one SMTP session.
func (s *SMTP) Deliver(ctx context.Context, from string, to []string, msg []byte) (err error) {
	for _, a := range append([]string{from}, to...) {
		if err := CheckAddress(a); err != nil {
			return err
		}
	}
	host, _, err := net.SplitHostPort(s.Addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", s.Addr, err)
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("smtp %s: %w", s.Addr, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return fmt.Errorf("smtp %s: %w", s.Addr, err)
	}
	defer c.Close()
	wrap := func(step string, err error) error { return fmt.Errorf("smtp %s: %s: %w", s.Addr, step, err) }
	helo := s.Helo
	if helo == "" {
		helo = "localhost"
	}
	if err := c.Hello(helo); err != nil {
		return wrap("EHLO", err)
	}
	if s.TLS != TLSOff {
		if ok, _ := c.Extension("STARTTLS"); ok {
			cfg := s.TLSConfig
			if cfg == nil {
				cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
			}
			if err := c.StartTLS(cfg); err != nil {
				return wrap("STARTTLS", err)
			}
		} else if s.TLS == TLSRequired {
			return wrap("STARTTLS", ErrNoTLS)
		}
	}
	if s.Username != "" {
		_, mechs := c.Extension("AUTH")
		var a smtp.Auth
		if !strings.Contains(" "+strings.ToUpper(mechs)+" ", " PLAIN ") && strings.Contains(strings.ToUpper(mechs), "LOGIN") {
			a = smtp.LoginAuth(s.Username, s.Password, host, false)
		} else {
			a = smtp.PlainAuth("", s.Username, s.Password, host, false)
		}
		if err := c.Auth(a); err != nil {
			return wrap("AUTH", err)
		}
	}
	if err := c.Mail("<" + from + ">"); err != nil {
		return wrap("MAIL FROM", err)
	}
	for _, r := range to {
		if !strings.Contains(r, "@") && s.Domain != "" {
			r += "@" + s.Domain
		}
		if err := c.Rcpt("<" + r + ">"); err != nil {
			return wrap("RCPT TO "+r, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return wrap("DATA", err)
	}
	crlf := bytes.ReplaceAll(msg, []byte("\n"), []byte("\r\n"))
	if _, err := w.Write(crlf); err != nil {
		return wrap("DATA", err)
	}
	if err := w.Close(); err != nil {
		return wrap("DATA", err)
	}
	if err := c.Quit(); err != nil {
		return wrap("QUIT", err)
	}
	return nil
}
