package webhook

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"warden/internal/notify/whois"
)

// message is what one request reports: one event, or a digest.
type message struct {
	events  []Event
	digest  bool
	omitted int // digest events beyond Options.DigestMax, counted only
	// omittedBans is how many of the omitted events were bans.
	omittedBans int
}

// maxText caps the text of chat formats, in bytes, under each service's
// limit (Discord 2000 characters, ntfy 4096 bytes, Slack ~4000 advised).
var maxText = map[Format]int{FormatSlack: 3900, FormatDiscord: 1900, FormatMatrix: 16000, FormatNtfy: 3900}

// maxMatches and maxMatchLen cap the log lines of one JSON event.
const (
	maxMatches  = 50
	maxMatchLen = 1000
)

// cutLine shortens s to at most n bytes on a rune boundary.
func cutLine(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// maxDigestLines caps the event lines of a chat digest.
const maxDigestLines = 100

// render builds the body and content type of msg for format f.
func render(f Format, msg message) ([]byte, string, error) {
	text := cut(messageText(msg), maxText[f])
	var v any
	switch f {
	case FormatJSON:
		return renderJSON(msg)
	case FormatSlack:
		v = struct {
			Text string `json:"text"`
		}{slackEscape(text)}
	case FormatDiscord:
		// No mention in the text may ping anyone.
		v = struct {
			Content         string `json:"content"`
			AllowedMentions struct {
				Parse []string `json:"parse"`
			} `json:"allowed_mentions"`
		}{Content: text, AllowedMentions: struct {
			Parse []string `json:"parse"`
		}{Parse: []string{}}}
	case FormatMatrix:
		v = struct {
			MsgType string `json:"msgtype"`
			Body    string `json:"body"`
		}{"m.notice", text}
	case FormatNtfy:
		return []byte(text), "text/plain; charset=utf-8", nil
	default:
		return nil, "", fmt.Errorf("unknown format %q", f)
	}
	b, err := json.Marshal(v)
	return b, "application/json", err
}

// title is ntfy's Title header: built from the jail name (configuration)
// and the address (a parsed value), cleaned all the same.
func title(msg message) string {
	if msg.digest {
		return "warden digest: " + strconv.Itoa(countBans(msg)) + " bans"
	}
	ev := msg.events[0]
	switch ev.Kind {
	case KindBan:
		return oneLine("warden: banned " + ev.Addr.String() + " in " + ev.Jail)
	default:
		return oneLine("warden: jail " + ev.Jail + " " + string(ev.Kind))
	}
}

// messageText is the human text of chat formats; untrusted parts (whois)
// are single-line by construction.
func messageText(msg message) string {
	if !msg.digest {
		return "warden: " + eventLine(msg.events[0])
	}
	var b strings.Builder
	bans := countBans(msg)
	fmt.Fprintf(&b, "warden digest: %d bans, %d other events", bans, len(msg.events)+msg.omitted-bans)
	if len(msg.events) > 0 {
		fmt.Fprintf(&b, " (%s to %s)", msg.events[0].Time.UTC().Format(time.DateTime), msg.events[len(msg.events)-1].Time.UTC().Format(time.DateTime+" MST"))
	}
	b.WriteByte('\n')
	for i, ev := range msg.events {
		if i == maxDigestLines {
			fmt.Fprintf(&b, "… and %d more\n", len(msg.events)-i+msg.omitted)
			return b.String()
		}
		b.WriteString("- " + eventLine(ev) + "\n")
	}
	if msg.omitted > 0 {
		fmt.Fprintf(&b, "… and %d more\n", msg.omitted)
	}
	return b.String()
}

func countBans(msg message) int {
	n := msg.omittedBans
	for _, ev := range msg.events {
		if ev.Kind == KindBan {
			n++
		}
	}
	return n
}

// eventLine describes one event in one line.
func eventLine(ev Event) string {
	switch ev.Kind {
	case KindBan:
		s := fmt.Sprintf("banned %s in jail %s after %d failures, %s", ev.Addr, oneLine(ev.Jail), ev.Failures, banFor(ev.BanTime))
		if w := ev.Whois; w != nil {
			var parts []string
			for _, p := range []string{w.Country, w.AS, w.NetName, w.Org} {
				if p = oneLine(p); p != "" {
					parts = append(parts, p)
				}
			}
			if a := oneLine(w.Abuse); a != "" {
				parts = append(parts, "abuse "+a)
			}
			if len(parts) > 0 {
				s += " (" + strings.Join(parts, ", ") + ")"
			}
		}
		return s
	case KindStart:
		return "jail " + oneLine(ev.Jail) + " started"
	case KindStop:
		return "jail " + oneLine(ev.Jail) + " stopped"
	}
	return oneLine(string(ev.Kind)) + " in jail " + oneLine(ev.Jail)
}

func banFor(d time.Duration) string {
	if d < 0 {
		return "for ever"
	}
	return "for " + d.String()
}

// oneLine drops control and format characters (newlines included) and
// invalid UTF-8, so a value cannot start a line or a header of its own.
func oneLine(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return -1
		}
		return r
	}, s))
}

// slackEscape escapes the three characters Slack gives meaning to, so
// "<!channel>" or a link in whois text stays text.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// cut shortens s to at most n bytes on a rune boundary, marking the cut.
func cut(s string, n int) string {
	if n <= 0 || len(s) <= n {
		return s
	}
	const mark = "\n… (cut)"
	return cutLine(s, n-len(mark)) + mark
}

// The generic JSON body, version 1:
//
//	{"version": 1, "digest": false, "omitted": 0, "text": "warden: banned ...",
//	 "events": [{"kind": "ban", "jail": "sshd", "addr": "192.0.2.1", "failures": 5,
//	   "bantime_seconds": 600, "time": "2026-01-02T03:04:05Z", "matches": ["..."],
//	   "whois": {"netname": "", "country": "", "org": "", "as": "", "abuse": "", "cidr": "", "server": ""}}]}
//
// bantime_seconds is -1 for a permanent ban; addr, failures, bantime_seconds,
// matches and whois are left out of start and stop events.
type jsonBody struct {
	Version int         `json:"version"`
	Digest  bool        `json:"digest"`
	Omitted int         `json:"omitted"`
	Text    string      `json:"text"`
	Events  []jsonEvent `json:"events"`
}

type jsonEvent struct {
	Kind     Kind           `json:"kind"`
	Jail     string         `json:"jail"`
	Addr     string         `json:"addr,omitempty"`
	Failures int            `json:"failures,omitempty"`
	BanTime  *int64         `json:"bantime_seconds,omitempty"`
	Time     time.Time      `json:"time"`
	Matches  []string       `json:"matches,omitempty"`
	Whois    *whois.Summary `json:"whois,omitempty"` // its own JSON field names
}

func renderJSON(msg message) ([]byte, string, error) {
	body := jsonBody{Version: 1, Digest: msg.digest, Omitted: msg.omitted, Text: messageText(msg), Events: []jsonEvent{}}
	for _, ev := range msg.events {
		je := jsonEvent{Kind: ev.Kind, Jail: ev.Jail, Time: ev.Time.UTC()}
		if ev.Kind == KindBan {
			je.Addr = ev.Addr.String()
			je.Failures = ev.Failures
			secs := int64(-1)
			if ev.BanTime >= 0 {
				secs = int64(ev.BanTime / time.Second)
			}
			je.BanTime = &secs
			for _, m := range ev.Matches[:min(len(ev.Matches), maxMatches)] {
				je.Matches = append(je.Matches, cutLine(m, maxMatchLen))
			}
			je.Whois = ev.Whois
		}
		body.Events = append(body.Events, je)
	}
	b, err := json.Marshal(body)
	return b, "application/json", err
}
