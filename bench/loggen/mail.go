package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// mailKind writes a Debian mail.log: Postfix (smtpd, submission, cleanup,
// qmgr, smtp, lmtp) and Dovecot (imap/pop3 logins, auth workers, lmtp).
type mailKind struct{}

const (
	pfN   = fPostfix | fPostfixAggr     // postfix in its default and aggressive modes
	pfA   = fPostfixAggr                // aggressive only
	pfSA  = fPostfixAuth | fPostfixAggr // SASL failures: mode=auth and aggressive
	dovN  = fDovecot | fDovecotAggr
	dovA  = fDovecotAggr
	qmgr  = "postfix/qmgr[811]: "
	lipV4 = "203.0.113.25"
)

func (mailKind) stamp(dst []byte, t time.Time, host string) []byte {
	return authKind{}.stamp(dst, t, host)
}

func (mailKind) filters() []filterSpec {
	return []filterSpec{
		{fPostfix, "postfix", true},
		{fPostfixAuth, "postfix[mode=auth]", true},
		{fPostfixAggr, "postfix[mode=aggressive]", false},
		{fDovecot, "dovecot", true},
		{fDovecotAggr, "dovecot[mode=aggressive]", false},
	}
}

func (mailKind) attack(g *generator, a netip.Addr) []entry {
	switch x := g.rng.IntN(100); {
	case x < 30:
		return smtpAuthGuess(g, a)
	case x < 55:
		return smtpRejected(g, a)
	case x < 85:
		return imapAuthGuess(g, a)
	default:
		return imapNoAuth(g, a)
	}
}

func (mailKind) benign(g *generator) []entry {
	switch x := g.rng.IntN(100); {
	case x < 35:
		return inboundMail(g)
	case x < 55:
		return outboundMail(g)
	default:
		return imapSession(g)
	}
}

// proc collects the lines of one process talking to one peer.
type proc struct {
	prefix string
	addr   netip.Addr
	lines  *[]entry
}

func (p proc) add(hits filterBit, format string, args ...any) {
	*p.lines = append(*p.lines, entry{text: p.prefix + fmt.Sprintf(format, args...), hits: hits, addr: p.addr})
}

func newProc(g *generator, name string, a netip.Addr, lines *[]entry) proc {
	return proc{prefix: name + "[" + strconv.Itoa(g.newPID()) + "]: ", addr: a, lines: lines}
}

// clientName is how Postfix shows a peer: its verified name, or unknown.
func clientName(g *generator, a netip.Addr) string {
	if g.rng.IntN(3) == 0 && a.Is4() {
		b := a.As4()
		return fmt.Sprintf("%d-%d-%d-%d.dyn.example.net[%s]", b[0], b[1], b[2], b[3], a)
	}
	return "unknown[" + a.String() + "]"
}

func queueID(g *generator) string { return g.token(10, hexUp) }

// smtpAuthGuess: a bot guessing passwords on the submission port.
func smtpAuthGuess(g *generator, a netip.Addr) []entry {
	var ls []entry
	p := newProc(g, "postfix/submission/smtpd", a, &ls)
	cn := clientName(g, a)
	p.add(0, "connect from %s", cn)
	n := 1 + g.rng.IntN(3)
	for range n {
		if g.rng.IntN(2) == 0 {
			p.add(pfSA, "warning: %s: SASL LOGIN authentication failed: UGFzc3dvcmQ6", cn)
		} else {
			p.add(pfSA, "warning: %s: SASL PLAIN authentication failed: authentication failure", cn)
		}
	}
	p.add(pfA, "lost connection after AUTH from %s", cn)
	p.add(pfA, "disconnect from %s ehlo=1 auth=0/%d commands=1/%d", cn, n, n+1)
	return ls
}

// smtpRejected: spam or relay probing that smtpd refuses.
func smtpRejected(g *generator, a netip.Addr) []entry {
	var ls []entry
	p := newProc(g, "postfix/smtpd", a, &ls)
	cn := clientName(g, a)
	helo := "WIN-" + g.token(11, hexUp)
	p.add(0, "connect from %s", cn)
	switch g.rng.IntN(4) {
	case 0:
		p.add(pfN, "NOQUEUE: reject: RCPT from %s: 554 5.7.1 <%s@gmail.com>: Relay access denied; from=<spameri@tiscali.it> to=<%s@gmail.com> proto=ESMTP helo=<%s>",
			cn, g.token(8, digits), g.token(8, digits), helo)
	case 1:
		p.add(pfN, "NOQUEUE: reject: RCPT from %s: 450 4.7.25 Client host rejected: cannot find your hostname, [%s]; from=<info@%s.com> to=<sales@example.org> proto=ESMTP helo=<%s>",
			cn, a, g.token(6, "abcdefghijklmnopqrstuvwxyz"), helo)
	case 2:
		p.add(pfN, "NOQUEUE: reject: RCPT from %s: 550 5.1.1 <%s@example.org>: Recipient address rejected: User unknown in virtual mailbox table; from=<> to=<%[2]s@example.org> proto=ESMTP helo=<%s>",
			cn, botUser(g), helo)
	default:
		p.add(pfN, "improper command pipelining after CONNECT from %s: QUIT", cn)
	}
	p.add(0, "disconnect from %s ehlo=1 mail=1 rcpt=0/1 quit=1 commands=3/4", cn)
	return ls
}

// dovecotSession returns a dovecot session id as it appears in session=<>.
func dovecotSession(g *generator) string { return g.token(16, b64) }

// imapAuthGuess: password guessing against IMAP or POP3.
func imapAuthGuess(g *generator, a netip.Addr) []entry {
	var ls []entry
	u := botUser(g) + "@example.org"
	svc := [...]string{"imap", "pop3"}[g.rng.IntN(2)]
	worker := proc{prefix: fmt.Sprintf("dovecot: auth-worker(%d): ", g.newPID()), addr: a, lines: &ls}
	sess := dovecotSession(g)
	login := proc{prefix: "dovecot: " + svc + "-login: ", addr: a, lines: &ls}
	n := 1 + g.rng.IntN(3)
	for range n {
		if g.rng.IntN(2) == 0 {
			worker.add(dovN, "pam(%s,%s,<%s>): pam_authenticate() failed: Authentication failure (password mismatch?)", u, a, sess)
		} else {
			worker.add(dovN, "pam(%s,%s,<%s>): unknown user", u, a, sess)
		}
	}
	login.add(dovN, "Disconnected: Connection closed (auth failed, %d attempts in %d secs): user=<%s>, method=PLAIN, rip=%s, lip=%s, TLS, session=<%s>",
		n, 2+g.rng.IntN(20), u, a, lipV4, sess)
	return ls
}

// imapNoAuth: a scanner that opens a connection and says nothing; only the
// aggressive mode reports it.
func imapNoAuth(g *generator, a netip.Addr) []entry {
	svc := [...]string{"imap", "pop3"}[g.rng.IntN(2)]
	return []entry{{
		text: fmt.Sprintf("dovecot: %s-login: Disconnected: Connection closed (no auth attempts in %d secs): user=<>, rip=%s, lip=%s, TLS handshaking: Connection closed, session=<%s>",
			svc, g.rng.IntN(3), a, lipV4, dovecotSession(g)),
		hits: dovA, addr: a,
	}}
}

func inboundMail(g *generator) []entry {
	var ls []entry
	relays := [...]struct{ name, ip string }{
		{"mail-wm1-f48.google.com", "209.85.128.48"}, {"mail-ej1-f54.google.com", "209.85.218.54"},
		{"mail-db8eur05on2071.outbound.protection.outlook.com", "40.107.20.71"},
		{"a48-95.smtp-out.amazonses.com", "54.240.48.95"},
	}
	r := relays[g.rng.IntN(len(relays))]
	a := netip.MustParseAddr(r.ip)
	smtpd := newProc(g, "postfix/smtpd", a, &ls)
	cn := r.name + "[" + r.ip + "]"
	id := queueID(g)
	user, _ := staffUser(g, 3)
	smtpd.add(0, "connect from %s", cn)
	smtpd.add(0, "%s: client=%s", id, cn)
	ls = append(ls, entry{text: fmt.Sprintf("postfix/cleanup[%d]: %s: message-id=<%s@%s>", g.newPID(), id, g.token(20, alnum), r.name)})
	ls = append(ls, entry{text: fmt.Sprintf("%s%s: from=<newsletter@%s>, size=%d, nrcpt=1 (queue active)", qmgr, id, r.name, 2000+g.rng.IntN(90000))})
	smtpd.add(0, "disconnect from %s ehlo=2 starttls=1 mail=1 rcpt=1 data=1 quit=1 commands=7", cn)
	sess := g.token(16, b64)
	ls = append(ls,
		entry{text: fmt.Sprintf("dovecot: lmtp(%s)<%d><%s>: msgid=<%s@%s>: saved mail to INBOX", user, g.newPID(), sess, g.token(20, alnum), r.name)},
		entry{text: fmt.Sprintf("postfix/lmtp[%d]: %s: to=<%s@example.org>, relay=mail.example.org[private/dovecot-lmtp], delay=0.%02d, delays=0.05/0.01/0.01/0.%02d, dsn=2.0.0, status=sent (250 2.0.0 <%s@example.org> %s Saved)",
			g.newPID(), id, user, g.rng.IntN(100), g.rng.IntN(100), user, sess)},
		entry{text: qmgr + id + ": removed"},
	)
	return ls
}

func outboundMail(g *generator) []entry {
	id := queueID(g)
	user, _ := staffUser(g, 3)
	dest := [...]struct{ rcpt, relay string }{
		{"friend@gmail.com", "gmail-smtp-in.l.google.com[142.250.102.27]:25"},
		{"billing@supplier.de", "mx01.supplier.de[85.13.150.7]:25"},
		{"team@outlook.com", "outlook-com.olc.protection.outlook.com[52.101.68.12]:25"},
	}[g.rng.IntN(3)]
	return []entry{
		{text: fmt.Sprintf("postfix/pickup[%d]: %s: uid=%d from=<%s>", 900+g.rng.IntN(50), id, 1000, user)},
		{text: fmt.Sprintf("postfix/cleanup[%d]: %s: message-id=<%s@example.org>", g.newPID(), id, g.token(20, alnum))},
		{text: fmt.Sprintf("%s%s: from=<%s@example.org>, size=%d, nrcpt=1 (queue active)", qmgr, id, user, 900+g.rng.IntN(9000))},
		{text: fmt.Sprintf("postfix/smtp[%d]: %s: to=<%s>, relay=%s, delay=%d.%d, delays=0.02/0.01/0.3/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK  %d - gsmtp)",
			g.newPID(), id, dest.rcpt, dest.relay, g.rng.IntN(3), g.rng.IntN(10), 1700000000+g.rng.IntN(99999999))},
		{text: qmgr + id + ": removed"},
	}
}

func imapSession(g *generator) []entry {
	a := g.benignIP()
	user, _ := staffUser(g, 3)
	pid := g.newPID()
	sess := dovecotSession(g)
	return []entry{
		{text: fmt.Sprintf("dovecot: imap-login: Login: user=<%s@example.org>, method=PLAIN, rip=%s, lip=%s, mpid=%d, TLS, session=<%s>", user, a, lipV4, pid, sess)},
		{text: fmt.Sprintf("dovecot: imap(%s@example.org)<%d><%s>: Logged out in=%d out=%d deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0",
			user, pid, sess, 50+g.rng.IntN(2000), 500+g.rng.IntN(90000))},
	}
}
