package ban

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"warden/internal/jail"
	"warden/internal/logfmt"
)

// events returns the lines of s that carry one of words.
func (s *syncBuffer) events(words ...string) []string {
	var out []string
	for l := range strings.Lines(s.String()) {
		for _, w := range words {
			if strings.Contains(l, w) {
				out = append(out, strings.TrimSuffix(l, "\n"))
				break
			}
		}
	}
	return out
}

func textLogger(w io.Writer) *slog.Logger {
	return slog.New(logfmt.New(w, logfmt.Options{NoTime: true, PID: 7, Location: time.UTC}))
}

// TestIncreaseBanLine checks fail2ban's observer line for a ban that
// bantime.increment lengthened, after the ban's own line; none when the
// increment leaves the jail's bantime as it is.
func TestIncreaseBanLine(t *testing.T) {
	same, _ := jail.ParseMultipliers("1 1")
	tests := []struct {
		name string
		cfg  jail.BanTimeConfig
		want []string
	}{
		{"formula", jail.BanTimeConfig{BanTime: 10 * time.Minute, Increment: true}, []string{
			"fail2ban.actions        [7]: NOTICE  [sshd] Ban 192.0.2.1",
			"fail2ban.actions        [7]: NOTICE  [sshd] Unban 192.0.2.1",
			"fail2ban.actions        [7]: NOTICE  [sshd] Ban 192.0.2.1",
			"fail2ban.observer       [7]: NOTICE  [sshd] Increase Ban 192.0.2.1 (2 # 20m -> 2026-03-01 12:30:00)",
			"fail2ban.actions        [7]: NOTICE  [sshd] Unban 192.0.2.1",
			"fail2ban.actions        [7]: NOTICE  [sshd] Ban 192.0.2.1",
			"fail2ban.observer       [7]: NOTICE  [sshd] Increase Ban 192.0.2.1 (3 # 40m -> 2026-03-01 13:10:00)",
			"fail2ban.actions        [7]: NOTICE  [sshd] Unban 192.0.2.1",
		}},
		{"increment to the same time", jail.BanTimeConfig{BanTime: 10 * time.Minute, Increment: true, Multipliers: same}, []string{
			"fail2ban.actions        [7]: NOTICE  [sshd] Ban 192.0.2.1",
			"fail2ban.actions        [7]: NOTICE  [sshd] Unban 192.0.2.1",
			"fail2ban.actions        [7]: NOTICE  [sshd] Ban 192.0.2.1",
			"fail2ban.actions        [7]: NOTICE  [sshd] Unban 192.0.2.1",
		}},
		{"off", jail.BanTimeConfig{BanTime: 10 * time.Minute}, []string{
			"fail2ban.actions        [7]: NOTICE  [sshd] Ban 192.0.2.1",
			"fail2ban.actions        [7]: NOTICE  [sshd] Unban 192.0.2.1",
			"fail2ban.actions        [7]: NOTICE  [sshd] Ban 192.0.2.1",
			"fail2ban.actions        [7]: NOTICE  [sshd] Unban 192.0.2.1",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf syncBuffer
			e := newEnv(t, func(c *Config) {
				c.Jails[0].BanTime, c.Jails[0].Actions, c.Logger = tc.cfg, nil, textLogger(&buf)
			})
			// One ban for each Unban line wanted, each left to expire.
			for range strings.Count(strings.Join(tc.want, "\n"), "Unban") {
				res, err := e.m.Ban(context.Background(), "sshd", ticket("192.0.2.1", e.clk.Now()))
				if err != nil || !res.Banned {
					t.Fatalf("ban = %+v, %v", res, err)
				}
				e.clk.Advance(res.BanTime)
				e.sync(t)
			}
			got := buf.events("Ban ", "Unban ")
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestRebanLine checks fail2ban's "Reban" line when a new ticket finds a
// ban that an action repaired since has lost: the action named when it
// alone rebans, once, and no line while no action is to reban.
func TestRebanLine(t *testing.T) {
	for _, tc := range []struct {
		name     string
		repaired int // of two actions
		want     []string
	}{
		{"one action", 1, []string{"fail2ban.actions        [7]: NOTICE  [sshd] Reban 192.0.2.1, action 'epoch'"}},
		{"two actions", 2, []string{"fail2ban.actions        [7]: NOTICE  [sshd] Reban 192.0.2.1"}},
		{"none", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf syncBuffer
			as := []*epochAction{{}, {}}
			e := newEnv(t, func(c *Config) {
				c.Jails[0].Actions = []Action{as[0], as[1]}
				c.Logger = textLogger(&buf)
			})
			ctx := context.Background()
			again := func() {
				t.Helper()
				if _, err := e.m.Ban(ctx, "sshd", ticket("192.0.2.1", t0)); err != nil {
					t.Fatal(err)
				}
				e.sync(t)
				if err := e.m.WaitActions(ctx); err != nil {
					t.Fatal(err)
				}
			}
			again()
			again() // already banned, nothing repaired: no reban
			for _, a := range as[:tc.repaired] {
				a.setEpoch(1)
			}
			again() // rebanned where repaired
			again() // once only
			if got := buf.events("Reban"); strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
