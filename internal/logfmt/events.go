package logfmt

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The messages of the events that fail2ban also logs. The ban manager and
// the server log them with attributes "jail" and "prefix" (the banned
// address or network); this handler words them as fail2ban does, while
// the JSON handler keeps them as structured records.
const (
	MsgBan           = "ban"            // [jail] Ban ADDR
	MsgRestoreBan    = "restore ban"    // [jail] Restore Ban ADDR
	MsgUnban         = "unban"          // [jail] Unban ADDR
	MsgProlongBan    = "prolong ban"    // [jail] ADDR already banned
	MsgAlreadyBanned = "already banned" // [jail] ADDR already banned
	MsgJailStarted   = "jail started"   // Jail 'jail' started
	MsgJailStopped   = "jail stopped"   // Jail 'jail' stopped
	MsgReban         = "reban"          // [jail] Reban ADDR[, action 'name']
	MsgIncreaseBan   = "increase ban"   // [jail] Increase Ban ADDR (N # BANTIME -> END)
)

// The filter's events, logged by the jail with attributes "jail" and
// "id" (the failure id, an address for nearly every filter) and, for
// Found and Attempt, "failed" (the failure's log time, as the jail
// counted it; not "time", which JSON logs use for the record's own).
const (
	MsgFound   = "found"   // [jail] Found ID - 2006-01-02 15:04:05
	MsgAttempt = "attempt" // [jail] Attempt ID - 2006-01-02 15:04:05
	MsgIgnore  = "ignore"  // [jail] Ignore ID by SOURCE ("by" attribute)
)

// appendBody appends a record's line after the time stamp, without its
// newline.
func (h *Handler) appendBody(b []byte, r slog.Record) []byte {
	if h.group == "" {
		switch r.Message {
		case MsgBan, MsgRestoreBan, MsgUnban, MsgProlongBan, MsgAlreadyBanned:
			if jail, addr, ok := h.jailAddr(r); ok {
				return appendBan(h.appendHead(b, compActions, r.Level), r.Message, jail, addr)
			}
		case MsgFound, MsgAttempt, MsgIgnore:
			if ev, ok := h.filterAttrs(r); ok {
				return h.appendFilterEvent(h.appendHead(b, compFilter, r.Level), r.Message, &ev)
			}
		case MsgReban:
			if ev, ok := h.eventAttrs(r); ok && ev.addr != "" {
				return appendReban(h.appendHead(b, compActions, r.Level), &ev)
			}
		case MsgIncreaseBan:
			if ev, ok := h.eventAttrs(r); ok && ev.addr != "" && ev.hasCount && ev.hasBanTime && (ev.banTime < 0 || !ev.end.IsZero()) {
				return h.appendIncrease(h.appendHead(b, compObserver, r.Level), &ev)
			}
		case MsgJailStarted, MsgJailStopped:
			if jail, _, ok := h.jailAddr(r); ok {
				b = h.appendHead(b, compJail, r.Level)
				b = append(b, "Jail '"...)
				b = append(b, jail...)
				b = append(b, "' "...)
				b = append(b, r.Message[len("jail "):]...)
				// warden's details (source, firewall) follow fail2ban's words.
				r.Attrs(func(a slog.Attr) bool {
					if a.Key != "jail" {
						b = appendAttr(b, "", a)
					}
					return true
				})
				return b
			}
		}
	}
	b = h.appendHead(b, compServer, r.Level)
	b = append(b, r.Message...)
	b = append(b, h.pre...)
	if r.NumAttrs() > 0 {
		r.Attrs(func(a slog.Attr) bool {
			b = appendAttr(b, h.group, a)
			return true
		})
	}
	return b
}

// jailAddr finds a record's jail (its own attribute or the logger's) and
// its "prefix" attribute.
func (h *Handler) jailAddr(r slog.Record) (jail, addr string, ok bool) {
	jail, okJ := h.jail, h.hasJ
	okA := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "jail" && a.Key != "prefix" {
			return true
		}
		var s string
		switch v := a.Value.Resolve(); {
		case v.Kind() == slog.KindString:
			s = v.String()
		case v.Kind() == slog.KindAny:
			st, isStr := v.Any().(fmt.Stringer) // a netip.Prefix
			if !isStr {
				return true
			}
			s = st.String()
		default:
			return true
		}
		if a.Key == "jail" {
			jail, okJ = s, true
		} else {
			addr, okA = s, true
		}
		return true
	})
	// fail2ban's words carry the jail and address unquoted, so text that
	// could end the line or hide in it (a newline in an <F-ID> that
	// "already banned" shows) leaves the record to the quoting layout:
	// one record never writes a second line.
	if !printable(jail) || !printable(addr) {
		return "", "", false
	}
	if okJ && !okA && (r.Message == MsgJailStarted || r.Message == MsgJailStopped) {
		return jail, "", true
	}
	return jail, addr, okJ && okA
}

// printable reports whether s is valid UTF-8 without control or other
// unprintable characters.
func printable(s string) bool {
	i := 0
	for i < len(s) && s[i]-' ' < 0x7f-' ' { // printable ASCII, the usual case
		i++
	}
	for _, c := range s[i:] {
		if c == utf8.RuneError || !strconv.IsPrint(c) {
			return false
		}
	}
	return true
}

// appendBan appends fail2ban's words for a ban event.
func appendBan(b []byte, msg, jail, addr string) []byte {
	b = append(b, '[')
	b = append(b, jail...)
	b = append(b, "] "...)
	addr = hostAddr(addr)
	switch msg {
	case MsgBan:
		b = append(b, "Ban "...)
	case MsgRestoreBan:
		b = append(b, "Restore Ban "...)
	case MsgUnban:
		b = append(b, "Unban "...)
	default:
		b = append(b, addr...)
		return append(b, " already banned"...)
	}
	return append(b, addr...)
}

// hostAddr drops the length of a single host's prefix: fail2ban writes a
// host as its bare address and only a network with its length.
func hostAddr(p string) string {
	if s, ok := strings.CutSuffix(p, "/32"); ok && !strings.Contains(s, ":") {
		return s
	}
	if s, ok := strings.CutSuffix(p, "/128"); ok && strings.Contains(s, ":") {
		return s
	}
	return p
}
