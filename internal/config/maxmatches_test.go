package config

import (
	"testing"
	"testing/fstest"
)

// TestMaxMatchesDefault: a jail whose tree does not set maxmatches keeps
// fail2ban's failure manager default, five lines; a value set (zero
// included, which keeps none) or interpolated wins.
func TestMaxMatchesDefault(t *testing.T) {
	tests := []struct {
		name, opts string
		want       int
	}{
		{"unset", "", 5},
		{"zero", "maxmatches = 0\n", 0},
		{"set", "maxmatches = 2\n", 2},
		{"as jail.conf", "maxretry = 3\nmaxmatches = %(maxretry)s\n", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"filter.d/f.conf": {Data: []byte("[Definition]\nfailregex = fail from <HOST>$\n")},
				"jail.conf":       {Data: []byte("[j]\nenabled = true\nfilter = f\nbackend = systemd\n" + tt.opts)},
			}
			cfg, err := Load(fsys, Options{Root: "/etc/fail2ban"})
			if err != nil {
				t.Fatal(err)
			}
			if len(cfg.Jails) != 1 {
				t.Fatalf("%d jails", len(cfg.Jails))
			}
			if got := cfg.Jails[0].MaxMatches; got != tt.want {
				t.Errorf("MaxMatches %d, want %d", got, tt.want)
			}
		})
	}
}
