package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// TestNoLogs covers fail2ban 1.1's systemd_if_nologs and skip_if_nologs:
// they act only on backend auto and only when no file matches logpath.
func TestNoLogs(t *testing.T) {
	dir := t.TempDir()
	present := filepath.Join(dir, "auth.log")
	if err := os.WriteFile(present, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nosuch", "*.log")
	tests := []struct {
		name, opts  string
		wantBackend string // "" = jail skipped
		wantWarn    string
	}{
		{"file present", "logpath = " + present + "\nsystemd_if_nologs = true\n", "auto", ""},
		{"one of two present", "logpath = " + missing + "\n  " + present + " head\nsystemd_if_nologs = true\n", "auto", ""},
		{"switched to the journal", "logpath = " + missing + "\nsystemd_if_nologs = true\n", "systemd", "systemd_if_nologs"},
		{"journal wins over skip", "logpath = " + missing + "\nsystemd_if_nologs = true\nskip_if_nologs = true\n", "systemd", "systemd_if_nologs"},
		{"skipped", "logpath = " + missing + "\nskip_if_nologs = true\n", "", "skip_if_nologs"},
		{"neither option", "logpath = " + missing + "\n", "auto", ""},
		{"not for polling", "logpath = " + missing + "\nbackend = polling\nsystemd_if_nologs = true\n", "polling", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{
				"filter.d/f.conf": {Data: []byte("[INCLUDES]\nbefore = common.conf\n[Definition]\n" +
					"failregex = ^%(__prefix_line)sfail from <HOST>$\njournalmatch = _COMM=f\n")},
				"filter.d/common.conf": {Data: []byte("[DEFAULT]\n__prefix_line = <__prefix_line_<logtype>>\n" +
					"[Definition]\n__prefix_line_file = FILE:\n__prefix_line_journal = JOURNAL:\n")},
				"jail.conf": {Data: []byte("[j]\nenabled = true\nfilter = f\n" + tt.opts)},
			}
			cfg, err := Load(fsys, Options{Root: "/etc/fail2ban"})
			if err != nil {
				t.Fatal(err)
			}
			var warns []string
			for _, w := range cfg.Warnings {
				warns = append(warns, w.Msg)
			}
			if tt.wantWarn != "" && !strings.Contains(strings.Join(warns, "\n"), tt.wantWarn) {
				t.Errorf("warnings %q lack %q", warns, tt.wantWarn)
			}
			if tt.wantBackend == "" {
				if len(cfg.Jails) != 0 {
					t.Fatalf("jail kept: %+v", cfg.Jails[0].Backend)
				}
				return
			}
			if len(cfg.Jails) != 1 {
				t.Fatalf("%d jails", len(cfg.Jails))
			}
			j := cfg.Jails[0]
			if j.Backend != tt.wantBackend || j.Options["backend"] != tt.wantBackend {
				t.Errorf("backend %q (option %q), want %q", j.Backend, j.Options["backend"], tt.wantBackend)
			}
			prefix := "FILE:"
			if tt.wantBackend == "systemd" {
				prefix = "JOURNAL:"
			}
			if got := j.Filter.FailRegex; len(got) != 1 || !strings.HasPrefix(got[0], "^"+prefix) {
				t.Errorf("failregex %q, want the %s form", got, prefix)
			}
		})
	}
}
