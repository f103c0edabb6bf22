package jail

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"warden/internal/logfmt"
	"warden/internal/racedetect"
)

// TestFilterLines checks the filter lines fail2ban writes for a jail's
// failures, through the server's text handler: "Found" for each failure
// counted, with its log time; "Ignore ... by SOURCE" for an ignored one;
// "Attempt" for an operator's; nothing for a dropped or F-NOFAIL one.
func TestFilterLines(t *testing.T) {
	at := func(s int) time.Time { return base.Add(time.Duration(s) * time.Second) }
	fail := func(a string, s int) Failure {
		ad := netip.MustParseAddr(a)
		return Failure{Host: a, Addr: ad, Time: at(s)}
	}
	type step struct {
		attempt bool
		f       Failure
		ban     bool
	}
	tests := []struct {
		name   string
		ignore IgnoreConfig
		level  slog.Level
		steps  []step
		want   []string
	}{
		{"found until the ban", IgnoreConfig{}, slog.LevelInfo, []step{
			{f: fail("192.0.2.1", -30)}, {f: fail("192.0.2.1", -20)}, {f: fail("192.0.2.1", -10), ban: true},
		}, []string{
			"[sshd] Found 192.0.2.1 - 2023-11-14 22:12:50",
			"[sshd] Found 192.0.2.1 - 2023-11-14 22:13:00",
			"[sshd] Found 192.0.2.1 - 2023-11-14 22:13:10",
		}},
		{"a failure id is written as it is counted", IgnoreConfig{}, slog.LevelInfo, []step{
			{f: Failure{Host: "192.0.2.9", Addr: netip.MustParseAddr("192.0.2.9"), ID: "alice", Time: at(-5)}},
			{f: Failure{Host: "::ffff:192.0.2.8", Addr: netip.MustParseAddr("::ffff:192.0.2.8"), Time: at(-4)}},
		}, []string{
			"[sshd] Found alice - 2023-11-14 22:13:15",
			"[sshd] Found 192.0.2.8 - 2023-11-14 22:13:16",
		}},
		{"future and odd stamps as counted", IgnoreConfig{}, slog.LevelInfo, []step{
			{f: fail("192.0.2.1", 3600)}, {f: Failure{Host: "192.0.2.2", Addr: netip.MustParseAddr("192.0.2.2")}},
		}, []string{
			"[sshd] Found 192.0.2.1 - 2023-11-14 22:13:40",
			"[sshd] Found 192.0.2.2 - 2023-11-14 22:13:40",
		}},
		{"nofail counts nothing", IgnoreConfig{}, slog.LevelInfo, []step{
			{f: Failure{Host: "192.0.2.1", Addr: netip.MustParseAddr("192.0.2.1"), Time: at(-1), NoFail: true}},
		}, nil},
		{"ignored by ip, network and self", IgnoreConfig{Entries: []string{"10.0.0.1", "10.1.0.0/16"}, Self: true,
			SelfAddrs: func(context.Context) ([]netip.Addr, error) {
				return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
			}},
			slog.LevelInfo, []step{
				{f: fail("10.0.0.1", -3)}, {f: fail("10.1.2.3", -2)}, {f: fail("127.0.0.1", -1)}, {f: fail("192.0.2.1", 0)},
			}, []string{
				"[sshd] Ignore 10.0.0.1 by ip",
				"[sshd] Ignore 10.1.2.3 by ip",
				"[sshd] Ignore 127.0.0.1 by ignoreself rule",
				"[sshd] Found 192.0.2.1 - 2023-11-14 22:13:20",
			}},
		{"ignored by name and command", IgnoreConfig{Entries: []string{"trusted.example"},
			Resolver: &fakeResolver{names: map[string][]netip.Addr{"trusted.example": {netip.MustParseAddr("192.0.2.50")}}},
			Command:  "/bin/check <ip>", Runner: &fakeRunner{code: map[string]int{"192.0.2.51": 0, "192.0.2.52": 1}}},
			slog.LevelInfo, []step{{f: fail("192.0.2.50", -2)}, {f: fail("192.0.2.51", -1)}, {f: fail("192.0.2.52", 0)}},
			[]string{
				"[sshd] Ignore 192.0.2.50 by dns",
				"[sshd] Ignore 192.0.2.51 by command",
				"[sshd] Found 192.0.2.52 - 2023-11-14 22:13:20",
			}},
		{"an attempt skips the ignore list", IgnoreConfig{Entries: []string{"10.0.0.1"}}, slog.LevelInfo, []step{
			{attempt: true, f: Failure{Addr: netip.MustParseAddr("10.0.0.1"), Host: "10.0.0.1", Time: at(-7)}},
		}, []string{"[sshd] Attempt 10.0.0.1 - 2023-11-14 22:13:13"}},
		{"notice hides them", IgnoreConfig{Entries: []string{"10.0.0.1"}}, logfmt.LevelNotice, []step{
			{f: fail("10.0.0.1", -1)}, {f: fail("192.0.2.1", 0)},
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			h := logfmt.New(&b, logfmt.Options{NoTime: true, PID: 1, Location: time.UTC, Level: tc.level})
			clk := &fakeClock{now: base.Add(20 * time.Second)}
			tc.ignore.Clock = clk.Now
			ign, err := NewIgnoreList(tc.ignore)
			if err != nil {
				t.Fatal(err)
			}
			j := New(Config{Name: "sshd", MaxRetry: 3, Clock: clk.Now, Ignore: ign, Logger: slog.New(h)})
			ctx := context.Background()
			for i, s := range tc.steps {
				var ban bool
				if s.attempt {
					_, ban = j.AddAttempt(ctx, s.f)
				} else {
					_, ban = j.AddFailure(ctx, s.f)
				}
				if ban != s.ban {
					t.Errorf("step %d: ban %v, want %v", i, ban, s.ban)
				}
			}
			var got []string
			for l := range strings.Lines(b.String()) {
				_, l, _ = strings.Cut(strings.TrimSuffix(l, "\n"), "INFO    ")
				got = append(got, l)
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for l := range strings.Lines(b.String()) {
				if !strings.HasPrefix(l, "fail2ban.filter         [1]: INFO    [sshd] ") {
					t.Errorf("line not in fail2ban's filter layout: %q", l)
				}
			}
		})
	}
}

// TestObsoleteNotFound: a line older than findtime read at start-up is
// dropped before fail2ban's filter would write it, and before its ignore
// check: neither a Found nor an Ignore line, nor an ignorecommand run.
func TestObsoleteNotFound(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ignore *IgnoreConfig
	}{
		{"not ignored", nil},
		{"ignored by ip", &IgnoreConfig{Entries: []string{"192.0.2.1"}}},
		{"ignored by command", &IgnoreConfig{Command: "/bin/check <ip>", Runner: &fakeRunner{code: map[string]int{"192.0.2.1": 0}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			clk := &fakeClock{now: base}
			cfg := Config{Name: "sshd", MaxRetry: 3, FindTime: time.Minute, Clock: clk.Now,
				Logger: slog.New(logfmt.New(&b, logfmt.Options{NoTime: true, PID: 1, Location: time.UTC}))}
			var run *fakeRunner
			if tc.ignore != nil {
				tc.ignore.Clock = clk.Now
				run, _ = tc.ignore.Runner.(*fakeRunner)
				ign, err := NewIgnoreList(*tc.ignore)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Ignore = ign
			}
			j := New(cfg)
			j.SetInOperation(false)
			j.AddFailure(context.Background(), Failure{Host: "192.0.2.1", Addr: netip.MustParseAddr("192.0.2.1"), Time: base.Add(-2 * time.Minute)})
			if st := j.Stats(); b.Len() != 0 || st.Obsolete != 1 || st.Ignored != 0 {
				t.Errorf("obsolete failure logged %q (obsolete %d, ignored %d)", b.String(), st.Obsolete, st.Ignored)
			}
			if run != nil && len(run.calls) != 0 {
				t.Errorf("ignorecommand ran %d times for an obsolete failure", len(run.calls))
			}
		})
	}
}

// TestFoundAllocs: a flood's Found line allocates nothing in the jail.
func TestFoundAllocs(t *testing.T) {
	racedetect.SkipAllocs(t)
	clk := &fakeClock{now: base}
	j := New(Config{Name: "sshd", MaxRetry: 1 << 30, Clock: clk.Now,
		Logger: slog.New(logfmt.New(io.Discard, logfmt.Options{}))})
	f := Failure{Host: "192.0.2.1", Addr: netip.MustParseAddr("192.0.2.1"), Time: base}
	ctx := context.Background()
	j.AddFailure(ctx, f)
	if n := testing.AllocsPerRun(200, func() { j.AddFailure(ctx, f) }); n > 0 {
		t.Errorf("%.1f allocations a counted failure with its Found line, want none", n)
	}
}

// TestFoundJSON: in the server's JSON log a Found record keeps the
// failure's time apart from the record's own "time".
func TestFoundJSON(t *testing.T) {
	var b strings.Builder
	clk := &fakeClock{now: base}
	noTime := func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	j := New(Config{Name: "sshd", MaxRetry: 3, Clock: clk.Now,
		Logger: slog.New(slog.NewJSONHandler(&b, &slog.HandlerOptions{ReplaceAttr: noTime}))})
	j.AddFailure(context.Background(), Failure{Host: "192.0.2.1", Addr: netip.MustParseAddr("192.0.2.1"), Time: base.Add(-time.Second)})
	want := `{"level":"INFO","msg":"found","jail":"sshd","id":"192.0.2.1","failed":"` +
		base.Add(-time.Second).Format(time.RFC3339) + `"}` + "\n"
	if b.String() != want {
		t.Errorf("got  %s\nwant %s", b.String(), want)
	}
}
