package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"warden/internal/fail2bantest"
)

// TestRegexJobsSamples: on fail2ban's own sample logs, warden regex gives
// byte-identical output with one filter worker and with several, for the
// summary, -v, -o id, -o ip and --print-all-matched; each log is repeated
// so the workers get several batches of lines. Filters of one line with and
// without multi-line ids (sshd's F-MLFID) and multi-line ones (slapd,
// ejabberd-auth: maxlines > 1, served in order) are covered.
func TestRegexJobsSamples(t *testing.T) {
	samples := fail2bantest.Samples(t)
	dir := t.TempDir()
	for _, tt := range []struct{ log, filter string }{
		{"sshd", "sshd"},
		{"sshd", "sshd[mode=aggressive]"},
		{"postfix", "postfix[mode=aggressive]"},
		{"dovecot", "dovecot"},
		{"apache-auth", "apache-auth"},
		{"nginx-http-auth", "nginx-http-auth[mode=aggressive]"},
		{"slapd", "slapd"},
		{"ejabberd-auth", "ejabberd-auth"},
	} {
		t.Run(tt.filter, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(samples, tt.log))
			if err != nil {
				t.Fatal(err)
			}
			// about 1200 lines: a few 512-line batches per run
			n := 1200/(strings.Count(string(data), "\n")+1) + 1
			log := filepath.Join(dir, strings.NewReplacer("[", "_", "]", "_", "=", "_").Replace(tt.filter)+".log")
			if err := os.WriteFile(log, []byte(strings.Repeat(string(data), n)), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, opts := range [][]string{nil, {"-v"}, {"-o", "id"}, {"-o", "ip"}, {"--print-all-matched"}} {
				// -r: raw hosts, no DNS for names in the samples
				args := append(append([]string{"-r"}, opts...), log, tt.filter)
				var outs [2]string
				for i, j := range []string{"1", "3"} {
					code, out, errOut := runCLI(t, append([]string{"regex", "-j", j}, args...)...)
					if code != 0 {
						t.Fatalf("warden regex -j %s %v: exit %d: %s", j, args, code, errOut)
					}
					outs[i] = normalize(out) + "--- stderr ---\n" + errOut
				}
				if outs[0] != outs[1] {
					t.Errorf("%v: -j 1 and -j 3 differ:\n-j 1:\n%s\n-j 3:\n%s", args, outs[0], outs[1])
				}
				if !strings.Contains(outs[0], "Lines: ") && len(opts) != 2 {
					t.Errorf("%v: no summary:\n%s", args, outs[0])
				}
			}
		})
	}
}
