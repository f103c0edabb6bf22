package fail2bantest

import (
	"os/exec"
	"testing"
)

// TestPythonImportsFail2ban: the interpreter found can import fail2ban.
func TestPythonImportsFail2ban(t *testing.T) {
	py := Python(t)
	out, err := exec.Command(py, "-c", "import fail2ban.version as v; print(v.version)").CombinedOutput()
	if err != nil || len(out) == 0 {
		t.Fatalf("%s cannot import fail2ban: %v: %s", py, err, out)
	}
}
