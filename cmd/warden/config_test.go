package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCapture runs the CLI in-process and returns its exit code, stdout and
// stderr.
func runCapture(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	dir := t.TempDir()
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	errf, err := os.Create(filepath.Join(dir, "err"))
	if err != nil {
		t.Fatal(err)
	}
	code := run(context.Background(), append([]string{"warden"}, args...), os.Stdin, out, errf)
	out.Close()
	errf.Close()
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	return code, string(o), string(e)
}

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestConfigCheck(t *testing.T) {
	good := map[string]string{
		"jail.conf":       "[DEFAULT]\nbantime = 1h\n[web]\nenabled = true\nfilter = f[mode=x]\naction = a[port=80]\nlogpath = /var/log/web.log tail\n[off]\nfilter = f\n",
		"jail.local":      "[web]\nbantim = 2h\n",
		"filter.d/f.conf": "[Definition]\nfailregex = ^<mode> from <HOST>$\n[Init]\nmode = normal\n",
		"action.d/a.conf": "[Definition]\nactionban = block <ip> <port>\n",
	}
	tests := []struct {
		name     string
		files    map[string]string
		args     []string
		code     int
		stdout   []string
		stderr   []string
		noStdout []string
	}{
		{
			name: "valid tree", files: good, code: 0,
			stdout:   []string{"[web]", "failregex    ^x from <HOST>$", "actionban = block <ip> 80", "/var/log/web.log (tail)", "bantime    1h0m0s"},
			stderr:   []string{"using configuration", `jail.local:2: unknown option "bantim"`},
			noStdout: []string{"[off]"},
		},
		{
			name: "all jails", files: good, args: []string{"--all"}, code: 0,
			stdout: []string{"[web]", "[off]"},
		},
		{
			name: "disabled jail by name", files: good, args: []string{"--jail", "off"}, code: 0,
			stdout: []string{"[off] (disabled)"}, noStdout: []string{"[web]"},
		},
		{
			name: "unknown jail", files: good, args: []string{"--jail", "nosuch"}, code: 1,
			stderr: []string{`unknown jail "nosuch"`},
		},
		{
			name: "broken tree",
			files: map[string]string{
				"jail.conf":       "[web]\nenabled = true\nfilter = f\naction = a\n",
				"jail.local":      "[web]\n\nbantime = soon\n",
				"filter.d/f.conf": "[Definition]\nfailregex = x\n",
				"action.d/a.conf": "[Definition]\nactionban = x\n",
			},
			code:   1,
			stderr: []string{`jail.local:3: bantime: bad time value "soon"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTree(t, tc.files)
			code, out, errOut := runCapture(t, append([]string{"config", "check", "--conf", dir}, tc.args...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			for _, s := range tc.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.noStdout {
				if strings.Contains(out, s) {
					t.Errorf("stdout has %q:\n%s", s, out)
				}
			}
			for _, s := range tc.stderr {
				if !strings.Contains(errOut, s) {
					t.Errorf("stderr lacks %q:\n%s", s, errOut)
				}
			}
		})
	}
}

func TestConfigCheckMissingDir(t *testing.T) {
	code, _, errOut := runCapture(t, "config", "check", "--conf", filepath.Join(t.TempDir(), "nope"))
	if code == 0 || !strings.Contains(errOut, "--conf") {
		t.Errorf("exit %d, stderr %q", code, errOut)
	}
}

// TestConfigCheckBuiltin: --conf builtin takes the embedded tree even where
// /etc/fail2ban exists, and its only enabled jail is sshd.
func TestConfigCheckBuiltin(t *testing.T) {
	code, out, errOut := runCapture(t, "config", "check", "--conf", "builtin")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(errOut, "built-in configuration") {
		t.Errorf("stderr does not say which tree was used: %q", errOut)
	}
	if !strings.Contains(out, "[sshd]") || strings.Contains(out, "[recidive]") {
		t.Errorf("want only the sshd jail enabled in the built-in tree, got:\n%s", out)
	}
}
