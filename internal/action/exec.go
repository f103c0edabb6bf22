package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"syscall"
	"time"
)

// ErrTimeout reports a command killed because it ran past its timeout.
var ErrTimeout = errors.New("command timed out")

// Runner runs a finished command. Implementations must honour ctx and
// timeout and return the exit status; an error means the command could
// not run to its end (not started, timed out, cancelled).
type Runner interface {
	Run(ctx context.Context, cmd Command, timeout time.Duration) (Result, error)
}

// Result is what a command left behind.
type Result struct {
	ExitCode       int // -1 when killed by a signal
	Stdout, Stderr []byte
}

// maxOutput bounds the output kept from one stream of a command.
const maxOutput = 64 << 10

// ShellRunner runs commands with /bin/sh -c in a process group of their
// own, so a timeout kills the whole tree (fail2ban does the same with
// setsid and killpg).
type ShellRunner struct {
	// Shell is the shell's path; "" means /bin/sh.
	Shell string
	// Env is the environment; nil means the daemon's own.
	Env []string
	// KillGrace is how long a timed-out group gets between SIGTERM and
	// SIGKILL; 0 means 100ms.
	KillGrace time.Duration
}

var _ Runner = ShellRunner{}

// capBuffer keeps the first maxOutput bytes written to it and drops the
// rest, so a chatty command cannot fill memory.
type capBuffer struct {
	buf bytes.Buffer
}

func (b *capBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - b.buf.Len(); room < len(p) {
		if room > 0 {
			b.buf.Write(p[:room])
		}
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *capBuffer) Bytes() []byte { return b.buf.Bytes() }

// Run runs cmd.Script with cmd.Args as $0, $1, ... and waits for it at
// most timeout (no limit when 0).
func (r ShellRunner) Run(ctx context.Context, cmd Command, timeout time.Duration) (Result, error) {
	shell := r.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	grace := r.KillGrace
	if grace == 0 {
		grace = 100 * time.Millisecond
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	args := append([]string{"-c", cmd.Script}, cmd.Args...)
	c := exec.Command(shell, args...)
	c.Env = r.Env
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A child that left the group and kept our pipes must not hold Wait.
	c.WaitDelay = grace
	var stdout, stderr capBuffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Start(); err != nil {
		return Result{ExitCode: -1}, fmt.Errorf("start %s: %w", shell, err)
	}
	done := make(chan error, 1) // written once by the waiter below
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		return exitResult(err, &stdout, &stderr, shell)
	case <-ctx.Done():
		pgid := c.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		waited := false
		select {
		case <-done:
			waited = true
		case <-time.After(grace):
		}
		// Kill whatever of the group is left, even when the shell itself
		// went on TERM: its children may not have, and pipes they hold
		// would keep Wait from returning.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		if !waited {
			<-done
		}
		res := Result{ExitCode: -1, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) && timeout > 0 {
			return res, fmt.Errorf("%w after %s", ErrTimeout, timeout)
		}
		return res, ctx.Err()
	}
}

// exitResult turns Wait's error into a Result.
func exitResult(err error, stdout, stderr *capBuffer, shell string) (Result, error) {
	res := Result{ExitCode: 0, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			res.ExitCode = ee.ExitCode()
			return res, nil
		}
		res.ExitCode = -1
		return res, fmt.Errorf("wait %s: %w", shell, err)
	}
	return res, nil
}
