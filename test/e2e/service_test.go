package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestServiceUnit checks contrib/warden.service with systemd-analyze verify.
// verify insists that ExecStart's program exists, so the copy checked runs
// this test's own executable in its place; everything else is the file.
func TestServiceUnit(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze not available")
	}
	unit, err := os.ReadFile("../../contrib/warden.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nType=notify\n", "\nExecStart=/usr/local/bin/warden server -f\n", "\nRuntimeDirectory=warden fail2ban\n", "\nExecReload=/bin/kill -HUP $MAINPID\n",
		"\nProtectSystem=strict\n", "\nReadWritePaths=/var/lib/warden /run/warden /var/log\n", "\nNoNewPrivileges=yes\n",
		"\nCapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_DAC_READ_SEARCH\n",
		"\nRestrictAddressFamilies=AF_UNIX AF_NETLINK AF_INET AF_INET6\n",
	} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("warden.service lacks %q", strings.TrimSpace(want))
		}
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	copyPath := filepath.Join(t.TempDir(), "warden.service")
	text := strings.Replace(string(unit), "ExecStart=/usr/local/bin/warden ", "ExecStart="+self+" ", 1)
	if err := os.WriteFile(copyPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", copyPath).CombinedOutput()
	if err != nil || strings.Contains(string(out), "warden.service") {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
