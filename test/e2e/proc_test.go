package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// emptyLog creates an empty dir/auth.log for a jail to watch and returns
// its path.
func emptyLog(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "auth.log")
	if err := os.WriteFile(p, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// sshdJailDir writes a configuration directory with one sshd jail on
// logPath (fail2ban's sshd filter, the native nftables-multiport action)
// and returns it. extra is appended to the jail section.
func sshdJailDir(t *testing.T, dir, logPath, extra string) string {
	t.Helper()
	needFail2ban(t, "filter.d/sshd.conf", "action.d/nftables-multiport.conf")
	jail := fmt.Sprintf("[sshd]\nenabled = true\nfilter = sshd\nlogpath = %s\nignoreself = false\n"+
		"maxretry = 3\nfindtime = 10m\nbantime = 1h\naction = nftables-multiport[name=sshd, port=22, protocol=tcp]\n%s",
		logPath, extra)
	return writeConfDir(t, dir, jail, "[Definition]\nlogtarget = STDERR\nloglevel = INFO\n")
}

// sshdFailure is one line of sshd's log, stamped now, that fail2ban's sshd
// filter counts as a failure of addr.
func sshdFailure(addr string, n int) string {
	return failureAt(addr, time.Now(), n)
}

// failureAt is sshdFailure stamped at.
func failureAt(addr string, at time.Time, n int) string {
	return fmt.Sprintf("%s host sshd[%d]: Failed password for invalid user admin from %s port %d ssh2\n",
		at.Format(time.Stamp), 1000+n%30000, addr, 1024+n%60000)
}

// wardenProc is one run of `warden server` inside a namespace.
type wardenProc struct {
	t      *testing.T
	bin    string
	ns     string
	sock   string
	stderr *syncBuffer
	cmd    *exec.Cmd
	exited chan error
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine of exec and
// the test reading it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// launchWarden starts `warden server` on conf with its database and socket
// in dir (and any extra flags), and waits for its systemd readiness message.
// The server is killed at the end of the test if still running; its log is
// printed when the test failed.
func launchWarden(t *testing.T, bin, ns, conf, dir string, extra ...string) *wardenProc {
	t.Helper()
	notify := filepath.Join(dir, "notify")
	_ = os.Remove(notify)
	nl, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: notify, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	p := &wardenProc{t: t, bin: bin, ns: ns, sock: filepath.Join(dir, "warden.sock"), stderr: &syncBuffer{}, exited: make(chan error, 1)}
	args := append([]string{"netns", "exec", ns, bin, "server", "-f", "--conf", conf,
		"--db", filepath.Join(dir, "warden.db"), "--socket", p.sock}, extra...)
	p.cmd = exec.Command("ip", args...)
	p.cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+notify)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.kill9()
		if t.Failed() {
			t.Logf("server log:\n%s", p.stderr.String())
		}
	})
	_ = nl.SetReadDeadline(time.Now().Add(20 * time.Second))
	buf := make([]byte, 256)
	n, err := nl.Read(buf)
	if err != nil || string(buf[:n]) != "READY=1" {
		t.Fatalf("notify: %q, %v; want READY=1\nserver log:\n%s", buf[:n], err, p.stderr.String())
	}
	return p
}

// kill9 kills the server with SIGKILL (ip netns exec execs the binary, so
// the process is the server itself) and waits for it; no-op once it exited.
func (p *wardenProc) kill9() {
	select {
	case err := <-p.exited:
		p.exited <- err
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	p.exited <- <-p.exited
}

// stop sends SIGTERM and waits for a clean exit.
func (p *wardenProc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	select {
	case err := <-p.exited:
		p.exited <- err
		if err != nil {
			p.t.Fatalf("server exit after SIGTERM: %v", err)
		}
	case <-time.After(20 * time.Second):
		p.t.Fatal("server did not stop on SIGTERM")
	}
}

var statusField = regexp.MustCompile(`(?m)(Currently failed|Total failed|Currently banned|Total banned):\t(\d+)$`)

// jailStatus holds the counters of `warden client status JAIL`.
type jailStatus struct {
	CurrentlyFailed, TotalFailed, CurrentlyBanned, TotalBanned int
}

// status runs `warden client status jail` and reads its counters.
func (p *wardenProc) status(jail string) (jailStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, p.bin, "client", "-s", p.sock, "status", jail).CombinedOutput()
	if err != nil {
		return jailStatus{}, fmt.Errorf("client status: %w: %s", err, out)
	}
	var st jailStatus
	got := 0
	for _, m := range statusField.FindAllStringSubmatch(string(out), -1) {
		v, _ := strconv.Atoi(m[2])
		switch m[1] {
		case "Currently failed":
			st.CurrentlyFailed = v
		case "Total failed":
			st.TotalFailed = v
		case "Currently banned":
			st.CurrentlyBanned = v
		case "Total banned":
			st.TotalBanned = v
		}
		got++
	}
	if got != 4 {
		return jailStatus{}, fmt.Errorf("client status: %d of 4 counters in:\n%.2000s", got, out)
	}
	return st, nil
}

// setElements lists the addresses in the namespace's nftables set, once
// each as the kernel returns them (with the count of elements returned).
func setElements(t *testing.T, ns, set string) (addrs map[string]int, n int) {
	t.Helper()
	out, err := exec.Command("ip", "netns", "exec", ns, "nft", "-j", "list", "set", "inet", "warden", set).Output()
	if err != nil {
		return nil, 0
	}
	var doc struct {
		Nftables []struct {
			Set *struct {
				Elem []json.RawMessage `json:"elem"`
			} `json:"set"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("nft -j: %v", err)
	}
	addrs = map[string]int{}
	for _, o := range doc.Nftables {
		if o.Set == nil {
			continue
		}
		for _, raw := range o.Set.Elem {
			addrs[elemAddr(t, raw)]++
			n++
		}
	}
	return addrs, n
}

// elemAddr reads one element of nft's JSON: a plain string, or an object
// {"elem": {"val": "…", "timeout": …}} when the element has a timeout.
func elemAddr(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var e struct {
		Elem struct {
			Val json.RawMessage `json:"val"`
		} `json:"elem"`
	}
	if err := json.Unmarshal(raw, &e); err != nil || json.Unmarshal(e.Elem.Val, &s) != nil {
		t.Fatalf("nft -j element %s: not an address", raw)
	}
	return s
}

// waitLong is waitFor with a deadline of the caller's choosing and the
// last observed state in the failure message.
func waitLong(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s; last: %s", d, what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
