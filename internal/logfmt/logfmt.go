// Package logfmt is a slog.Handler that writes the server's log in
// fail2ban's layout ("asctime name[pid]: LEVEL message"), so that the
// recidive jail, logwatch, log shippers and plain grep read warden's log
// as they read fail2ban.log. The events fail2ban also logs (bans, unbans,
// jail starts) get fail2ban's own words; other records print their
// message followed by their attributes as key=value.
package logfmt

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// LevelNotice is fail2ban's NOTICE, between INFO and WARNING: the level
// of ban and unban lines, shown by "loglevel = NOTICE", which hides INFO.
const LevelNotice = slog.LevelInfo + 2

// Component names, as fail2ban's logger names: the module that logs.
const (
	compActions  = "fail2ban.actions"
	compJail     = "fail2ban.jail"
	compFilter   = "fail2ban.filter"
	compObserver = "fail2ban.observer"
	// compServer names every record that is not one of fail2ban's own
	// events. It keeps each line in the one shape that parsers of
	// fail2ban.log expect ("fail2ban.<module> [pid]: LEVEL ..."), so that
	// log shippers keep its level instead of dropping an unparsed line.
	compServer = "fail2ban.server"
)

// Options configures a Handler.
type Options struct {
	// Level is the lowest level written (nil: INFO).
	Level slog.Leveler
	// NoTime leaves out the leading time stamp, for a target that stamps
	// lines itself (syslog, the systemd journal), as fail2ban does.
	NoTime bool
	// Priority starts each line with its syslog priority as "<N>"
	// (sd-daemon(3)), which journald's stream reader takes off and
	// records as the entry's PRIORITY (NOTICE = 5).
	Priority bool
	// NoPadding writes the component and level without fail2ban's column
	// padding, as fail2ban does for SYSLOG ("fail2ban.actions[1]: NOTICE ...").
	NoPadding bool
	// PID is the process id written after the component (0: this
	// process's).
	PID int
	// Location is the time zone of the stamps (nil: local time).
	Location *time.Location
}

// Handler is the slog.Handler; see the package comment. Safe for
// concurrent use; its clones (WithAttrs, WithGroup) share its writer.
type Handler struct {
	out    *output
	level  slog.Leveler
	prio   bool
	notime bool
	nopad  bool
	// pre is the component-less tail of the attributes fixed by
	// WithAttrs, already formatted (" k=v k=v").
	pre    []byte
	group  string // dotted prefix of WithGroup's groups, with a trailing "."
	jail   string // a top-level "jail" attribute fixed by WithAttrs
	hasJ   bool
	jailOK bool   // jail is printable (see printable)
	pidTxt []byte // "[1234]: "
}

// output is what every clone of a Handler shares: the writer and the
// cache of the current second's stamp.
type output struct {
	bufs sync.Pool // *[]byte line buffers

	mu    sync.Mutex
	w     io.Writer
	loc   *time.Location
	sec   int64
	stamp []byte // "2006-01-02 15:04:05" of sec

	// evStamp is the text of the second of the last event time written
	// (a failure's time, a ban's end); see appendTime.
	evStamp atomic.Pointer[secStamp]
}

var _ slog.Handler = (*Handler)(nil)

// New returns a Handler writing one line a record to w.
func New(w io.Writer, o Options) *Handler {
	pid := o.PID
	if pid == 0 {
		pid = os.Getpid()
	}
	loc := o.Location
	if loc == nil {
		loc = time.Local
	}
	lvl := o.Level
	if lvl == nil {
		lvl = slog.LevelInfo
	}
	pt := append([]byte{'['}, strconv.Itoa(pid)...)
	pt = append(pt, "]: "...)
	return &Handler{
		out:    &output{w: w, loc: loc, sec: -1 << 62},
		level:  lvl,
		prio:   o.Priority,
		notime: o.NoTime,
		nopad:  o.NoPadding,
		pidTxt: pt,
	}
}

// Enabled implements slog.Handler.
func (h *Handler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= h.level.Level()
}

// WithAttrs implements slog.Handler.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler {
	if len(as) == 0 {
		return h
	}
	c := *h
	c.pre = append([]byte(nil), h.pre...)
	for _, a := range as {
		if h.group == "" && a.Key == "jail" && a.Value.Kind() == slog.KindString {
			c.jail, c.hasJ = a.Value.String(), true
			c.jailOK = printable(c.jail)
		}
		c.pre = appendAttr(c.pre, h.group, a)
	}
	return &c
}

// WithGroup implements slog.Handler.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.group = h.group + name + "."
	return &c
}

// maxPooled is the largest line buffer kept for reuse.
const maxPooled = 16 << 10

// stampLen is the length of "2006-01-02 15:04:05,000 ".
const stampLen = 24

// Handle implements slog.Handler.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	bp, _ := h.out.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b := (*bp)[:0]
	if h.prio {
		_, prio := level(r.Level)
		b = append(b, '<', prio, '>')
	}
	at := len(b)
	if !h.notime && !r.Time.IsZero() {
		b = append(b, make([]byte, stampLen)...) // filled under the lock
	} else {
		at = -1
	}
	b = h.appendBody(b, r)
	b = append(b, '\n')

	o := h.out
	o.mu.Lock()
	if at >= 0 {
		o.fillStamp(b[at:at+stampLen], r.Time)
	}
	_, err := o.w.Write(b)
	o.mu.Unlock()
	if cap(b) <= maxPooled {
		*bp = b
		o.bufs.Put(bp)
	}
	return err
}

// fillStamp writes t as "2006-01-02 15:04:05,000 " into dst (stampLen
// bytes); the caller holds o.mu.
func (o *output) fillStamp(dst []byte, t time.Time) {
	if s := t.Unix(); s != o.sec {
		o.sec = s
		o.stamp = t.In(o.loc).AppendFormat(o.stamp[:0], "2006-01-02 15:04:05")
	}
	n := copy(dst, o.stamp)
	ms := t.Nanosecond() / 1e6
	dst[n] = ','
	dst[n+1] = byte('0' + ms/100)
	dst[n+2] = byte('0' + ms/10%10)
	dst[n+3] = byte('0' + ms%10)
	dst[n+4] = ' '
}

// level is fail2ban's name of a level, padded as its "%(levelname)-7s",
// and the level's syslog priority digit (sd-daemon(3)).
func level(l slog.Level) (name string, prio byte) {
	switch {
	case l >= slog.LevelError+4:
		return "CRITICAL", '2'
	case l >= slog.LevelError:
		return "ERROR  ", '3'
	case l >= slog.LevelWarn:
		return "WARNING", '4'
	case l >= LevelNotice:
		return "NOTICE ", '5'
	case l >= slog.LevelInfo:
		return "INFO   ", '6'
	}
	return "DEBUG  ", '7'
}

// padding is the width of fail2ban's "%(name)-24s" column.
const padding = "                        "

// appendHead appends "component [pid]: LEVEL " in fail2ban's padding.
func (h *Handler) appendHead(b []byte, comp string, l slog.Level) []byte {
	b = append(b, comp...)
	name, _ := level(l)
	if h.nopad {
		name = strings.TrimRight(name, " ")
	} else if len(comp) < len(padding) {
		b = append(b, padding[len(comp):]...)
	}
	b = append(b, h.pidTxt...)
	b = append(b, name...)
	return append(b, ' ')
}

// appendAttr appends " key=value", a group's members with dotted keys.
func appendAttr(b []byte, group string, a slog.Attr) []byte {
	v := a.Value.Resolve()
	if v.Kind() == slog.KindGroup {
		g := group
		if a.Key != "" {
			g = group + a.Key + "."
		}
		for _, m := range v.Group() {
			b = appendAttr(b, g, m)
		}
		return b
	}
	if a.Key == "" && v.Any() == nil {
		return b
	}
	b = append(b, ' ')
	b = append(b, group...)
	b = appendText(b, a.Key)
	b = append(b, '=')
	return appendValue(b, v)
}

// appendValue appends v's text, quoted when it would not read back as one
// word.
func appendValue(b []byte, v slog.Value) []byte {
	switch v.Kind() {
	case slog.KindString:
		return appendText(b, v.String())
	case slog.KindInt64:
		return strconv.AppendInt(b, v.Int64(), 10)
	case slog.KindUint64:
		return strconv.AppendUint(b, v.Uint64(), 10)
	case slog.KindFloat64:
		return strconv.AppendFloat(b, v.Float64(), 'g', -1, 64)
	case slog.KindBool:
		return strconv.AppendBool(b, v.Bool())
	case slog.KindDuration:
		return append(b, v.Duration().String()...)
	case slog.KindTime:
		return v.Time().AppendFormat(b, time.RFC3339Nano)
	}
	switch x := v.Any().(type) {
	case error:
		return appendText(b, x.Error())
	case interface{ String() string }:
		return appendText(b, x.String())
	}
	return appendText(b, v.String())
}

// appendText appends s bare when it is one plain word, else Go-quoted.
func appendText(b []byte, s string) []byte {
	if needsQuote(s) {
		return strconv.AppendQuote(b, s)
	}
	return append(b, s...)
}

func needsQuote(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c <= ' ' || c == '=' || c == '"' || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || !strconv.IsPrint(r) {
			return true
		}
		i += n
	}
	return false
}

// ReplaceAttr is a slog.HandlerOptions.ReplaceAttr for slog's own
// handlers (the server's JSON log): it names LevelNotice "NOTICE" instead
// of "INFO+2" and leaves every other attribute alone.
func ReplaceAttr(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.LevelKey {
		if l, ok := a.Value.Any().(slog.Level); ok && l == LevelNotice {
			return slog.String(slog.LevelKey, "NOTICE")
		}
	}
	return a
}
