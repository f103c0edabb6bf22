package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestServerReloadSIGHUP runs `warden server` in a namespace with two
// nftables jails, then reloads it with SIGHUP: a configuration with an error
// is refused (logged with its file and line, the old jails keep running and
// banning), and a valid one that changes maxretry of one jail and removes
// the other takes effect, keeping the first jail's ban in the kernel and
// lifting the removed jail's. `warden client reload` reports an invalid
// configuration to the client.
func TestServerReloadSIGHUP(t *testing.T) {
	needFail2ban(t, "filter.d/sshd.conf", "action.d/nftables-multiport.conf")
	ns := newNetns(t)
	bin := buildWarden(t)
	dir := t.TempDir()
	logs := map[string]string{}
	for _, j := range []string{"sshd", "other"} {
		logs[j] = filepath.Join(dir, j+".log")
		if err := os.WriteFile(logs[j], nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	section := func(name, extra string) string {
		return fmt.Sprintf("\n[%s]\nenabled = true\nfilter = sshd\nlogpath = %s\nbackend = polling\nignoreself = false\n"+
			"findtime = 10m\nbantime = 1h\naction = nftables-multiport[name=%s, port=22, protocol=tcp]\n%s",
			name, logs[name], name, extra)
	}
	conf := writeConfDir(t, dir, section("sshd", "maxretry = 3\n")+section("other", "maxretry = 3\n"),
		"[Definition]\nlogtarget = STDERR\nloglevel = INFO\n")
	writeJails := func(text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(conf, "jail.conf"), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	fail := func(jail, ip string, n int) {
		t.Helper()
		f, err := os.OpenFile(logs[jail], os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i := range n {
			fmt.Fprintf(f, "%s host sshd[%d]: Failed password for invalid user admin from %s port %d ssh2\n",
				time.Now().Format(time.Stamp), 900+i, ip, 40000+i)
		}
	}
	setList := func(jail string) string {
		out, _ := exec.Command("ip", "netns", "exec", ns, "nft", "list", "set", "inet", "warden", "addr4-"+jail).CombinedOutput()
		return string(out)
	}
	inSet := func(jail, ip string) bool { return strings.Contains(setList(jail), ip+" ") }

	p := launchWarden(t, bin, ns, conf, dir, "--log-format", "json")
	sock, stderr := p.sock, p.stderr
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	client := func(args ...string) (string, error) {
		out, err := exec.CommandContext(ctx, bin, append([]string{"client", "-s", sock}, args...)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	hup := func() {
		t.Helper()
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}

	fail("sshd", "203.0.113.1", 3)
	fail("other", "203.0.113.2", 3)
	waitFor(t, "both jails ban", func() bool { return inSet("sshd", "203.0.113.1") && inSet("other", "203.0.113.2") })

	// An invalid configuration: SIGHUP logs the error with file:line and
	// changes nothing; the client's reload gets the error.
	writeJails(section("sshd", "maxretry = lots\n") + section("other", "maxretry = 3\n"))
	hup()
	waitFor(t, "the refused reload is logged", func() bool {
		return strings.Contains(stderr.String(), `"msg":"reload failed; the running configuration stays"`) &&
			strings.Contains(stderr.String(), "jail.conf:")
	})
	if out, err := client("reload"); err == nil || !strings.Contains(out, "jail.conf:") {
		t.Errorf("client reload of an invalid configuration: %v\n%s", err, out)
	}
	if out, err := client("get", "sshd", "maxretry"); err != nil || out != "3" {
		t.Errorf("after a refused reload get sshd maxretry = %q, %v; want 3", out, err)
	}
	fail("other", "203.0.113.3", 3)
	waitFor(t, "the old jails still ban", func() bool { return inSet("other", "203.0.113.3") })

	// A valid one: sshd's maxretry 3 -> 2, other removed.
	writeJails(section("sshd", "maxretry = 2\n"))
	hup()
	waitFor(t, "the reload is done", func() bool { return strings.Contains(stderr.String(), `"msg":"reload done"`) })
	if out, err := client("get", "sshd", "maxretry"); err != nil || out != "2" {
		t.Errorf("after reload get sshd maxretry = %q, %v; want 2", out, err)
	}
	if !inSet("sshd", "203.0.113.1") {
		t.Errorf("sshd's ban lost in the reload:\n%s", setList("sshd"))
	}
	if out := setList("other"); strings.Contains(out, "203.0.113.") {
		t.Errorf("the removed jail's bans are still in the kernel:\n%s", out)
	}
	if out, err := client("status"); err != nil || strings.Contains(out, "other") || !strings.Contains(out, "sshd") {
		t.Errorf("status after reload: %v\n%s", err, out)
	}
	fail("sshd", "203.0.113.4", 2)
	waitFor(t, "sshd bans after 2 failures", func() bool { return inSet("sshd", "203.0.113.4") })

	p.stop()
}
