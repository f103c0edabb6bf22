package ban

import (
	"slices"
	"testing"

	"warden/internal/firewall"
)

// TestNoActionsKeepsNoLines: a jail without actions keeps no matched lines
// or fields in its ban entries (the store has the lines); a jail with
// actions keeps them for its commands. Both after a ban and after a restore.
func TestNoActionsKeepsNoLines(t *testing.T) {
	for _, withActions := range []bool{false, true} {
		name := map[bool]string{false: "no actions", true: "actions"}[withActions]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) {
				if !withActions {
					c.Jails[0].Actions = nil
				}
			})
			tk := ticket("192.0.2.7", t0)
			tk.Fields = map[string]string{"user": "root"}
			if _, err := e.m.Ban(t.Context(), "sshd", tk); err != nil {
				t.Fatal(err)
			}
			e.sync(t)
			check := func(when string, m *Manager) {
				t.Helper()
				m.mu.Lock()
				en, ok := m.bans.get(m.jails["sshd"].idx, pfx("192.0.2.7"))
				m.mu.Unlock()
				if !ok {
					t.Fatalf("%s: not banned", when)
				}
				if got := len(en.matches()) > 0; got != withActions {
					t.Errorf("%s: entry keeps matches %q; want kept: %v", when, en.matches(), withActions)
				}
			}
			check("after the ban", e.m)
			if b := storedBans(t, e.st, t0)["sshd 192.0.2.7/32"]; !slices.Equal(b.Matches, tk.Matches) {
				t.Errorf("stored matches %q, want %q", b.Matches, tk.Matches)
			}

			// A second manager on the same store restores the ban.
			cfg := e.m.cfg
			cfg.Backends = []firewall.Backend{newMem()}
			m2, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			running(t, m2)
			check("after a restore", m2)
		})
	}
}
