// Package fail2bantest locates the installed fail2ban (Debian's package) for
// tests that compare warden with it: its configuration tree, its annotated
// sample logs and the Python interpreter its modules are installed for.
// Tests skip when fail2ban is not installed.
package fail2bantest

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Where Debian's fail2ban package puts its files.
const (
	ConfigDir  = "/etc/fail2ban"
	Package    = "/usr/lib/python3/dist-packages/fail2ban"
	SampleLogs = Package + "/tests/files/logs"
)

// Python returns the interpreter fail2ban-client runs with (from its #!
// line), so scripts run with it can import fail2ban's modules. It skips the
// test when fail2ban is not installed or the interpreter cannot be told.
func Python(tb testing.TB) string {
	tb.Helper()
	client, err := exec.LookPath("fail2ban-client")
	if err != nil {
		tb.Skip("fail2ban-client not installed")
	}
	f, err := os.Open(client)
	if err != nil {
		tb.Skip(err)
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	py := strings.TrimSpace(strings.TrimPrefix(line, "#!"))
	if py == "" || strings.Contains(py, " ") {
		tb.Skip("cannot tell fail2ban's python from", client)
	}
	return py
}

// Samples returns the directory of fail2ban's annotated sample logs. It
// skips the test when fail2ban's filters or its sample logs are not
// installed.
func Samples(tb testing.TB) string {
	tb.Helper()
	if _, err := os.Stat(ConfigDir + "/filter.d/sshd.conf"); err != nil {
		tb.Skip("fail2ban not installed (Debian package fail2ban)")
	}
	if _, err := os.Stat(SampleLogs); err != nil {
		tb.Skip("fail2ban sample logs not installed")
	}
	return SampleLogs
}
