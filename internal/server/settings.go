package server

import (
	"fmt"
	"strings"
	"time"

	"warden/internal/config"
)

// DefaultHealInterval is how often the native firewall backends are
// checked when neither Options.HealInterval nor fail2ban.conf's
// healinterval says otherwise.
const DefaultHealInterval = 5 * time.Second

// settings are warden's own daemon options, read from fail2ban.conf's
// [Definition] (usually in fail2ban.local) and overridden by Options.
type settings struct {
	heal time.Duration // 0 = never
	keep bool          // leave rules and bans in the kernel at stop
}

// readSettings reads healinterval and keepbans; an invalid value is an
// error naming the option.
func readSettings(o *Options, srv config.Server) (settings, error) {
	st := settings{heal: DefaultHealInterval, keep: o.KeepBans}
	if v := strings.TrimSpace(srv.Options["healinterval"]); v != "" {
		d, err := config.ParseTime(v)
		if err != nil || d < 0 {
			return st, fmt.Errorf("fail2ban.conf: healinterval = %q: want a time (5s, 1m) or 0 for never", v)
		}
		st.heal = d
	}
	switch {
	case o.HealInterval > 0:
		st.heal = o.HealInterval
	case o.HealInterval < 0:
		st.heal = 0
	}
	if v := strings.TrimSpace(srv.Options["keepbans"]); v != "" && !o.KeepBans {
		b, err := parseBool(v)
		if err != nil {
			return st, fmt.Errorf("fail2ban.conf: keepbans = %q: %w", v, err)
		}
		st.keep = b
	}
	return st, nil
}

// parseBool reads fail2ban's boolean words.
func parseBool(v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "1", "yes", "true", "on", "y":
		return true, nil
	case "0", "no", "false", "off", "n":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean (yes/no, true/false, on/off, 1/0)")
}
