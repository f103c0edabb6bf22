package filter

import (
	"testing"
)

// TestSampleLogs runs stock fail2ban filters over fail2ban's own sample
// logs and checks each "# failJSON:" expectation (match or not, host).
func TestSampleLogs(t *testing.T) {
	cases := []struct {
		filter string
		mode   string
	}{
		{"sshd", ""},
		{"sshd", "ddos"},
		{"sshd", "extra"},
		{"sshd", "aggressive"},
	}
	for _, c := range cases {
		t.Run(c.filter+"/"+c.mode, func(t *testing.T) {
			opts := map[string]string{}
			if c.mode != "" {
				opts = map[string]string{"mode": c.mode}
			}
			def := f2bDefinition(t, c.filter, opts)
			// the package's own date detector, unless not built yet
			f, err := Compile(def, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if f.dates == nil {
				f, _ = Compile(def, Options{Dates: syslogDates{}})
			}
			bad := 0
			for _, sl := range readSample(t, c.filter) {
				if !sl.appliesTo(opts) {
					continue
				}
				res := f.Process(sl.line)
				if sl.want == nil {
					continue
				}
				mode := c.mode
				if mode == "" {
					mode = "normal"
				}
				if holds, ok := constraintHolds(sl.want.Constraint, c.filter, mode); !ok || !holds {
					continue
				}
				got := len(res.Failures) > 0
				if got != sl.want.Match {
					bad++
					t.Errorf("line %d: match=%v, want %v: %s", sl.lineNo, got, sl.want.Match, sl.line)
					continue
				}
				if got && sl.want.Host != nil {
					if h, ok := sl.want.Host.(string); ok && res.Failures[0].ID != h && res.Failures[0].Host != h {
						t.Errorf("line %d: host %q (id %q), want %q", sl.lineNo, res.Failures[0].Host, res.Failures[0].ID, h)
					}
				}
			}
		})
	}
}
