package main

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"warden/internal/config"
	"warden/internal/logfmt"
)

// TestRegexRecidiveOnServerLog writes a server log with the server's own
// logger (text format, to a file) and runs `warden regex LOG recidive` on
// it: the recidive filter, warden's embedded one and fail2ban's installed
// one, must find every other jail's Ban line and nothing else (no Restore
// Ban, Unban, recidive's own bans, other records that mention a ban).
func TestRegexRecidiveOnServerLog(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "warden.log")
	log, flush, err := serverLoggerEnv(os.Stderr, "text", config.Server{LogLevel: "INFO", LogTarget: path}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	notice := func(msg, jail, prefix string) {
		log.Log(ctx, logfmt.LevelNotice, msg, "jail", jail, "prefix", prefix, "bantime", "10m")
	}
	log.Info(logfmt.MsgJailStarted, "jail", "sshd", "source", "file/inotify")
	notice(logfmt.MsgRestoreBan, "sshd", "203.0.113.9/32")
	notice(logfmt.MsgBan, "sshd", "192.0.2.1/32")
	notice(logfmt.MsgBan, "postfix-sasl", "2001:db8::1/128")
	notice(logfmt.MsgBan, "sshd", "198.51.100.0/24") // a network
	notice(logfmt.MsgProlongBan, "sshd", "192.0.2.1/32")
	log.Debug(logfmt.MsgAlreadyBanned, "jail", "sshd", "prefix", "192.0.2.1")
	notice(logfmt.MsgUnban, "sshd", "192.0.2.1/32")
	notice(logfmt.MsgBan, "recidive", "192.0.2.1/32")
	log.Warn("ban refused", "jail", "sshd", "err", "NOTICE  [sshd] Ban 192.0.2.66")
	notice(logfmt.MsgBan, "nginx-http-auth", "192.0.2.2/32")
	log.With("jail", "sshd").Log(ctx, logfmt.LevelNotice, logfmt.MsgBan, slog.String("prefix", "192.0.2.3/32"))
	_ = flush.Flush()

	hosts := "192.0.2.1\n2001:db8::1\n192.0.2.2\n192.0.2.3\n"
	tests := []struct {
		name, conf string
		want       string
	}{
		// warden's filter takes a network's ban too (as <SUBNET>).
		{"embedded", "../../internal/defaults/tree", "192.0.2.1\n2001:db8::1\n198.51.100.0\n192.0.2.2\n192.0.2.3\n"},
		// fail2ban's <HOST> takes no network, in fail2ban-regex as here.
		{"fail2ban", "/etc/fail2ban", hosts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(tt.conf, "filter.d/recidive.conf")); err != nil {
				t.Skipf("needs the recidive filter: %v", err)
			}
			code, out, errOut := runCLI(t, "regex", "-c", tt.conf, "-o", "ip", path, "recidive")
			if code != 0 || out != tt.want {
				b, _ := os.ReadFile(path)
				t.Fatalf("warden regex: code %d, stderr %q, got\n%s\nwant\n%s\nlog:\n%s", code, errOut, out, tt.want, b)
			}
			if tt.name != "fail2ban" {
				return
			}
			if _, err := exec.LookPath("fail2ban-regex"); err != nil {
				t.Skip("fail2ban-regex not installed")
			}
			f2b, err := exec.Command("fail2ban-regex", "-o", "ip", path, filepath.Join(tt.conf, "filter.d/recidive.conf")).Output()
			if err != nil {
				t.Fatal(err)
			}
			if strings.TrimSpace(string(f2b)) != strings.TrimSpace(out) {
				t.Errorf("fail2ban-regex finds\n%s\nwarden regex\n%s", f2b, out)
			}
		})
	}
}
