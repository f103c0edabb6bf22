package logfmt

import (
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
)

// event is what the filter's and observer's records carry, picked out of
// their attributes (the jail's may be the logger's).
type event struct {
	jail, addr, id, by, action string
	at, end                    time.Time
	count                      int64
	banTime                    time.Duration
	hasCount, hasBanTime       bool
}

// eventAttrs picks a record's event attributes. It fails when there is no
// jail, or when a text that fail2ban writes bare could end the line or
// hide in it: the record then keeps the quoting layout.
func (h *Handler) eventAttrs(r slog.Record) (ev event, ok bool) {
	ev.jail = h.jail
	hasJ := h.hasJ
	r.Attrs(func(a slog.Attr) bool {
		v := a.Value.Resolve()
		switch a.Key {
		case "jail", "prefix", "id", "by", "action":
			s, isText := attrText(v)
			if !isText {
				return true
			}
			switch a.Key {
			case "jail":
				ev.jail, hasJ = s, true
			case "prefix":
				ev.addr = hostAddr(s)
			case "id":
				ev.id = s
			case "by":
				ev.by = s
			default:
				ev.action = s
			}
		case "failed", "end":
			if v.Kind() == slog.KindTime {
				if a.Key == "failed" {
					ev.at = v.Time()
				} else {
					ev.end = v.Time()
				}
			}
		case "count":
			if v.Kind() == slog.KindInt64 {
				ev.count, ev.hasCount = v.Int64(), true
			}
		case "bantime":
			if v.Kind() == slog.KindDuration {
				ev.banTime, ev.hasBanTime = v.Duration(), true
			}
		}
		return true
	})
	for _, s := range [...]string{ev.jail, ev.addr, ev.id, ev.by, ev.action} {
		if !printable(s) {
			return event{}, false
		}
	}
	if !hasJ || ev.id == "" && (r.Message == MsgFound || r.Message == MsgAttempt || r.Message == MsgIgnore) ||
		ev.by == "" && ev.at.IsZero() && (r.Message != MsgReban && r.Message != MsgIncreaseBan) {
		return event{}, false
	}
	return ev, true
}

// filterAttrs picks the attributes of a Found, Attempt or Ignore record:
// "id" and "failed" or "by", the jail's usually the logger's. A flood logs
// one for each failure, so this is eventAttrs cut down to what these
// records carry.
func (h *Handler) filterAttrs(r slog.Record) (ev event, ok bool) {
	ev.jail = h.jail
	hasJ, other := h.hasJ, false
	r.Attrs(func(a slog.Attr) bool {
		switch v := a.Value; {
		case a.Key == "id" && v.Kind() == slog.KindString:
			ev.id = v.String()
		case a.Key == "failed" && v.Kind() == slog.KindTime:
			ev.at = v.Time()
		case a.Key == "by" && v.Kind() == slog.KindString:
			ev.by = v.String()
		case a.Key == "jail" && v.Kind() == slog.KindString:
			ev.jail, hasJ = v.String(), true
		default:
			other = true
		}
		return true
	})
	switch {
	case other: // not what the jail writes: the general path decides
		return h.eventAttrs(r)
	case !hasJ || ev.id == "" || ev.by == "" && ev.at.IsZero():
		return event{}, false
	}
	return ev, printable(ev.id) && printable(ev.by) && (ev.jail == h.jail && h.jailOK || printable(ev.jail))
}

// attrText is a value's text when it is a string or a Stringer (a
// netip.Prefix or netip.Addr).
func attrText(v slog.Value) (string, bool) {
	switch v.Kind() {
	case slog.KindString:
		return v.String(), true
	case slog.KindAny:
		if st, ok := v.Any().(fmt.Stringer); ok {
			return st.String(), true
		}
	}
	return "", false
}

// appendFilterEvent appends fail2ban's filter words: "[jail] Found ID -
// TIME", "[jail] Attempt ID - TIME" or "[jail] Ignore ID by SOURCE".
func (h *Handler) appendFilterEvent(b []byte, msg string, ev *event) []byte {
	b = append(b, '[')
	b = append(b, ev.jail...)
	b = append(b, "] "...)
	switch msg {
	case MsgIgnore:
		b = append(b, "Ignore "...)
		b = append(b, ev.id...)
		b = append(b, " by "...)
		return append(b, ev.by...)
	case MsgAttempt:
		b = append(b, "Attempt "...)
	default:
		b = append(b, "Found "...)
	}
	b = append(b, ev.id...)
	b = append(b, " - "...)
	return h.appendTime(b, ev.at)
}

// appendReban appends "[jail] Reban ADDR", with ", action 'name'" when
// one action alone rebans it, as fail2ban words it.
func appendReban(b []byte, ev *event) []byte {
	b = append(b, '[')
	b = append(b, ev.jail...)
	b = append(b, "] Reban "...)
	b = append(b, ev.addr...)
	if ev.action != "" {
		b = append(b, ", action "...)
		b = appendPyRepr(b, ev.action)
	}
	return b
}

// appendIncrease appends "[jail] Increase Ban ADDR (N # BANTIME -> END)",
// "permanent -> infinite" for a ban for ever.
func (h *Handler) appendIncrease(b []byte, ev *event) []byte {
	b = append(b, '[')
	b = append(b, ev.jail...)
	b = append(b, "] Increase Ban "...)
	b = append(b, ev.addr...)
	b = append(b, " ("...)
	b = strconv.AppendInt(b, ev.count, 10)
	b = append(b, " # "...)
	if ev.banTime < 0 {
		b = append(b, "permanent -> infinite"...)
	} else {
		b = AppendSeconds(b, int64(ev.banTime/time.Second))
		b = append(b, " -> "...)
		b = h.appendTime(b, ev.end)
	}
	return append(b, ')')
}

// maxStamp is the first second fail2ban no longer writes as itself (the
// end of year 9999, less a day for time zones); later times are written
// as the last second of 9999.
const maxStamp = 253402214400

// appendTime appends t as fail2ban's "2006-01-02 15:04:05" in the
// handler's time zone, fractions of a second dropped.
// A flood's failures share a few seconds, so the last second's text is
// kept for the next line.
func (h *Handler) appendTime(b []byte, t time.Time) []byte {
	sec := t.Unix()
	if c := h.out.evStamp.Load(); c != nil && c.sec == sec {
		return append(b, c.txt[:]...)
	}
	if sec >= maxStamp {
		return append(b, "9999-12-31 23:59:59"...)
	}
	c := &secStamp{sec: sec}
	if txt := t.In(h.out.loc).AppendFormat(c.txt[:0], time.DateTime); len(txt) != len(c.txt) {
		return append(b, txt...) // a year before 1 or after 9999
	}
	h.out.evStamp.Store(c)
	return append(b, c.txt[:]...)
}

// secStamp is one second's "2006-01-02 15:04:05".
type secStamp struct {
	sec int64
	txt [len(time.DateTime)]byte
}

// AppendSeconds appends a number of seconds in fail2ban's short words
// ("1y 3w 4d", "2d 7h 15m", "1h", "59m 50s", "0"): at most three units,
// rounded to the smallest unit shown (a day from a year on, an hour from
// a week, a minute from a day, ten seconds from an hour less five
// seconds), halves to even as Python rounds.
func AppendSeconds(b []byte, s int64) []byte {
	unit := func(b []byte, n int64, u string) []byte {
		b = strconv.AppendInt(b, n, 10)
		b = append(b, u...)
		return append(b, ' ')
	}
	round := func(s, by int64) int64 { return int64(math.RoundToEven(float64(s) / float64(by))) }
	// three appends n, counted in small units, as big, mid and small ones
	three := func(b []byte, n, perBig int64, big string, perMid int64, mid, small string) []byte {
		b = unit(b, n/perBig, big)
		if n %= perBig; n >= perMid {
			b = unit(b, n/perMid, mid)
			n %= perMid
		}
		if n != 0 {
			b = unit(b, n, small)
		}
		return b
	}
	start := len(b)
	switch {
	case s >= 365*86400:
		b = three(b, round(s, 86400), 365, "y", 7, "w", "d")
	case s >= 7*86400:
		b = three(b, round(s, 3600), 168, "w", 24, "d", "h")
	case s >= 86400:
		b = three(b, round(s, 60), 1440, "d", 60, "h", "m")
	case s >= 3595:
		t := round(s, 10)
		b = unit(b, t/360, "h")
		if t %= 360; t >= 6 {
			b = unit(b, t/6, "m")
		}
	default:
		if s >= 60 {
			b = unit(b, s/60, "m")
			s %= 60
		}
		switch {
		case s != 0:
			b = unit(b, s, "s")
		case len(b) == start:
			b = append(b, "0 "...)
		}
	}
	return b[:len(b)-1]
}

// appendPyRepr appends s as Python's repr of a str: single quotes, or
// double ones when s holds a single quote and no double one; backslashes
// and the chosen quote escaped. s is printable (eventAttrs checked it).
func appendPyRepr(b []byte, s string) []byte {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	b = append(b, q)
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '\\' || c == q {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, q)
}
