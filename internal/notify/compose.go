package notify

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"warden/internal/notify/whois"
)

// ErrWhoisOff is what a whois lookup returns when lookups are turned off
// (the jail option whois = off); the message says so instead of waiting.
var ErrWhoisOff = errors.New("whois lookups are turned off")

// Whois is what a lookup tells about an address: the whois client's
// summary and the raw answer text (untrusted, shown only in the body).
type Whois struct {
	whois.Summary
	Raw string
}

// Composer writes the texts of the messages. Its fields are the envelope
// and the words that are the same in every message of one action.
type Composer struct {
	Host     string   // this machine's name, as fail2ban's <fq-hostname>
	From     string   // sender address
	FromName string   // sender display name
	To       []string // recipients
	Now      func() time.Time
}

func (c *Composer) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Composer) message(subject, body string) *Message {
	return &Message{FromName: c.FromName, From: c.From, To: append([]string(nil), c.To...),
		Subject: subject, Date: c.now(), Host: c.Host, Body: body}
}

const signature = "\n-- \nwarden on %s\n"

// Start is the message sent when jail name starts; note, when not empty,
// is one more paragraph (sendmail-buffered says how many bans it gathers).
func (c *Composer) Start(name, note string) *Message {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello,\n\nwarden started watching jail %q on %s.\n", name, c.Host)
	if note != "" {
		fmt.Fprintf(&b, "\n%s\n", note)
	}
	fmt.Fprintf(&b, signature, c.Host)
	return c.message(fmt.Sprintf("[warden] %s: started on %s", name, c.Host), b.String())
}

// Stop is the message sent when jail name stops.
func (c *Composer) Stop(name string) *Message {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello,\n\nwarden stopped watching jail %q on %s; its bans are lifted or kept as configured.\n", name, c.Host)
	fmt.Fprintf(&b, signature, c.Host)
	return c.message(fmt.Sprintf("[warden] %s: stopped on %s", name, c.Host), b.String())
}

// Report is one ban as a message describes it.
type Report struct {
	Name     string // the action's name (the jail's, unless name= says otherwise)
	Addr     string // address or network as text
	Failures int
	BanTime  time.Duration // negative: for ever; zero: not known
	Time     time.Time     // the ban's time
	BanCount int           // earlier bans of the address, when known

	// WantWhois asks for the whois section; Whois or WhoisErr fill it.
	WantWhois bool
	Whois     *Whois
	WhoisErr  error
	// LinesTitle heads Lines ("" with no lines: no section).
	LinesTitle string
	Lines      []string
}

// Ban is the message about one ban.
func (c *Composer) Ban(r *Report) *Message {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello,\n\nwarden banned %s on %s after %d failures in jail %q.\n\n", r.Addr, c.Host, r.Failures, r.Name)
	fmt.Fprintf(&b, "  Address:   %s\n  Jail:      %s\n  Failures:  %d\n", r.Addr, r.Name, r.Failures)
	if !r.Time.IsZero() {
		fmt.Fprintf(&b, "  Banned at: %s\n", r.Time.Format(time.RFC1123Z))
	}
	switch {
	case r.BanTime < 0:
		b.WriteString("  Ban time:  for ever\n")
	case r.BanTime > 0:
		fmt.Fprintf(&b, "  Ban time:  %s", r.BanTime)
		if !r.Time.IsZero() {
			fmt.Fprintf(&b, " (until %s)", r.Time.Add(r.BanTime).Format(time.RFC1123Z))
		}
		b.WriteByte('\n')
	}
	if r.BanCount > 1 {
		fmt.Fprintf(&b, "  Ban count: %d\n", r.BanCount)
	}
	if r.WantWhois {
		writeWhois(&b, r)
	}
	if r.LinesTitle != "" {
		fmt.Fprintf(&b, "\n%s:\n", r.LinesTitle)
		if len(r.Lines) == 0 {
			b.WriteString("  (none)\n")
		}
		for _, l := range r.Lines {
			b.WriteString("  " + l + "\n")
		}
	}
	if r.WantWhois && r.Whois != nil && strings.TrimSpace(r.Whois.Raw) != "" {
		fmt.Fprintf(&b, "\nFull whois answer for %s:\n\n", r.Addr)
		for _, l := range strings.Split(strings.TrimRight(r.Whois.Raw, "\n"), "\n") {
			b.WriteString("  " + strings.TrimRight(l, "\r") + "\n")
		}
	}
	fmt.Fprintf(&b, signature, c.Host)
	return c.message(fmt.Sprintf("[warden] %s: banned %s on %s", r.Name, r.Addr, c.Host), b.String())
}

// writeWhois writes the whois summary section of a ban report.
func writeWhois(b *strings.Builder, r *Report) {
	fmt.Fprintf(b, "\nWhat whois says about %s:\n", r.Addr)
	switch {
	case errors.Is(r.WhoisErr, ErrWhoisOff):
		b.WriteString("  (whois lookups are turned off: whois = off)\n")
		return
	case r.WhoisErr != nil:
		fmt.Fprintf(b, "  (lookup failed: %v)\n", r.WhoisErr)
		return
	case r.Whois == nil:
		b.WriteString("  (no answer)\n")
		return
	}
	w := r.Whois
	row := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			fmt.Fprintf(b, "  %-14s %s\n", k+":", headerText(v))
		}
	}
	row("Network", w.NetName)
	row("Range", w.CIDR)
	row("Country", w.Country)
	row("Organisation", w.Org)
	row("AS", w.AS)
	row("Abuse contact", w.Abuse)
	row("Answered by", w.Server)
}

// Entry is one line of a buffered summary or a digest.
type Entry struct {
	Addr      netip.Addr
	Prefix    netip.Prefix // set for a banned network
	Jail      string
	Failures  int
	FirstSeen time.Time // the first ban of this address in the period
	LastSeen  time.Time // the last
	Bans      int       // bans of this address (and jail) in the period
	Country   string
	AS        string
}

func (e *Entry) addrText() string {
	if e.Prefix.IsValid() && !e.Prefix.IsSingleIP() {
		return e.Prefix.Masked().String()
	}
	if e.Prefix.IsValid() {
		return e.Prefix.Addr().String()
	}
	return e.Addr.String()
}

// Summary is sendmail-buffered's message: the bans jail name gathered.
func (c *Composer) Summary(name string, es []Entry) *Message {
	var b strings.Builder
	fmt.Fprintf(&b, "Hello,\n\nwarden banned these addresses in jail %q on %s:\n\n", name, c.Host)
	for _, e := range es {
		fmt.Fprintf(&b, "  %s  %s (%d failures)\n", e.LastSeen.Format(time.RFC1123Z), e.addrText(), e.Failures)
	}
	fmt.Fprintf(&b, signature, c.Host)
	return c.message(fmt.Sprintf("[warden] %s: %d bans on %s", name, len(es), c.Host), b.String())
}

// Digest is the one message of a digest period: every ban from since to
// until, one line per address and jail.
func (c *Composer) Digest(since, until time.Time, es []Entry) *Message {
	var b strings.Builder
	bans := 0
	for _, e := range es {
		bans += e.Bans
	}
	fmt.Fprintf(&b, "Hello,\n\nwarden on %s made %d bans of %d addresses from %s to %s.\n\n",
		c.Host, bans, len(es), since.Format(time.RFC1123Z), until.Format(time.RFC1123Z))
	const row = "%-39s  %-16s  %8s  %4s  %-7s  %-12s  %-25s  %-25s\n"
	fmt.Fprintf(&b, row, "Address", "Jail", "Failures", "Bans", "Country", "AS", "First seen", "Last seen")
	for _, e := range es {
		fmt.Fprintf(&b, row, e.addrText(), headerText(e.Jail), fmt.Sprint(e.Failures), fmt.Sprint(e.Bans),
			dash(headerText(e.Country)), dash(headerText(e.AS)),
			e.FirstSeen.Format(time.RFC1123Z), e.LastSeen.Format(time.RFC1123Z))
	}
	fmt.Fprintf(&b, signature, c.Host)
	return c.message(fmt.Sprintf("[warden] digest: %d bans on %s", bans, c.Host), b.String())
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
