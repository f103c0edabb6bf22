package ban

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"warden/internal/firewall"
	"warden/internal/jail"
	"warden/internal/logfmt"
	"warden/internal/racedetect"
	"warden/internal/store"
)

// noTime drops the record's time so that lines compare exactly, and names
// levels as the server's JSON log does.
func noTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return logfmt.ReplaceAttr(groups, a)
}

// TestBanLogLine pins the per-ban log line that monitoring parses, in both
// of the server's formats and at a level that hides it.
func TestBanLogLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    func(io.Writer) slog.Handler
		want []string
	}{
		{"text", func(w io.Writer) slog.Handler {
			return logfmt.New(w, logfmt.Options{NoTime: true, PID: 7})
		}, []string{
			"fail2ban.actions        [7]: NOTICE  [sshd] Ban 192.0.2.1",
			"fail2ban.actions        [7]: NOTICE  [sshd] 192.0.2.1 already banned",
		}},
		{"json", func(w io.Writer) slog.Handler {
			return slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: noTime})
		}, []string{
			`{"level":"NOTICE","msg":"ban","jail":"sshd","prefix":"192.0.2.1/32","bantime":600000000000,"count":1}`,
			`{"level":"NOTICE","msg":"prolong ban","jail":"sshd","prefix":"192.0.2.1/32","bantime":720000000000}`,
		}},
		{"warn level", func(w io.Writer) slog.Handler {
			return logfmt.New(w, logfmt.Options{Level: slog.LevelWarn})
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			e := newEnv(t, func(c *Config) { c.Logger = slog.New(tc.h(&buf)) })
			ctx := context.Background()
			if _, err := e.m.Ban(ctx, "sshd", ticket("192.0.2.1", t0)); err != nil {
				t.Fatal(err)
			}
			e.clk.Advance(2 * time.Minute)
			if _, err := e.m.Ban(ctx, "sshd", ticket("192.0.2.1", t0.Add(2*time.Minute))); err != nil {
				t.Fatal(err)
			}
			e.sync(t)
			var got []string
			for _, l := range strings.Split(buf.String(), "\n") {
				if strings.Contains(l, "ban\"") || strings.Contains(l, "Ban ") || strings.Contains(l, "already banned") {
					got = append(got, l)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("ban lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestBanLogAllocs bounds what a flood's per-ban line allocates in the
// server's text log: the prefix's text, nothing per attribute.
func TestBanLogAllocs(t *testing.T) {
	racedetect.SkipAllocs(t)
	m := &Manager{log: slog.New(logfmt.New(io.Discard, logfmt.Options{})), jails: map[string]*jailState{}}
	m.jails["sshd"] = &jailState{cfg: JailConfig{Name: "sshd"}, log: m.log.With("jail", "sshd")}
	final := make([]*pendingBan, 64)
	for i := range final {
		final[i] = &pendingBan{isNew: true, e: &entry{jail: "sshd", prefix: pfx("192.0.2.1"), banTime: time.Hour, count: 1}}
	}
	ctx := context.Background()
	per := testing.AllocsPerRun(20, func() { m.logBans(ctx, final) }) / float64(len(final))
	if per > 1 {
		t.Errorf("%.1f allocations a ban line, want at most 1", per)
	}
}

// BenchmarkLogBans is a flood's per-ban line through the manager's jail
// logger, with the handler the server uses for text output.
func BenchmarkLogBans(b *testing.B) {
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{
		{"fail2ban", logfmt.New(io.Discard, logfmt.Options{})},
		{"slogtext", slog.NewTextHandler(io.Discard, nil)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			m := &Manager{log: slog.New(bc.h), jails: map[string]*jailState{}}
			m.jails["sshd"] = &jailState{cfg: JailConfig{Name: "sshd"}, log: m.log.With("jail", "sshd")}
			final := make([]*pendingBan, 64)
			for i := range final {
				final[i] = &pendingBan{isNew: true, e: &entry{jail: "sshd", prefix: pfx("192.0.2.1"), banTime: time.Hour, count: 1}}
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				m.logBans(ctx, final)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(final)), "ns/line")
			b.ReportMetric(float64(testing.AllocsPerRun(5, func() { m.logBans(ctx, final) }))/float64(len(final)), "allocs/line")
		})
	}
}

// syncBuffer is a bytes.Buffer the manager's goroutines may write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRestoreAndUnbanLogLines: a restart logs fail2ban's "Restore Ban"
// for each ban still in force (a host bare, a network with its length),
// and their expiry logs "Unban", in the server's text log.
func TestRestoreAndUnbanLogLines(t *testing.T) {
	ctx := context.Background()
	st := openStoreAt(t, filepath.Join(t.TempDir(), "warden.db"))
	if err := st.AddBans(ctx, []store.Ban{
		{Jail: "sshd", Prefix: pfx("192.0.2.1"), Time: t0.Add(-time.Minute), BanTime: time.Hour, Count: 1},
		{Jail: "sshd", Prefix: netip.MustParsePrefix("198.51.100.0/24"), Time: t0.Add(-time.Minute), BanTime: time.Hour, Count: 1},
		{Jail: "sshd", Prefix: pfx("192.0.2.99"), Time: t0.Add(-2 * time.Hour), BanTime: time.Hour, Count: 1}, // ended
	}); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	clk := newFakeClock(t0)
	m, err := New(Config{
		Jails:    []JailConfig{{Name: "sshd", BanTime: jail.BanTimeConfig{BanTime: time.Hour}}},
		Backends: []firewall.Backend{newMem()}, Store: st, Clock: clk,
		Logger: slog.New(logfmt.New(&out, logfmt.Options{NoTime: true, PID: 7, Level: logfmt.LevelNotice})),
	})
	if err != nil {
		t.Fatal(err)
	}
	running(t, m)
	clk.Advance(time.Hour)
	if err := m.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	var got []string
	for l := range strings.Lines(out.String()) {
		got = append(got, strings.TrimSuffix(l, "\n"))
	}
	head := "fail2ban.actions        [7]: NOTICE  [sshd] "
	slices.Sort(got)
	want := []string{head + "Restore Ban 192.0.2.1", head + "Restore Ban 198.51.100.0/24", head + "Unban 192.0.2.1", head + "Unban 198.51.100.0/24"}
	if !slices.Equal(got, want) {
		t.Errorf("log:\n%s\nwant (sorted):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
