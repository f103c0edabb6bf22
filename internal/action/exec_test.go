package action

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestShellRunner(t *testing.T) {
	r := ShellRunner{}
	ctx := context.Background()
	tests := []struct {
		name     string
		cmd      Command
		exit     int
		out, err string
	}{
		{"ok", Command{Script: "echo hi"}, 0, "hi\n", ""},
		{"exit code", Command{Script: "echo oops >&2; exit 3"}, 3, "", "oops\n"},
		{"args as variables", Command{Script: "a=$0 b=$1 \nprintf '%s|%s' \"$a\" \"$b\"", Args: []string{"x y", "$(id)"}}, 0, "x y|$(id)", ""},
		{"multi-line script", Command{Script: "false\necho second"}, 0, "second\n", ""},
		{"syntax error", Command{Script: "if then"}, 2, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := r.Run(ctx, tc.cmd, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitCode != tc.exit || string(res.Stdout) != tc.out || tc.err != "" && string(res.Stderr) != tc.err {
				t.Fatalf("got exit %d out %q err %q", res.ExitCode, res.Stdout, res.Stderr)
			}
		})
	}
}

// TestShellRunnerTimeout: a command past its timeout is killed with its
// whole process group, children included, and reported as ErrTimeout.
func TestShellRunnerTimeout(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The child ignores TERM, so only the group KILL stops it.
	script := "sh -c 'trap \"\" TERM; echo $$ > " + pidFile + "; sleep 30' & wait"
	start := time.Now()
	res, err := ShellRunner{KillGrace: 50 * time.Millisecond}.Run(context.Background(), Command{Script: script}, 300*time.Millisecond)
	took := time.Since(start)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("err = %v, want ErrTimeout", err)
	}
	if res.ExitCode != -1 {
		t.Errorf("exit %d", res.ExitCode)
	}
	if took < 300*time.Millisecond || took > 3*time.Second {
		t.Errorf("took %v", took)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	deadline := time.Now().Add(2 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("child %d still alive", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive tells whether pid runs (a zombie nobody reaped yet counts as
// dead).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestShellRunnerCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err := ShellRunner{}.Run(ctx, Command{Script: "sleep 30"}, time.Minute)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

func TestShellRunnerOutputCapped(t *testing.T) {
	res, err := ShellRunner{}.Run(context.Background(), Command{Script: "head -c 200000 /dev/zero"}, 5*time.Second)
	if err != nil || res.ExitCode != 0 {
		t.Fatal(err, res.ExitCode)
	}
	if len(res.Stdout) != maxOutput {
		t.Fatalf("kept %d bytes", len(res.Stdout))
	}
}

// TestActionTimeout: the action's timeout option limits its commands, and
// a timed-out ban is an error (after the one retry fail2ban makes).
func TestActionTimeout(t *testing.T) {
	a, _ := newTest(t, "[Definition]\nactionban = sleep 20\n[Init]\ntimeout = 0.4\n", "", Options{Runner: ShellRunner{}})
	if a.Timeout() != 400*time.Millisecond {
		t.Fatalf("timeout %v", a.Timeout())
	}
	start := time.Now()
	err := a.Ban(context.Background(), Ticket{Addr: mustAddr("192.0.2.1")})
	if !errors.Is(err, ErrFailed) {
		t.Fatalf("err = %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("took %v", took)
	}
}
