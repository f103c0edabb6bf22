package server

import (
	"log/slog"
	"strings"
	"testing"

	"warden/internal/firewall"
	"warden/internal/logfmt"
	"warden/internal/source"
)

func TestLogJailStarts(t *testing.T) {
	kept := &jailRun{name: "kept", mode: source.ModeAuto}
	jails := []*jailRun{
		kept,
		{name: "native", mode: source.ModeAuto, spec: &firewall.JailSpec{Name: "native"}, kind: "nftables"},
		{name: "polled", mode: source.ModePolling},
		{name: "journal", journal: true, match: []string{"_SYSTEMD_UNIT=sshd.service", "_COMM=sshd"}},
	}
	tests := []struct {
		inotify bool
		want    []string
	}{
		{true, []string{
			"jail=native source=file/inotify firewall=nftables files=0",
			"jail=polled source=file/polling firewall=none files=0",
			`jail=journal source=journal firewall=none journalmatch="_SYSTEMD_UNIT=sshd.service + _COMM=sshd"`,
		}},
		{false, []string{"jail=native source=file/polling firewall=nftables"}},
	}
	for _, tt := range tests {
		var b strings.Builder
		log := slog.New(logfmt.New(&b, logfmt.Options{NoTime: true, PID: 1}))
		logJailStarts(log, jails, map[string]*jailRun{"kept": kept, "native": {name: "native"}}, tt.inotify)
		out := b.String()
		for _, w := range tt.want {
			line := "fail2ban.jail           [1]: INFO    Jail '" + strings.TrimPrefix(strings.Fields(w)[0], "jail=") + "' started " + strings.SplitN(w, " ", 2)[1]
			if !strings.Contains(out, line) {
				t.Errorf("inotify=%v: no line with %q in:\n%s", tt.inotify, w, out)
			}
		}
		if strings.Contains(out, "'kept'") {
			t.Errorf("an unchanged jail logged again:\n%s", out)
		}
	}
}
