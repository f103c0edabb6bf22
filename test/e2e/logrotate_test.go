package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFlushLogsAfterRotate: logrotate renames the server's log file and
// runs `fail2ban-client flushlogs` (Debian's postrotate); the server's
// lines then go to the new file, not on into the renamed one, so that
// recidive (which reads the log by its path) still sees the bans.
func TestFlushLogsAfterRotate(t *testing.T) {
	needFail2ban(t, "filter.d/sshd.conf", "action.d/nftables-multiport.conf")
	ns := newNetns(t)
	bin := buildWarden(t)
	dir := t.TempDir()
	sshdLog := emptyLog(t, dir)
	logPath := filepath.Join(dir, "warden.log")
	conf := writeConfDir(t, dir,
		"[sshd]\nenabled = true\nfilter = sshd\nlogpath = "+sshdLog+"\nbackend = polling\nignoreself = false\n"+
			"bantime = 1h\naction = nftables-multiport[name=sshd, port=22, protocol=tcp]\n",
		"[Definition]\nlogtarget = "+logPath+"\nloglevel = INFO\n")
	p := launchWarden(t, bin, ns, conf, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The client as logrotate runs it: fail2ban-client's name.
	f2bClient := filepath.Join(dir, "fail2ban-client")
	if err := os.Symlink(bin, f2bClient); err != nil {
		t.Fatal(err)
	}
	client := func(args ...string) string {
		t.Helper()
		out, err := exec.CommandContext(ctx, f2bClient, append([]string{"-s", p.sock}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("fail2ban-client %q: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	read := func(path string) string {
		b, _ := os.ReadFile(path)
		return string(b)
	}
	const before, after = "192.0.2.10", "192.0.2.11"

	client("set", "sshd", "banip", before)
	waitFor(t, "the first ban in the log", func() bool { return strings.Contains(read(logPath), "[sshd] Ban "+before+"\n") })
	rotated := logPath + ".1"
	if err := os.Rename(logPath, rotated); err != nil {
		t.Fatal(err)
	}
	if out := client("flushlogs"); !strings.Contains(out, "rolled over") {
		t.Errorf("flushlogs answered %q, want fail2ban's \"rolled over\" for a log file", out)
	}
	client("set", "sshd", "banip", after)
	waitFor(t, "the second ban in the new log file", func() bool { return strings.Contains(read(logPath), "[sshd] Ban "+after+"\n") })
	if old := read(rotated); strings.Contains(old, after) || !strings.Contains(old, before) {
		t.Errorf("the rotated file:\n%s\nwant the first ban only", old)
	}
	if info, err := os.Stat(logPath); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("new log file: %v, %v; want mode 0600", info, err)
	}
}
