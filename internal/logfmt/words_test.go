package logfmt

import (
	"io"
	"log/slog"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
	"warden/internal/racedetect"
)

// TestEventLines pins the filter's, observer's and reban lines against
// fail2ban's layout (see fail2ban's filter.py, observer.py, actions.py).
func TestEventLines(t *testing.T) {
	jail := []any{"jail", "sshd"}
	failed := time.Date(2026, 11, 28, 0, 15, 2, 999_000_000, time.UTC)
	id := func(s string) slog.Attr { return slog.String("id", s) }
	pfx := func(s string) slog.Attr { return slog.String("prefix", s) }
	tests := []struct {
		name  string
		with  []any
		level slog.Level
		msg   string
		attrs []slog.Attr
		want  string
	}{
		{"found", jail, slog.LevelInfo, MsgFound, []slog.Attr{id("192.0.2.7"), slog.Time("failed", failed)},
			"2026-11-28 00:15:31,846 fail2ban.filter         [1234]: INFO    [sshd] Found 192.0.2.7 - 2026-11-28 00:15:02\n"},
		{"found v6, jail in the record", nil, slog.LevelInfo, MsgFound,
			[]slog.Attr{slog.String("jail", "web"), id("2001:db8::7"), slog.Time("failed", failed)},
			"2026-11-28 00:15:31,846 fail2ban.filter         [1234]: INFO    [web] Found 2001:db8::7 - 2026-11-28 00:15:02\n"},
		{"found id with a space", jail, slog.LevelInfo, MsgFound, []slog.Attr{id("bob smith"), slog.Time("failed", failed)},
			"2026-11-28 00:15:31,846 fail2ban.filter         [1234]: INFO    [sshd] Found bob smith - 2026-11-28 00:15:02\n"},
		{"found past year 9999", jail, slog.LevelInfo, MsgFound, []slog.Attr{id("192.0.2.7"), slog.Time("failed", time.Unix(maxStamp, 0))},
			"2026-11-28 00:15:31,846 fail2ban.filter         [1234]: INFO    [sshd] Found 192.0.2.7 - 9999-12-31 23:59:59\n"},
		{"attempt", jail, slog.LevelInfo, MsgAttempt, []slog.Attr{id("192.0.2.7"), slog.Time("failed", failed)},
			"2026-11-28 00:15:31,846 fail2ban.filter         [1234]: INFO    [sshd] Attempt 192.0.2.7 - 2026-11-28 00:15:02\n"},
		{"ignore", jail, slog.LevelInfo, MsgIgnore, []slog.Attr{id("10.0.0.1"), slog.String("by", "ip")},
			"2026-11-28 00:15:31,846 fail2ban.filter         [1234]: INFO    [sshd] Ignore 10.0.0.1 by ip\n"},
		{"ignore by self", jail, slog.LevelInfo, MsgIgnore, []slog.Attr{id("127.0.0.1"), slog.String("by", "ignoreself rule")},
			"2026-11-28 00:15:31,846 fail2ban.filter         [1234]: INFO    [sshd] Ignore 127.0.0.1 by ignoreself rule\n"},
		{"increase ban", jail, LevelNotice, MsgIncreaseBan,
			[]slog.Attr{pfx("192.0.2.7/32"), slog.Duration("bantime", 20*time.Minute), slog.Int64("count", 2), slog.Time("end", failed.Add(20*time.Minute))},
			"2026-11-28 00:15:31,846 fail2ban.observer       [1234]: NOTICE  [sshd] Increase Ban 192.0.2.7 (2 # 20m -> 2026-11-28 00:35:02)\n"},
		{"increase ban, netip prefix", jail, LevelNotice, MsgIncreaseBan,
			[]slog.Attr{slog.Any("prefix", netip.MustParsePrefix("198.51.100.0/24")), slog.Duration("bantime", 2*24*time.Hour), slog.Int64("count", 3), slog.Time("end", failed.Add(48*time.Hour))},
			"2026-11-28 00:15:31,846 fail2ban.observer       [1234]: NOTICE  [sshd] Increase Ban 198.51.100.0/24 (3 # 2d -> 2026-11-30 00:15:02)\n"},
		{"increase to permanent", jail, LevelNotice, MsgIncreaseBan,
			[]slog.Attr{pfx("192.0.2.7/32"), slog.Duration("bantime", -1), slog.Int64("count", 4)},
			"2026-11-28 00:15:31,846 fail2ban.observer       [1234]: NOTICE  [sshd] Increase Ban 192.0.2.7 (4 # permanent -> infinite)\n"},
		{"reban", jail, LevelNotice, MsgReban, []slog.Attr{pfx("192.0.2.7/32")},
			"2026-11-28 00:15:31,846 fail2ban.actions        [1234]: NOTICE  [sshd] Reban 192.0.2.7\n"},
		{"reban by one action", jail, LevelNotice, MsgReban, []slog.Attr{pfx("192.0.2.7/32"), slog.String("action", "nftables-multiport")},
			"2026-11-28 00:15:31,846 fail2ban.actions        [1234]: NOTICE  [sshd] Reban 192.0.2.7, action 'nftables-multiport'\n"},
		{"reban by an action with a quote", jail, LevelNotice, MsgReban, []slog.Attr{pfx("192.0.2.7/32"), slog.String("action", "bob's")},
			"2026-11-28 00:15:31,846 fail2ban.actions        [1234]: NOTICE  [sshd] Reban 192.0.2.7, action \"bob's\"\n"},
		// What fail2ban's words cannot carry keeps the quoting layout.
		{"forged line in an id", jail, slog.LevelInfo, MsgFound, []slog.Attr{id("x\n1.2.3.4"), slog.Time("failed", failed)},
			"2026-11-28 00:15:31,846 fail2ban.server         [1234]: INFO    found jail=sshd id=\"x\\n1.2.3.4\" failed=2026-11-28T00:15:02.999Z\n"},
		{"found without time", jail, slog.LevelInfo, MsgFound, []slog.Attr{id("192.0.2.7")},
			"2026-11-28 00:15:31,846 fail2ban.server         [1234]: INFO    found jail=sshd id=192.0.2.7\n"},
		{"found without jail", nil, slog.LevelInfo, MsgFound, []slog.Attr{id("192.0.2.7"), slog.Time("failed", failed)},
			"2026-11-28 00:15:31,846 fail2ban.server         [1234]: INFO    found id=192.0.2.7 failed=2026-11-28T00:15:02.999Z\n"},
		{"increase without end", jail, LevelNotice, MsgIncreaseBan,
			[]slog.Attr{pfx("192.0.2.7/32"), slog.Duration("bantime", time.Hour), slog.Int64("count", 2)},
			"2026-11-28 00:15:31,846 fail2ban.server         [1234]: NOTICE  increase ban jail=sshd prefix=192.0.2.7/32 bantime=1h0m0s count=2\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := logOne(t, Options{}, tc.with, tc.level, tc.msg, tc.attrs...); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// TestEventTimeZone checks that a failure's time is written in the log's
// time zone, as its stamp is.
func TestEventTimeZone(t *testing.T) {
	loc := time.FixedZone("X", 5*3600+1800)
	var b strings.Builder
	h := New(&b, Options{PID: 1, Location: loc, NoTime: true})
	slog.New(h).Info(MsgFound, "jail", "sshd", "id", "192.0.2.7", "failed", time.Date(2026, 11, 28, 23, 40, 0, 0, time.UTC))
	want := "fail2ban.filter         [1]: INFO    [sshd] Found 192.0.2.7 - 2026-11-29 05:10:00\n"
	if b.String() != want {
		t.Errorf("got  %q\nwant %q", b.String(), want)
	}
}

// secondsCases are bantimes to compare with fail2ban's own wording,
// around each unit's rounding edge.
var secondsCases = []int64{0, 1, 59, 60, 61, 119, 600, 3540, 3594, 3595, 3599, 3600, 3605, 3615, 3625,
	7199, 7200, 86399, 86400, 86430, 86490, 86400*2 + 3600*7 + 60*15, 86400*2 + 3599, 604799, 604800,
	604800 + 1800, 604800 + 5400, 86400 * 13, 31535999, 31536000, 86400 * 368, 86400 * 390, 86400*365 + 43200,
	86400*365 + 129600, 315360000}

// TestAppendSeconds compares AppendSeconds with fail2ban's
// MyTime.seconds2str, run by the installed fail2ban at test time.
func TestAppendSeconds(t *testing.T) {
	// Debian's python3 is the one with fail2ban's modules, whatever
	// else is first on PATH.
	py, err := exec.LookPath("/usr/bin/python3")
	if err != nil {
		t.Skip("/usr/bin/python3 not installed")
	}
	args := make([]string, len(secondsCases))
	for i, s := range secondsCases {
		args[i] = strconv.FormatInt(s, 10)
	}
	script := "import sys\nfrom fail2ban.server.mytime import MyTime\nfor a in sys.argv[1:]: print(MyTime.seconds2str(int(a)))"
	out, err := exec.Command(py, append([]string{"-c", script}, args...)...).Output()
	if err != nil {
		t.Skipf("fail2ban's Python modules not usable: %v", err)
	}
	want := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(want) != len(secondsCases) {
		t.Fatalf("fail2ban answered %d lines for %d cases", len(want), len(secondsCases))
	}
	for i, s := range secondsCases {
		if got := string(AppendSeconds(nil, s)); got != want[i] {
			t.Errorf("%d s: got %q, fail2ban writes %q", s, got, want[i])
		}
	}
}

// TestEventAllocs bounds what a flood's Found line costs: nothing
// allocated beyond the record itself.
func TestEventAllocs(t *testing.T) {
	racedetect.SkipAllocs(t)
	h := slog.New(New(io.Discard, Options{})).With("jail", "sshd").Handler()
	r := slog.NewRecord(at, slog.LevelInfo, MsgFound, 0)
	r.AddAttrs(slog.String("id", "192.0.2.7"), slog.Time("failed", at))
	if n := testing.AllocsPerRun(100, func() { _ = h.Handle(t.Context(), r) }); n > 0 {
		t.Errorf("%.1f allocations a Found line, want none", n)
	}
}

// BenchmarkFoundLine is a flood's per-failure line.
func BenchmarkFoundLine(b *testing.B) {
	h := slog.New(New(io.Discard, Options{})).With("jail", "sshd").Handler()
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		r := slog.NewRecord(time.Now(), slog.LevelInfo, MsgFound, 0)
		r.AddAttrs(slog.String("id", "192.0.2.7"), slog.Time("failed", at))
		_ = h.Handle(ctx, r)
	}
}
