package notify

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrBadAddress reports a sender or recipient that is not a plain mail
// address.
var ErrBadAddress = errors.New("not a usable mail address")

// Message is one e-mail before rendering. Every field may hold untrusted
// text; Render makes it safe.
type Message struct {
	FromName string   // display name of the sender ("Fail2Ban")
	From     string   // envelope and header sender, checked by CheckAddress
	To       []string // recipients, each checked by CheckAddress
	Subject  string
	Date     time.Time
	// ID is the Message-ID without angle brackets; empty means a random
	// one at hostname Host.
	ID   string
	Host string
	Body string
}

// maxHeaderText bounds a header value (before encoding) so no header line
// grows past what MTAs accept.
const maxHeaderText = 200

// CheckAddress accepts a bare address ("root", "fail2ban@example.com"):
// printable ASCII from the local-part/domain alphabet, at most one '@', not
// starting with '-' (so it can never be read as a sendmail option).
func CheckAddress(a string) error {
	if a == "" || len(a) > 254 {
		return fmt.Errorf("%w: %q", ErrBadAddress, clip(a))
	}
	if a[0] == '-' || a[0] == '@' || a[0] == '.' || strings.Count(a, "@") > 1 || strings.HasSuffix(a, "@") {
		return fmt.Errorf("%w: %q", ErrBadAddress, clip(a))
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte(".!#$%&'*+/=?^_`{|}~-@", c) >= 0:
		default:
			return fmt.Errorf("%w: %q", ErrBadAddress, clip(a))
		}
	}
	return nil
}

// SplitAddresses splits a dest option ("root, admin@example.com" or
// space-separated) into checked addresses.
func SplitAddresses(s string) ([]string, error) {
	var out []string
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || unicode.IsSpace(r) }) {
		if err := CheckAddress(w); err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no recipient in %q", ErrBadAddress, clip(s))
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// headerText makes s fit for one header line: valid UTF-8, every control
// character (CR and LF above all) turned into a space, runs of spaces
// squeezed, at most maxHeaderText runes.
func headerText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space := false
	n := 0
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' {
			if !space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		if n++; n > maxHeaderText {
			b.WriteString("...")
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimRight(b.String(), " ")
}

// encodeHeader is headerText, RFC 2047-encoded when not plain ASCII.
func encodeHeader(s string) string {
	s = headerText(s)
	if isASCII(s) {
		return s
	}
	return mime.QEncoding.Encode("utf-8", s)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// bodyText makes s valid UTF-8 text with LF line ends; other control
// characters except tab become U+FFFD, so terminal escapes in log lines or
// whois answers reach nobody's terminal.
func bodyText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r == '\r':
			return '\n'
		case unicode.IsControl(r):
			return '\uFFFD'
		}
		return r
	}, s)
}

// needsQP tells whether the body must be quoted-printable: non-ASCII, or a
// line longer than SMTP's 998 octets.
func needsQP(s string) bool {
	if !isASCII(s) {
		return true
	}
	for line := range strings.SplitSeq(s, "\n") {
		if len(line) > 900 {
			return true
		}
	}
	return false
}

// idText keeps a Message-ID to the characters of a dot-atom and '@'.
func idText(id string) string {
	b := []byte(headerText(id))
	if len(b) > 128 {
		b = b[:128]
	}
	for i, c := range b {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".-_+=$@", c) >= 0
		if !ok {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// NewID returns a random Message-ID at host.
func NewID(host string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	host = headerText(host)
	if host == "" || CheckAddress(host) != nil || strings.Contains(host, "@") {
		host = "localhost"
	}
	return hex.EncodeToString(b[:]) + "@" + host
}

// Render writes m as an RFC 5322 message with LF line ends (what sendmail
// expects on stdin; SMTP delivery converts to CRLF). It fails only on a bad
// sender or recipient.
func (m *Message) Render() ([]byte, error) {
	if err := CheckAddress(m.From); err != nil {
		return nil, fmt.Errorf("sender: %w", err)
	}
	if len(m.To) == 0 {
		return nil, fmt.Errorf("%w: no recipient", ErrBadAddress)
	}
	for _, to := range m.To {
		if err := CheckAddress(to); err != nil {
			return nil, fmt.Errorf("recipient: %w", err)
		}
	}
	id := m.ID
	if id == "" {
		id = NewID(m.Host)
	}
	id = idText(id)
	date := m.Date
	if date.IsZero() {
		date = time.Now()
	}
	body := bodyText(m.Body)
	if !strings.HasSuffix(body, "\n") {
		body += "\n"
	}

	var b bytes.Buffer
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\n") }
	hdr("Date", date.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+id+">")
	from := mail.Address{Name: headerText(m.FromName), Address: m.From}
	hdr("From", from.String())
	hdr("To", strings.Join(m.To, ", "))
	hdr("Subject", encodeHeader(m.Subject))
	hdr("Auto-Submitted", "auto-generated")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	if needsQP(body) {
		hdr("Content-Transfer-Encoding", "quoted-printable")
		b.WriteByte('\n')
		w := quotedprintable.NewWriter(&b)
		_, _ = w.Write([]byte(body))
		_ = w.Close()
		out := bytes.ReplaceAll(b.Bytes(), []byte("\r\n"), []byte("\n"))
		if !bytes.HasSuffix(out, []byte("\n")) {
			out = append(out, '\n')
		}
		return out, nil
	}
	hdr("Content-Transfer-Encoding", "7bit")
	b.WriteByte('\n')
	b.WriteString(body)
	return b.Bytes(), nil
}
