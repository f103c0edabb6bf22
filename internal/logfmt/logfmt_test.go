package logfmt

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var at = time.Date(2026, 11, 28, 0, 15, 31, 846_999_000, time.UTC)

// logOne logs one record through a handler of opts (UTC, pid 1234) and
// returns what it wrote.
func logOne(t *testing.T, o Options, with []any, level slog.Level, msg string, attrs ...slog.Attr) string {
	t.Helper()
	var buf bytes.Buffer
	o.PID, o.Location = 1234, time.UTC
	if o.Level == nil {
		o.Level = slog.LevelDebug
	}
	var h slog.Handler = New(&buf, o)
	lg := slog.New(h).With(with...)
	h = lg.Handler()
	r := slog.NewRecord(at, level, msg, 0)
	r.AddAttrs(attrs...)
	if h.Enabled(context.Background(), level) {
		if err := h.Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}

func TestLines(t *testing.T) {
	jail := []any{"jail", "sshd"}
	pfx := func(s string) slog.Attr { return slog.String("prefix", s) }
	tests := []struct {
		name  string
		o     Options
		with  []any
		level slog.Level
		msg   string
		attrs []slog.Attr
		want  string
	}{
		{"ban host", Options{}, jail, LevelNotice, MsgBan,
			[]slog.Attr{pfx("192.0.2.1/32"), slog.Duration("bantime", time.Hour), slog.Int64("count", 1)},
			"2026-11-28 00:15:31,846 fail2ban.actions        [1234]: NOTICE  [sshd] Ban 192.0.2.1\n"},
		{"ban network", Options{}, jail, LevelNotice, MsgBan, []slog.Attr{pfx("1.2.3.0/24")},
			"2026-11-28 00:15:31,846 fail2ban.actions        [1234]: NOTICE  [sshd] Ban 1.2.3.0/24\n"},
		{"ban v6 host", Options{}, nil, LevelNotice, MsgBan, []slog.Attr{slog.String("jail", "web"), pfx("2001:db8::1/128")},
			"2026-11-28 00:15:31,846 fail2ban.actions        [1234]: NOTICE  [web] Ban 2001:db8::1\n"},
		{"ban v6 network", Options{}, jail, LevelNotice, MsgBan, []slog.Attr{pfx("2001:db8::/64")},
			"2026-11-28 00:15:31,846 fail2ban.actions        [1234]: NOTICE  [sshd] Ban 2001:db8::/64\n"},
		{"restore", Options{}, jail, LevelNotice, MsgRestoreBan, []slog.Attr{pfx("192.0.2.1/32")},
			"2026-11-28 00:15:31,846 fail2ban.actions        [1234]: NOTICE  [sshd] Restore Ban 192.0.2.1\n"},
		{"unban", Options{}, jail, LevelNotice, MsgUnban, []slog.Attr{pfx("192.0.2.1/32"), slog.String("reason", "expired")},
			"2026-11-28 00:15:31,846 fail2ban.actions        [1234]: NOTICE  [sshd] Unban 192.0.2.1\n"},
		{"prolong", Options{}, jail, LevelNotice, MsgProlongBan, []slog.Attr{pfx("192.0.2.1/32")},
			"2026-11-28 00:15:31,846 fail2ban.actions        [1234]: NOTICE  [sshd] 192.0.2.1 already banned\n"},
		{"already banned at debug", Options{}, nil, slog.LevelDebug, MsgAlreadyBanned, []slog.Attr{slog.String("jail", "sshd"), pfx("192.0.2.1")},
			"2026-11-28 00:15:31,846 fail2ban.actions        [1234]: DEBUG   [sshd] 192.0.2.1 already banned\n"},
		{"forged line in an id is quoted", Options{}, nil, slog.LevelDebug, MsgAlreadyBanned,
			[]slog.Attr{slog.String("jail", "sshd"), pfx("bob\n2026-11-28 00:15:31,846 fail2ban.actions        [1]: NOTICE  [x] Ban 192.0.2.66")},
			"2026-11-28 00:15:31,846 fail2ban.server         [1234]: DEBUG   already banned jail=sshd prefix=\"bob\\n2026-11-28 00:15:31,846 fail2ban.actions        [1]: NOTICE  [x] Ban 192.0.2.66\"\n"},
		{"id with a space keeps fail2ban's words", Options{}, nil, slog.LevelDebug, MsgAlreadyBanned, []slog.Attr{slog.String("jail", "sshd"), pfx("bob smith")},
			"2026-11-28 00:15:31,846 fail2ban.actions        [1234]: DEBUG   [sshd] bob smith already banned\n"},
		{"jail started", Options{}, nil, slog.LevelInfo, MsgJailStarted, []slog.Attr{slog.String("jail", "sshd"), slog.String("source", "file (inotify)"), slog.Int("files", 1)},
			"2026-11-28 00:15:31,846 fail2ban.jail           [1234]: INFO    Jail 'sshd' started source=\"file (inotify)\" files=1\n"},
		{"ban without address is plain", Options{}, jail, LevelNotice, MsgBan, nil,
			"2026-11-28 00:15:31,846 fail2ban.server         [1234]: NOTICE  ban jail=sshd\n"},
		{"other record", Options{}, nil, slog.LevelInfo, "server ready",
			[]slog.Attr{slog.Int("jails", 2), slog.String("socket", "/run/warden/warden.sock"), slog.String("empty", ""), slog.Bool("ok", true)},
			"2026-11-28 00:15:31,846 fail2ban.server         [1234]: INFO    server ready jails=2 socket=/run/warden/warden.sock empty=\"\" ok=true\n"},
		{"quoting", Options{}, nil, slog.LevelError, "action failed",
			[]slog.Attr{slog.Any("err", errors.New("exit status 1: a=b \"c\"\nnext")), slog.Float64("f", 0.5), slog.Duration("in", 2*time.Second)},
			"2026-11-28 00:15:31,846 fail2ban.server         [1234]: ERROR   action failed err=\"exit status 1: a=b \\\"c\\\"\\nnext\" f=0.5 in=2s\n"},
		{"groups", Options{}, []any{"a", 1, slog.Group("g", "b", 2)}, slog.LevelWarn, "odd", []slog.Attr{slog.Group("h", slog.String("c", "x"))},
			"2026-11-28 00:15:31,846 fail2ban.server         [1234]: WARNING odd a=1 g.b=2 h.c=x\n"},
		{"critical", Options{}, nil, slog.LevelError + 4, "dying", nil,
			"2026-11-28 00:15:31,846 fail2ban.server         [1234]: CRITICAL dying\n"},
		{"journal", Options{NoTime: true, Priority: true}, jail, LevelNotice, MsgBan, []slog.Attr{pfx("192.0.2.1/32")},
			"<5>fail2ban.actions        [1234]: NOTICE  [sshd] Ban 192.0.2.1\n"},
		{"journal info", Options{NoTime: true, Priority: true}, nil, slog.LevelInfo, "reload done", nil,
			"<6>fail2ban.server         [1234]: INFO    reload done\n"},
		{"journal critical", Options{NoTime: true, Priority: true}, nil, slog.LevelError + 4, "dying", nil,
			"<2>fail2ban.server         [1234]: CRITICAL dying\n"},
		{"journal error", Options{NoTime: true, Priority: true}, nil, slog.LevelError, "failed", nil,
			"<3>fail2ban.server         [1234]: ERROR   failed\n"},
		{"journal warning", Options{NoTime: true, Priority: true}, nil, slog.LevelWarn, "slow", nil,
			"<4>fail2ban.server         [1234]: WARNING slow\n"},
		{"journal debug", Options{NoTime: true, Priority: true}, nil, slog.LevelDebug, "noise", nil,
			"<7>fail2ban.server         [1234]: DEBUG   noise\n"},
		{"no time", Options{NoTime: true}, nil, slog.LevelWarn, "slow", nil,
			"fail2ban.server         [1234]: WARNING slow\n"},
		{"syslog", Options{NoTime: true, NoPadding: true}, jail, LevelNotice, MsgBan, []slog.Attr{pfx("192.0.2.1/32")},
			"fail2ban.actions[1234]: NOTICE [sshd] Ban 192.0.2.1\n"},
		{"notice hides info", Options{Level: LevelNotice}, jail, slog.LevelInfo, "reload done", nil, ""},
		{"notice shows ban", Options{Level: LevelNotice}, jail, LevelNotice, MsgUnban, []slog.Attr{pfx("192.0.2.9/32")},
			"2026-11-28 00:15:31,846 fail2ban.actions        [1234]: NOTICE  [sshd] Unban 192.0.2.9\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := logOne(t, tt.o, tt.with, tt.level, tt.msg, tt.attrs...); got != tt.want {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestLocalTime checks the stamp is in the handler's zone and that the
// per-second cache is refreshed when the second changes.
func TestLocalTime(t *testing.T) {
	var buf bytes.Buffer
	h := New(&buf, Options{Location: time.FixedZone("X", 3600), PID: 1})
	for _, d := range []time.Duration{0, 5 * time.Millisecond, time.Second} {
		r := slog.NewRecord(at.Add(d), slog.LevelInfo, "m", 0)
		if err := h.Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	want := "2026-11-28 01:15:31,846 fail2ban.server         [1]: INFO    m\n" +
		"2026-11-28 01:15:31,851 fail2ban.server         [1]: INFO    m\n" +
		"2026-11-28 01:15:32,846 fail2ban.server         [1]: INFO    m\n"
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

// FuzzValue checks that any attribute value and message keep a record on
// one line and that a value reads back through strconv.Unquote.
func FuzzValue(f *testing.F) {
	for _, s := range []string{"", "plain", "a b", "x=y", "\"q\"", "line\nbreak", "\xff", "ü", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var buf bytes.Buffer
		h := New(&buf, Options{PID: 1, Location: time.UTC})
		r := slog.NewRecord(at, slog.LevelInfo, "m", 0)
		r.AddAttrs(slog.String("v", s))
		if err := h.Handle(context.Background(), r); err != nil {
			t.Fatal(err)
		}
		line := buf.String()
		if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
			t.Fatalf("not one line: %q", line)
		}
		_, v, ok := strings.Cut(strings.TrimSuffix(line, "\n"), " m v=")
		if !ok {
			t.Fatalf("no value in %q", line)
		}
		got := v
		if strings.HasPrefix(v, "\"") {
			var err error
			if got, err = strconv.Unquote(v); err != nil {
				t.Fatalf("%q: %v", v, err)
			}
		}
		if got != s && utf8Valid(s) {
			t.Errorf("value %q reads back as %q", s, got)
		}

		// fail2ban's words write the jail and address unquoted; they
		// too must stay on their one line.
		for _, msg := range []string{MsgAlreadyBanned, MsgJailStarted} {
			buf.Reset()
			r := slog.NewRecord(at, LevelNotice, msg, 0)
			r.AddAttrs(slog.String("jail", s), slog.String("prefix", s))
			if err := h.Handle(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if line := buf.String(); strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") {
				t.Fatalf("%s: not one line: %q", msg, line)
			}
		}
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "") == s }

// BenchmarkBanLine is a flood's per-ban line: the jail's logger (its name
// fixed by With) and a record of typed attributes, as internal/ban logs it.
func BenchmarkBanLine(b *testing.B) {
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"fail2ban", New(io.Discard, Options{})},
		{"slogtext", slog.NewTextHandler(io.Discard, nil)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := bc.h.WithAttrs([]slog.Attr{slog.String("jail", "sshd")})
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				r := slog.NewRecord(time.Now(), LevelNotice, MsgBan, 0)
				r.AddAttrs(slog.String("prefix", "192.0.2.1/32"), slog.Duration("bantime", time.Hour), slog.Int64("count", 1))
				_ = h.Handle(ctx, r)
			}
		})
	}
}

// TestConcurrent logs from several goroutines through clones of one
// handler: every line arrives whole.
func TestConcurrent(t *testing.T) {
	var buf bytes.Buffer
	root := slog.New(New(&buf, Options{PID: 1, Location: time.UTC}))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lg := root.With("jail", "j"+strconv.Itoa(g))
			for i := range 200 {
				lg.Log(context.Background(), LevelNotice, MsgBan, "prefix", "192.0.2."+strconv.Itoa(i%250)+"/32")
			}
		}()
	}
	wg.Wait()
	line := regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} fail2ban\.actions {8}\[1\]: NOTICE  \[j[0-3]\] Ban 192\.0\.2\.\d+$`)
	n := 0
	for l := range strings.Lines(buf.String()) {
		n++
		if !line.MatchString(strings.TrimSuffix(l, "\n")) {
			t.Fatalf("broken line %q", l)
		}
	}
	if n != 800 {
		t.Errorf("%d lines, want 800", n)
	}
}
