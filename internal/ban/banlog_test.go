package ban

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// noTime drops the record's time so that lines compare exactly.
func noTime(groups []string, a slog.Attr) slog.Attr {
	if len(groups) == 0 && a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
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
			return slog.NewTextHandler(w, &slog.HandlerOptions{ReplaceAttr: noTime})
		}, []string{
			"level=INFO msg=ban jail=sshd prefix=192.0.2.1/32 bantime=10m0s count=1",
			"level=INFO msg=\"prolong ban\" jail=sshd prefix=192.0.2.1/32 bantime=12m0s",
		}},
		{"json", func(w io.Writer) slog.Handler {
			return slog.NewJSONHandler(w, &slog.HandlerOptions{ReplaceAttr: noTime})
		}, []string{
			`{"level":"INFO","msg":"ban","jail":"sshd","prefix":"192.0.2.1/32","bantime":600000000000,"count":1}`,
			`{"level":"INFO","msg":"prolong ban","jail":"sshd","prefix":"192.0.2.1/32","bantime":720000000000}`,
		}},
		{"warn level", func(w io.Writer) slog.Handler {
			return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn, ReplaceAttr: noTime})
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
				if strings.Contains(l, "ban\"") || strings.Contains(l, "msg=ban") || strings.Contains(l, "prolong") {
					got = append(got, l)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("ban lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestBanLogAllocs bounds what a flood's per-ban line allocates: the
// prefix's text and the handler's duration text, nothing per attribute.
func TestBanLogAllocs(t *testing.T) {
	m := &Manager{log: slog.New(slog.NewTextHandler(io.Discard, nil)), jails: map[string]*jailState{}}
	m.jails["sshd"] = &jailState{cfg: JailConfig{Name: "sshd"}, log: m.log.With("jail", "sshd")}
	final := make([]*pendingBan, 64)
	for i := range final {
		final[i] = &pendingBan{isNew: true, e: &entry{jail: "sshd", prefix: pfx("192.0.2.1"), banTime: time.Hour, count: 1}}
	}
	ctx := context.Background()
	per := testing.AllocsPerRun(20, func() { m.logBans(ctx, final) }) / float64(len(final))
	if per > 2 {
		t.Errorf("%.1f allocations a ban line, want at most 2", per)
	}
}
