package server

import (
	"log/slog"
	"strings"
	"testing"

	"warden/internal/firewall"
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
		log := slog.New(slog.NewTextHandler(&b, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
		logJailStarts(log, jails, map[string]*jailRun{"kept": kept, "native": {name: "native"}}, tt.inotify)
		out := b.String()
		for _, w := range tt.want {
			if !strings.Contains(out, "msg=\"jail started\" "+w) {
				t.Errorf("inotify=%v: no line with %q in:\n%s", tt.inotify, w, out)
			}
		}
		if strings.Contains(out, "jail=kept") {
			t.Errorf("an unchanged jail logged again:\n%s", out)
		}
	}
}
